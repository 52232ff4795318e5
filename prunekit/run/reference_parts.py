"""What the reference result set computes: its parts, their settings, and one task of each kind.

Four parts (:data:`PARTS`), each over the seeds 1, 2, 3:

- ``mnist-row``: the report's five MNIST commands (table 1.1) with its epochs, FC on full MNIST at
  compression 1, SynFlow with 100 rounds (the kit's default) and with 1 round (the report's collapse);
- ``mnist-sweep``: FC on full MNIST, compressions :data:`SWEEP_COMPRESSIONS` × the pruner settings,
  20 post-training epochs, Mag pre-trained 20 epochs as in the report's command;
- ``vgg16-init``: VGG16 (lottery) masks at initialization, no training: FLOP ratios at the report's six
  compressions (table 1.2.3) and per-layer density and FLOPs at compression 0.5 (tables 2.1, 2.2);
- ``iterative``: IMP with rewinding and its lottery-ticket control against one-shot Mag, SynFlow and Rand
  at initialization, FC on full MNIST at compressions 1, 2, 3 (:mod:`prunekit.run.reference_iterative`).

A :class:`Scale` shrinks everything for a smoke run (:data:`SMOKE`). The training runs are
:class:`~prunekit.run.config.ExperimentConfig` s run through :func:`~prunekit.run.experiment.run_or_load`;
a VGG16 task (:func:`vgg16_task`) prunes one setting and seed at every compression.

Example:
    >>> [s.label for s in ROW_SETTINGS]
    ['rand', 'mag', 'snip', 'grasp', 'synflow-r100', 'synflow-r1']
    >>> len(mnist_configs("mnist-sweep", FULL, "/tmp/w", "/tmp/d"))
    162
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from prunekit.core.connectivity import is_disconnected
from prunekit.core.metrics import flop_summary, layer_table
from prunekit.core.models import create_model
from prunekit.core.pruning import LayerCollapseWarning, collapsed_layers, prune
from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DatasetNotFoundError, cifar_fallback, load_dataset, notices_as_lines
from prunekit.run.datasets import DeviceDataset
from prunekit.run.loader import prune_loader

__all__ = [
    "FULL",
    "PARTS",
    "ROW_SETTINGS",
    "SEEDS",
    "SMOKE",
    "SWEEP_COMPRESSIONS",
    "SWEEP_SETTINGS",
    "VGG_COMPRESSIONS",
    "VGG_LAYER_COMPRESSION",
    "VGG_SETTINGS",
    "Scale",
    "Setting",
    "VggLayerRow",
    "VggRow",
    "mnist_configs",
    "setting_of",
    "single_config",
    "vgg16_task",
]

PARTS = ("vgg16-init", "mnist-sweep", "mnist-row", "iterative")
"""The parts, in the order they are computed (the quickest first)."""

SEEDS = (1, 2, 3)
SWEEP_COMPRESSIONS = (0.05, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
VGG_COMPRESSIONS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
"""The report's section 1.2 compressions (table 1.2.3)."""
VGG_LAYER_COMPRESSION = 0.5
"""Where the per-layer tables 2.1 and 2.2 are taken."""


@dataclass(frozen=True)
class Setting:
    """One pruner setting of a part.

    Attributes:
        label: Its name in the tables, e.g. ``"synflow-r1"``.
        pruner: The pruner.
        rounds: Scoring rounds; None = the pruner's default (1; SynFlow's rows always name theirs).
        pre_epochs: Training epochs before pruning.
        post_epochs: Training epochs after pruning.
        note: What a reader must know about it (empty if nothing).
    """

    label: str
    pruner: str
    rounds: int | None
    pre_epochs: int = 0
    post_epochs: int = 0
    note: str = ""


ROW_SETTINGS = (
    Setting("rand", "rand", None, 0, 20),
    Setting("mag", "mag", None, 20, 10),
    Setting("snip", "snip", None, 0, 30),
    Setting("grasp", "grasp", None, 0, 30),
    Setting("synflow-r100", "synflow", 100, 0, 150, "the kit's default rounds"),
    Setting("synflow-r1", "synflow", 1, 0, 150, "the report's setting (1 round)"),
)
"""Table 1.1's MNIST row: the report's commands with its epochs."""

SWEEP_SETTINGS = (
    Setting("rand", "rand", None, 0, 20),
    Setting("mag", "mag", None, 20, 20, "pre-trained 20 epochs as in the report's command"),
    Setting("snip", "snip", None, 0, 20),
    Setting("grasp", "grasp", None, 0, 20),
    Setting("synflow-r100", "synflow", 100, 0, 20, "the kit's default rounds"),
    Setting("synflow-r1", "synflow", 1, 0, 20, "the report's setting (1 round)"),
)

VGG_SETTINGS = (
    Setting("rand", "rand", None),
    Setting("mag-init", "mag", None, note="magnitudes at initialization; the report pre-trained 200 epochs"),
    Setting("snip", "snip", None),
    Setting("grasp", "grasp", None),
    Setting("synflow-r100", "synflow", 100, note="the kit's default rounds"),
    Setting("synflow-r1", "synflow", 1, note="the report's setting (1 round)"),
)


@dataclass(frozen=True)
class Scale:
    """How much of each part runs.

    Attributes:
        name: ``"full"`` or ``"smoke"``.
        seeds: The seeds.
        sweep_compressions: mnist-sweep's compressions.
        vgg_compressions: vgg16-init's compressions (the per-layer tables need 0.5 among them).
        epochs: None = each setting's epochs; else at most this many pre- and post-training epochs.
        train_limit: Training images used (None = all).
        test_limit: Test images used (None = all).
        vgg_settings: The vgg16-init settings computed (None = all of :data:`VGG_SETTINGS`).
        iterative_compressions: The iterative part's compressions.
    """

    name: str
    seeds: tuple[int, ...]
    sweep_compressions: tuple[float, ...]
    vgg_compressions: tuple[float, ...]
    epochs: int | None = None
    train_limit: int | None = None
    test_limit: int | None = None
    vgg_settings: tuple[str, ...] | None = None
    iterative_compressions: tuple[float, ...] = (1.0, 2.0, 3.0)

    def epochs_of(self, wanted: int) -> int:
        """``wanted`` epochs, capped at :attr:`epochs` when set."""
        return wanted if self.epochs is None else min(wanted, self.epochs)


FULL = Scale("full", SEEDS, SWEEP_COMPRESSIONS, VGG_COMPRESSIONS)
SMOKE = Scale("smoke", (1,), (0.5, 1.0), (0.5, 1.0), epochs=1, train_limit=1000, test_limit=500,
              iterative_compressions=(1.0,))


def setting_of(part: str, label: str) -> Setting:
    """The setting called ``label`` in ``part``.

    Raises:
        ValueError: If the part or label is unknown; the message lists the valid ones.

    Example:
        >>> setting_of("mnist-row", "mag").pre_epochs
        20
    """
    settings = {"mnist-row": ROW_SETTINGS, "mnist-sweep": SWEEP_SETTINGS, "vgg16-init": VGG_SETTINGS}
    if part not in settings:
        raise ValueError(f"unknown part {part!r}; parts with settings here: {', '.join(settings)} "
                         "(the iterative part's are prunekit.run.reference_iterative.ITERATIVE_SETTINGS)")
    for setting in settings[part]:
        if setting.label == label:
            return setting
    raise ValueError(f"{part} has no setting {label!r}; its settings: {', '.join(s.label for s in settings[part])}")


def mnist_configs(part: str, scale: Scale, work: str | Path, data_dir: str | Path) -> list[ExperimentConfig]:
    """The training runs of an MNIST part, in the order they are run.

    Args:
        part: ``"mnist-row"`` or ``"mnist-sweep"``.
        scale: :data:`FULL` or :data:`SMOKE`.
        work: The work folder; runs go to ``<work>/<part>/singleshot/<expid>``.
        data_dir: The folder holding ``MNIST/raw/``.

    Returns:
        One config per (setting, compression, seed).

    Raises:
        ValueError: If ``part`` is not an MNIST part.
    """
    if part == "mnist-row":
        settings, compressions = ROW_SETTINGS, (1.0,)
    elif part == "mnist-sweep":
        settings, compressions = SWEEP_SETTINGS, scale.sweep_compressions
    else:
        raise ValueError(f"{part!r} is not an MNIST part; valid: mnist-row, mnist-sweep")
    return [single_config(setting, compression, seed, scale, Path(work) / part, data_dir)
            for setting in settings for compression in compressions for seed in scale.seeds]


def single_config(setting: Setting, compression: float, seed: int, scale: Scale, result_dir: str | Path,
                  data_dir: str | Path) -> ExperimentConfig:
    """One single-shot FC run on MNIST of ``setting`` at ``scale`` (the MNIST parts' runs are all made so).

    Example:
        >>> single_config(setting_of("mnist-row", "mag"), 1.0, 2, FULL, "/tmp/w", "/tmp/d").pre_epochs
        20
    """
    return ExperimentConfig(
        dataset="mnist", model_class="default", model="fc", pruner=setting.pruner,
        compression=compression, rounds=setting.rounds, pre_epochs=scale.epochs_of(setting.pre_epochs),
        post_epochs=scale.epochs_of(setting.post_epochs), seed=seed, device="cpu",
        result_dir=str(result_dir), data_dir=str(data_dir), train_limit=scale.train_limit,
        test_limit=scale.test_limit, timing_repeats=1,
    )


@dataclass(frozen=True)
class VggRow:
    """One VGG16 mask at initialization: its totals."""

    setting: str
    pruner: str
    rounds: int
    compression: float
    seed: int
    kept: int
    total: int
    density: float
    flops: int
    flops_remaining: int
    flop_ratio: float
    collapsed_layers: tuple[str, ...]
    disconnected: bool
    data_origin: str


@dataclass(frozen=True)
class VggLayerRow:
    """One prunable weight of one VGG16 mask at :data:`VGG_LAYER_COMPRESSION`."""

    setting: str
    seed: int
    module: str
    size: int
    kept: int
    density: float
    flops: int
    flops_remaining: int


_PRUNE_DATA: dict[str, DeviceDataset] = {}


def _prune_split(data_dir: str | Path) -> DeviceDataset:
    """CIFAR-10's training split if present, else the labelled FALLBACK (MNIST padded to 3×32×32); cached."""
    key = str(data_dir)
    if key not in _PRUNE_DATA:
        with notices_as_lines():
            try:
                _PRUNE_DATA[key] = load_dataset("cifar10", train=True, data_dir=data_dir, download=False)
            except DatasetNotFoundError:
                _PRUNE_DATA[key] = cifar_fallback(train=True, data_dir=data_dir)
    return _PRUNE_DATA[key]


def vgg16_task(label: str, seed: int, compressions: tuple[float, ...], data_dir: str) -> tuple[
    list[VggRow], list[VggLayerRow]
]:
    """Prunes a fresh VGG16 (lottery), seeded with ``seed``, at each compression; no training.

    The pruning batches are drawn as a run draws them (:func:`~prunekit.run.loader.prune_loader`,
    10 images per class, batches of 256, seeded with ``seed``) from CIFAR-10 if it is in
    ``data_dir``, else from the FALLBACK data; every row records which.

    Args:
        label: A :data:`VGG_SETTINGS` label.
        seed: The random seed (model initialization, pruning batches, Rand's scores).
        compressions: The compression exponents.
        data_dir: The data folder.

    Returns:
        The totals per compression, and the per-layer rows at :data:`VGG_LAYER_COMPRESSION` (if among them).

    Example:
        >>> rows, layers = vgg16_task("rand", 1, (1.0,), "/tmp")  # doctest: +SKIP
        >>> round(rows[0].flop_ratio, 3)  # doctest: +SKIP
        0.1
    """
    setting = setting_of("vgg16-init", label)
    split = _prune_split(data_dir)
    rows: list[VggRow] = []
    layers: list[VggLayerRow] = []
    for compression in compressions:
        torch.manual_seed(seed)
        model = create_model("lottery", "vgg16", split.spec.input_shape, split.spec.num_classes, device="cpu")
        batches = prune_loader(split, ratio=10, batch_size=256, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)  # recorded in the row
            report = prune(model, setting.pruner, compression, batches, rounds=setting.rounds)
        table = layer_table(model, split.spec.input_shape)
        totals = flop_summary(table)
        rows.append(VggRow(
            setting=label, pruner=setting.pruner, rounds=report.rounds, compression=compression, seed=seed,
            kept=int(totals["kept"]), total=int(totals["params"]), density=float(totals["density"]),
            flops=int(totals["flops"]), flops_remaining=int(totals["flops_remaining"]),
            flop_ratio=float(totals["flop_ratio"]), collapsed_layers=tuple(collapsed_layers(model)),
            disconnected=bool(is_disconnected(model, input_shape=split.spec.input_shape)),
            data_origin=split.origin.value,
        ))
        if compression == VGG_LAYER_COMPRESSION:
            weights = table[(table.param == "weight") & table.prunable]
            layers.extend(
                VggLayerRow(label, seed, str(row.module), int(row.size), int(row.kept), float(row.density),
                            int(row.flops), int(row.flops_remaining))
                for row in weights.itertuples(index=False)
            )
    return rows, layers
