"""What a run is: Synaptic-Flow's flags as one frozen dataclass, checked when it is built.

The dataclass is the single source of the command line: each field's metadata
(:class:`Flag`: help text, a choices provider, the flag name and its aliases, its
group) generates the ``prunekit`` parser (:mod:`prunekit.run.flags`). Defaults
follow Synaptic-Flow's ``main.py`` (10 post-training epochs, Adam at 1e-3, batches
of 64/256, seed 1); options change nothing unless set: no pre-training, no pruning
(compression 0), every boolean False.

One name per idea: ``rounds`` (``--rounds``, alias the report's ``--prune-epochs``)
is the number of scoring rounds, ``None`` taking the pruner's default (100 for
SynFlow, 1 otherwise); ``scope`` (``--scope``, alias ``--mask-scope``) and
``schedule`` (``--schedule``, alias ``--compression-schedule``).
:meth:`ExperimentConfig.from_dict` still reads the legacy names.

Everything that can be checked before work starts is checked when the config is
built (:mod:`prunekit.run.checks`): names against their registries, numbers against
their ranges, and the compression against the model's prunable count (counted on
the meta device, without data). Whether the device exists on *this* machine is
checked by :meth:`ExperimentConfig.validate`, called before a run reads any data
(a sweep may build configs for GPUs it submits to elsewhere).

Example:
    >>> config = ExperimentConfig(pruner="snip", compression=1.0, post_epochs=30)
    >>> config.density
    0.1
    >>> config.replace(expid="11").expid
    '11'
    >>> ExperimentConfig(pruner="snipp")
    Traceback (most recent call last):
    ...
    prunekit.run.checks.ConfigError: unknown pruner 'snipp'; valid pruners: rand, mag, snip, grasp, synflow
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prunekit.run import checks
from prunekit.run.checks import EXPERIMENTS, ConfigError

__all__ = ["EXPERIMENTS", "LEGACY_NAMES", "LIST_FIELDS", "ConfigError", "ExperimentConfig", "Flag"]

LEGACY_NAMES = {"prune_iterations": "rounds", "mask_scope": "scope", "compression_schedule": "schedule"}
"""Old field names → today's, read by :meth:`ExperimentConfig.from_dict`."""


@dataclass(frozen=True)
class Flag:
    """How a config field appears on the command line.

    Attributes:
        help: The help text.
        group: The ``--help`` section.
        choices: A function returning the valid values (read when the parser is built), or None.
        flag: The flag; None = ``--`` + the field name with dashes.
        aliases: More accepted flags (Synaptic-Flow's names).
    """

    help: str
    group: str
    choices: Callable[[], Iterable[str]] | None = None
    flag: str | None = None
    aliases: tuple[str, ...] = ()


def _opt(default: Any, group: str, text: str, **options: Any) -> Any:
    if isinstance(default, tuple):
        return field(default_factory=tuple, metadata={"flag": Flag(text, group, **options)})
    return field(default=default, metadata={"flag": Flag(text, group, **options)})


_DATA, _TRAIN, _PRUNE, _RUN = "data and model", "training", "pruning", "the run"
_MULTI = "multishot and conservation experiments"

LIST_FIELDS = ("compression_list", "level_list", "pruner_list", "prune_epoch_list")
"""Synaptic-Flow's list flags (``--compression-list 1 2`` …), read by the multi-run experiments only."""


@dataclass(frozen=True)
class ExperimentConfig:
    """Every flag of a single-shot pruning run (see each field's ``--help`` line)."""

    dataset: str = _opt("mnist", _DATA, "the dataset", choices=checks.dataset_names)
    model_class: str = _opt("default", _DATA, "model family", choices=checks.model_class_names)
    model: str = _opt("fc", _DATA, "a model of the class, e.g. fc, conv, vgg16, resnet20")
    dense_classifier: bool = _opt(False, _DATA, "keep the classifier unpruned")
    optimizer: str = _opt("adam", _TRAIN, "the optimizer", choices=checks.optimizer_names)
    train_batch_size: int = _opt(64, _TRAIN, "training batch size")
    test_batch_size: int = _opt(256, _TRAIN, "evaluation batch size")
    pre_epochs: int = _opt(0, _TRAIN, "training epochs before pruning")
    post_epochs: int = _opt(10, _TRAIN, "training epochs after pruning")
    lr: float = _opt(0.001, _TRAIN, "learning rate")
    lr_drops: tuple[int, ...] = _opt((), _TRAIN, "epochs at which the learning rate is multiplied by --lr-drop-rate")
    lr_drop_rate: float = _opt(0.1, _TRAIN, "that factor (> 0)")
    weight_decay: float = _opt(0.0, _TRAIN, "L2 penalty")
    pruner: str = _opt("rand", _PRUNE, "the pruner (the registry's names, plugins included)",
                       choices=checks.pruner_choices)
    compression: float = _opt(0.0, _PRUNE, "compression exponent a: keep a density of 10^-a of the prunable weights")
    rounds: int | None = _opt(None, _PRUNE, "scoring rounds (pruning iterations); default: the pruner's "
                              "(100 for synflow, 1 for the others)", aliases=("--prune-epochs",))
    schedule: str = _opt("exponential", _PRUNE, "how the density falls over the rounds",
                         choices=checks.schedule_names, aliases=("--compression-schedule",))
    scope: str = _opt("global", _PRUNE, "one threshold for all layers (global) or per layer (local)",
                      choices=checks.scope_names, aliases=("--mask-scope",))
    prune_dataset_ratio: int = _opt(10, _PRUNE, "pruning images per class")
    prune_batch_size: int = _opt(256, _PRUNE, "batch size of the pruning data")
    prune_bias: bool = _opt(False, _PRUNE, "prune biases too")
    prune_batchnorm: bool = _opt(False, _PRUNE, "prune batch-norm weights and biases too")
    prune_train_mode: bool = _opt(False, _PRUNE, "score the weights with the model in train mode")
    reinitialize: bool = _opt(False, _PRUNE, "draw fresh weights after pruning (keeping the masks)")
    shuffle: bool = _opt(False, _PRUNE, "permute each layer's mask after pruning (a layer-wise random control)")
    invert: bool = _opt(False, _PRUNE, "keep the lowest scores instead of the highest")
    experiment: str = _opt("singleshot", _RUN, "the experiment", choices=lambda: EXPERIMENTS)
    expid: str = _opt("", _RUN, "the run's folder name (default: derived from the settings)")
    result_dir: str = _opt("results", _RUN, "runs go to <result-dir>/<experiment>/<expid>")
    data_dir: str | None = _opt(None, _DATA, "dataset folder (default: $PRUNEKIT_DATA or the kit's data/)")
    device: str = _opt("auto", _RUN, "auto, cpu, cuda, cuda:N or mps")
    seed: int = _opt(1, _RUN, "random seed (a 64-bit integer)")
    train_limit: int | None = _opt(None, _TRAIN, "use only this many training images")
    test_limit: int | None = _opt(None, _TRAIN, "use only this many test images")
    timing_repeats: int = _opt(5, _TRAIN, "timed passes over the test set (after one warm-up pass)")
    verbose: bool = _opt(False, _RUN, "print the per-epoch history at the end")
    compression_list: tuple[float, ...] = _opt((), _MULTI, "compression exponents of multishot and "
                                               "schedule-conservation (default: --compression)")
    level_list: tuple[int, ...] = _opt((), _MULTI, "multishot: numbers of prune-train-rewind levels (default: 1)")
    pruner_list: tuple[str, ...] = _opt((), _MULTI, "conservation experiments: the pruners to compare "
                                        "(default: --pruner)", choices=checks.pruner_choices)
    prune_epoch_list: tuple[int, ...] = _opt((), _MULTI, "schedule-conservation: numbers of scoring rounds "
                                             "(default: --rounds)")
    rewind_iteration: int = _opt(0, _MULTI, "multishot: rewind the survivors, optimizer and schedule to this "
                                 "training iteration (0 = initialization, Synaptic-Flow's; k > 0 = Frankle et al. 2020)")

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_drops", checks.lr_drops(self.lr_drops))
        for name, kind in zip(LIST_FIELDS, (float, int, str, int)):  # lists and tuples alike; kept as tuples
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise ConfigError(f"{name} must be a list of values; got {values!r}")
            object.__setattr__(self, name, tuple(
                kind(value) if kind is float and isinstance(value, int) and not isinstance(value, bool) else value
                for value in values))
        object.__setattr__(self, "expid", str(self.expid))
        for name in ("result_dir", "data_dir"):  # a pathlib.Path is written as text
            if isinstance(getattr(self, name), os.PathLike):
                object.__setattr__(self, name, os.fspath(getattr(self, name)))
        checks.check_config(self)

    @property
    def density(self) -> float:
        """The fraction of prunable weights kept, ``10 ** -compression``."""
        return 10.0 ** (-self.compression)

    def validate(self) -> ExperimentConfig:
        """Checks what depends on this machine (the device exists); call it before reading any data.

        Returns:
            The config itself.

        Raises:
            ConfigError: If the device is not available here; the message says what is.

        Example:
            >>> ExperimentConfig(device="cpu").validate().device
            'cpu'
        """
        checks.check_device_available(self.device)
        return self

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with some fields changed (validated again).

        Raises:
            ConfigError: If a field name is unknown (the message lists the valid ones) or a value is bad.
        """
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise ConfigError(f"unknown config field(s) {', '.join(unknown)}; valid fields: "
                              f"{', '.join(self.field_names())}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        data = dataclasses.asdict(self)
        data["lr_drops"] = list(self.lr_drops)
        for name in LIST_FIELDS:
            data[name] = list(getattr(self, name))
        return data

    @staticmethod
    def current_names(data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` with legacy field names (``prune_iterations`` …) renamed to today's.

        Raises:
            ConfigError: If a legacy name and its current name are both given.

        Example:
            >>> ExperimentConfig.current_names({"mask_scope": "local", "seed": 2})
            {'scope': 'local', 'seed': 2}
        """
        both = sorted(old for old, new in LEGACY_NAMES.items() if old in data and new in data)
        if both:
            raise ConfigError(f"{', '.join(both)} given twice (legacy and current name); give each once")
        return {LEGACY_NAMES.get(key, key): value for key, value in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentConfig:
        """Rebuilds a config from :meth:`to_dict` output, also from older files.

        Legacy names (``prune_iterations``, ``mask_scope``, ``compression_schedule``,
        as in old ``result.json``, ``config.json`` and ``sweep.json`` files) are read
        as ``rounds``, ``scope`` and ``schedule``.

        Raises:
            ConfigError: If a key is not a field (the message lists the valid ones) or a value is bad.

        Example:
            >>> ExperimentConfig.from_dict({"prune_iterations": 3, "mask_scope": "local"}).rounds
            3
        """
        return cls().replace(**cls.current_names(data))

    @classmethod
    def field_names(cls) -> list[str]:
        """The names of all fields, in order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def flags(cls) -> list[tuple[dataclasses.Field, Flag, Any]]:
        """Each field with its :class:`Flag` and its type, in order (what builds the parser).

        Example:
            >>> name, flag, kind = ExperimentConfig.flags()[0]
            >>> name.name, flag.group, kind
            ('dataset', 'data and model', <class 'str'>)
        """
        hints = typing.get_type_hints(cls)
        return [(f, f.metadata["flag"], hints[f.name]) for f in dataclasses.fields(cls)]
