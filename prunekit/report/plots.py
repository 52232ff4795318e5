"""Figures of the report's report: accuracy versus compression, 3-D weight histograms, per-layer FLOPs.

Readable in print: pruners differ by marker, line style and hatch, not by colour
alone. Each function returns a detached ``Figure`` (shown once in a notebook,
saved by :mod:`prunekit.report`). Per-layer density bars are
:func:`prunekit.report.shared_figures.plot_layer_density`.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"rand": [90.0, 10.0], "snip": [91.0, 80.0]}, index=pd.Index([0.5, 2.0], name="compression"))
    >>> plot_accuracy_vs_compression(table).axes[0].get_xlabel()
    'compression exponent a (density 10^-a)'
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from prunekit.report.shared_figures import HATCHES, LINESTYLES, MARKERS

__all__ = ["plot_accuracy_vs_compression", "plot_layer_flops", "plot_weight_histograms_3d"]

_SHADES = ("0.0", "0.35", "0.55", "0.2", "0.7", "0.45")


def _finish(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_accuracy_vs_compression(
    table: pd.DataFrame,
    *,
    reference: pd.DataFrame | None = None,
    title: str = "Top-1 accuracy against compression",
    ylabel: str = "test top-1 accuracy (%)",
) -> Figure:
    """One line per pruner: a value (top-1 by default) at each compression exponent.

    Args:
        table: Compression exponents as the index, one column per pruner (e.g. :func:`prunekit.report.table_accuracy`).
        reference: The same shape (e.g. the report's numbers), drawn as thin dashed gray lines.
        title: The figure title.
        ylabel: The y-axis label.

    Returns:
        The figure.

    Raises:
        ValueError: If ``table`` is empty.
    """
    if table.empty:
        raise ValueError("plot_accuracy_vs_compression needs a non-empty table")
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, pruner in enumerate(table.columns):
        series = table[pruner].dropna()
        ax.plot(series.index, series.values, marker=MARKERS[i % len(MARKERS)],
                linestyle=LINESTYLES[i % len(LINESTYLES)], color=_SHADES[i % len(_SHADES)], label=pruner)
    if reference is not None:
        for i, pruner in enumerate(c for c in reference.columns if c in table.columns):
            series = reference[pruner].dropna()
            ax.plot(series.index, series.values, marker=MARKERS[i % len(MARKERS)], markerfacecolor="none",
                    linestyle=":", linewidth=0.8, color="0.6", label=f"report: {pruner}")
    ax.set_xlabel("compression exponent a (density 10^-a)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(color="0.9")
    ax.legend(fontsize="small", ncol=2)
    return _finish(fig)


def plot_weight_histograms_3d(histograms: pd.DataFrame, *, title: str = "Weight histograms per layer") -> Figure:
    """The report's section 2.1 figure: x weight value, y layer, z frequency normalized by the layer's weight count.

    Args:
        histograms: Columns ``module``, ``bin_left``, ``bin_right``, ``frequency``
            (:func:`prunekit.core.metrics.weight_histograms`, or a result's ``histograms``).
        title: The figure title.

    Returns:
        The figure: one row of bars per layer, first layer in front. Pruned weights are
        not counted, so a layer's bars add up to its density.

    Raises:
        ValueError: If ``histograms`` is empty.

    Example:
        >>> import torch
        >>> from prunekit import create_model, weight_histograms
        >>> fig = plot_weight_histograms_3d(weight_histograms(create_model("default", "fc", (1, 28, 28), 10), bins=10))
        >>> fig.axes[0].get_zlabel()
        'frequency / layer size'
    """
    frame = pd.DataFrame(histograms)
    if frame.empty:
        raise ValueError("plot_weight_histograms_3d needs a non-empty histogram table")
    modules = list(dict.fromkeys(frame["module"]))
    fig = plt.figure(figsize=(8, 5.5))
    ax = fig.add_subplot(projection="3d")
    for index, module in enumerate(modules):
        rows = frame[frame.module == module]
        centers = ((rows.bin_left + rows.bin_right) / 2).to_numpy()
        widths = (rows.bin_right - rows.bin_left).to_numpy()
        ax.bar(centers, rows.frequency.to_numpy(), zs=index, zdir="y", width=widths, alpha=0.85,
               color=_SHADES[index % 3 + 1], edgecolor="0.1", linewidth=0.2)
    ax.set_yticks(range(len(modules)), modules, fontsize="x-small")
    ax.set_xlabel("weight value")
    ax.set_ylabel("layer", labelpad=14)
    ax.set_zlabel("frequency / layer size")
    ax.set_title(title)
    ax.view_init(elev=25, azim=-60)
    return _finish(fig)


def plot_layer_flops(table: pd.DataFrame, *, title: str = "FLOPs per layer", log: bool = True) -> Figure:
    """Grouped horizontal bars: the dense FLOPs of each layer's weights and what each pruner leaves.

    Args:
        table: One row per layer (index: module), columns ``unpruned`` and one per pruner
            (e.g. :func:`prunekit.report.table_layer_flops`).
        title: The figure title.
        log: A logarithmic FLOP axis (layers differ by four orders of magnitude in VGG16).

    Returns:
        The figure.

    Raises:
        ValueError: If ``table`` is empty.
    """
    if table.empty:
        raise ValueError("plot_layer_flops needs a non-empty table")
    columns = list(table.columns)
    modules = list(table.index)
    height = 0.8 / len(columns)
    fig, ax = plt.subplots(figsize=(8, max(3.5, 0.45 * len(modules) * max(1, len(columns) / 3))))
    y = np.arange(len(modules))
    for i, column in enumerate(columns):
        ax.barh(y - 0.4 + height * (i + 0.5), table[column].fillna(0).to_numpy(), height,
                color=_SHADES[i % len(_SHADES)] if column != "unpruned" else "1.0", edgecolor="0.0",
                hatch=HATCHES[i % len(HATCHES)], label=column)
    ax.set_yticks(y, modules, fontsize="small")
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("FLOPs of the layer's weights" + (" (log scale)" if log else ""))
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    return _finish(fig)

