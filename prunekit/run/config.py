"""What a run is: the seed's flags as a frozen dataclass, with their meanings.

Field names follow Synaptic-Flow's ``main.py`` flags (``--post-epochs`` is
``post_epochs``) and so do the defaults (10 post-training epochs, Adam at 1e-3,
batches of 64/256, seed 1). Options change nothing unless set: no pre-training,
no pruning (compression 0), every boolean False. One rename: ``--prune-epochs`` is the number of
pruning *iterations* (scoring rounds), ``prune_iterations``; ``None`` takes the
pruner's default (100 for SynFlow, 1 otherwise).

Example:
    >>> config = ExperimentConfig(pruner="snip", compression=1.0, post_epochs=30)
    >>> config.density
    0.1
    >>> config.replace(expid="11").expid
    '11'
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EXPERIMENTS", "ExperimentConfig"]

EXPERIMENTS = ("singleshot",)
"""Experiments this kit runs (the seed's ``--experiment``)."""


@dataclass(frozen=True)
class ExperimentConfig:
    """Every flag of a single-shot pruning run.

    Attributes:
        dataset: ``mnist`` or ``cifar10`` (``--dataset``).
        model_class: ``default`` or ``lottery`` (``--model-class``).
        model: A model of that class, e.g. ``fc`` or ``vgg16`` (``--model``).
        dense_classifier: Keep the classifier unpruned (``--dense-classifier``).
        optimizer: ``adam``, ``sgd``, ``momentum`` or ``rms`` (``--optimizer``).
        train_batch_size: Training batch size (``--train-batch-size``).
        test_batch_size: Evaluation batch size (``--test-batch-size``).
        pre_epochs: Training epochs before pruning (``--pre-epochs``).
        post_epochs: Training epochs after pruning (``--post-epochs``).
        lr: Learning rate (``--lr``).
        lr_drops: Epochs at which the learning rate is multiplied by ``lr_drop_rate`` (``--lr-drops``).
        lr_drop_rate: The factor (``--lr-drop-rate``).
        weight_decay: L2 penalty (``--weight-decay``).
        pruner: ``rand``, ``mag``, ``snip``, ``grasp`` or ``synflow`` (``--pruner``).
        compression: Compression exponent ``a``; density = ``10**-a`` (``--compression``).
        prune_iterations: Scoring rounds; None = the pruner's default (``--prune-epochs``).
        compression_schedule: ``exponential`` or ``linear`` (``--compression-schedule``).
        mask_scope: ``global`` or ``local`` (``--mask-scope``).
        prune_dataset_ratio: Pruning images per class (``--prune-dataset-ratio``).
        prune_batch_size: Batch size of the pruning data (``--prune-batch-size``).
        prune_bias: Prune biases too (``--prune-bias``).
        prune_batchnorm: Prune batch-norm parameters too (``--prune-batchnorm``).
        prune_train_mode: Score in train mode (``--prune-train-mode``).
        reinitialize: Fresh weights after pruning (``--reinitialize``).
        shuffle: Permute each layer's mask after pruning (``--shuffle``).
        invert: Keep the lowest scores (``--invert``).
        experiment: ``singleshot`` (``--experiment``).
        expid: Name of the run's folder (``--expid``).
        result_dir: Where runs are written (``--result-dir``).
        data_dir: Where datasets are looked for; None = ``$PRUNEKIT_DATA`` or ``data/`` (``--data-dir``).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps`` (``--device``).
        seed: Random seed (``--seed``).
        train_limit: Use only this many training images (None = all); for quick and CI runs.
        test_limit: Use only this many test images (None = all).
        timing_repeats: Passes over the test set for the inference time.
        verbose: Print per-epoch lines besides the progress bars (``--verbose``).
    """

    dataset: str = "mnist"
    model_class: str = "default"
    model: str = "fc"
    dense_classifier: bool = False
    optimizer: str = "adam"
    train_batch_size: int = 64
    test_batch_size: int = 256
    pre_epochs: int = 0
    post_epochs: int = 10
    lr: float = 0.001
    lr_drops: tuple[int, ...] = field(default_factory=tuple)
    lr_drop_rate: float = 0.1
    weight_decay: float = 0.0
    pruner: str = "rand"
    compression: float = 0.0
    prune_iterations: int | None = None
    compression_schedule: str = "exponential"
    mask_scope: str = "global"
    prune_dataset_ratio: int = 10
    prune_batch_size: int = 256
    prune_bias: bool = False
    prune_batchnorm: bool = False
    prune_train_mode: bool = False
    reinitialize: bool = False
    shuffle: bool = False
    invert: bool = False
    experiment: str = "singleshot"
    expid: str = ""
    result_dir: str = "results"
    data_dir: str | None = None
    device: str = "auto"
    seed: int = 1
    train_limit: int | None = None
    test_limit: int | None = None
    timing_repeats: int = 5
    verbose: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_drops", tuple(int(e) for e in self.lr_drops))
        object.__setattr__(self, "expid", str(self.expid))
        if not math.isfinite(self.compression) or self.compression < 0:
            raise ValueError(f"compression exponent must be >= 0 (density = 10**-compression); got {self.compression!r}")
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {self.experiment!r}; valid experiments: {', '.join(EXPERIMENTS)}")
        for name in ("train_batch_size", "test_batch_size", "prune_batch_size", "prune_dataset_ratio", "timing_repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)!r}")
        for name in ("pre_epochs", "post_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if self.prune_iterations is not None and self.prune_iterations < 1:
            raise ValueError(f"prune_iterations must be >= 1 or None (the pruner's default); got {self.prune_iterations!r}")

    @property
    def density(self) -> float:
        """The fraction of prunable weights kept, ``10 ** -compression``."""
        return 10.0 ** (-self.compression)

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with some fields changed (validated again).

        Raises:
            ValueError: If a field name is unknown; the message lists the valid ones.
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown config field(s) {', '.join(unknown)}; valid fields: {', '.join(self.field_names())}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        data = dataclasses.asdict(self)
        data["lr_drops"] = list(self.lr_drops)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        """Rebuilds a config from :meth:`to_dict` output.

        Raises:
            ValueError: If a key is not a field; the message lists the valid ones.
        """
        return cls().replace(**data)

    @classmethod
    def field_names(cls) -> list[str]:
        """The names of all fields, in order."""
        return [f.name for f in dataclasses.fields(cls)]
