"""The report's tables from :func:`~prunekit.report.collect.collect`'s runs, and from models in memory.

- :func:`table_1_1`: top-1 accuracy, (dataset, model) × pruner (section 1.1);
- :func:`table_accuracy`, :func:`table_test_time`, :func:`table_flop_ratio`: compression × pruner
  (sections 1.2.1, 1.2.2, 1.2.3);
- :func:`table_layer_density` and :func:`table_layer_flops`: per-layer density and weight FLOPs of
  each pruner at one compression (sections 2.1 and 2.2), :func:`run_histograms` for the 3-D weight histograms;
- :func:`table_model_density`, :func:`table_model_flops`: the same from pruned models in memory;
- :func:`side_by_side`: a table next to the report's own numbers;
- :func:`table_disconnected`: which runs were left with no input-output path, and
  :func:`mark_disconnected` to mark their cells (:data:`DISCONNECTED_MARK`) in any of these tables;
- :func:`pass_time_ratio`: how much faster the highest compression's pass is than the lowest one's;
- :func:`for_display`: a table with missing cells shown as "—".

Example:
    >>> rows = pd.DataFrame({"label": ["snip"], "compression": [1.0], "top1": [97.0], "dataset": "mnist", "model": "fc"})
    >>> float(table_accuracy(rows).loc[1.0, "snip"])
    97.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

import pandas as pd

from prunekit.core.metrics import layer_table

__all__ = [
    "DISCONNECTED_MARK",
    "PRUNER_ORDER",
    "for_display",
    "format_cell",
    "layer_compression",
    "mark_disconnected",
    "run_histograms",
    "side_by_side",
    "table_1_1",
    "table_accuracy",
    "table_disconnected",
    "table_flop_ratio",
    "table_layer_density",
    "table_layer_flops",
    "table_model_density",
    "table_model_flops",
    "table_test_time",
    "table_test_time_spread",
    "pass_time_ratio",
    "TimeRatio",
]

PRUNER_ORDER = ("rand", "mag", "snip", "grasp", "synflow")
"""Column order of every table, as in the report (other registered pruners follow, by name)."""


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    def key(column: str) -> tuple[int, str]:
        base = str(column).split(" ")[0]
        return (PRUNER_ORDER.index(base) if base in PRUNER_ORDER else len(PRUNER_ORDER), str(column))

    return table[sorted(table.columns, key=key)]


def _pivot(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=list(PRUNER_ORDER))
    # dropna=False keeps a column with no number: a diverged run (label "… (diverged)") stays visible as such
    table = frame.pivot_table(index="compression", columns="label", values=value, aggfunc="mean", dropna=False)
    table.columns.name = None
    return _ordered(table.sort_index())


def _select(frame: pd.DataFrame, dataset: str | None, model: str | None) -> pd.DataFrame:
    chosen = frame
    if dataset is not None:
        chosen = chosen[chosen.dataset == dataset]
    if model is not None:
        chosen = chosen[chosen.model == model]
    return chosen


def table_accuracy(frame: pd.DataFrame, dataset: str | None = None, model: str | None = None) -> pd.DataFrame:
    """Section 1.2.1: top-1 accuracy (%), compression × pruner (mean over seeds).

    Example:
        >>> rows = pd.DataFrame({"label": ["snip", "rand"], "compression": [1.0, 1.0], "top1": [97.0, 95.0],
        ...                      "dataset": "mnist", "model": "fc"})
        >>> table_accuracy(rows).columns.tolist()
        ['rand', 'snip']
    """
    return _pivot(_select(frame, dataset, model), "top1")


def table_test_time(frame: pd.DataFrame, dataset: str | None = None, model: str | None = None) -> pd.DataFrame:
    """Section 1.2.2: median seconds of one inference pass over the test set, compression × pruner."""
    return _pivot(_select(frame, dataset, model), "test_time_s")


def table_test_time_spread(frame: pd.DataFrame, dataset: str | None = None, model: str | None = None) -> pd.DataFrame:
    """The spread behind table 1.2.2: interquartile range (s) of the timed passes, compression × pruner."""
    return _pivot(_select(frame, dataset, model), "test_time_iqr_s")


MIN_TELLING_SPEEDUP = 3.0
"""How many times its density a pass's time ratio must stay above to say "no speed-up" (timing noise under load
rarely reaches a factor of 3 between the medians of several runs)."""


@dataclass(frozen=True)
class TimeRatio:
    """The median pass time at a sweep's highest compression over the one at its lowest.

    Attributes:
        lowest: The lowest compression exponent in the sweep.
        highest: The highest one.
        ratio: Median (over runs) test time at ``highest`` / the same at ``lowest``.
        density: ``10 ** -highest``, what the ratio would be if pruned weights cost nothing.
        telling: Whether the sweep can tell "no speed-up" from "speed-up by the density": ``highest`` keeps at
            most a tenth of the lowest's density, so ``MIN_TELLING_SPEEDUP`` times the density ratio stays below 1
            with room for timing noise.
    """

    lowest: float
    highest: float
    ratio: float
    density: float
    telling: bool

    @property
    def no_speedup(self) -> bool:
        """The ratio stays far (``MIN_TELLING_SPEEDUP`` times) above the density ratio."""
        return self.ratio > MIN_TELLING_SPEEDUP * self.density / 10 ** -self.lowest


def pass_time_ratio(frame: pd.DataFrame) -> TimeRatio:
    """Compares test time at a sweep's highest and lowest compression (median over the runs at each).

    Args:
        frame: Runs of one model and dataset (:func:`~prunekit.report.collect.collect`), with
            ``compression`` and ``test_time_s``.

    Returns:
        The :class:`TimeRatio`.

    Raises:
        ValueError: If the frame holds fewer than two compressions.

    Example:
        >>> rows = pd.DataFrame({"compression": [0.0, 0.0, 2.0, 2.0], "test_time_s": [1.0, 1.2, 1.1, 0.9]})
        >>> t = pass_time_ratio(rows)
        >>> (t.ratio, t.telling, t.no_speedup)
        (0.9090909090909091, True, True)
    """
    times = frame.groupby("compression").test_time_s.median()
    if len(times) < 2:
        raise ValueError(f"test time needs runs at two compressions or more; got {sorted(times.index)}")
    lowest, highest = float(times.index.min()), float(times.index.max())
    density = 10 ** -highest
    return TimeRatio(lowest, highest, float(times[highest] / times[lowest]), density,
                     telling=MIN_TELLING_SPEEDUP * density / 10 ** -lowest < 0.5)


def table_flop_ratio(frame: pd.DataFrame, dataset: str | None = None, model: str | None = None) -> pd.DataFrame:
    """Section 1.2.3: remaining FLOPs over the dense model's, compression × pruner."""
    return _pivot(_select(frame, dataset, model), "flop_ratio")


DISCONNECTED_MARK = "†"
"""Marks a cell whose runs include one left with no path from input to output (see :func:`mark_disconnected`)."""


def _disconnected_share(frame: pd.DataFrame) -> pd.Series:
    """1.0 for a disconnected run, 0.0 for a connected one, NaN for a result saved before prunekit checked."""
    if "disconnected" not in frame:
        return pd.Series(math.nan, index=frame.index, dtype=float)
    return frame.disconnected.map({True: 1.0, False: 0.0}).astype(float)


def table_disconnected(
    frame: pd.DataFrame, dataset: str | None = None, model: str | None = None, *, by: str = "compression"
) -> pd.DataFrame:
    """The share of runs whose masks left no path from input to output (0 … 1), per cell of a table.

    Layer collapse implies disconnection, so collapsed runs count too. A cell whose runs were all
    saved before prunekit checked is missing (NaN).

    Args:
        frame: :func:`collect` output.
        dataset: Only runs on this dataset.
        model: Only runs of this model.
        by: ``compression`` (rows of tables 1.2.x) or ``arch`` (rows ``dataset/model`` of table 1.1).

    Returns:
        The share, ``by`` × pruner label, laid out like the table it marks.

    Raises:
        ValueError: For another ``by``.

    Example:
        >>> rows = pd.DataFrame({"label": ["rand", "rand", "snip"], "compression": [3.0, 3.0, 3.0],
        ...                      "disconnected": [True, False, False], "dataset": "mnist", "model": "fc"})
        >>> table_disconnected(rows).loc[3.0].tolist()
        [0.5, 0.0]
    """
    if by not in ("compression", "arch"):
        raise ValueError(f"unknown row key by={by!r}; valid: compression, arch")
    chosen = _select(frame, dataset, model)
    if chosen.empty:
        return pd.DataFrame(columns=list(PRUNER_ORDER))
    chosen = chosen.assign(disconnected_share=_disconnected_share(chosen), arch=chosen.dataset + "/" + chosen.model)
    table = chosen.pivot_table(index=by, columns="label", values="disconnected_share", aggfunc="mean", dropna=False)
    table.columns.name = None
    if by == "arch":
        table.index.name = "Data/Arch"
    return _ordered(table.sort_index())


def mark_disconnected(shown: pd.DataFrame, disconnected: pd.DataFrame) -> pd.DataFrame:
    """A :func:`for_display` table with :data:`DISCONNECTED_MARK` after each cell that has a disconnected run.

    Args:
        shown: The table as text (:func:`for_display`), rows and columns as in ``disconnected``.
        disconnected: :func:`table_disconnected` for the same runs.

    Returns:
        A copy of ``shown``; ``attrs["note"]`` explains the mark when any cell has it.

    Example:
        >>> rows = pd.DataFrame({"label": ["rand", "snip"], "compression": [3.0, 3.0], "top1": [10.0, 11.3],
        ...                      "disconnected": [True, False], "dataset": "mnist", "model": "fc"})
        >>> mark_disconnected(for_display(table_accuracy(rows)), table_disconnected(rows)).loc[3.0].tolist()
        ['10†', '11.3']
    """
    marked = shown.copy()
    any_marked = False
    for row in marked.index:
        for column in marked.columns:
            share = disconnected.at[row, column] if row in disconnected.index and column in disconnected else math.nan
            if isinstance(share, float) and share > 0:
                marked.at[row, column] = f"{marked.at[row, column]}{DISCONNECTED_MARK}"
                any_marked = True
    marked.attrs = dict(shown.attrs)
    if any_marked:
        marked.attrs["note"] = (
            f"{DISCONNECTED_MARK} at least one run of this cell was disconnected: its masks left no path from "
            "input to output, so it can only guess"
        )
    return marked


def table_1_1(frame: pd.DataFrame, compression: float = 1.0) -> pd.DataFrame:
    """Section 1.1: top-1 accuracy (%) at one compression, one row per (dataset, model), one column per pruner.

    Args:
        frame: :func:`collect` output.
        compression: The compression exponent of the table (the report used 1).

    Returns:
        Index ``Data/Arch`` such as ``mnist/fc``; empty if no run has that compression.
    """
    chosen = frame[frame.compression.sub(compression).abs() < 1e-9]
    if chosen.empty:
        return pd.DataFrame(columns=list(PRUNER_ORDER))
    chosen = chosen.assign(arch=chosen.dataset + "/" + chosen.model)
    table = chosen.pivot_table(index="arch", columns="label", values="top1", aggfunc="mean", dropna=False)
    table.columns.name, table.index.name = None, "Data/Arch"
    return _ordered(table)


def layer_compression(frame: pd.DataFrame, target: float = 0.5) -> float:
    """The compression of the per-layer tables: ``target`` if any run has it, else the nearest one the runs have.

    Args:
        frame: :func:`collect` output (not empty).
        target: The wanted compression exponent (the report's section 2 used 0.5).

    Returns:
        A compression exponent that at least one run has (the smaller of two equally near ones).

    Raises:
        ValueError: If ``frame`` has no run.

    Example:
        >>> layer_compression(pd.DataFrame({"compression": [1.0, 2.0, 0.2]}))
        0.2
    """
    if frame.empty:
        raise ValueError("layer_compression needs at least one run")
    available = sorted(set(frame.compression.astype(float)))
    return min(available, key=lambda a: (abs(a - target), a))


def _runs_at(frame: pd.DataFrame, compression: float) -> dict[str, str | None]:
    """Label → the (first) run directory at exactly ``compression``, or None; labels in the report's order."""
    chosen: dict[str, str | None] = {}
    for label in _ordered(pd.DataFrame(columns=list(dict.fromkeys(frame.label)))).columns:
        rows = frame[(frame.label == label) & (frame.compression.sub(compression).abs() < 1e-9)]
        chosen[label] = rows.run_dir.iloc[0] if len(rows) else None
    return chosen


def table_layer_density(frame: pd.DataFrame, compression: float = 0.5) -> pd.DataFrame:
    """Section 2.1's per-layer density: one row per layer, one column per pruner.

    Args:
        frame: :func:`collect` output (runs of one architecture).
        compression: The wanted compression; :func:`layer_compression` picks the nearest one the runs have.

    Returns:
        Index ``module``; a pruner with no run at that compression has an all-missing column
        (empty table without runs). ``attrs["compression"]`` is the compression used.
    """
    return _layer_table(frame, compression, "density")


def table_layer_flops(frame: pd.DataFrame, compression: float = 0.5) -> pd.DataFrame:
    """Section 2.2: each layer's weight FLOPs, dense (``unpruned``) and remaining per pruner.

    Args:
        frame: :func:`collect` output (runs of one architecture).
        compression: The wanted compression; :func:`layer_compression` picks the nearest one the runs have.

    Returns:
        Index ``module``; columns ``unpruned`` and one per pruner (all missing for a pruner with no run
        at that compression; empty table without runs). ``attrs["compression"]`` is the compression used.
    """
    return _layer_table(frame, compression, "flops_remaining")


def _layer_table(frame: pd.DataFrame, compression: float, value: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame()
    used = layer_compression(frame, compression)
    results = frame.attrs.get("results", {})
    runs = _runs_at(frame, used)
    found = {label: results[run].weight_layers() for label, run in runs.items() if run is not None}
    first = next(iter(found.values()))
    columns = {"unpruned": first["flops"]} if value == "flops_remaining" else {}
    for label in runs:
        columns[label] = found[label][value] if label in found else pd.Series(math.nan, index=first.index)
    table = pd.DataFrame(columns)
    table.index.name = "module"
    table.attrs["compression"] = used
    return table


def run_histograms(frame: pd.DataFrame, compression: float = 0.5) -> dict[str, pd.DataFrame]:
    """The saved weight histograms (section 2.1) of each pruner's run at one compression.

    Args:
        frame: :func:`collect` output (runs of one architecture).
        compression: The wanted compression; :func:`layer_compression` picks the nearest one the runs have.

    Returns:
        Label → histogram rows (``module``, ``bin_left``, ``bin_right``, ``frequency``) of the final,
        trained, masked model; empty without runs. Runs saved without histograms are left out.
    """
    if frame.empty:
        return {}
    results = frame.attrs.get("results", {})
    runs = _runs_at(frame, layer_compression(frame, compression))
    return {label: results[run].histograms.frame()
            for label, run in runs.items() if run is not None and results[run].histograms}


def table_model_flops(models: Mapping[str, Any]) -> pd.DataFrame:
    """Section 2.2 from models in memory: each prunable layer's weight FLOPs, dense and remaining per model.

    Args:
        models: Label → pruned model (all of the same architecture, e.g. one per pruner).

    Returns:
        Index ``module``; columns ``unpruned`` and one per label.

    Raises:
        ValueError: If ``models`` is empty.

    Example:
        >>> from prunekit import create_model
        >>> table_model_flops({"dense": create_model("default", "fc", (1, 28, 28), 10)}).loc["fc"].tolist()
        [1000, 1000]
    """
    if not models:
        raise ValueError("table_model_flops needs at least one model")
    columns: dict[str, pd.Series] = {}
    for label, model in models.items():
        table = layer_table(model)
        weights = table[(table.param == "weight") & table.prunable].set_index("module")
        columns.setdefault("unpruned", weights["flops"])
        columns[label] = weights["flops_remaining"]
    return pd.DataFrame(columns)


def table_model_density(models: Mapping[str, Any]) -> pd.DataFrame:
    """Section 2.1's per-layer density from models in memory: index ``module``, one column per label.

    Example:
        >>> from prunekit import create_model
        >>> table_model_density({"dense": create_model("default", "fc", (1, 28, 28), 10)})["dense"].tolist()
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    columns = {}
    for label, model in models.items():
        table = layer_table(model)
        columns[label] = table[(table.param == "weight") & table.prunable].set_index("module")["density"]
    return pd.DataFrame(columns)


def side_by_side(
    ours: pd.DataFrame,
    theirs: Mapping[Any, Mapping[str, float]],
    label: str = "report",
    *,
    by_pruner: bool = False,
) -> pd.DataFrame:
    """Our table with the report's numbers beside it: columns ``(pruner, "kit")`` and ``(pruner, label)``.

    Args:
        ours: A table with pruners as columns.
        theirs: Row key → pruner → the report's value (:mod:`prunekit.report.report_numbers`).
        label: The name of the report's column.
        by_pruner: One row per pruner instead, with columns ``(row key, "kit")`` and ``(row key, label)``
            (narrower when there are many pruner columns and few rows, as in table 1.1).

    Returns:
        The two tables interleaved; a missing value of either side stays missing.

    Example:
        >>> ours = pd.DataFrame({"snip": [96.5]}, index=pd.Index([1.0], name="compression"))
        >>> side_by_side(ours, {1.0: {"snip": 96.99}}).iloc[0].tolist()
        [96.5, 96.99]
        >>> side_by_side(ours, {1.0: {"snip": 96.99}}, by_pruner=True).loc["snip"].tolist()
        [96.5, 96.99]
    """
    theirs_frame = pd.DataFrame.from_dict(dict(theirs), orient="index").reindex(ours.index)
    pieces = {}
    for pruner in ours.columns:
        pieces[(pruner, "kit")] = ours[pruner]
        base = str(pruner).split(" ")[0]  # "synflow (1 iteration)" is compared with the report's synflow
        pieces[(pruner, label)] = theirs_frame[base] if base in theirs_frame else math.nan
    table = pd.DataFrame(pieces, index=ours.index)
    if not by_pruner:
        return table
    columns = pd.MultiIndex.from_product([list(ours.index), ["kit", label]], names=[ours.index.name, None])
    if ours.empty:
        return pd.DataFrame(index=pd.Index(list(ours.columns), name="pruner"), columns=columns, dtype=float)
    flipped = table.T.astype(float).unstack(level=1)
    flipped = flipped.reindex(index=list(ours.columns), columns=columns)
    flipped.index.name = "pruner"
    return flipped


def format_cell(value: Any, digits: int) -> str:
    """One table cell as text: ``digits`` significant digits, thousands separators from 1,000, "—" if missing.

    Example:
        >>> format_cell(12345.0, 4), format_cell(0.123456, 3), format_cell(float("nan"), 4)
        ('12,345', '0.123', '—')
    """
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1000 else f"{value:.{digits}g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 1000 else str(value)
    if value is None or value is pd.NA:
        return "—"
    return str(value)


def for_display(table: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The table as text for a notebook: ``digits`` significant digits, thousands separators, "—" where missing.

    Example:
        >>> shown = for_display(pd.DataFrame({"snip": [96.987, None], "rand": [10.0, 12345.0]}, index=[1.0, 2.0]))
        >>> shown.loc[1.0].tolist(), shown.loc[2.0].tolist()
        (['96.99', '10'], ['—', '12,345'])
    """
    shown = table.astype(object).map(lambda v: format_cell(v, digits))
    shown.attrs = dict(table.attrs)
    return shown


