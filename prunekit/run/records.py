"""The parts of a run's result: small frozen records of one idea each (histories, data, timing, layers …).

:class:`~prunekit.run.result.RunResult` is made of these; its JSON form is read and
written in :mod:`prunekit.run.result` only.

Example:
    >>> ParamCount(total=119_400, kept=11_940).density
    0.1
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from prunekit.run.datasets import DataOrigin

__all__ = [
    "DataInfo",
    "Divergence",
    "EpochRow",
    "FlopCount",
    "LayerRow",
    "Machine",
    "ParamCount",
    "PruneInfo",
    "Timing",
    "Versions",
    "WeightHistograms",
    "epoch_rows",
    "layer_rows",
]


@dataclass(frozen=True)
class EpochRow:
    """One evaluation of a training phase (epoch 0 = before that phase's first epoch).

    Attributes:
        epoch: The epoch just finished (0 = the evaluation before training).
        train_loss: Mean training loss of the epoch (None for epoch 0).
        test_loss: Test cross-entropy.
        top1: Test top-1 accuracy (%).
        top5: Test top-5 accuracy (%).
        lr: The learning rate of the epoch.
        epoch_time_s: Seconds the epoch's training took.
    """

    epoch: int
    train_loss: float | None
    test_loss: float
    top1: float
    top5: float
    lr: float
    epoch_time_s: float

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain dict (what plots of training curves take)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Divergence:
    """Where training diverged (a non-finite loss or weight), which stopped the run.

    Attributes:
        phase: ``pre`` (before pruning) or ``post`` (after pruning).
        epoch: The epoch of that phase after which the loss or a weight was no longer finite.
        reason: What was not finite, e.g. ``training loss is nan``.

    Example:
        >>> Divergence("post", 1, "training loss is nan").describe()
        'training diverged in post-training epoch 1 (training loss is nan)'
    """

    phase: str
    epoch: int
    reason: str

    def describe(self) -> str:
        """One phrase: where and why training diverged."""
        return f"training diverged in {self.phase}-training epoch {self.epoch} ({self.reason})"


@dataclass(frozen=True)
class DataInfo:
    """What a run trained and tested on.

    Attributes:
        dataset: The requested dataset (``mnist``, ``cifar10`` …).
        origin: Full dataset, shipped sample, or fallback stand-in (:class:`~prunekit.run.datasets.DataOrigin`).
        train_source: Where the training split was read from.
        test_source: Where the test split was read from.
        train_examples: Training images used (after ``train_limit``).
        test_examples: Test images used (after ``test_limit``).
    """

    dataset: str
    origin: DataOrigin
    train_source: str
    test_source: str
    train_examples: int
    test_examples: int


@dataclass(frozen=True)
class Timing:
    """Inference time over the test set (the report's "testing time").

    Attributes:
        median_s: Median seconds of one pass.
        min_s: Fastest pass.
        max_s: Slowest pass.
        iqr_s: Interquartile range of the passes (0 with fewer than 2).
        repeats: Passes timed (after a warm-up).
        times_s: Every timed pass.
        threads: CPU threads torch used while timing (fixed for the passes); 0 = not recorded (older files).
        load: The machine's 1-minute load average when timing began (None: not recorded or not available);
            a load above the number of cores means other work competed for them.
    """

    median_s: float
    min_s: float
    max_s: float
    iqr_s: float
    repeats: int
    times_s: tuple[float, ...]
    threads: int = 0
    load: float | None = None


@dataclass(frozen=True)
class Machine:
    """The CPU a run trained on, as it was when the run started.

    Attributes:
        cores: CPU cores the process could use.
        threads: Torch's CPU threads while training.
        load: The 1-minute load average when the run started (None where the system has none).

    Example:
        >>> Machine(cores=2, threads=1, load=4.5).overloaded
        True
    """

    cores: int
    threads: int
    load: float | None = None

    @property
    def overloaded(self) -> bool:
        """Whether the machine was loaded beyond its cores when the run started: a load of at least one more
        than the cores (a sweep or batch that fills every core with its own workers is not overloaded)."""
        return self.load is not None and self.load >= self.cores + 1

    def line(self) -> str:
        """The summary line: threads, cores and load."""
        load = "not known" if self.load is None else f"{self.load:g}"
        return f"CPU: {self.threads} torch thread(s) on {self.cores} core(s); load {load} when the run started"

    def notice(self) -> str:
        """What a run started on a loaded machine says."""
        return (f"LOADED MACHINE: the load was {self.load:g} on {self.cores} core(s) when the run started, so other "
                "work competed for the CPU: its training and test times are slower than on a quiet machine")


@dataclass(frozen=True)
class ParamCount:
    """Prunable weights of the model: all of them and those kept."""

    total: int
    kept: int

    @property
    def density(self) -> float:
        """``kept / total`` (0 for a model without prunable weights)."""
        return self.kept / self.total if self.total else 0.0


@dataclass(frozen=True)
class FlopCount:
    """Multiply-adds of one forward pass (one image): the dense model's and what the masks leave."""

    total: int
    remaining: int

    @property
    def ratio(self) -> float:
        """``remaining / total`` (the report's FLOP ratio)."""
        return self.remaining / self.total if self.total else 0.0


@dataclass(frozen=True)
class PruneInfo:
    """What pruning did.

    Attributes:
        rounds: Scoring rounds used.
        schedule: How the density fell over the rounds.
        scope: ``global`` or ``local``.
        density: The target density.
        kept: Prunable entries kept.
        total: Prunable entries in all.
        score_time_s: Seconds spent scoring.
        select_time_s: Seconds spent choosing the masks.
    """

    rounds: int
    schedule: str
    scope: str
    density: float
    kept: int
    total: int
    score_time_s: float
    select_time_s: float

    @property
    def time_s(self) -> float:
        """Seconds pruning took (scoring and selecting)."""
        return self.score_time_s + self.select_time_s


@dataclass(frozen=True)
class LayerRow:
    """One weight or bias of the final model (a row of :func:`prunekit.core.metrics.layer_table`).

    Attributes:
        module: The module's name, e.g. ``layers.0``.
        layer_type: Its class, e.g. ``MaskedLinear`` (the table's ``type`` column).
        param: ``weight`` or ``bias`` ….
        shape: The parameter's shape.
        size: Its number of entries.
        kept: Entries kept by the mask.
        density: ``kept / size``.
        flops: The parameter's multiply-adds in the dense model.
        flops_remaining: What the mask leaves of them.
        prunable: Whether the parameter has a mask.
    """

    module: str
    layer_type: str
    param: str
    shape: tuple[int, ...]
    size: int
    kept: int
    density: float
    flops: int
    flops_remaining: int
    prunable: bool


@dataclass(frozen=True)
class WeightHistograms:
    """Histograms of each prunable layer's kept weights after training (the report's section 2.1), by column.

    Attributes:
        module, bin_left, bin_right, frequency: One entry per bin; ``frequency`` is normalized
            by the layer's weight count, so a layer's bins add up to its density.
    """

    module: tuple[str, ...] = ()
    bin_left: tuple[float, ...] = ()
    bin_right: tuple[float, ...] = ()
    frequency: tuple[float, ...] = ()

    def frame(self) -> pd.DataFrame:
        """The histograms as a table with columns ``module``, ``bin_left``, ``bin_right``, ``frequency``."""
        return pd.DataFrame({field.name: list(getattr(self, field.name)) for field in dataclasses.fields(self)})

    def __bool__(self) -> bool:
        return bool(self.module)


@dataclass(frozen=True)
class Versions:
    """The software a run was computed with."""

    python: str
    torch: str
    torchvision: str
    prunekit: str


def epoch_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[EpochRow, ...]:
    """The training loop's history rows (dicts, as :func:`prunekit.run.training.fit` returns them) as records."""
    return tuple(EpochRow(**{key: row[key] for key in EpochRow.__dataclass_fields__}) for row in rows)


def layer_rows(table: Any) -> tuple[LayerRow, ...]:
    """The rows of :func:`prunekit.core.metrics.layer_table` (a DataFrame) as records."""
    return tuple(
        LayerRow(
            module=row.module, layer_type=row.type, param=row.param, shape=tuple(int(n) for n in row.shape),
            size=int(row.size), kept=int(row.kept), density=float(row.density), flops=int(row.flops),
            flops_remaining=int(row.flops_remaining), prunable=bool(row.prunable),
        )
        for row in table.itertuples(index=False)
    )
