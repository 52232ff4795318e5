"""Optimizers, the train/evaluate loops and a resumable ``fit``.

The loops follow Synaptic-Flow's ``Utils/train.py`` (``train``, ``eval``,
``train_eval_loop``): the mean training loss per example, the test loss, top-1
and top-5 accuracy in percent, and an epoch-0 row with the accuracy before any
training. They are tuned for small models on a CPU: no per-batch ``.item()``
(losses and counts are summed on the device and read once per epoch), gradients
set to None instead of zero-filled, and fused/foreach optimizer kernels.

Example:
    >>> from prunekit.run.data import DATASETS, DeviceDataset, DeviceLoader
    >>> data = DeviceDataset("mnist", True, torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8),
    ...                      torch.arange(32) % 10, DATASETS["mnist"], "random pixels")
    >>> loader = DeviceLoader(data, batch_size=16, shuffle=True, seed=0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    >>> optimizer = make_optimizer("adam", model.parameters(), lr=1e-3)
    >>> history = fit(model, loader, loader, optimizer, make_scheduler(optimizer), epochs=2, progress=False)
    >>> [row["epoch"] for row in history]
    [0, 1, 2]
"""

from __future__ import annotations

import inspect
import math
import random
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import MultiStepLR
from tqdm.auto import tqdm

from prunekit.run.checkpoints import load_checkpoint_or_discard, rng_state, set_rng_state
from prunekit.run.io import save_checkpoint
from prunekit.run.timing import device_of, synchronize

__all__ = [
    "OPTIMIZERS",
    "TrainingDiverged",
    "evaluate",
    "fit",
    "make_optimizer",
    "make_scheduler",
    "seed_everything",
    "train_epoch",
]

OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "adam": (torch.optim.Adam, {}),
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "rms": (torch.optim.RMSprop, {}),
}
"""Synaptic-Flow's optimizers: name → (class, fixed keyword arguments)."""

Batches = Iterable[tuple[Tensor, Tensor]]


class TrainingDiverged(ArithmeticError):
    """Training produced a non-finite loss or weight; :func:`fit` stopped after that epoch.

    Attributes:
        phase: The phase label given to :func:`fit`.
        epoch: The epoch after which the loss or weights were not finite.
        reason: What was not finite.
        history: The history up to and including that epoch (its accuracies as measured).
    """

    def __init__(self, phase: str, epoch: int, reason: str, history: list[dict[str, Any]]) -> None:
        super().__init__(f"{phase}-training diverged in epoch {epoch}: {reason}")
        self.phase, self.epoch, self.reason, self.history = phase, epoch, reason, history


def seed_everything(seed: int) -> None:
    """Seeds torch (every device), Python's ``random`` and numpy.

    Deterministic algorithms are not forced globally (that would slow down or
    break some CUDA kernels); on a CPU the kit's runs repeat exactly anyway.

    Args:
        seed: The seed.

    Example:
        >>> seed_everything(1); first = torch.rand(1)
        >>> seed_everything(1); bool(torch.rand(1) == first)
        True
    """
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def make_optimizer(name: str, params: Iterable[Any], lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Builds one of :data:`OPTIMIZERS` (the report's ``--optimizer``).

    Uses the fused implementation when the class and the parameters' device
    support it (Adam and SGD on CPU and CUDA), else the multi-tensor ``foreach`` one.

    Args:
        name: ``"adam"``, ``"sgd"``, ``"momentum"`` (SGD, Nesterov momentum 0.9) or ``"rms"``.
        params: Parameters or parameter groups.
        lr: Learning rate.
        weight_decay: L2 penalty.

    Returns:
        The optimizer.

    Raises:
        ValueError: If ``name`` is unknown; the message lists valid names.

    Example:
        >>> optimizer = make_optimizer("momentum", nn.Linear(2, 2).parameters(), lr=0.1)
        >>> optimizer.param_groups[0]["momentum"], optimizer.param_groups[0]["nesterov"]
        (0.9, True)
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid optimizers: {', '.join(OPTIMIZERS)}")
    optimizer_class, fixed = OPTIMIZERS[name]
    params = list(params)
    accepted = inspect.signature(optimizer_class.__init__).parameters
    kwargs = {"lr": lr, "weight_decay": weight_decay, **fixed}
    if "fused" in accepted:
        try:
            return optimizer_class(params, fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):
            pass  # e.g. a device or dtype the fused kernel does not support
    if "foreach" in accepted:
        return optimizer_class(params, foreach=True, **kwargs)
    return optimizer_class(params, **kwargs)


def make_scheduler(optimizer: torch.optim.Optimizer, lr_drops: Sequence[int] = (), lr_drop_rate: float = 0.1) -> MultiStepLR:
    """Multiplies the learning rate by ``lr_drop_rate`` at the epochs in ``lr_drops``.

    Args:
        optimizer: The optimizer.
        lr_drops: Epochs (the report's ``--lr-drops``); empty = constant rate.
        lr_drop_rate: The factor (the report's ``--lr-drop-rate``).

    Returns:
        A ``MultiStepLR``; call ``step()`` once per epoch.

    Example:
        >>> optimizer = make_optimizer("sgd", nn.Linear(2, 2).parameters(), lr=1.0)
        >>> scheduler = make_scheduler(optimizer, lr_drops=[1], lr_drop_rate=0.5)
        >>> optimizer.step(); scheduler.step(); optimizer.param_groups[0]["lr"]
        0.5
    """
    return MultiStepLR(optimizer, milestones=sorted(int(epoch) for epoch in lr_drops), gamma=lr_drop_rate)


def _batches(loader: Batches, progress: bool, desc: str) -> Iterable[tuple[Tensor, Tensor]]:
    if not progress:
        return loader
    return tqdm(loader, desc=desc, leave=False, total=len(loader) if hasattr(loader, "__len__") else None)


def train_epoch(
    model: nn.Module,
    loader: Batches,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    progress: bool = False,
    desc: str = "train",
) -> float:
    """Trains ``model`` for one pass over ``loader``.

    Args:
        model: The network (put in train mode).
        loader: Batches of (inputs, targets) on the model's device.
        optimizer: Its optimizer.
        loss_fn: A mean-reduced loss; None = cross-entropy.
        progress: Show a per-batch progress bar.
        desc: The bar's label.

    Returns:
        The mean training loss per example (NaN when the loss diverged).

    Raises:
        ValueError: If ``loader`` yields no batch.

    Example:
        >>> model = nn.Linear(4, 3)
        >>> batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
        >>> loss = train_epoch(model, batches, make_optimizer("sgd", model.parameters(), lr=0.1))
        >>> loss > 0
        True
    """
    model.train()
    loss_fn = loss_fn or nn.functional.cross_entropy
    losses, sizes = [], []  # kept on the device: one synchronization per epoch, not per batch
    for inputs, targets in _batches(loader, progress, desc):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        sizes.append(targets.shape[0])
    if not losses:
        raise ValueError("the training loader yielded no batch")
    weights = torch.tensor(sizes, dtype=torch.float64, device=losses[0].device)
    return float(torch.stack(losses).double().mul(weights).sum()) / sum(sizes)


def evaluate(
    model: nn.Module,
    loader: Batches,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Test loss and top-1/top-5 accuracy of ``model`` over ``loader``.

    Args:
        model: The network (put in eval mode; no gradients).
        loader: Batches of (inputs, targets) on the model's device.
        loss_fn: A mean-reduced loss; None = cross-entropy.
        progress: Show a per-batch progress bar.

    Returns:
        ``{"loss": mean loss per example, "top1": percent, "top5": percent}``
        (top-5 counts all classes when there are fewer than 5).

    Raises:
        ValueError: If ``loader`` yields no batch.

    Example:
        >>> model = nn.Linear(4, 10)
        >>> result = evaluate(model, [(torch.randn(8, 4), torch.randint(0, 10, (8,)))])
        >>> sorted(result), 0 <= result["top1"] <= result["top5"] <= 100
        (['loss', 'top1', 'top5'], True)
    """
    model.eval()
    loss_fn = loss_fn or nn.functional.cross_entropy
    sums, count = None, 0
    with torch.inference_mode():
        for inputs, targets in _batches(loader, progress, "eval"):
            outputs = model(inputs)
            top = outputs.topk(min(5, outputs.shape[1]), dim=1).indices
            hits = top == targets[:, None]
            batch = torch.stack(
                [
                    loss_fn(outputs, targets) * targets.shape[0],
                    hits[:, 0].sum().to(outputs.dtype),
                    hits.any(dim=1).sum().to(outputs.dtype),
                ]
            ).double()
            sums = batch if sums is None else sums + batch
            count += targets.shape[0]
    if sums is None:
        raise ValueError("the evaluation loader yielded no batch")
    loss, top1, top5 = sums.tolist()
    return {"loss": loss / count, "top1": 100.0 * top1 / count, "top5": 100.0 * top5 / count}


# --------------------------------------------------------------------------- fit with checkpoints


def _row(epoch: int, train_loss: float | None, result: dict[str, float], lr: float, seconds: float) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "test_loss": result["loss"],
        "top1": result["top1"],
        "top5": result["top5"],
        "lr": lr,
        "epoch_time_s": seconds,
    }


def fit(
    model: nn.Module,
    train_loader: Batches,
    test_loader: Batches,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    epochs: int,
    *,
    checkpoint_path: str | Path | None = None,
    phase: str = "post",
    progress: bool = True,
    batch_progress: bool = False,
    start_history: list[dict[str, Any]] | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> list[dict[str, Any]]:
    """Trains for ``epochs`` epochs, evaluating after each, with a checkpoint per epoch.

    The history starts with an epoch-0 row (test metrics before training,
    ``train_loss`` None), like Synaptic-Flow's ``train_eval_loop``. After every
    epoch the model, optimizer, scheduler, history and RNG states (torch, Python,
    numpy, CUDA, and the train loader's generator when it has ``state_dict``) are
    written atomically to ``checkpoint_path``. If that file exists and holds the
    same ``phase``, training resumes after its last epoch and ends with exactly the
    history an uninterrupted run would have produced.

    Args:
        model: The network.
        train_loader: Training batches (e.g. a :class:`prunekit.run.data.DeviceLoader`).
        test_loader: Test batches.
        optimizer: The optimizer.
        scheduler: Stepped once per epoch; None for a constant learning rate.
        epochs: Number of training epochs (0 = only the epoch-0 evaluation).
        checkpoint_path: Where to checkpoint; None = no checkpoints.
        phase: A label such as ``"pre"`` (before pruning) or ``"post"``; a
            checkpoint of another phase is ignored (and overwritten).
        progress: Show a progress bar over epochs (top-1 and loss in the postfix).
        batch_progress: Also show a per-batch bar inside each epoch.
        start_history: Rows that the returned history starts with (copied).
        loss_fn: A mean-reduced loss; None = cross-entropy.

    Returns:
        ``start_history`` rows followed by one row per epoch (0..epochs):
        ``{"epoch", "train_loss", "test_loss", "top1", "top5", "lr", "epoch_time_s"}``,
        where ``lr`` is the rate used during the epoch and ``epoch_time_s`` the
        training time of the epoch (evaluation excluded; 0 for epoch 0).

    A corrupt checkpoint is removed with a :class:`~prunekit.run.checkpoints.CorruptCheckpointWarning` naming it, and the
    phase starts from its first epoch. When an epoch ends with a non-finite training loss or
    weight, training stops: :class:`TrainingDiverged` carries the history up to that epoch (that
    epoch is not checkpointed, so a restart meets the divergence again instead of training on).

    Raises:
        ValueError: If ``epochs`` is negative or the checkpoint is ahead of ``epochs``.
        TrainingDiverged: If the loss or a weight stops being finite.

    Example:
        >>> model = nn.Linear(4, 3)
        >>> batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
        >>> optimizer = make_optimizer("adam", model.parameters(), lr=1e-2)
        >>> rows = fit(model, batches, batches, optimizer, None, epochs=1, progress=False)
        >>> rows[0]["train_loss"] is None, rows[1]["epoch"]
        (True, 1)
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0; got {epochs}")
    device = device_of(model)
    checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
    history = [dict(row) for row in (start_history or [])]
    done = None
    state = None
    if checkpoint_path is not None:
        state = load_checkpoint_or_discard(
            checkpoint_path, ("phase", "epoch", "model", "optimizer", "history", "rng"),
            f"starting {phase}-training from its first epoch", map_location=device,
        )
    if state is not None:
        if state.get("phase") == phase:
            done = int(state["epoch"])
            if done > epochs:
                raise ValueError(f"{checkpoint_path} holds {done} {phase} epochs, more than the {epochs} requested")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            history = list(state["history"])
            set_rng_state(state["rng"])
            if "train_loader" in state["rng"] and hasattr(train_loader, "load_state_dict"):
                try:
                    train_loader.load_state_dict(state["rng"]["train_loader"])
                except ValueError as error:  # e.g. a loader seeded differently than before the interruption
                    warnings.warn(
                        f"cannot restore the training batches' order ({error}); "
                        "the resumed epochs will differ from an uninterrupted run",
                        stacklevel=2,
                    )
            print(f"resuming {phase} training from epoch {done}/{epochs} ({checkpoint_path})")

    def save(epoch: int) -> None:
        if checkpoint_path is None:
            return
        rng = rng_state(device)
        if hasattr(train_loader, "state_dict"):
            rng["train_loader"] = train_loader.state_dict()
        save_checkpoint(
            checkpoint_path,
            {
                "phase": phase,
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "history": history,
                "rng": rng,
            },
        )

    if done is None:
        result = evaluate(model, test_loader, loss_fn)
        history.append(_row(0, None, result, optimizer.param_groups[0]["lr"], 0.0))
        done = 0
        save(0)
    bar = tqdm(total=epochs, initial=done, desc=f"{phase}-training", unit="epoch", disable=not progress)
    try:
        last = history[-1]
        bar.set_postfix(top1=f"{last['top1']:.2f}", loss=f"{last['test_loss']:.4f}")
        for epoch in range(done + 1, epochs + 1):
            lr = optimizer.param_groups[0]["lr"]
            synchronize(device)
            start = time.perf_counter()
            train_loss = train_epoch(model, train_loader, optimizer, loss_fn, progress=batch_progress, desc=f"epoch {epoch}")
            synchronize(device)
            seconds = time.perf_counter() - start
            result = evaluate(model, test_loader, loss_fn)
            if scheduler is not None:
                scheduler.step()
            history.append(_row(epoch, train_loss, result, lr, seconds))
            problem = _non_finite(model, train_loss)
            if problem:
                raise TrainingDiverged(phase, epoch, problem, history)
            save(epoch)
            bar.update(1)
            bar.set_postfix(top1=f"{result['top1']:.2f}", loss=f"{train_loss:.4f}")
    finally:
        bar.close()
    return history


def _non_finite(model: nn.Module, train_loss: float) -> str:
    """What is not finite after an epoch ("" when the loss and every parameter are)."""
    if not math.isfinite(train_loss):
        return f"training loss is {train_loss}"
    named = list(model.named_parameters())
    if not named:
        return ""
    finite = torch.stack([torch.isfinite(param).all() for _, param in named]).tolist()
    bad = [name for (name, _), ok in zip(named, finite) if not ok]
    return f"weights of {', '.join(bad[:3])}{' …' if len(bad) > 3 else ''} are not finite" if bad else ""
