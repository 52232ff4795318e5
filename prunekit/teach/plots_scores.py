"""Figures of scores against the keep threshold, and of a layer's weights (the score and compare explorers).

Like :mod:`prunekit.teach.plots_lessons`, every function draws values computed by
:mod:`prunekit.teach.lessons` and returns a figure already closed in pyplot.

Example:
    >>> from prunekit.teach import lessons
    >>> scores = lessons.layer_scores(lessons.tiny_network(), "mag")
    >>> fig = plot_layer_scores(lessons.score_histograms(scores, bins=4), lessons.threshold_table(scores, 0.5))
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from prunekit.report.shared_figures import GRAYS, LINESTYLES, cycle, finish_figure, module_order

__all__ = ["plot_layer_scores", "plot_weight_histogram"]


def plot_layer_scores(histograms: pd.DataFrame, table: pd.DataFrame, *, title: str = "Scores per layer") -> Figure:
    """One panel per layer: the histogram of ``log10(score)`` with the global keep threshold as a dashed line.

    Each panel's title says how many of the layer's weights reach the threshold.

    Args:
        histograms: A :func:`prunekit.teach.lessons.score_histograms` table.
        table: The :func:`prunekit.teach.lessons.threshold_table` of the same scores.
        title: The figure title (name the pruner, compression, model and data).

    Returns:
        The figure: ``axes[i]`` is the i-th layer; its bars are the histogram's counts and its
        vertical line sits at ``log10(threshold)`` (no line when the threshold is not positive).

    Raises:
        ValueError: If ``histograms`` is empty or a layer of it is missing from ``table``.

    Example:
        >>> from prunekit.teach import lessons
        >>> scores = lessons.layer_scores(lessons.tiny_network(), "mag")
        >>> fig = plot_layer_scores(lessons.score_histograms(scores), lessons.threshold_table(scores, 0.5))
        >>> round(fig.axes[0].lines[0].get_xdata()[0], 3)  # log10(1.5)
        0.176
    """
    if histograms.empty:
        raise ValueError("plot_layer_scores needs a non-empty histogram table")
    modules = module_order(histograms)
    rows = table.set_index("module")
    missing = [m for m in modules if m not in rows.index]
    if missing:
        raise ValueError(f"the threshold table has no row for layers {missing}; valid layers: {', '.join(rows.index)}")
    threshold = float(rows.threshold.iloc[0])
    fig, axes = plt.subplots(len(modules), 1, figsize=(7, 1.5 * len(modules) + 1.0), sharex=True, squeeze=False)
    for ax, module in zip(axes[:, 0], modules):
        bins = histograms[histograms.module == module]
        ax.bar(bins.left, bins["count"], width=bins.right - bins.left, align="edge", color="0.6", edgecolor="0.2",
               linewidth=0.3)
        if threshold > 0:
            ax.axvline(math.log10(threshold), color="0.0", linestyle="--", linewidth=1.2)
        row = rows.loc[module]
        left_out = int(bins.left_out.iloc[0])
        ax.set_title(
            f"{module}: {int(row.kept):,} of {int(row['size']):,} kept ({row.density:.1%})"
            + (f"; {left_out:,} scores ≤ 0 not shown" if left_out else ""),
            fontsize="small",
        )
        ax.set_ylabel("weights")
        ax.grid(axis="x", color="0.9")
    axes[-1, 0].set_xlabel(
        f"log10(score); dashed: the global keep threshold {threshold:.3g}" if threshold > 0
        else f"log10(score); the keep threshold {threshold:.3g} is not positive (not drawn)"
    )
    fig.suptitle(title)
    return finish_figure(fig)


def plot_weight_histogram(table: pd.DataFrame, *, title: str = "Weights of one layer") -> Figure:
    """Step histograms of a layer's weights: all of them, and those each pruned model keeps.

    Args:
        table: A :func:`prunekit.teach.lessons.weight_histogram` table.
        title: The figure title (name the layer, pruners and compression).

    Returns:
        The figure; ``axes[0].patches[i]`` is the i-th label's step histogram
        (``get_data().values`` are its counts).

    Raises:
        ValueError: If ``table`` is empty.

    Example:
        >>> from prunekit.teach import lessons
        >>> net = lessons.tiny_network()
        >>> models, _ = lessons.prune_each(net, ["mag"], 0.5)
        >>> fig = plot_weight_histogram(lessons.weight_histogram(models, "0", bins=3, dense=net))
        >>> [patch.get_label() for patch in fig.axes[0].patches]
        ['all weights', 'mag']
    """
    if table.empty:
        raise ValueError("plot_weight_histogram needs a non-empty table")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, label in enumerate(dict.fromkeys(table.label)):
        rows = table[table.label == label]
        edges = np.append(rows.left.to_numpy(), rows.right.iloc[-1])
        ax.stairs(rows["count"].to_numpy(), edges, label=label, color="0.0" if i == 0 else cycle(GRAYS, i - 1),
                  linestyle=cycle(LINESTYLES, i), linewidth=1.4, fill=i == 0, alpha=0.35 if i == 0 else 1.0)
    ax.set_xlabel("weight value")
    ax.set_ylabel("weights per bin")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(color="0.9")
    return finish_figure(fig)
