"""Named settings: the report's exact runs, and quick ones that fit a laptop CPU.

A preset is a base configuration plus per-pruner overrides (the report trained
GraSP longer and pre-trained Mag). Notebooks take a ``PRESET`` parameter; sweeps
take ``--preset``.

Example:
    >>> config = preset_config("report-mnist", "mag")
    >>> config.pre_epochs, config.post_epochs
    (20, 10)
    >>> preset_config("report-cifar", "grasp").post_epochs
    400
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from collections.abc import Sequence

from prunekit.run.config import ExperimentConfig
from prunekit.core.scorers import SCORERS

__all__ = [
    "PRESETS", "RENAMED_PRESETS", "REPORT_COMPRESSIONS", "Preset", "get_preset", "grid_configs", "preset_config",
]

REPORT_COMPRESSIONS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
"""The compression exponents of the report's section 1.2."""


def _frozen(mapping: dict[str, Any]) -> MappingProxyType:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Preset:
    """A base configuration with per-pruner overrides.

    Attributes:
        name: Registry key.
        description: One line for menus and reports.
        base: ExperimentConfig fields shared by all pruners.
        per_pruner: Extra fields for some pruners.
        compressions: The compression exponents of a sweep.
        needs_gpu: Whether it is meant for a GPU (days on a CPU).
    """

    name: str
    description: str
    base: MappingProxyType = field(default_factory=lambda: _frozen({}))
    per_pruner: MappingProxyType = field(default_factory=lambda: _frozen({}))
    compressions: tuple[float, ...] = REPORT_COMPRESSIONS
    needs_gpu: bool = False

    def config(self, pruner: str, **overrides: Any) -> ExperimentConfig:
        """The configuration of one pruner's run, with ``overrides`` on top."""
        if pruner not in SCORERS:
            raise ValueError(f"unknown pruner {pruner!r}; valid pruners: {', '.join(SCORERS)}")
        fields = {**self.base, **self.per_pruner.get(pruner, {}), "pruner": pruner, **overrides}
        return ExperimentConfig().replace(**fields)


_MNIST = {"model_class": "default", "model": "fc", "dataset": "mnist", "compression": 1.0}
_CIFAR = {"model_class": "lottery", "model": "vgg16", "dataset": "cifar10", "compression": 1.0}

PRESETS: dict[str, Preset] = {
    "quick": Preset(
        "quick",
        "FC on MNIST, 5 post-training epochs (Mag pre-trained 1): within 3 points of the reference set's "
        "means (20 or more epochs) at compression a <= 1, minutes on a laptop CPU",
        _frozen({**_MNIST, "post_epochs": 5}),
        _frozen({"mag": {"pre_epochs": 1}}),
    ),
    "report-mnist": Preset(
        "report-mnist",
        "the report's MNIST runs (section 1.1): FC, compression 1",
        _frozen({**_MNIST, "post_epochs": 20}),
        _frozen(
            {
                "mag": {"pre_epochs": 20, "post_epochs": 10},
                "snip": {"post_epochs": 30},
                "grasp": {"post_epochs": 30},
                "synflow": {"post_epochs": 150},
            }
        ),
    ),
    "report-cifar": Preset(
        "report-cifar",
        "the report's CIFAR-10 runs (section 1.1): VGG16, 100 post-training epochs, GraSP 400, Mag pre-trained 200",
        _frozen({**_CIFAR, "post_epochs": 100}),
        _frozen({"mag": {"pre_epochs": 200}, "grasp": {"post_epochs": 400}}),
        needs_gpu=True,
    ),
    "report-sweep": Preset(
        "report-sweep",
        "the report's compression sweep (section 1.2): VGG16 on CIFAR-10, 100 post-training epochs, GraSP 300",
        _frozen({**_CIFAR, "post_epochs": 100}),
        _frozen({"mag": {"pre_epochs": 200}, "grasp": {"post_epochs": 300}}),
        needs_gpu=True,
    ),
}


RENAMED_PRESETS: MappingProxyType = _frozen(
    {"seed-mnist": "report-mnist", "seed-cifar": "report-cifar", "seed-sweep": "report-sweep"}
)
"""Former preset names and their current ones, named in the error for an old name."""


def get_preset(name: str) -> Preset:
    """Looks a preset up by name.

    Args:
        name: A name from :data:`PRESETS`.

    Returns:
        The preset.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names and, for a
            former name (:data:`RENAMED_PRESETS`), names the current one.

    Example:
        >>> get_preset("quick").needs_gpu
        False
        >>> get_preset("seed-mnist")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: unknown preset 'seed-mnist'; it is now called 'report-mnist'; valid presets: quick, report-mnist, ...
    """
    if name not in PRESETS:
        hint = f"; it is now called {RENAMED_PRESETS[name]!r}" if name in RENAMED_PRESETS else ""
        raise ValueError(f"unknown preset {name!r}{hint}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_config(preset: str, pruner: str, **overrides: Any) -> ExperimentConfig:
    """The configuration of ``pruner`` under ``preset``, with ``overrides`` on top.

    Args:
        preset: A name from :data:`PRESETS`.
        pruner: A name from ``SCORERS``.
        **overrides: Any ExperimentConfig fields.

    Returns:
        The frozen configuration.

    Raises:
        ValueError: For an unknown preset, pruner or field.
    """
    return get_preset(preset).config(pruner, **overrides)


def grid_configs(
    preset: str,
    pruners: Sequence[str],
    compressions: Sequence[float],
    **overrides: Any,
) -> list[ExperimentConfig]:
    """The configurations of a compression sweep: every pruner at every compression, with the preset's overrides.

    Args:
        preset: A name from :data:`PRESETS`.
        pruners: Pruner names.
        compressions: Compression exponents.
        **overrides: ExperimentConfig fields set on every run (``None`` values are skipped, so a
            notebook parameter left at None keeps the preset's value).

    Returns:
        The configurations, pruner-major.

    Raises:
        ValueError: For an unknown preset, pruner or field, or an empty grid.

    Example:
        >>> [(c.pruner, c.compression) for c in grid_configs("quick", ["rand", "snip"], [1, 2])]
        [('rand', 1.0), ('rand', 2.0), ('snip', 1.0), ('snip', 2.0)]
    """
    if not pruners or not compressions:
        raise ValueError(f"an empty grid: pruners {list(pruners)}, compressions {list(compressions)}")
    chosen = {key: value for key, value in overrides.items() if value is not None}
    return [
        preset_config(preset, pruner, compression=float(compression), **chosen)
        for pruner in pruners
        for compression in compressions
    ]
