"""From scores to masks: schedules, rounds, layer collapse; the exact top-k is :mod:`prunekit.core.selection`.

The compression exponent ``a`` (the report's ``--compression``) sets the density,
the fraction of prunable weights kept: ``density = 10 ** -a``; the compression
ratio is ``10 ** a``. prunekit keeps **exactly** ``round(density * N)`` weights:
ties at the threshold are broken by position (earlier modules, then row-major
order, are kept first), never by the "everything at or below the threshold" rule
that over-prunes when many scores are equal.

Example:
    >>> import torch
    >>> from prunekit import create_model
    >>> net = create_model("default", "fc", (1, 28, 28), 10)
    >>> report = prune(net, "rand", compression=1)
    >>> report.kept, report.total
    (11940, 119400)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from prunekit.core.layers import MaskedParameter, apply_masks_, masked_parameters
from prunekit.core.scorers import resolve
from prunekit.core.scorers.base import Batches, Scorer, ScoreFn
from prunekit.core.selection import TopKSelector, select_topk_

__all__ = [
    "SCHEDULES",
    "SCOPES",
    "LayerCollapseWarning",
    "PruneReport",
    "collapsed_layers",
    "density_from_compression",
    "keep_count",
    "prune",
    "select_topk_",
]

SCOPES = ("global", "local")


def _exponential(density: float, step: int, steps: int) -> float:
    return density ** (step / steps)


def _linear(density: float, step: int, steps: int) -> float:
    return 1.0 - (1.0 - density) * step / steps


SCHEDULES: dict[str, Callable[[float, int, int], float]] = {"exponential": _exponential, "linear": _linear}
"""Density after step ``k`` of ``n`` towards the final density (the report's ``--compression-schedule``)."""


class LayerCollapseWarning(UserWarning):
    """A layer was left with no weights: the network's output no longer depends on its input."""


def density_from_compression(compression: float) -> float:
    """Converts a compression exponent ``a`` into a density ``10 ** -a``.

    Args:
        compression: The exponent; 0 keeps everything, 1 keeps 10 %, 2 keeps 1 %.

    Returns:
        The density, in (0, 1].

    Raises:
        ValueError: If ``compression`` is negative or not finite.

    Example:
        >>> density_from_compression(1)
        0.1
    """
    if not isinstance(compression, (int, float)) or not math.isfinite(compression) or compression < 0:
        raise ValueError(
            f"compression exponent must be a finite number >= 0 (density = 10**-compression); got {compression!r}"
        )
    return 10.0 ** (-compression)


def keep_count(density: float, total: int) -> int:
    """Number of weights kept at ``density`` out of ``total``: ``round(density * total)``.

    Raises:
        ValueError: If the density is outside (0, 1] or keeps less than one weight.

    Example:
        >>> keep_count(0.1, 14715584)
        1471558
    """
    if not isinstance(density, (int, float)) or not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1]; got {density!r}")
    kept = round(density * total)
    if kept < 1:
        largest = math.log10(2 * total) if total else 0.0
        raise ValueError(
            f"density {density:.3g} keeps less than one of {total:,} prunable weights; "
            f"use a compression exponent below {largest:.2f}"
        )
    return kept


def collapsed_layers(model: nn.Module) -> list[str]:
    """Names the masked modules whose weights are all pruned (layer collapse).

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> net = nn.Sequential(MaskedLinear(2, 2), MaskedLinear(2, 1))
        >>> _ = net[1].weight_mask.zero_()
        >>> collapsed_layers(net)
        ['1']
    """
    return [p.module_name for p in masked_parameters(model) if not bool(p.mask.any())]


@dataclass(frozen=True)
class PruneReport:
    """What one call of :func:`prune` did.

    Attributes:
        pruner: The scorer's name.
        density: The target density.
        kept: Prunable weights (and biases, if pruned) kept.
        total: Prunable entries in all.
        rounds: Scoring rounds used.
        schedule: How the density fell over the rounds.
        scope: ``global`` or ``local``.
        collapsed_layers: Modules left with no weights.
        score_time_s: Seconds spent scoring.
        select_time_s: Seconds spent choosing masks.
        layer_density: Density of each prunable parameter, by name.
    """

    pruner: str
    density: float
    kept: int
    total: int
    rounds: int
    schedule: str
    scope: str
    collapsed_layers: tuple[str, ...]
    score_time_s: float
    select_time_s: float
    layer_density: dict[str, float] = field(default_factory=dict)

    @property
    def iterations(self) -> int:
        """The former name of :attr:`rounds` (read-only, kept for older code)."""
        return self.rounds

    @property
    def compression(self) -> float:
        """The compression exponent ``-log10(density)``."""
        return -math.log10(self.density)

    @property
    def achieved_density(self) -> float:
        """``kept / total``."""
        return self.kept / self.total

    def summary(self) -> str:
        """One line for logs and notebooks."""
        text = (
            f"{self.pruner}: kept {self.kept:,} of {self.total:,} prunable weights "
            f"(density {self.achieved_density:.4g}, compression ratio {self.total / self.kept:.3g}) "
            f"in {self.rounds} iteration(s), {self.score_time_s:.2f} s scoring + {self.select_time_s:.2f} s selecting"
        )
        if self.collapsed_layers:
            text += f"; LAYER COLLAPSE in {', '.join(self.collapsed_layers)}"
        return text


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _warn_collapse(names: list[str], pruner: str, iterations: int) -> None:
    if names:
        warnings.warn(
            f"layer collapse: {', '.join(names)} kept no weights after {pruner} pruning "
            f"({iterations} iteration(s)); no signal passes through, so the network can only guess. "
            "Use a lower compression or more iterations.",
            LayerCollapseWarning,
            stacklevel=3,
        )


def prune(
    model: nn.Module,
    pruner: str | Scorer | ScoreFn,
    compression: float | None = None,
    data: Batches | None = None,
    *,
    density: float | None = None,
    scope: str = "global",
    rounds: int | None = None,
    schedule: str = "exponential",
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    prune_bias: bool = False,
    prune_batchnorm: bool = False,
    train_mode: bool = False,
    reinitialize: bool = False,
    shuffle: bool = False,
    invert: bool = False,
    progress: bool = False,
    before_selection: Callable[[int, list[torch.Tensor]], None] | None = None,
) -> PruneReport:
    """Prunes ``model`` in place at a compression exponent (or density).

    Each of ``rounds`` rounds scores the weights still alive and keeps the
    top ones down to the round's density on the ``schedule``; the last round
    reaches exactly ``round(density * N)`` kept. Then the report's options apply in
    its order (reinitialize, shuffle), and pruned entries are zeroed.

    Args:
        model: A model of prunekit's masked layers.
        pruner: A registered name (``rand``, ``mag``, ``snip``, ``grasp``, ``synflow`` or one added with
            :func:`prunekit.core.scorers.register`), a :class:`~prunekit.core.scorers.Scorer`, or a plain
            function ``fn(model, params, data, loss_fn) -> one score tensor per parameter`` (one round by default).
        compression: Exponent ``a``; density = ``10 ** -a``.
        data: ``(inputs, targets)`` batches; required by ``snip`` and ``grasp``.
        density: The fraction to keep, instead of ``compression``.
        scope: ``global`` (one threshold for all layers) or ``local`` (each layer keeps the density).
        rounds: Scoring rounds; ``None`` takes the pruner's default (100 for SynFlow, else 1).
        schedule: ``exponential`` or ``linear`` fall of the density over the rounds.
        loss_fn: Loss for data-driven scorers (cross-entropy by default).
        prune_bias: Prune biases too.
        prune_batchnorm: Prune batch-norm affine parameters too.
        train_mode: Score with the model in train mode (batch statistics).
        reinitialize: Draw fresh weights after pruning, keeping the masks.
        shuffle: Permute each layer's mask at random, keeping its density.
        invert: Keep the lowest scores instead of the highest.
        progress: Show a progress bar over the rounds.
        before_selection: Called in each round with ``(round, scores)`` after scoring and before the masks
            change (rounds count from 1), to observe the network a round is about to cut; it must not change
            the model or the scores.

    Returns:
        A :class:`PruneReport`.

    Raises:
        ValueError: For an unknown pruner, scope or schedule, a bad density or
            iteration count, a compression that keeps less than one weight, or
            missing data for ``snip``/``grasp``.

    Example:
        >>> from prunekit import create_model
        >>> net = create_model("default", "fc", (1, 28, 28), 10)
        >>> prune(net, "rand", density=0.5, scope="local").kept
        59700
    """
    scorer = resolve(pruner)
    if (compression is None) == (density is None):
        raise ValueError("give exactly one of compression (the exponent a, density = 10**-a) and density")
    target = density_from_compression(compression) if density is None else density
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; valid scopes: {', '.join(SCOPES)}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid schedules: {', '.join(SCHEDULES)}")
    given_rounds = rounds
    rounds = scorer.default_rounds if given_rounds is None else given_rounds
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise ValueError(f"rounds must be a whole number >= 1; got {given_rounds!r}")
    if scorer.needs_data and data is None:
        scorer(model, [], None)  # raises the scorer's own message
    params: list[MaskedParameter] = list(masked_parameters(model, bias=prune_bias, batchnorm=prune_batchnorm))
    if not params:
        raise ValueError(f"{type(model).__name__} has no masked layers to prune; build it with prunekit.create_model")
    sizes = [p.mask.numel() for p in params]
    total = sum(sizes)
    final_kept = keep_count(target, total)
    if scope == "local":
        for p, size in zip(params, sizes):
            keep_count(target, size)  # every layer must keep at least one weight

    device = params[0].param.device
    was_training = model.training
    model.train(train_mode)
    generator = torch.Generator().manual_seed(0)
    masks = [p.mask for p in params]
    selectors = [TopKSelector(masks, generator)] if scope == "global" else [
        TopKSelector([mask], generator) for mask in masks]
    score_time = select_time = 0.0
    steps = range(1, rounds + 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"pruning ({scorer.name})", unit="round")
    try:
        for step in steps:
            round_density = SCHEDULES[schedule](target, step, rounds)
            _sync(device)
            start = time.perf_counter()
            scores = scorer(model, params, data, loss_fn)
            _sync(device)
            score_time += time.perf_counter() - start
            if before_selection is not None:
                before_selection(step, scores)
            start = time.perf_counter()
            if invert:
                for score in scores:
                    score.neg_()
            if scope == "global":
                selectors[0].select_(scores, final_kept if step == rounds else keep_count(round_density, total))
            else:
                for selector, score, size in zip(selectors, scores, sizes):
                    selector.select_([score], keep_count(target if step == rounds else round_density, size))
            _sync(device)
            select_time += time.perf_counter() - start
    finally:
        model.train(was_training)

    if reinitialize:
        init = getattr(model, "initialize_weights", None)
        if init is None:
            raise ValueError(f"reinitialize needs model.initialize_weights(); {type(model).__name__} has none")
        init()
    if shuffle:
        with torch.no_grad():
            for p in params:
                flat = p.mask.view(-1)
                flat.copy_(flat[torch.randperm(flat.numel(), device=flat.device)])
    apply_masks_(model)
    collapsed = collapsed_layers(model)
    _warn_collapse(collapsed, scorer.name, rounds)
    return PruneReport(
        pruner=scorer.name,
        density=target,
        kept=int(sum(int(p.mask.sum()) for p in params)),
        total=total,
        rounds=rounds,
        schedule=schedule,
        scope=scope,
        collapsed_layers=tuple(collapsed),
        score_time_s=score_time,
        select_time_s=select_time,
        layer_density={p.name: float(p.mask.mean()) for p in params},
    )
