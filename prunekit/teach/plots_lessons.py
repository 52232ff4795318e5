"""Figures of the pruner notebooks' lessons (01_random … 05_synflow).

Every function takes a table from :mod:`prunekit.teach.lessons` (or a run's history)
and returns a matplotlib ``Figure`` that is already closed in pyplot, so it is
shown exactly once: end a notebook cell with the call (or ``display(fig)``), or
save it with ``fig.savefig(...)``. Styles are readable in grayscale print:
hatches, markers and line styles differ, never only colours. Axes carry units.

Example:
    >>> from prunekit import lessons
    >>> fig = plot_score_distributions(lessons.score_frame(lessons.tiny_network(), "mag"), title="Mag")
    >>> fig.axes[0].get_xlabel()
    'score (log scale)'
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "HATCHES",
    "LINESTYLES",
    "MARKERS",
    "plot_collapse_rates",
    "plot_fan_in",
    "plot_flow_conservation",
    "plot_input_connections",
    "plot_layer_density",
    "plot_score_distributions",
    "plot_signed_histogram",
    "plot_training_curves",
]

_MPL = tuple(int(part) for part in matplotlib.__version__.split(".")[:2])

HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
"""Bar fills that stay distinguishable in grayscale, in label order."""

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
"""Line markers, in label order."""

LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
"""Line styles, in label order."""

_HORIZONTAL = {"orientation": "horizontal"} if _MPL >= (3, 10) else {"vert": False}

_GRAYS = ("0.15", "0.45", "0.7", "0.3", "0.85", "0.55")


def _finish(fig: Figure) -> Figure:
    """Lays the figure out and detaches it from pyplot, so a notebook shows it only once."""
    fig.tight_layout()
    plt.close(fig)
    return fig


def _cycle(values: Sequence[Any], index: int) -> Any:
    return values[index % len(values)]


def _module_order(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["module"]))


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
        >>> from prunekit import lessons
        >>> fig = plot_score_distributions(lessons.score_frame(lessons.tiny_network(), "synflow"))
        >>> len(fig.axes)
        1
    """
    if frame.empty:
        raise ValueError("plot_score_distributions needs a non-empty score frame")
    scales = ("log", "symlog", "linear")
    if scale is not None and scale not in scales:
        raise ValueError(f"unknown scale {scale!r}; valid scales: {', '.join(scales)}")
    modules = _module_order(frame)
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
    return _finish(fig)


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
    return _finish(fig)


def plot_layer_density(table: pd.DataFrame, *, title: str = "Density per layer") -> Figure:
    """Grouped bars of the density of each layer, one bar per label; empty layers flagged.

    Args:
        table: Columns ``module``, ``density``, ``kept`` and, for several bars per
            layer, ``label`` (a :func:`prunekit.teach.lessons.kept_comparison`).
        title: The figure title.

    Returns:
        The figure; a layer that kept no weight is marked "collapsed".

    Raises:
        ValueError: If ``table`` is empty.

    Example:
        >>> from prunekit import lessons
        >>> fig = plot_layer_density(lessons.layer_kept(lessons.tiny_network()))
        >>> fig.axes[0].get_ylabel()
        'density (fraction of weights kept)'
    """
    if table.empty:
        raise ValueError("plot_layer_density needs a non-empty table")
    table = table if "label" in table else table.assign(label="")
    modules = _module_order(table)
    labels = list(dict.fromkeys(table["label"]))
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(modules) + 2), 3.8))
    x = np.arange(len(modules))
    for i, label in enumerate(labels):
        rows = table[table.label == label].set_index("module").reindex(modules)
        positions = x - 0.4 + width * (i + 0.5)
        ax.bar(
            positions,
            rows.density.fillna(0.0),
            width,
            color=_cycle(_GRAYS, i),
            edgecolor="0.0",
            hatch=_cycle(HATCHES, i),
            label=label or None,
        )
        for position, kept in zip(positions, rows.kept):
            if kept == 0:
                ax.text(position, 0.005, "collapsed", rotation=90, ha="center", va="bottom", fontsize="small")
    ax.set_xticks(x, modules, rotation=30, ha="right")
    ax.set_xlabel("layer")
    ax.set_ylabel("density (fraction of weights kept)")
    ax.set_ylim(0, min(1.05, max(0.05, float(table.density.max()) * 1.15)))
    ax.set_title(title)
    if any(labels):
        ax.legend(fontsize="small")
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    return _finish(fig)


def plot_training_curves(
    histories: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    metric: str = "top1",
    title: str = "Test accuracy during training",
    references: Mapping[str, float] | None = None,
) -> Figure:
    """Test accuracy (or loss) per epoch of several runs, epoch 0 = right after pruning.

    Args:
        histories: Label → rows with ``epoch`` and ``metric`` (a run's post-training history).
        metric: ``top1``, ``top5`` (percent) or ``test_loss``.
        title: The figure title.
        references: Label → value drawn as a horizontal line, named in the legend (e.g. ``{"seed, SynFlow": 11.35}``).

    Returns:
        The figure.

    Raises:
        ValueError: If ``histories`` is empty or a row lacks ``metric``.

    Example:
        >>> fig = plot_training_curves({"snip": [{"epoch": 0, "top1": 10.0}, {"epoch": 1, "top1": 90.0}]})
        >>> fig.axes[0].get_ylabel()
        'test top-1 accuracy (%)'
    """
    if not histories:
        raise ValueError("plot_training_curves needs at least one history")
    names = {
        "top1": "test top-1 accuracy (%)",
        "top5": "test top-5 accuracy (%)",
        "test_loss": "test loss (cross-entropy)",
    }
    if metric not in names:
        raise ValueError(f"unknown metric {metric!r}; valid metrics: {', '.join(names)}")
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for i, (label, rows) in enumerate(histories.items()):
        missing = [row for row in rows if metric not in row]
        if missing:
            raise ValueError(f"history {label!r} has rows without {metric!r}")
        ax.plot(
            [row["epoch"] for row in rows],
            [row[metric] for row in rows],
            marker=_cycle(MARKERS, i),
            linestyle=_cycle(LINESTYLES, i),
            color=_cycle(_GRAYS, i) if i else "0.0",
            label=label,
        )
    for j, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color="0.5", linestyle=_cycle(LINESTYLES, j + 1), linewidth=1, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch after pruning (0 = before training)")
    ax.set_ylabel(names[metric])
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(color="0.9")
    return _finish(fig)


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
    return _finish(fig)


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
        >>> from prunekit import lessons
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
    return _finish(fig)


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
        >>> from prunekit import lessons
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
    return _finish(fig)


def plot_input_connections(model: Any, *, title: str = "Kept first-layer connections") -> Figure:
    """A map of the first layer's kept connections per input pixel (or kernel position).

    Args:
        model: A (pruned) model of masked layers; see :func:`prunekit.teach.lessons.input_connections`.
        title: The figure title.

    Returns:
        The figure: a grayscale image with a colour bar (black = none kept).

    Raises:
        ValueError: If the first layer does not match the model's input.

    Example:
        >>> from prunekit import create_model
        >>> fig = plot_input_connections(create_model("default", "fc", (1, 28, 28), 10))
        >>> fig.axes[0].get_xlabel()
        'pixel column'
    """
    from prunekit.teach.lessons import input_connections

    counts, kind = input_connections(model)
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    image = ax.imshow(counts, cmap="gray", vmin=0, interpolation="nearest")
    word = "pixel" if kind == "pixel" else "kernel"
    ax.set_xlabel(f"{word} column")
    ax.set_ylabel(f"{word} row")
    ax.set_title(textwrap.fill(title, 45), fontsize="medium")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("kept connections" + (" per pixel" if kind == "pixel" else " per kernel position"))
    return _finish(fig)
