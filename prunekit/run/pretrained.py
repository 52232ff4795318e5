"""Pre-training done once per setting: runs that differ only in how they prune share it.

Mag prunes a trained network, so every Mag run first trains for ``pre_epochs``. The
runs of a compression sweep differ only in what happens after that training (the
pruner, the compression exponent, the rounds, the post-training epochs), so the
first one saves the state it reached, and the others load it instead of training
again. The saved state is everything the rest of the run reads: the weights, the
optimizer and scheduler, the random-number states and the batch order. A run that
loads it therefore computes exactly what it would have computed after training.

The file goes to ``<result_dir>/pretrained/``, named by :func:`pretrain_key`: every
setting that changes what a run computes, except those only used after
pre-training (:data:`AFTER_PRETRAINING`), plus the prunekit version. A file that cannot
be read is removed with a warning, and the run trains.

Example:
    >>> from prunekit.run.config import ExperimentConfig
    >>> a = ExperimentConfig(pruner="mag", compression=1.0, pre_epochs=20)
    >>> pretrain_key(a) == pretrain_key(a.replace(compression=2.0, post_epochs=5))
    True
    >>> pretrain_key(a) == pretrain_key(a.replace(seed=2))
    False
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunekit.run.checkpoints import load_checkpoint_or_discard, rng_state, set_rng_state
from prunekit.run.config import ExperimentConfig
from prunekit.run.io import save_checkpoint
from prunekit.run.loader import DeviceLoader
from prunekit.run.paths import computed_fields
from prunekit.run.resources import package_version

__all__ = ["AFTER_PRETRAINING", "FOLDER", "load_pretrained", "pretrain_key", "pretrained_path", "save_pretrained"]

FOLDER = "pretrained"
"""The folder, below the result folder, of the saved pre-training states."""

AFTER_PRETRAINING = (
    "pruner", "compression", "rounds", "schedule", "scope", "prune_dataset_ratio", "prune_batch_size", "prune_bias",
    "prune_batchnorm", "prune_train_mode", "reinitialize", "shuffle", "invert", "post_epochs", "timing_repeats",
)
"""Settings read only after pre-training ends: runs that differ only in these share their pre-training.

Every other setting (a new one too, until it is listed here) keeps pre-trainings apart.
The data and the pruning batches are drawn from loaders with their own seeded generators,
so the pruning settings do not change the random numbers that pre-training uses."""

_KEYS = ("model", "optimizer", "scheduler", "rng", "train_loader", "pre_history", "version", "key")


def pretrain_key(config: ExperimentConfig) -> str:
    """Twelve hex digits naming what ``config``'s pre-training computes (with the prunekit version).

    Args:
        config: A run.

    Returns:
        A short SHA-1 digest, the same for runs that differ only in :data:`AFTER_PRETRAINING`.
    """
    fields = {key: value for key, value in computed_fields(config).items() if key not in AFTER_PRETRAINING}
    fields["prunekit_version"] = package_version()
    return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def pretrained_path(config: ExperimentConfig) -> Path:
    """``<result_dir>/pretrained/<model>-<dataset>-s<seed>-pre<epochs>-<key>.pt``.

    Example:
        >>> from prunekit.run.config import ExperimentConfig
        >>> pretrained_path(ExperimentConfig(pre_epochs=3, result_dir="results")).name.startswith("fc-mnist-s1-pre3-")
        True
    """
    name = f"{config.model}-{config.dataset}-s{config.seed}-pre{config.pre_epochs}-{pretrain_key(config)}.pt"
    return Path(config.result_dir) / FOLDER / name


def save_pretrained(
    config: ExperimentConfig, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
    train_loader: DeviceLoader, pre_history: list[dict[str, Any]], device: torch.device,
) -> Path:
    """Saves the state reached at the end of pre-training, for the runs that share it.

    Args:
        config: The run that trained.
        model: Its model, not yet pruned.
        optimizer: Its optimizer.
        scheduler: Its learning-rate scheduler.
        train_loader: Its training batches (their order continues in post-training).
        pre_history: One row per pre-training epoch.
        device: Where the run computes (its CUDA random state is saved too).

    Returns:
        The file written (atomically: a run stopped while saving leaves no half file).
    """
    path = pretrained_path(config)
    save_checkpoint(path, {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "rng": rng_state(device), "train_loader": train_loader.state_dict(), "pre_history": list(pre_history),
        "version": package_version(), "key": pretrain_key(config),
    })
    return path


def load_pretrained(
    config: ExperimentConfig, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
    train_loader: DeviceLoader, device: torch.device,
) -> list[dict[str, Any]] | None:
    """Loads a pre-training another run saved, if there is one for ``config``.

    Args:
        config: The run about to pre-train.
        model: Its freshly initialized model (loaded in place).
        optimizer: Its optimizer (loaded in place).
        scheduler: Its scheduler (loaded in place).
        train_loader: Its training batches (loaded in place).
        device: Where its tensors go.

    Returns:
        The pre-training history (one row per epoch), or None when nothing usable is saved (then
        nothing was changed, and the run trains; a damaged file is removed with a warning).
    """
    if config.pre_epochs <= 0:
        return None
    path = pretrained_path(config)
    state = load_checkpoint_or_discard(path, _KEYS, "pre-training instead", device)
    if state is None or state["key"] != pretrain_key(config) or state["version"] != package_version():
        return None
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    train_loader.load_state_dict(state["train_loader"])
    set_rng_state(state["rng"])
    return list(state["pre_history"])
