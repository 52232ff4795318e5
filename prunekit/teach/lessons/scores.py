"""Scores per weight and per layer, the global threshold, and GraSP's gradient norm.

Example:
    >>> from prunekit.teach.lessons.tiny import tiny_network
    >>> float(score_frame(tiny_network(), "mag").score.max())
    2.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from prunekit.core.layers import masked_parameters
from prunekit.core.pruning import density_from_compression, keep_count
from prunekit.core.scorers import get_scorer
from prunekit.core.scorers.base import Batches

__all__ = [
    "global_threshold",
    "gradient_norm",
    "gradient_norms",
    "layer_scores",
    "score_frame",
    "score_histograms",
    "score_summary",
    "threshold_table",
]


def gradient_norm(
    model: nn.Module,
    data: Batches,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    temperature: float = 1.0,
) -> float:
    """The squared norm ``‖g‖²`` of the loss gradient over the (masked) weights: what GraSP preserves.

    The gradients of each batch are summed (as GraSP sums them), then squared and
    added over every prunable weight; pruned weights count as zero.

    Args:
        model: A model of masked layers (its ``.grad`` is left untouched).
        data: ``(inputs, targets)`` batches.
        loss_fn: The loss; cross-entropy by default.
        temperature: Logits are divided by this first (GraSP uses 200).

    Returns:
        ``‖g‖²`` as a float.

    Raises:
        ValueError: If ``data`` yields no batch.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> batch = [(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0]]))]
        >>> round(gradient_norm(tiny_network(), batch, loss_fn=F.mse_loss), 2)
        1058.75
    """
    loss_fn = loss_fn or F.cross_entropy
    params = list(masked_parameters(model))
    weights = [p.param for p in params]
    totals = [torch.zeros_like(w) for w in weights]
    device = weights[0].device
    count = 0
    for inputs, targets in data:
        count += 1
        loss = loss_fn(model(inputs.to(device)) / temperature, targets.to(device))
        for total, grad, p in zip(totals, torch.autograd.grad(loss, weights), params):
            total.add_(grad * p.mask)
    if count == 0:
        raise ValueError("gradient_norm needs at least one (inputs, targets) batch")
    return float(sum(total.double().pow(2).sum() for total in totals))


def gradient_norms(models: Mapping[str, nn.Module], data: Batches, **options: Any) -> pd.DataFrame:
    """:func:`gradient_norm` of several models on the same batches, relative to the first.

    Args:
        models: Label → model, e.g. ``{"dense": net, "grasp": pruned}``.
        data: ``(inputs, targets)`` batches (read once per model).
        **options: ``loss_fn`` and ``temperature`` for :func:`gradient_norm`.

    Returns:
        Columns ``model``, ``gradient_norm_sq`` (``‖g‖²``) and ``relative`` (to the first row).

    Raises:
        ValueError: If ``models`` is empty.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> batch = [(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0]]))]
        >>> gradient_norms({"a": tiny_network(), "b": tiny_network()}, batch, loss_fn=F.mse_loss).relative.tolist()
        [1.0, 1.0]
    """
    if not models:
        raise ValueError("gradient_norms needs at least one labelled model")
    batches = list(data)
    values = [gradient_norm(model, batches, **options) for model in models.values()]
    return pd.DataFrame(
        {"model": list(models), "gradient_norm_sq": values, "relative": [v / values[0] for v in values]}
    )


def score_frame(
    model: nn.Module,
    pruner: str,
    data: Batches | None = None,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    max_per_layer: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The pruner's score of every prunable weight, one row per weight, without pruning.

    Args:
        model: A model of masked layers (left unchanged; ``rand`` draws from torch's global generator).
        pruner: ``rand``, ``mag``, ``snip``, ``grasp`` or ``synflow``.
        data: ``(inputs, targets)`` batches, needed by ``snip`` and ``grasp``.
        loss_fn: The loss for data-driven scorers (cross-entropy by default).
        max_per_layer: Keep at most this many scores per layer, a seeded uniform
            sample (for plots of large models); None keeps all.
        seed: Seeds that sample.

    Returns:
        A DataFrame with columns ``module``, ``layer`` (0, 1, … in model order),
        ``size`` (the layer's weight count) and ``score``.

    Raises:
        ValueError: For an unknown pruner, missing data, or ``max_per_layer < 1``.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> frame = score_frame(tiny_network(), "mag")
        >>> frame.groupby("module").score.sum().round(2).tolist()
        [6.25, 3.5]
    """
    if max_per_layer is not None and max_per_layer < 1:
        raise ValueError(f"max_per_layer must be a positive count or None; got {max_per_layer!r}")
    params = list(masked_parameters(model))
    scores = get_scorer(pruner)(model, params, data, loss_fn)
    generator = torch.Generator().manual_seed(seed)
    frames = []
    for index, (param, score) in enumerate(zip(params, scores)):
        flat = score.detach().reshape(-1).double().cpu()
        if max_per_layer is not None and flat.numel() > max_per_layer:
            flat = flat[torch.randperm(flat.numel(), generator=generator)[:max_per_layer]]
        frames.append(
            pd.DataFrame(
                {"module": param.module_name, "layer": index, "size": param.mask.numel(), "score": flat.numpy()}
            )
        )
    return pd.concat(frames, ignore_index=True)


def score_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-layer statistics of a :func:`score_frame`.

    Args:
        frame: Rows of ``module``, ``layer``, ``size``, ``score``.

    Returns:
        One row per layer: ``module``, ``size``, ``mean``, ``median``, ``min``,
        ``max``, ``sum``, ``negative`` and ``zero`` (the fractions of negative and of zero scores).

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> score_summary(score_frame(tiny_network(), "mag"))["max"].tolist()
        [2.0, 2.0]
    """
    grouped = frame.groupby(["layer", "module", "size"], sort=True).score
    table = grouped.agg(["mean", "median", "min", "max", "sum"]).reset_index()
    table["negative"] = grouped.apply(lambda s: float((s < 0).mean())).to_numpy()
    table["zero"] = grouped.apply(lambda s: float((s == 0).mean())).to_numpy()
    return table.drop(columns="layer")


def global_threshold(frame: pd.DataFrame, compression: float) -> float:
    """The score a weight needs to survive global pruning at ``compression`` (one round).

    Global pruning keeps the ``round(10^-a · N)`` largest scores of all layers
    together; this is the smallest kept score.

    Args:
        frame: A :func:`score_frame` holding *every* score (no ``max_per_layer``).
        compression: The compression exponent ``a``.

    Returns:
        The threshold score.

    Raises:
        ValueError: If the compression keeps less than one weight.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> global_threshold(score_frame(tiny_network(), "mag"), 0.5)  # keeps 3 of 9: |θ| = 2, 2, 1.5
        1.5
    """
    kept = keep_count(density_from_compression(compression), len(frame))
    return float(frame.score.nlargest(kept).min())



def layer_scores(
    model: nn.Module,
    pruner: str,
    data: Batches | None = None,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, np.ndarray]:
    """The pruner's score of every prunable weight, as one flat array per layer (compact for large models).

    Args:
        model: A model of masked layers (left unchanged; ``rand`` draws from torch's global generator).
        pruner: A registered pruner.
        data: ``(inputs, targets)`` batches, needed by ``snip`` and ``grasp``.
        loss_fn: The loss for data-driven scorers (cross-entropy by default).

    Returns:
        Module name → scores (float64), in model order; the same values as :func:`score_frame`.

    Raises:
        ValueError: For an unknown pruner or missing data.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> {name: scores.tolist() for name, scores in layer_scores(tiny_network(), "mag").items()}
        {'0': [0.5, 1.0, 2.0, 0.25, 1.5, 1.0], '1': [1.0, 0.5, 2.0]}
    """
    params = list(masked_parameters(model))
    scores = get_scorer(pruner)(model, params, data, loss_fn)
    return {p.module_name: s.detach().reshape(-1).double().cpu().numpy() for p, s in zip(params, scores)}


def threshold_table(scores: Mapping[str, np.ndarray], compression: float) -> pd.DataFrame:
    """Per layer: the scores that reach the global keep threshold at ``compression`` (one round, global scope).

    Global pruning keeps the ``round(10^-a · N)`` largest scores of all layers together; the
    threshold is the smallest kept score (:func:`global_threshold`). Every score above it is kept,
    and scores equal to it are kept in model order until the count is reached, so ``kept``
    equals a one-round global prune's kept weights.

    Args:
        scores: Every score of every layer (:func:`layer_scores`).
        compression: The compression exponent ``a``.

    Returns:
        One row per layer, in model order: ``module``, ``size``, ``kept``, ``density``
        (``kept / size``, the kept fraction) and ``threshold`` (the same on every row).

    Raises:
        ValueError: If there are no scores or the compression keeps no weight.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> threshold_table(layer_scores(tiny_network(), "mag"), 0.5)[["module", "kept"]].values.tolist()
        [['0', 2], ['1', 1]]
    """
    if not scores or not sum(len(values) for values in scores.values()):
        raise ValueError("threshold_table needs the scores of at least one weight")
    flat = np.concatenate(list(scores.values()))
    total = keep_count(density_from_compression(compression), len(flat))
    threshold = float(np.partition(flat, len(flat) - total)[len(flat) - total])
    rows, ties_left = [], total - int((flat > threshold).sum())
    for module, values in scores.items():
        ties = min(int((values == threshold).sum()), ties_left)
        ties_left -= ties
        kept = int((values > threshold).sum()) + ties
        rows.append({"module": module, "size": len(values), "kept": kept, "density": kept / len(values),
                     "threshold": threshold})
    return pd.DataFrame(rows, columns=["module", "size", "kept", "density", "threshold"])


def score_histograms(scores: Mapping[str, np.ndarray], bins: int = 50) -> pd.DataFrame:
    """Histograms of each layer's ``log10(score)`` over bins shared by all layers.

    Scores that are zero or negative (GraSP's) have no logarithm: they are counted in
    ``left_out`` instead.

    Args:
        scores: Module name → scores (:func:`layer_scores`).
        bins: The number of bins.

    Returns:
        One row per layer and bin, in model order: ``module``, ``left``, ``right``
        (bin edges in ``log10(score)``), ``count`` and ``left_out`` (the layer's non-positive scores).

    Raises:
        ValueError: If there are no scores or ``bins < 1``.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> table = score_histograms(layer_scores(tiny_network(), "mag"), bins=2)
        >>> table.groupby("module", sort=False)["count"].sum().tolist()
        [6, 3]
    """
    if not scores:
        raise ValueError("score_histograms needs the scores of at least one layer")
    if bins < 1:
        raise ValueError(f"bins must be >= 1; got {bins!r}")
    positive = [values[values > 0] for values in scores.values()]
    logs = np.log10(np.concatenate(positive)) if sum(len(v) for v in positive) else np.array([0.0])
    low, high = float(logs.min()), float(logs.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    rows = []
    for (module, values), kept in zip(scores.items(), positive):
        counts, _ = np.histogram(np.log10(kept), bins=edges)
        rows.append(pd.DataFrame({"module": module, "left": edges[:-1], "right": edges[1:], "count": counts,
                                  "left_out": int(len(values) - len(kept))}))
    return pd.concat(rows, ignore_index=True)
