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
from matplotlib.ticker import EngFormatter, FuncFormatter

from prunekit.report.shared_figures import HATCHES, LINESTYLES, MARKERS, setting_color

__all__ = ["plot_accuracy_vs_compression", "plot_layer_density_heatmap", "plot_layer_flops", "plot_weight_histograms_3d"]

_SHADES = ("0.0", "0.35", "0.55", "0.2", "0.7", "0.45")


def _finish(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)
    return fig


def _legend_outside(ax) -> None:
    """The legend to the right of the axes, never over the data."""
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)


def _marked(values: pd.DataFrame | None, pruner: str, index: pd.Index) -> pd.Series:
    """Which points of ``pruner`` count at least one run (a collapsed or disconnected one)."""
    if values is None or pruner not in values:
        return pd.Series(False, index=index)
    return values[pruner].reindex(index).fillna(0).astype(float) > 0


def plot_accuracy_vs_compression(
    table: pd.DataFrame,
    *,
    spread: pd.DataFrame | None = None,
    collapsed: pd.DataFrame | None = None,
    disconnected: pd.DataFrame | None = None,
    reference: pd.DataFrame | None = None,
    title: str = "Top-1 accuracy against compression",
    ylabel: str = "test top-1 accuracy (%)",
) -> Figure:
    """One line per pruner or setting (one colour each, :func:`~prunekit.report.shared_figures.setting_color`).

    The x axis is the compression exponent a, the top axis the density 10^-a it stands for; the
    legend sits right of the axes.

    Args:
        table: Compression exponents as the index, one column per pruner (e.g. :func:`prunekit.report.table_accuracy`,
            or the means over seeds).
        spread: The same shape: a band of ± this around each line (e.g. the std over seeds); missing: no band.
        collapsed: The same shape: the number of runs with a collapsed layer; points > 0 get an X marker.
        disconnected: The same shape: the number of runs left with no input→output path; points > 0 get a ring.
        reference: The same shape (e.g. the report's numbers), drawn as thin dotted gray lines.
        title: The figure title.
        ylabel: The y-axis label.

    Returns:
        The figure: ``ax.lines`` holds the pruners' lines (then the reference's), ``ax.collections``
        the bands, then one scatter of collapsed and one of disconnected points (each only if any).

    Raises:
        ValueError: If ``table`` is empty.
    """
    if table.empty:
        raise ValueError("plot_accuracy_vs_compression needs a non-empty table")
    fig, ax = plt.subplots(figsize=(9, 4.6))
    points: dict[str, list[tuple[float, float, str]]] = {"collapsed": [], "disconnected": []}
    for i, pruner in enumerate(table.columns):
        series = table[pruner].dropna()
        color = setting_color(pruner, i)
        ax.plot(series.index, series.values, marker=MARKERS[i % len(MARKERS)], markersize=4,
                linestyle=LINESTYLES[i % len(LINESTYLES)], color=color, label=pruner)
        if spread is not None and pruner in spread and spread[pruner].reindex(series.index).notna().any():
            width = spread[pruner].reindex(series.index).fillna(0.0).to_numpy(dtype=float)
            ax.fill_between(series.index.to_numpy(dtype=float), series.values - width, series.values + width,
                            color=color, alpha=0.2, linewidth=0)
        for kind, counts in (("collapsed", collapsed), ("disconnected", disconnected)):
            hit = _marked(counts, pruner, series.index)
            points[kind] += [(float(a), float(series[a]), color) for a in series.index[hit.to_numpy()]]
    if points["collapsed"]:
        x, y, colors = zip(*points["collapsed"])
        ax.scatter(x, y, marker="X", s=110, c=list(colors), edgecolors="black", linewidths=0.8, zorder=5,
                   label="collapsed: a layer kept no weight (≥ 1 seed)")
    if points["disconnected"]:
        x, y, colors = zip(*points["disconnected"])
        ax.scatter(x, y, marker="o", s=260, facecolors="none", edgecolors=list(colors), linewidths=1.8, zorder=4,
                   label="disconnected: no input→output path (≥ 1 seed)")
    if reference is not None:
        for i, pruner in enumerate(c for c in reference.columns if c in table.columns):
            series = reference[pruner].dropna()
            ax.plot(series.index, series.values, marker=MARKERS[i % len(MARKERS)], markerfacecolor="none",
                    linestyle=":", linewidth=0.8, color="0.6", label=f"report: {pruner}")
    ax.set_xlabel("compression exponent a (density 10^-a)")
    density = ax.secondary_xaxis("top")
    density.xaxis.set_major_formatter(FuncFormatter(lambda a, _: f"{10 ** -a:.3g}"))
    density.set_xlabel("density (fraction of weights kept)", fontsize="small")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.grid(color="0.9")
    _legend_outside(ax)
    return _finish(fig)


def plot_weight_histograms_3d(histograms: pd.DataFrame, *, title: str = "Weight histograms per layer") -> Figure:
    """The report's section 2.1 figure: x weight value, y layer, z frequency normalized by the layer's weight count.

    Each bar stands at its own bin: with :func:`prunekit.core.metrics.weight_histograms`' default per-layer
    bins, a layer of small weights (deep VGG16 layers) is drawn with as many narrow bins as the first layer
    with wide ones, so its shape (e.g. Mag's gap around zero) shows at its own scale.

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
    ax.set_xlim(float(frame.bin_left.min()), float(frame.bin_right.max()))
    ax.set_yticks(range(len(modules)), modules, fontsize="x-small")
    ax.set_xlabel("weight value (each layer binned over its own range)")
    ax.set_ylabel("layer", labelpad=14)
    ax.set_zlabel("frequency / layer size")
    ax.set_title(title)
    ax.view_init(elev=25, azim=-60)
    return _finish(fig)


def plot_layer_density_heatmap(table: pd.DataFrame, *, title: str = "Density per layer", digits: int = 2) -> Figure:
    """Density per layer as a heatmap: one row per setting, one column per layer, each cell annotated.

    Args:
        table: Index: settings (pruners); columns: layers in the model's order; values: densities in [0, 1]
            (e.g. :func:`prunekit.report.reference_view.vgg_layer_density`).
        title: The figure title.
        digits: Decimals of the annotations.

    Returns:
        The figure (a colour bar from 0 to 1); ``ax.texts`` holds one annotation per cell, row by row.

    Raises:
        ValueError: If ``table`` is empty.

    Example:
        >>> t = pd.DataFrame({"fc1": [0.5, 0.1], "fc2": [0.2, 0.0]}, index=["rand", "snip"])
        >>> [text.get_text() for text in plot_layer_density_heatmap(t).axes[0].texts]
        ['0.50', '0.20', '0.10', '0.00']
    """
    if table.empty:
        raise ValueError("plot_layer_density_heatmap needs a non-empty table")
    values = table.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * table.shape[1] + 3.0), max(2.6, 0.5 * table.shape[0] + 1.6)))
    image = ax.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for row in range(values.shape[0]):
        for column in range(values.shape[1]):
            value = values[row, column]
            ax.text(column, row, "—" if np.isnan(value) else f"{value:.{digits}f}", ha="center", va="center",
                    fontsize="small", color="white" if np.isnan(value) or value < 0.6 else "black")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=30, ha="right", fontsize="small")
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index], fontsize="small")
    ax.set_xlabel("layer")
    ax.set_title(title, fontsize="medium")
    fig.colorbar(image, ax=ax, label="density (fraction kept)", fraction=0.03, pad=0.02)
    return _finish(fig)


def plot_layer_flops(table: pd.DataFrame, *, title: str = "FLOPs per layer", log: bool = False) -> Figure:
    """Grouped horizontal bars: the dense FLOPs of each layer's weights and what each pruner leaves.

    Args:
        table: One row per layer (index: module), columns ``unpruned`` and one per pruner
            (e.g. :func:`prunekit.report.table_layer_flops`).
        title: The figure title.
        log: A logarithmic FLOP axis (only when asked: it hides a 3× difference between pruners;
            a linear one, the default, shows it, at the cost of the smallest layers' bars).

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
    fig, ax = plt.subplots(figsize=(8, max(3.5, 0.11 * len(modules) * len(columns) + 1.5)))
    y = np.arange(len(modules))
    for i, column in enumerate(columns):
        ax.barh(y - 0.4 + height * (i + 0.5), table[column].fillna(0).to_numpy(), height,
                color=setting_color(column, i) if column != "unpruned" else "1.0", edgecolor="0.0",
                hatch=HATCHES[i % len(HATCHES)], label=column)
    ax.set_yticks(y, modules, fontsize="small")
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    else:
        ax.xaxis.set_major_formatter(EngFormatter())
    ax.set_xlabel("FLOPs of the layer's weights" + (" (log scale)" if log else ""))
    ax.set_title(title, fontsize="medium")
    _legend_outside(ax)
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    return _finish(fig)

