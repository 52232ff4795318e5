"""Figures of the multishot and conservation experiments (:mod:`prunekit.run.experiments`).

:func:`experiment_figures` finds every ``experiment.json`` below a folder and draws one
figure per result; ``prunekit report`` adds them to the page. Each figure is also a plain
function of its typed result, which notebook 10 calls:

- :func:`plot_multishot`: final top-1 against density, one line per number of levels;
- :func:`plot_unit_conservation`: each hidden unit's out-score against its in-score (log-log), per pruner;
- :func:`plot_layer_conservation`: average score against layer size (log-log) with the fitted slope;
- :func:`plot_imp_conservation`: each layer's average squared weight over the training epochs;
- :func:`plot_schedule_conservation`: the fraction of synaptic flow kept, and the largest cut / flow ratio of a
  round, against compression, per rounds.

Titles say **FALLBACK** or **SAMPLE** when the data was not the full real set.

Example:
    >>> experiment_figures("/nonexistent")
    {}
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from prunekit.run.experiments.conservation import CUT_FLOW
from prunekit.run.experiments.results import EXPERIMENT_FILE, ConservationResult, MultishotResult, load_experiment
from prunekit.run.result import ResultSchemaError

__all__ = [
    "EXPERIMENT_FILE",
    "experiment_figures",
    "plot_experiment",
    "plot_imp_conservation",
    "plot_layer_conservation",
    "plot_multishot",
    "plot_schedule_conservation",
    "plot_unit_conservation",
]


def _tag(origin: str) -> str:
    return {"fallback": "FALLBACK · ", "sample": "SAMPLE · "}.get(origin, "")


def _arch(result: MultishotResult | ConservationResult) -> str:
    return f"{result.config.model}/{result.config.dataset}"


def plot_multishot(result: MultishotResult, ax: Any = None) -> Any:
    """Final top-1 (%) against density (log scale), one line per number of levels.

    Args:
        result: A multishot result.
        ax: Axes to draw on; None = a new figure.

    Returns:
        The figure.
    """
    figure, ax = (plt.subplots(figsize=(6, 4)) if ax is None else (ax.figure, ax))
    for levels in sorted({e.levels for e in result.entries}):
        entries = sorted((e for e in result.entries if e.levels == levels), key=lambda e: e.compression)
        ax.plot([e.density for e in entries], [e.top1 for e in entries], "o-", label=f"{levels} level(s)")
    ax.set_xscale("log")
    ax.invert_xaxis()
    return _finish(figure, ax, result, f"multishot {result.config.pruner}", "density (fraction of weights kept)",
                   "top-1 accuracy (%)")


def _finish(figure: Any, ax: Any, result: MultishotResult | ConservationResult, what: str, xlabel: str, ylabel: str,
            xscale: str | None = None, yscale: str | None = None, suffix: str = "", **legend: Any) -> Any:
    """The axes' scales, labels, title (data tag, what, architecture) and legend, as every figure here has them."""
    if xscale:
        ax.set_xscale(xscale)
    if yscale:
        ax.set_yscale(yscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{_tag(result.data_origin)}{what}, {_arch(result)}{suffix}")
    ax.legend(**legend)
    return figure


def plot_unit_conservation(result: ConservationResult, ax: Any = None) -> Any:
    """Every hidden unit's out-score against its in-score (log-log), one colour per pruner; the diagonal dashed."""
    figure, ax = (plt.subplots(figsize=(5, 5)) if ax is None else (ax.figure, ax))
    low, high = math.inf, 0.0
    for pruner in dict.fromkeys(c.pruner for c in result.curves):
        x = np.concatenate([np.abs(c.x) for c in result.curves if c.pruner == pruner])
        y = np.concatenate([np.abs(c.y) for c in result.curves if c.pruner == pruner])
        keep = (x > 0) & (y > 0)
        if keep.any():
            ax.scatter(x[keep], y[keep], s=4, alpha=0.5, label=pruner)
            low, high = min(low, x[keep].min(), y[keep].min()), max(high, x[keep].max(), y[keep].max())
    if high > 0:
        ax.plot([low, high], [low, high], "k--", lw=1)
    return _finish(figure, ax, result, "Unit conservation", "in-score (incoming weights and bias)",
                   "out-score (outgoing weights)", xscale="log", yscale="log", markerscale=3)


_CURVE_NAMES = {"snip-signed": "θ·∂L/∂θ, signed (SNIP before |·|)"}


def plot_layer_conservation(result: ConservationResult, ax: Any = None) -> Any:
    """Average score against layer size (log-log), one line per pruner, the slope in the legend."""
    figure, ax = (plt.subplots(figsize=(6, 4)) if ax is None else (ax.figure, ax))
    for curve in result.curves:
        points = [(x, y) for x, y in zip(curve.x, curve.y) if y > 0]
        if points:
            slope = result.slopes.get(curve.pruner, float("nan"))
            name = _CURVE_NAMES.get(curve.pruner, curve.pruner)
            ax.plot(*zip(*sorted(points)), "o-", label=f"{name} (slope {slope:.2f})")
    return _finish(figure, ax, result, "Layer conservation", "layer size (weights)", "average score per weight",
                   xscale="log", yscale="log")


def plot_imp_conservation(result: ConservationResult, ax: Any = None) -> Any:
    """Each layer's average squared weight over the training epochs (log scale), labelled with its size."""
    figure, ax = (plt.subplots(figsize=(6, 4)) if ax is None else (ax.figure, ax))
    sizes = next((dict(zip(c.names, c.y)) for c in result.curves if c.label == "sizes"), {})
    for curve in (c for c in result.curves if c.label != "sizes"):
        ax.plot(curve.x, curve.y, "o-", ms=3, label=f"{curve.label} ({int(sizes.get(curve.label, 0)):,} weights)")
    return _finish(figure, ax, result, "Squared weights during training", "epoch", "average squared weight",
                   yscale="log", fontsize=7)


def plot_schedule_conservation(result: ConservationResult, ax: Any = None) -> Any:
    """Two panels against compression, one line per pruner and number of rounds (x: layer collapse).

    Left, the fraction of synaptic flow kept; right, Synaptic-Flow's measure, the largest cut / flow
    ratio over the rounds, with a dashed line at 1 (a cut that reaches the flow can remove a whole layer).
    Given one ``ax``, only the left panel is drawn there.
    """
    if ax is None:
        figure, (ax, cut_ax) = plt.subplots(1, 2, figsize=(11, 4))
    else:
        figure, cut_ax = ax.figure, None
    for axes, cut in ((ax, False), (cut_ax, True)):
        if axes is None:
            continue
        for curve in result.curves:
            if curve.label.endswith(CUT_FLOW) != cut:
                continue
            axes.plot(curve.x, [max(y, 1e-300) for y in curve.y], "o-",
                      label=f"{curve.pruner}, {curve.label.removesuffix(CUT_FLOW)}")
            for x, y, note in zip(curve.x, curve.y, curve.names):
                if note:
                    axes.plot([x], [max(y, 1e-300)], "kx")
    if cut_ax is not None:
        cut_ax.axhline(1.0, color="k", ls="--", lw=1)
        _finish(figure, cut_ax, result, "Largest cut / flow of a round", "compression exponent a (density 10^-a)",
                "max over rounds of cut / R", yscale="log", fontsize=7)
    return _finish(figure, ax, result, "Flow kept", "compression exponent a (density 10^-a)",
                   "synaptic flow kept, R / R(dense)", yscale="log", suffix=" (x: layer collapse)", fontsize=7)


_PLOTS = {"unit-conservation": plot_unit_conservation, "layer-conservation": plot_layer_conservation,
          "imp-conservation": plot_imp_conservation, "schedule-conservation": plot_schedule_conservation}


def plot_experiment(result: MultishotResult | ConservationResult) -> Any:
    """The figure of any multishot or conservation result.

    Raises:
        ValueError: If the result's experiment has no figure (the message lists those that do).
    """
    if isinstance(result, MultishotResult):
        return plot_multishot(result)
    if result.experiment not in _PLOTS:
        raise ValueError(f"no figure for experiment {result.experiment!r}; valid: multishot, {', '.join(_PLOTS)}")
    return _PLOTS[result.experiment](result)


def experiment_figures(folder: str | Path) -> dict[str, Any]:
    """One figure per ``experiment.json`` below ``folder``, keyed ``<experiment>_<expid>``.

    Unreadable files are skipped with a warning naming them.

    Args:
        folder: A results folder, an experiment's folder or one run's folder.

    Returns:
        File stem → matplotlib figure (empty when there is none).
    """
    root = Path(folder)
    drawn: dict[str, Any] = {}
    for file in sorted(root.rglob(EXPERIMENT_FILE)) if root.is_dir() else []:
        try:
            result = load_experiment(file)
        except (ResultSchemaError, ValueError, KeyError, TypeError) as error:
            warnings.warn(f"{file}: skipped ({error})", stacklevel=2)
            continue
        if isinstance(result, MultishotResult) and not result.entries:
            continue
        experiment = "multishot" if isinstance(result, MultishotResult) else result.experiment
        drawn[f"{experiment}_{file.parent.name}".replace("-", "_")] = plot_experiment(result)
    return drawn
