"""Synaptic-Flow's ``multishot`` experiment: train, prune, rewind, L times; then train and evaluate.

For every compression exponent ``a`` in ``--compression-list`` and every number of levels
``L`` in ``--level-list``, the run starts from the same state (the *rewind point*) and
repeats for ``l = 1 … L``: train ``--pre-epochs``, prune to density ``(10^-a)^(l/L)``
(exactly ``round(density × N)`` weights kept), then **rewind**: the surviving weights, every
other parameter and buffer (the masks excepted), the optimizer and the learning-rate schedule
go back to the rewind point. After the last level the model trains ``--post-epochs`` and is
evaluated. With ``--pruner mag`` this is iterative magnitude pruning (IMP) with rewinding,
Frankle & Carbin's lottery-ticket procedure.

The rewind point is the initialization (``--rewind-iteration 0``, Synaptic-Flow's choice) or the
state after ``k`` training iterations (``--rewind-iteration k``, Frankle et al. 2020, "Linear
mode connectivity and the lottery ticket hypothesis"). ``--reinitialize`` gives the
lottery-ticket control: after the last level the kept weights are drawn afresh (seed + 1),
keeping the mask.

Differences from Synaptic-Flow's code: its rewinding filtered the ``state_dict`` on
``requires_grad``, which a ``state_dict``'s tensors never have, so it rewound nothing; here the
weights are really rewound. Results are one JSON file, written after every finished entry;
a level is checkpointed as soon as it is done, and a run started again resumes after its last
finished level (and inside a training phase, from its last epoch).

Example:
    >>> level_densities(2, 4)
    [0.31622776601683794, 0.1, 0.03162277660168379, 0.01]
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunekit.core.connectivity import is_disconnected
from prunekit.core.layers import apply_masks_, masked_parameters
from prunekit.core.pruning import LayerCollapseWarning, collapsed_layers, density_from_compression, prune
from prunekit.run.checkpoints import load_checkpoint_or_discard, rng_state, set_rng_state
from prunekit.run.config import ExperimentConfig
from prunekit.run.experiments.common import Setup, claim_folder, finish_replacing, now, prepare
from prunekit.run.experiments.results import COMPLETE, RUNNING, LevelRow, MultishotEntry, MultishotResult
from prunekit.run.io import save_checkpoint
from prunekit.run.records import epoch_rows
from prunekit.run.run_folder import run_lock
from prunekit.run.training import fit, make_optimizer, make_scheduler, seed_everything, train_epoch

__all__ = ["LEVEL_CHECKPOINT", "REWIND_FILE", "level_densities", "rewind_", "run_multishot", "snapshot"]

LEVEL_CHECKPOINT = "level.pt"
"""The state after the last finished level of the entry under way."""

REWIND_FILE = "rewind.pt"
"""The rewind point (model, optimizer and schedule), saved once so that a restart rewinds to the same state."""

EPOCH_CHECKPOINT = "checkpoint-train.pt"
"""The per-epoch checkpoint of the training phase under way (:func:`prunekit.run.training.fit`)."""

LevelCallback = Callable[[str, int], None]
"""Called as ``fn(entry_key, level)`` after each level is checkpointed (for progress, or to stop a test run)."""


def level_densities(compression: float, levels: int) -> list[float]:
    """The density after each level: ``(10^-a)^(l/L)`` for ``l = 1 … L``.

    Args:
        compression: The compression exponent ``a``.
        levels: The number of levels ``L`` (>= 1).

    Returns:
        ``L`` densities, the last one ``10^-a``.

    Raises:
        ValueError: If ``levels`` < 1.

    Example:
        >>> level_densities(1, 1)
        [0.1]
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1; got {levels!r}")
    final = density_from_compression(compression)
    return [final ** (level / levels) for level in range(1, levels + 1)]


def snapshot(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, Any]:
    """A deep copy of the model's, optimizer's and schedule's states: a rewind point.

    Example:
        >>> net = nn.Linear(2, 1)
        >>> opt = make_optimizer("sgd", net.parameters(), 0.1)
        >>> sorted(snapshot(net, opt, make_scheduler(opt)))
        ['model', 'optimizer', 'scheduler']
    """
    return {"model": {key: value.detach().clone() for key, value in model.state_dict().items()},
            "optimizer": copy.deepcopy(optimizer.state_dict()), "scheduler": copy.deepcopy(scheduler.state_dict())}


@torch.no_grad()
def rewind_(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, point: dict[str, Any]) -> None:
    """Rewinds ``model`` (all but its masks), ``optimizer`` and ``scheduler`` to ``point``, in place.

    The masks stay as they are; the surviving weights take their values at the rewind
    point, the pruned ones stay zero (:func:`~prunekit.core.layers.apply_masks_`).

    Args:
        model: The pruned model.
        optimizer: Its optimizer.
        scheduler: Its learning-rate schedule.
        point: A :func:`snapshot`.

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> net = MaskedLinear(2, 1)
        >>> opt = make_optimizer("sgd", net.parameters(), 0.1)
        >>> sched = make_scheduler(opt)
        >>> point = snapshot(net, opt, sched)
        >>> _ = net.weight.data.add_(1.0); _ = net.weight_mask.data[0, 0].zero_()
        >>> rewind_(net, opt, sched, point)
        >>> net.weight[0, 0].item() == 0, net.weight[0, 1].item() == point["model"]["weight"][0, 1].item()
        (True, True)
    """
    state = model.state_dict()
    for key, value in point["model"].items():
        if not key.endswith("_mask"):
            state[key].copy_(value)
    apply_masks_(model)
    optimizer.load_state_dict(copy.deepcopy(point["optimizer"]))
    scheduler.load_state_dict(copy.deepcopy(point["scheduler"]))


def _rewind_point(config: ExperimentConfig, setup: Setup, optimizer: torch.optim.Optimizer, scheduler: Any,
                  folder: Path) -> dict[str, Any]:
    path = folder / REWIND_FILE
    saved = load_checkpoint_or_discard(path, ("model", "optimizer", "scheduler"), "computing it again", setup.device)
    if saved is not None:
        return saved
    if config.rewind_iteration:  # Frankle et al. 2020: rewind to iteration k of the dense training
        batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        while len(batches) < config.rewind_iteration:
            batches.extend(setup.train_loader)
        train_epoch(setup.model, batches[: config.rewind_iteration], optimizer)
    point = snapshot(setup.model, optimizer, scheduler)
    save_checkpoint(path, point)
    return point


def _entry(config: ExperimentConfig, setup: Setup, optimizer: torch.optim.Optimizer, scheduler: Any,
           point: dict[str, Any], loader_start: dict[str, Any], folder: Path, compression: float, levels: int,
           progress: bool, on_level: LevelCallback | None) -> MultishotEntry:
    model, key = setup.model, f"a{compression:g}-L{levels}"
    rows: list[LevelRow] = []
    seed_everything(config.seed)  # every entry starts from the same random state: its result does not depend on
    setup.train_loader.load_state_dict(copy.deepcopy(loader_start))  # the entries run before it (or a restart)
    for mask in (buffer for name, buffer in model.named_buffers() if name.endswith("_mask")):
        mask.fill_(1.0)  # every entry starts dense, from the rewind point
    rewind_(model, optimizer, scheduler, point)
    state = load_checkpoint_or_discard(folder / LEVEL_CHECKPOINT, ("key", "level", "model", "optimizer", "scheduler",
                                       "rows", "rng", "train_loader"), "starting the entry again", setup.device)
    if state is not None and state["key"] == key:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rows = [LevelRow(**row) for row in state["rows"]]
        set_rng_state(state["rng"])
        setup.train_loader.load_state_dict(state["train_loader"])
        if progress:
            print(f"{key}: resuming after level {state['level']} of {levels}", flush=True)
    for level, density in enumerate(level_densities(compression, levels), start=1):
        if level <= len(rows):
            continue
        history = fit(model, setup.train_loader, setup.test_loader, optimizer, scheduler, config.pre_epochs,
                      checkpoint_path=folder / EPOCH_CHECKPOINT, phase=f"{key}-pre{level}", progress=progress)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)  # recorded in the entry
            report = prune(model, config.pruner, density=density, data=setup.prune_data, scope=config.scope,
                           rounds=config.rounds, schedule=config.schedule, prune_bias=config.prune_bias,
                           prune_batchnorm=config.prune_batchnorm, train_mode=config.prune_train_mode,
                           shuffle=config.shuffle, invert=config.invert)
        rewind_(model, optimizer, scheduler, point)
        rows.append(LevelRow(level, density, report.kept, report.total, float(history[-1]["top1"])))
        if progress:
            print(f"{key}: level {level}/{levels}: {report.summary()}; rewound", flush=True)
        save_checkpoint(folder / LEVEL_CHECKPOINT, {
            "key": key, "level": level, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rows": [row.__dict__ for row in rows],
            "rng": rng_state(setup.device), "train_loader": setup.train_loader.state_dict()})
        if on_level is not None:
            on_level(key, level)
    if config.reinitialize:  # the lottery-ticket control: the same mask, fresh random weights
        torch.manual_seed(config.seed + 1)
        model.initialize_weights()
        apply_masks_(model)
    post = fit(model, setup.train_loader, setup.test_loader, optimizer, scheduler, config.post_epochs,
               checkpoint_path=folder / EPOCH_CHECKPOINT, phase=f"{key}-post", progress=progress)
    params = list(masked_parameters(model, bias=config.prune_bias, batchnorm=config.prune_batchnorm))
    return MultishotEntry(
        pruner=config.pruner, compression=float(compression), levels=int(levels), level_rows=tuple(rows),
        kept=int(sum(int(p.mask.sum()) for p in params)), total=int(sum(p.mask.numel() for p in params)),
        top1=float(post[-1]["top1"]), top5=float(post[-1]["top5"]), post_history=epoch_rows(post),
        layer_density={p.name: float(p.mask.mean()) for p in params},
        collapsed_layers=tuple(collapsed_layers(model)),
        disconnected=bool(is_disconnected(model, input_shape=setup.train.spec.input_shape)),
        reinitialized=config.reinitialize,
    )


def run_multishot(config: ExperimentConfig, *, progress: bool = True, overwrite: bool = False,
                  allow_fallback: bool = False, on_level: LevelCallback | None = None) -> MultishotResult:
    """Runs (or resumes) a multishot experiment; see the module's docstring.

    The entries run in Synaptic-Flow's order (each compression, then each number of levels);
    ``--compression-list`` defaults to ``--compression`` and ``--level-list`` to 1.

    Args:
        config: The run (``experiment="multishot"``).
        progress: Print a line per level and show training bars.
        overwrite: Start afresh; a finished run in the folder is replaced once this one has finished.
        allow_fallback: Use the labelled MNIST stand-in when CIFAR-10 is missing.
        on_level: Called after each level is checkpointed as ``on_level(entry_key, level)``.

    Returns:
        The :class:`MultishotResult`, also in ``<run dir>/experiment.json``.

    Raises:
        ValueError: If ``config.experiment`` is not ``multishot`` or the device is missing.
        RunExistsError: If the folder holds a finished run (without ``overwrite``) or another configuration.

    Example:
        >>> config = ExperimentConfig(experiment="multishot", pruner="mag", compression_list=(1, 2),
        ...                           level_list=(1, 2), pre_epochs=1, post_epochs=1, train_limit=512)
        >>> result = run_multishot(config)  # doctest: +SKIP
    """
    if config.experiment != "multishot":
        raise ValueError(f"run_multishot runs experiment 'multishot'; got {config.experiment!r}")
    config.validate()
    folder, saved = claim_folder(config, overwrite)
    with run_lock(folder):
        setup = prepare(config, allow_fallback)
        folder.mkdir(parents=True, exist_ok=True)
        result = (MultishotResult.from_dict(saved) if saved is not None else
                  MultishotResult(config, RUNNING, (), setup.origin, now(), now()))
        result = MultishotResult(config, RUNNING, result.entries, setup.origin, result.started_at, now())
        result.save(folder)
        optimizer = make_optimizer(config.optimizer, setup.model.parameters(), config.lr, config.weight_decay)
        scheduler = make_scheduler(optimizer, config.lr_drops, config.lr_drop_rate)
        loader_start = copy.deepcopy(setup.train_loader.state_dict())
        point = _rewind_point(config, setup, optimizer, scheduler, folder)
        for compression in config.compression_list or (config.compression,):
            for levels in config.level_list or (1,):
                if result.entry(float(compression), int(levels)) is not None:
                    continue
                entry = _entry(config, setup, optimizer, scheduler, point, loader_start, folder, float(compression),
                               int(levels), progress, on_level)
                result = MultishotResult(config, RUNNING, (*result.entries, entry), setup.origin,
                                         result.started_at, now())
                result.save(folder)
                for name in (LEVEL_CHECKPOINT, EPOCH_CHECKPOINT):
                    (folder / name).unlink(missing_ok=True)
                if progress:
                    print(f"{entry.key}: kept {entry.kept:,} of {entry.total:,} (density {entry.density:.4g}); "
                          f"top-1 {entry.top1:.2f} %", flush=True)
        result = MultishotResult(config, COMPLETE, result.entries, setup.origin, result.started_at, now())
        result.save(folder)
        (folder / REWIND_FILE).unlink(missing_ok=True)
        finish_replacing(folder)
    return result
