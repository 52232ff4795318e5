"""Setting up a pruner notebook: its data, its seeded model, a pre-trained copy.

Example:
    >>> from prunekit.run.data import DATASETS, DeviceDataset
    >>> data = DeviceDataset("mnist", False, torch.zeros(2, 1, 28, 28, dtype=torch.uint8),
    ...                      torch.tensor([3, 3]), DATASETS["mnist"], "toy")
    >>> majority_share(data)
    100.0
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DataOrigin, DeviceDataset, DeviceLoader, prune_loader
from prunekit.run.device import select_device
from prunekit.run.experiment import load_splits, seeded_model
from prunekit.run.training import make_optimizer, train_epoch

__all__ = ["FALLBACK_TAG", "Lesson", "lesson_setup", "majority_share", "pretrain_copy"]

FALLBACK_TAG = DataOrigin.FALLBACK.caption
"""The label every table and figure made from :func:`prunekit.run.data.cifar_fallback` data carries."""


@dataclass(frozen=True)
class Lesson:
    """What a pruner notebook works on: a fresh model, its training data and pruning batches.

    Attributes:
        config: The configuration it was built from.
        model: The unpruned model, initialized with ``torch.manual_seed(config.seed)``.
        train: The training split.
        test: The test split.
        prune_data: The pruning batches (:func:`prunekit.run.data.prune_loader`).
        device: Where model and data live.
        fallback: True when MNIST digits stand in for a missing CIFAR-10.
        tag: ``""``, or :data:`FALLBACK_TAG` plus ``" · "`` to prefix titles and captions with.
    """

    config: ExperimentConfig
    model: nn.Module
    train: DeviceDataset
    test: DeviceDataset
    prune_data: DeviceLoader
    device: torch.device
    fallback: bool
    tag: str

    def title(self, text: str) -> str:
        """``text`` prefixed with the fallback label when the data is a stand-in."""
        return f"{self.tag}{text}"


def lesson_setup(config: ExperimentConfig, device: str | torch.device | None = None) -> Lesson:
    """Loads the data of ``config`` and builds its seeded, unpruned model.

    CIFAR-10 is used when it is on disk; when it is not, MNIST digits padded to
    3×32×32 stand in (:func:`prunekit.run.data.cifar_fallback`, which warns loudly)
    and ``fallback``/``tag`` say so, for every title and caption.

    Args:
        config: The run's configuration (dataset, model, seed, data_dir, pruning batch settings).
        device: Overrides ``config.device`` (``"auto"``: CUDA, then MPS, then CPU).

    Returns:
        A :class:`Lesson`.

    Raises:
        DatasetNotFoundError: If not even the shipped MNIST sample is there.
        ValueError: For an unknown dataset or model.

    Example:
        >>> from prunekit.run.presets import preset_config
        >>> lesson = lesson_setup(preset_config("quick", "snip"), device="cpu")  # doctest: +SKIP
        >>> lesson.train.spec.input_shape, lesson.fallback  # doctest: +SKIP
        ((1, 28, 28), False)
    """
    where = select_device(config.device if device is None else device)
    train, test = load_splits(config, where, allow_fallback=True)
    fallback = train.origin is DataOrigin.FALLBACK
    model = seeded_model(config, train, where)
    data = prune_loader(train, config.prune_dataset_ratio, config.prune_batch_size, config.seed)
    return Lesson(config, model, train, test, data, where, fallback, f"{FALLBACK_TAG} · " if fallback else "")


def majority_share(dataset: DeviceDataset) -> float:
    """The accuracy of always answering the most frequent class, in percent.

    A network whose output no longer depends on its input (layer collapse) can
    at best learn this; on the full MNIST test set it is 11.35 % (digit 1), the
    report's SynFlow result.

    Args:
        dataset: A split (usually the test split).

    Returns:
        ``100 × (count of the most frequent label) / (number of examples)``.

    Example:
        >>> from prunekit.run.data import DATASETS
        >>> data = DeviceDataset("mnist", False, torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
        ...                      torch.tensor([1, 1, 1, 7]), DATASETS["mnist"], "toy")
        >>> majority_share(data)
        75.0
    """
    counts = torch.bincount(dataset.targets.long().cpu())
    return 100.0 * float(counts.max()) / len(dataset)


def pretrain_copy(lesson: Lesson, epochs: int, *, progress: bool = False) -> nn.Module:
    """Trains a deep copy of the lesson's model for ``epochs`` epochs (the report's ``--pre-epochs``).

    Uses the lesson's optimizer, learning rate, weight decay and training batch
    size; batches are shuffled with a generator seeded by ``config.seed``, so the
    copy is the same on every run (on CPU).

    Args:
        lesson: From :func:`lesson_setup`.
        epochs: Training epochs (0 returns an untrained copy).
        progress: Show a per-batch progress bar.

    Returns:
        The trained copy (the lesson's model is untouched).

    Raises:
        ValueError: If ``epochs`` is negative.

    Example:
        >>> from prunekit.run.presets import preset_config
        >>> lesson = lesson_setup(preset_config("quick", "mag"), device="cpu")  # doctest: +SKIP
        >>> trained = pretrain_copy(lesson, 1)  # doctest: +SKIP
        >>> fan_in_table(trained).mean_abs.iloc[0] > fan_in_table(lesson.model).mean_abs.iloc[0]  # doctest: +SKIP
        True
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0; got {epochs!r}")
    config = lesson.config
    model = copy.deepcopy(lesson.model)
    loader = DeviceLoader(
        lesson.train, config.train_batch_size, shuffle=True, seed=config.seed, limit=config.train_limit
    )
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)
    torch.manual_seed(config.seed)
    for epoch in range(1, epochs + 1):
        train_epoch(model, loader, optimizer, progress=progress, desc=f"pre-training {epoch}/{epochs}")
    model.eval()
    return model
