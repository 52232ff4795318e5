"""Figures of the pruner notebooks' lessons (01_random … 05_synflow).

Every function takes values computed by :mod:`prunekit.teach.lessons` (or a run's
history) and does no analysis of its own. It returns a matplotlib ``Figure`` that
is already closed in pyplot, so it is shown exactly once: end a notebook cell with
the call (or ``display(fig)``), or save it with ``fig.savefig(...)``. Seaborn draws
what it does best here: the pruner × layer density heatmap and lines with error
bands over seeds. Styles are readable in grayscale print:
hatches, markers and line styles differ, never only colours. Axes carry units.

Example:
    >>> from prunekit.teach import lessons
    >>> fig = plot_score_distributions(lessons.score_frame(lessons.tiny_network(), "mag"), title="Mag")
    >>> fig.axes[0].get_xlabel()
    'score (log scale)'
"""

from __future__ import annotations

import textwrap

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from prunekit.report.shared_figures import (
    GRAYS,
    HATCHES,
    LINESTYLES,
    MARKERS,
    cycle,
    finish_figure,
    module_order,
    plot_layer_density,
    plot_training_curves,
)

__all__ = [
    "HATCHES",
    "LINESTYLES",
    "MARKERS",
    "plot_collapse_rates",
    "plot_density_heatmap",
    "plot_fan_in",
    "plot_flow_conservation",
    "plot_input_connections",
    "plot_layer_density",
    "plot_over_seeds",
    "plot_score_distributions",
    "plot_signed_histogram",
    "plot_training_curves",
]

_MPL = tuple(int(part) for part in matplotlib.__version__.split(".")[:2])

_HORIZONTAL = {"orientation": "horizontal"} if _MPL >= (3, 10) else {"vert": False}

_DASHES = ("", (4, 1.5), (1, 1), (3, 1.25, 1.5, 1.25), (5, 1), (3, 1, 1, 1, 1, 1))
""":data:`LINESTYLES` as seaborn dash patterns ("" is solid), in label order."""

def plot_score_distributions(
    frame: pd.DataFrame, *, title: str = "Scores per layer", scale: str | None = None, threshold: float | None = None
) -> Figure:
    """Box plots of each layer's scores, with the mean score marked.

    Boxes span the quartiles and whiskers the 1st–99th percentiles. On a ``log``
    axis (the default when every score is non-negative) zero scores are left out
    and the axis label says how many; signed scores (GraSP) default to a
    ``symlog`` axis with a line at 0; ``linear`` suits scores of one scale (Rand).

    Args:
        frame: A :func:`prunekit.teach.lessons.score_frame`.
        title: The figure title (name the pruner, model and data).
        scale: ``log``, ``symlog`` or ``linear``; None picks ``log`` or ``symlog``.
        threshold: The score a weight needs to be kept (:func:`prunekit.teach.lessons.global_threshold`), drawn as a line.

    Returns:
        The figure.

    Raises:
        ValueError: If ``frame`` is empty or ``scale`` is unknown.

    Example:
        >>> from prunekit.teach import lessons
        >>> fig = plot_score_distributions(lessons.score_frame(lessons.tiny_network(), "synflow"))
        >>> len(fig.axes)
        1
    """
    if frame.empty:
        raise ValueError("plot_score_distributions needs a non-empty score frame")
    scales = ("log", "symlog", "linear")
    if scale is not None and scale not in scales:
        raise ValueError(f"unknown scale {scale!r}; valid scales: {', '.join(scales)}")
    modules = module_order(frame)
    scale = scale or ("log" if bool((frame.score >= 0).all()) else "symlog")
    log = scale == "log"
    groups, zeros = [], 0
    for module in modules:
        scores = frame.score[frame.module == module].to_numpy()
        if log:
            zeros += int((scores <= 0).sum())
            scores = scores[scores > 0]
        groups.append(scores if scores.size else np.array([np.nan]))
    sizes = frame.groupby("module", sort=False)["size"].first()
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(modules) + 1.6))
    ax.boxplot(
        groups,
        **_HORIZONTAL,
        whis=(1, 99),
        showfliers=False,
        widths=0.6,
        patch_artist=True,
        boxprops={"facecolor": "0.85", "edgecolor": "0.1"},
        medianprops={"color": "0.0", "linewidth": 1.5},
    )
    means = [frame.score[frame.module == m].mean() for m in modules]
    ax.plot(means, np.arange(1, len(modules) + 1), "k^", label="mean score", markersize=7)
    if threshold is not None:
        ax.axvline(threshold, color="0.0", linestyle="--", linewidth=1.2, label=f"keep threshold {threshold:.3g}")
    ax.set_yticks(np.arange(1, len(modules) + 1), [f"{m} ({sizes[m]:,} weights)" for m in modules])
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        ax.set_xlabel("score (log scale)" + (f"; {zeros:,} zero scores left out" if zeros else ""))
    elif scale == "linear":
        ax.axvline(0.0, color="0.3", linestyle=":", linewidth=1)
        ax.set_xlabel("score")
    else:
        spread = np.abs(frame.score.to_numpy())
        spread = spread[spread > 0]
        linthresh = float(np.percentile(spread, 10)) if spread.size else 1.0
        ax.set_xscale("symlog", linthresh=linthresh)
        ax.axvline(0.0, color="0.3", linestyle=":", linewidth=1)
        ax.set_xlabel(f"score (symmetric log scale, linear within ±{linthresh:.1e})")
    ax.set_ylabel("layer")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    ax.grid(axis="x", color="0.9")
    return finish_figure(fig)


def plot_signed_histogram(frame: pd.DataFrame, *, title: str = "Signed scores", bins: int = 60) -> Figure:
    """Histogram of signed scores (GraSP), negatives hatched, on a symmetric-log axis.

    Args:
        frame: A :func:`prunekit.teach.lessons.score_frame` (all layers together).
        title: The figure title.
        bins: Bins on each side of zero.

    Returns:
        The figure; the legend gives the fraction of negative scores.

    Raises:
        ValueError: If every score is zero or ``frame`` is empty.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"module": "a", "layer": 0, "size": 4, "score": [-2.0, -1e-3, 1e-3, 3.0]})
        >>> plot_signed_histogram(frame).axes[0].get_xscale()
        'symlog'
    """
    scores = frame.score.to_numpy(dtype=float) if not frame.empty else np.array([])
    magnitudes = np.abs(scores[scores != 0])
    if magnitudes.size == 0:
        raise ValueError("plot_signed_histogram needs at least one non-zero score")
    low, high = float(magnitudes.min()), float(magnitudes.max())
    linthresh = float(np.percentile(magnitudes, 5))
    edges = (
        np.geomspace(max(low, linthresh), high * 1.0001, bins + 1) if high > low else np.array([low * 0.9, high * 1.1])
    )
    negative, positive = -scores[scores < 0], scores[scores > 0]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    share = 100.0 * negative.size / scores.size
    ax.hist(
        -negative,
        bins=-edges[::-1],
        color="0.75",
        edgecolor="0.2",
        hatch="//",
        label=f"negative: {share:.1f} % of scores",
    )
    ax.hist(
        positive,
        bins=edges,
        color="0.35",
        edgecolor="0.1",
        label=f"positive: {100.0 * positive.size / scores.size:.1f} %",
    )
    zero = int((scores == 0).sum())
    if zero:
        ax.plot([], [], " ", label=f"exactly zero: {100.0 * zero / scores.size:.1f} %")
    ax.set_xscale("symlog", linthresh=linthresh)
    decades = np.arange(np.ceil(np.log10(linthresh)), np.floor(np.log10(high)) + 1)
    decades = decades[:: max(1, int(np.ceil(len(decades) / 4)))]
    ticks = sorted([-(10.0**d) for d in decades] + [0.0] + [10.0**d for d in decades])
    ax.set_xticks(ticks, [("0" if t == 0 else f"{'-' if t < 0 else ''}1e{int(np.log10(abs(t)))}") for t in ticks])
    ax.axvline(0.0, color="0.0", linestyle=":", linewidth=1)
    ax.set_xlabel(f"score (symmetric log scale; |score| < {linthresh:.1e} not shown)")
    ax.set_ylabel("number of weights")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    return finish_figure(fig)


def plot_collapse_rates(rates: pd.DataFrame, *, title: str = "Random pruning: collapse and disconnection") -> Figure:
    """Fraction of seeds with an empty layer, and with no input-output path, per compression.

    Args:
        rates: A :func:`prunekit.teach.lessons.collapse_rates` table.
        title: The figure title.

    Returns:
        The figure (x: compression exponent, with the density on the top axis).

    Raises:
        ValueError: If ``rates`` is empty.

    Example:
        >>> import pandas as pd
        >>> rates = pd.DataFrame({"compression": [2.0, 3.0], "density": [0.01, 0.001], "runs": [5, 5],
        ...                       "collapsed": [0.0, 0.4], "disconnected": [0.2, 1.0]})
        >>> plot_collapse_rates(rates).axes[0].get_xlabel()
        'compression exponent a (density 10^-a)'
    """
    if rates.empty:
        raise ValueError("plot_collapse_rates needs a non-empty table")
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(
        rates.compression, 100 * rates.disconnected, "s--", color="0.45", label="disconnected (no input-output path)"
    )
    ax.plot(
        rates.compression, 100 * rates.collapsed, "o-", color="0.0", label="layer collapse (a layer kept no weight)"
    )
    ax.set_xlabel("compression exponent a (density 10^-a)")
    ax.set_ylabel(f"runs (%), of {int(rates.runs.max())} seeds")
    ax.set_ylim(-3, 103)
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper left")
    ax.grid(color="0.9")
    return finish_figure(fig)


def plot_flow_conservation(table: pd.DataFrame, *, title: str = "SynFlow: synaptic flow per layer") -> Figure:
    """Two panels: each layer's total SynFlow score (equal: conserved) and its mean score per weight.

    Args:
        table: A :func:`prunekit.teach.lessons.flow_conservation` table.
        title: The suptitle.

    Returns:
        The figure.

    Raises:
        ValueError: If ``table`` is empty.

    Example:
        >>> from prunekit.teach import lessons
        >>> fig = plot_flow_conservation(lessons.flow_conservation(lessons.tiny_network()))
        >>> len(fig.axes)
        2
    """
    if table.empty:
        raise ValueError("plot_flow_conservation needs a non-empty table")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    x = np.arange(len(table))
    total = float(table.attrs.get("R", table.flow.iloc[0]))
    left.bar(x - 0.2, table.flow / total, 0.4, color="0.35", edgecolor="0.0", label="biases set to 0")
    left.bar(
        x + 0.2,
        table.flow_with_biases / total,
        0.4,
        color="0.85",
        edgecolor="0.0",
        hatch="//",
        label="biases as initialized",
    )
    left.axhline(1.0, color="0.0", linestyle=":", linewidth=1)
    left.set_ylim(0, 1.3 * max(1.0, float((table.flow_with_biases / total).max())))
    left.set_ylabel("sum of the layer's scores / R")
    left.set_title(f"total flow per layer (R = {total:.4g})")
    left.legend(fontsize="small", loc="upper center", ncol=2)
    right.bar(x, table.mean_score, 0.6, color="0.6", edgecolor="0.0", hatch="..")
    right.set_yscale("log")
    right.set_ylabel("mean score per weight (log scale)")
    right.set_title("mean score = flow / number of weights")
    for ax in (left, right):
        ax.set_xticks(x, [f"{m}\n({s:,})" for m, s in zip(table.module, table["size"])], fontsize="small")
        ax.set_xlabel("layer (weights)")
    fig.suptitle(title)
    return finish_figure(fig)


def plot_fan_in(
    table: pd.DataFrame, *, threshold: float | None = None, title: str = "Magnitude at initialization"
) -> Figure:
    """Each layer's largest and mean ``|θ|`` against the global magnitude threshold.

    Args:
        table: A :func:`prunekit.teach.lessons.fan_in_table`.
        threshold: The ``|θ|`` a weight needs to be kept (:func:`prunekit.teach.lessons.global_threshold`), drawn as a line.
        title: The figure title.

    Returns:
        The figure; a layer whose largest weight is below the line loses every weight.

    Raises:
        ValueError: If ``table`` is empty.

    Example:
        >>> from prunekit.teach import lessons
        >>> fig = plot_fan_in(lessons.fan_in_table(lessons.tiny_network()), threshold=1.0)
        >>> fig.axes[0].get_ylabel()
        '|weight|'
    """
    if table.empty:
        raise ValueError("plot_fan_in needs a non-empty table")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(table) + 2), 3.8))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table.max_abs, 0.4, color="0.85", edgecolor="0.0", hatch="//", label="largest |θ| = 1/√fan-in")
    ax.bar(x + 0.2, table.mean_abs, 0.4, color="0.4", edgecolor="0.0", label="mean |θ|")
    if threshold is not None:
        ax.axhline(threshold, color="0.0", linestyle="--", linewidth=1.2, label=f"keep threshold |θ| ≥ {threshold:.3g}")
    ax.set_xticks(x, [f"{m}\nfan-in {f}" for m, f in zip(table.module, table.fan_in)], fontsize="small")
    ax.set_xlabel("layer")
    ax.set_ylabel("|weight|")
    ax.set_ylim(0, 1.35 * float(max(table.max_abs.max(), threshold or 0.0)))
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper center", ncol=3)
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    return finish_figure(fig)


def plot_input_connections(
    counts: np.ndarray, kind: str = "pixel", *, title: str = "Kept first-layer connections"
) -> Figure:
    """A map of the first layer's kept connections per input pixel (or kernel position).

    Args:
        counts: The 2-D map of kept connections, e.g. the first item of
            :func:`prunekit.teach.lessons.input_connections` (pass both items with ``*``).
        kind: ``"pixel"`` or ``"kernel position"`` (its second item).
        title: The figure title.

    Returns:
        The figure: a grayscale image with a colour bar (black = none kept).

    Raises:
        ValueError: If ``counts`` is not 2-D or ``kind`` is unknown.

    Example:
        >>> from prunekit import create_model
        >>> from prunekit.teach import lessons
        >>> net = create_model("default", "fc", (1, 28, 28), 10)
        >>> fig = plot_input_connections(*lessons.input_connections(net))
        >>> fig.axes[0].get_xlabel()
        'pixel column'
    """
    kinds = ("pixel", "kernel position")
    if kind not in kinds:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(kinds)}")
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError(f"counts must be a 2-D map; got shape {counts.shape}")
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    image = ax.imshow(counts, cmap="gray", vmin=0, interpolation="nearest")
    word = "pixel" if kind == "pixel" else "kernel"
    ax.set_xlabel(f"{word} column")
    ax.set_ylabel(f"{word} row")
    ax.set_title(textwrap.fill(title, 45), fontsize="medium")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("kept connections" + (" per pixel" if kind == "pixel" else " per kernel position"))
    return finish_figure(fig)


def plot_density_heatmap(table: pd.DataFrame, *, title: str = "Density per layer and pruner") -> Figure:
    """A heatmap of per-layer density, one row per label (pruner) and one column per layer.

    Colours are on a log scale (densities span decades); every cell is annotated
    with its density, and a layer that kept no weight is left blank and marked
    "collapsed", so the figure reads in grayscale print.

    Args:
        table: Columns ``label``, ``module``, ``density`` and ``kept``, e.g. a
            :func:`prunekit.teach.lessons.kept_comparison` of the pruners' copies.
        title: The figure title.

    Returns:
        The figure (drawn with :func:`seaborn.heatmap`).

    Raises:
        ValueError: If ``table`` is empty, lacks a column, or holds a (label, layer) twice.

    Example:
        >>> from prunekit.teach import lessons
        >>> net = lessons.tiny_network()
        >>> table = lessons.kept_comparison({"mag": lessons.prune_copy(net, "mag", density=0.5)[0], "dense": net})
        >>> fig = plot_density_heatmap(table)
        >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
        ['mag', 'dense']
    """
    needed = ("label", "module", "density", "kept")
    missing = [column for column in needed if column not in table]
    if table.empty or missing:
        raise ValueError(f"plot_density_heatmap needs a non-empty table with {', '.join(needed)}; missing {missing}")
    if table.duplicated(["label", "module"]).any():
        raise ValueError("plot_density_heatmap needs one row per (label, module); pass layer_kept/kept_comparison rows")
    labels, modules = list(dict.fromkeys(table["label"])), module_order(table)
    density = table.pivot(index="label", columns="module", values="density").reindex(index=labels, columns=modules)
    kept = table.pivot(index="label", columns="module", values="kept").reindex(index=labels, columns=modules)
    collapsed = (kept == 0).to_numpy()
    positive = density.to_numpy()[density.to_numpy() > 0]
    low = float(positive.min()) if positive.size else 1.0
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(modules) + 3), 0.55 * len(labels) + 2.2))
    sns.heatmap(
        density.where(~collapsed),
        ax=ax,
        mask=collapsed,
        cmap="Greys",
        norm=matplotlib.colors.LogNorm(vmin=min(low, 0.999), vmax=1.0),
        annot=True,
        fmt=".2g",
        linewidths=0.5,
        linecolor="0.6",
        cbar_kws={"label": "density (log scale)"},
    )
    for row, column in zip(*np.nonzero(collapsed)):
        ax.text(column + 0.5, row + 0.5, "collapsed", ha="center", va="center", fontsize="x-small")
    ax.set_xlabel("layer")
    ax.set_ylabel("")
    ax.set_title(title)
    return finish_figure(fig)


def plot_over_seeds(
    frame: pd.DataFrame,
    x: str,
    y: str,
    *,
    hue: str | None = None,
    title: str = "Mean over seeds (band: ± one standard deviation)",
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Figure:
    """Lines of the mean of ``y`` over seeds against ``x``, with a ± one standard deviation band.

    Args:
        frame: One row per run (e.g. :func:`prunekit.teach.lessons.rand_collapse`, one row per
            compression and seed), holding columns ``x``, ``y`` and ``hue``.
        x: The column on the x axis (e.g. ``"compression"``).
        y: The column averaged over the rows that share ``x`` (and ``hue``).
        hue: A column whose values get one line each, told apart by marker and line style.
        title: The figure title.
        xlabel: The x-axis label (default: ``x``).
        ylabel: The y-axis label (default: ``"y, mean ± sd over seeds"``).

    Returns:
        The figure (drawn with :func:`seaborn.lineplot`, ``errorbar="sd"``).

    Raises:
        ValueError: If ``frame`` is empty or lacks a named column.

    Example:
        >>> frame = pd.DataFrame({"compression": [1.0, 1.0, 2.0, 2.0], "kept": [4.0, 6.0, 1.0, 3.0]})
        >>> fig = plot_over_seeds(frame, "compression", "kept")
        >>> fig.axes[0].lines[0].get_ydata().tolist()
        [5.0, 2.0]
    """
    columns = [c for c in (x, y, hue) if c is not None]
    missing = [c for c in columns if c not in frame]
    if frame.empty or missing:
        raise ValueError(f"plot_over_seeds needs a non-empty frame with columns {columns}; missing {missing}")
    count = frame[hue].nunique() if hue else 1
    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.lineplot(
        data=frame,
        x=x,
        y=y,
        hue=hue,
        style=hue,
        markers=[cycle(MARKERS, i) for i in range(count)] if hue else True,
        dashes=[cycle(_DASHES, i) for i in range(count)] if hue else True,
        palette=[cycle(GRAYS, i) for i in range(count)] if hue else None,
        color=None if hue else "0.0",
        errorbar="sd",
        marker=None if hue else MARKERS[0],
        ax=ax,
    )
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or f"{y}, mean ± sd over seeds")
    ax.set_title(title)
    ax.grid(color="0.9")
    return finish_figure(fig)
