"""Figures drawn both by the report and by the notebooks, and the grayscale-safe styles they share.

The report (:mod:`prunekit.report.render`, :mod:`prunekit.report.plots`) and the
notebooks' figures (:mod:`prunekit.teach.plots_lessons`, which re-exports these)
draw per-layer density and training curves the same way. Every function takes
computed values and returns a matplotlib ``Figure`` already closed in pyplot, so a
notebook shows it exactly once. Styles stay readable in grayscale print: hatches,
markers and line styles differ, never only colours.

Example:
    >>> fig = plot_training_curves({"snip": [{"epoch": 0, "top1": 10.0}, {"epoch": 1, "top1": 90.0}]})
    >>> fig.axes[0].get_xlabel()
    'epoch after pruning (0 = before training)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "GRAYS",
    "HATCHES",
    "LINESTYLES",
    "MARKERS",
    "SETTING_COLORS",
    "cycle",
    "finish_figure",
    "module_order",
    "plot_layer_density",
    "plot_training_curves",
    "setting_color",
]

HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
"""Bar fills that stay distinguishable in grayscale, in label order."""

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
"""Line markers, in label order."""

LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
"""Line styles, in label order."""

GRAYS = ("0.15", "0.45", "0.7", "0.3", "0.85", "0.55")
"""Fill and line grays, in label order."""

SETTING_COLORS = {
    "rand": "#E69F00",
    "mag": "#0072B2",
    "snip": "#009E73",
    "grasp": "#CC79A7",
    "synflow": "#D55E00",
    "synflow-r1": "#56B4E9",
}
"""One colour per pruner (Okabe-Ito, readable with colour-blindness), the same in every figure of the kit;
SynFlow with 1 round (the report's setting) has its own. Variants (``mag-init``, ``synflow-r100``,
``mag (pre 20)``) take their pruner's colour (:func:`setting_color`)."""


def setting_color(label: str, index: int = 0) -> str:
    """The colour of a pruner or setting label, the same in every figure.

    Args:
        label: A pruner (``"snip"``), a reference setting (``"mag-init"``, ``"synflow-r1"``) or a run label
            (``"synflow (1 round)"``, ``"mag (pre 20)"``).
        index: The label's position, for a label that names no pruner (it gets a gray).

    Returns:
        A matplotlib colour.

    Example:
        >>> setting_color("mag-init") == setting_color("mag (pre 20)") == SETTING_COLORS["mag"]
        True
        >>> setting_color("synflow (1 round)") == SETTING_COLORS["synflow-r1"] != setting_color("synflow-r100")
        True
        >>> setting_color("unpruned", 1)
        '0.45'
    """
    text = str(label)
    base = text.split(" ")[0].split("-")[0]
    if base == "synflow" and (text == "synflow-r1" or text.startswith("synflow (1 round")):
        return SETTING_COLORS["synflow-r1"]
    return SETTING_COLORS.get(base, cycle(GRAYS, index))


def finish_figure(fig: Figure) -> Figure:
    """Lays the figure out and detaches it from pyplot, so a notebook shows it only once.

    Args:
        fig: A figure made with ``plt.subplots``.

    Returns:
        The same figure, laid out and closed in pyplot.

    Example:
        >>> fig, _ = plt.subplots()
        >>> finish_figure(fig) is fig, plt.fignum_exists(fig.number)
        (True, False)
    """
    fig.tight_layout()
    plt.close(fig)
    return fig


def cycle(values: Sequence[Any], index: int) -> Any:
    """The ``index``-th style of ``values``, starting over when they run out.

    Args:
        values: A style tuple such as :data:`MARKERS`.
        index: The label's position.

    Returns:
        ``values[index % len(values)]``.

    Example:
        >>> cycle(("o", "s"), 3)
        's'
    """
    return values[index % len(values)]


def module_order(table: pd.DataFrame) -> list[str]:
    """The table's ``module`` names, first appearance first, each once.

    Args:
        table: A frame with a ``module`` column.

    Returns:
        The names in order.

    Example:
        >>> module_order(pd.DataFrame({"module": ["b", "a", "b"]}))
        ['b', 'a']
    """
    return list(dict.fromkeys(table["module"]))


def plot_layer_density(table: pd.DataFrame, *, title: str = "Density per layer") -> Figure:
    """Grouped bars of the density of each layer, one bar per label; empty layers flagged.

    Args:
        table: Columns ``module``, ``density``, ``kept`` and, for several bars per
            layer, ``label`` (a :func:`prunekit.teach.lessons.kept_comparison`).
        title: The figure title.

    Returns:
        The figure; a layer that kept no weight is marked "collapsed".

    Raises:
        ValueError: If ``table`` is empty or repeats a layer (within a label).

    Example:
        >>> from prunekit.teach import lessons
        >>> fig = plot_layer_density(lessons.layer_kept(lessons.tiny_network()))
        >>> fig.axes[0].get_ylabel()
        'density (fraction of weights kept)'
    """
    if table.empty:
        raise ValueError("plot_layer_density needs a non-empty table")
    keys = ["label", "module"] if "label" in table else ["module"]
    if table.duplicated(keys).any():
        raise ValueError(
            "plot_layer_density needs one row per layer (and label); this table repeats "
            f"{sorted(set(table.loc[table.duplicated(keys), 'module']))}: pass lessons.layer_kept rows, "
            "not layer_table rows (which list weight and bias separately)"
        )
    table = table if "label" in table else table.assign(label="")
    modules = module_order(table)
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
            color=setting_color(label, i),
            edgecolor="0.0",
            hatch=cycle(HATCHES, i),
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
    return finish_figure(fig)


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
        references: Label → value drawn as a horizontal line, named in the legend (e.g. ``{"report, SynFlow": 11.35}``).

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
            marker=cycle(MARKERS, i),
            linestyle=cycle(LINESTYLES, i),
            color=cycle(GRAYS, i) if i else "0.0",
            label=label,
        )
    for j, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color="0.5", linestyle=cycle(LINESTYLES, j + 1), linewidth=1, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch after pruning (0 = before training)")
    ax.set_ylabel(names[metric])
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(color="0.9")
    return finish_figure(fig)
