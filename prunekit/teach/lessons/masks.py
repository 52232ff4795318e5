"""Kept weights per layer: pruned copies, their per-layer density, rounds compared, and the fan-in effect.

Example:
    >>> from prunekit.teach.lessons.tiny import tiny_network
    >>> layer_kept(tiny_network()).density.tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from prunekit.core.layers import masked_parameters
from prunekit.core.metrics import layer_table
from prunekit.core.pruning import LayerCollapseWarning, PruneReport, prune
from prunekit.core.scorers.base import Batches

__all__ = [
    "compare_iterations",
    "fan_in_table",
    "kept_comparison",
    "layer_kept",
    "prune_copy",
    "prune_each",
    "weight_histogram",
]


def layer_kept(model: nn.Module) -> pd.DataFrame:
    """Kept weights of every prunable layer (the per-layer density of a pruned model).

    Args:
        model: A model of masked layers with ``input_shape``.

    Returns:
        One row per prunable weight: ``module``, ``size``, ``kept``, ``density``.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> layer_kept(tiny_network())[["module", "size", "kept"]].values.tolist()
        [['0', 6, 6], ['1', 3, 3]]
    """
    table = layer_table(model)
    rows = table[(table.param == "weight") & table.prunable]
    return rows[["module", "size", "kept", "density"]].reset_index(drop=True)


def kept_comparison(models: Mapping[str, nn.Module]) -> pd.DataFrame:
    """:func:`layer_kept` of several models, stacked with a ``label`` column.

    Args:
        models: Label → model, e.g. ``{"1 iteration": a, "100 iterations": b}``.

    Returns:
        Columns ``label``, ``module``, ``size``, ``kept``, ``density``, in the mapping's order.

    Raises:
        ValueError: If ``models`` is empty.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> kept_comparison({"dense": tiny_network()}).label.unique().tolist()
        ['dense']
    """
    if not models:
        raise ValueError("kept_comparison needs at least one labelled model")
    frames = [layer_kept(model).assign(label=label) for label, model in models.items()]
    table = pd.concat(frames, ignore_index=True)
    return table[["label", "module", "size", "kept", "density"]]


def prune_copy(
    model: nn.Module, pruner: str, compression: float | None = None, data: Batches | None = None, **options: Any
):
    """Prunes a deep copy of ``model``, leaving the original untouched.

    Args:
        model: The model to copy.
        pruner: Passed to :func:`prunekit.prune`.
        compression: The compression exponent (or give ``density=`` in ``options``).
        data: Pruning batches for ``snip``/``grasp``.
        **options: Any other :func:`prunekit.prune` keyword (``rounds``, ``scope`` …).

    Returns:
        ``(pruned_copy, report)`` where ``report`` is the :class:`PruneReport`.

    Raises:
        ValueError: Whatever :func:`prunekit.prune` raises for bad arguments.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> pruned, report = prune_copy(tiny_network(), "mag", density=0.5)
        >>> report.kept, int(tiny_network()[0].weight_mask.sum())
        (4, 6)
    """
    clone = copy.deepcopy(model)
    report = prune(clone, pruner, compression, data, **options)
    return clone, report


def compare_iterations(
    model: nn.Module,
    compression: float,
    iterations: Iterable[int] = (1, 100),
    pruner: str = "synflow",
    data: Batches | None = None,
) -> tuple[pd.DataFrame, dict[str, PruneReport]]:
    """Prunes copies of ``model`` with different numbers of scoring rounds.

    SynFlow's lesson: scored once, the largest layer (smallest per-weight flow)
    can be cut away entirely; scored over 100 rounds, the flow is re-balanced
    after each cut and no layer collapses up to far higher compressions.

    Args:
        model: The (unpruned) model; copies are pruned.
        compression: The compression exponent.
        iterations: The round counts to compare.
        pruner: The pruner (SynFlow by default).
        data: Pruning batches for data-driven pruners.

    Returns:
        ``(table, reports)``: a :func:`kept_comparison` table labelled
        ``"1 iteration"``, ``"100 iterations"`` …, and the reports by label.
        Layer-collapse warnings are recorded in the reports, not raised.

    Raises:
        ValueError: If ``iterations`` is empty or holds a count below 1.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> table, reports = compare_iterations(tiny_network(), 0.3, (1, 2))
        >>> list(reports)
        ['1 iteration', '2 iterations']
    """
    counts = list(iterations)
    if not counts or any(not isinstance(n, int) or n < 1 for n in counts):
        raise ValueError(f"iterations must be whole numbers >= 1; got {counts!r}")
    models, reports = {}, {}
    for count in counts:
        label = f"{count} iteration" + ("" if count == 1 else "s")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)
            models[label], reports[label] = prune_copy(model, pruner, compression, data, rounds=count)
    return kept_comparison(models), reports


def fan_in_table(model: nn.Module) -> pd.DataFrame:
    """Why magnitude pruning at initialization empties the widest-input layer.

    PyTorch's default initialization of ``nn.Linear``/``nn.Conv2d``
    (Kaiming-uniform with ``a = √5``) draws weights from ``U(-b, b)`` with
    ``b = 1/√fan_in``, so the mean ``|θ|`` of a layer is ``b/2``: a 784-input layer
    has weights 2.8 times smaller than a 100-input one.

    Args:
        model: A model of masked layers (read only).

    Returns:
        One row per prunable weight: ``module``, ``fan_in``, ``bound`` (``1/√fan_in``),
        ``expected_mean_abs`` (``bound/2``), ``mean_abs`` (measured over kept weights)
        and ``max_abs``.

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> net = nn.Sequential(MaskedLinear(400, 10))
        >>> fan_in_table(net).bound.tolist()
        [0.05]
    """
    rows = []
    for p in masked_parameters(model):
        weight = p.param.detach()
        fan_in = weight[0].numel()
        kept = weight[p.mask.bool()].abs()
        bound = 1.0 / math.sqrt(fan_in)
        rows.append(
            {
                "module": p.module_name,
                "fan_in": fan_in,
                "bound": bound,
                "expected_mean_abs": bound / 2,
                "mean_abs": float(kept.mean()) if kept.numel() else 0.0,
                "max_abs": float(kept.max()) if kept.numel() else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["module", "fan_in", "bound", "expected_mean_abs", "mean_abs", "max_abs"])


def prune_each(
    model: nn.Module, pruners: Iterable[str], compression: float, data: Batches | None = None, **options: Any
) -> tuple[dict[str, nn.Module], dict[str, PruneReport]]:
    """Prunes one copy of ``model`` per pruner at the same compression (the original is left untouched).

    Args:
        model: The unpruned model.
        pruners: Pruner names, each used once (their order is kept).
        compression: The compression exponent.
        data: Pruning batches for data-driven pruners (SNIP, GraSP).
        **options: Any other :func:`prunekit.prune` keyword (``rounds``, ``scope`` …).

    Returns:
        ``(models, reports)``, both keyed by pruner name; pass ``models`` to
        :func:`kept_comparison` for their per-layer densities side by side.
        Layer-collapse warnings are recorded in the reports, not raised.

    Raises:
        ValueError: If ``pruners`` is empty or repeats a name, or for what :func:`prunekit.prune` rejects.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> models, reports = prune_each(tiny_network(), ["mag", "synflow"], 0.5)
        >>> [report.kept for report in reports.values()]
        [3, 3]
    """
    names = list(pruners)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"prune_each needs distinct pruner names; got {names!r}")
    models, reports = {}, {}
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)
            models[name], reports[name] = prune_copy(model, name, compression, data, **options)
    return models, reports


def weight_histogram(
    models: Mapping[str, nn.Module], module: str, bins: int = 40, dense: nn.Module | None = None
) -> pd.DataFrame:
    """Histogram of one layer's weights: all of them, and those each pruned model keeps.

    The models are pruned copies of one network (e.g. :func:`prune_each`'s), so their
    kept weights are the network's and only their masks differ. A pruned copy holds zeros
    where it pruned, so "all weights" comes from ``dense``, the unpruned network.

    Args:
        models: Label → pruned model.
        module: The layer's module name (e.g. ``"layers.0"``).
        bins: The number of bins, shared by every label.
        dense: The unpruned network the copies were made from; None leaves the
            "all weights" row out.

    Returns:
        Rows ``label``, ``left``, ``right``, ``count``: first label ``"all weights"`` (if
        ``dense`` is given), then one label per model (its kept weights). The bins span the
        layer's weights (all of them, or those any model keeps).

    Raises:
        ValueError: If ``models`` is empty, ``bins < 1``, or no model has a prunable layer ``module``
            (the message lists the layers).

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> net = tiny_network()
        >>> models, _ = prune_each(net, ["mag"], 0.5)
        >>> table = weight_histogram(models, "0", bins=2, dense=net)
        >>> table.groupby("label", sort=False)["count"].sum().to_dict()
        {'all weights': 6, 'mag': 2}
        >>> table[table.label == "all weights"]["count"].tolist()  # the six weights; no zeros added by pruning
        [2, 4]
    """
    if not models:
        raise ValueError("weight_histogram needs at least one labelled model")
    if bins < 1:
        raise ValueError(f"bins must be >= 1; got {bins!r}")
    layers = [{p.module_name: p for p in masked_parameters(model)} for model in models.values()]
    if module not in layers[0]:
        raise ValueError(f"unknown layer {module!r}; valid layers: {', '.join(layers[0])}")
    kept_weights = []
    for layer in layers:
        p = layer[module]
        kept_weights.append(p.param.detach().reshape(-1).double().cpu().numpy()[p.mask.reshape(-1).bool().cpu().numpy()])
    rows_in = []
    if dense is not None:
        unpruned = {p.module_name: p for p in masked_parameters(dense)}
        rows_in.append(("all weights", unpruned[module].param.detach().reshape(-1).double().cpu().numpy()))
    rows_in += list(zip(models, kept_weights))
    spread = np.concatenate([values for _, values in rows_in]) if any(len(v) for _, v in rows_in) else np.zeros(1)
    low, high = float(spread.min()), float(spread.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    rows = [(label, np.histogram(values, bins=edges)[0]) for label, values in rows_in]
    return pd.concat(
        [pd.DataFrame({"label": label, "left": edges[:-1], "right": edges[1:], "count": counts})
         for label, counts in rows],
        ignore_index=True,
    )
