"""The seed's tables and figures from saved runs: ``prunekit report <folder>`` and the ``08_summary`` notebook.

:func:`collect` reads every ``result.json`` below a folder (a sweep, or the
notebooks' ``results/notebooks``) into one row per run. The table functions
then shape those rows like the seed's report:

- :func:`table_1_1`: top-1 accuracy, (dataset, model) × pruner (section 1.1);
- :func:`table_accuracy`, :func:`table_test_time`, :func:`table_flop_ratio`: compression × pruner
  (sections 1.2.1, 1.2.2, 1.2.3);
- :func:`table_layer_density` and :func:`table_layer_flops`: per-layer density and weight FLOPs of
  each pruner at one compression (sections 2.1 and 2.2), :func:`run_histograms` for the 3-D weight histograms;
- :func:`side_by_side`: a table next to the seed's own numbers;
- :func:`for_display`: a table with missing cells shown as "—".

:func:`figures` draws the seed's figures; :func:`write_report` writes each table as Markdown
and CSV, the figures as PNG, and one self-contained HTML page. Runs on the shipped MNIST sample or on the labelled
CIFAR-10 fallback are marked in every table caption and figure title.

Example:
    >>> frame = collect("results/notebooks")  # doctest: +SKIP
    >>> table_accuracy(frame)  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from prunekit.teach import plots_lessons

from prunekit.report import figures as plots_report, report_numbers as seed_numbers
from prunekit.run.experiment import RESULT_FILE, load_result
from prunekit.run.io import atomic_write
from prunekit.core.metrics import layer_table

__all__ = [
    "PRUNER_ORDER",
    "collect",
    "data_label",
    "figures",
    "for_display",
    "layer_compression",
    "main",
    "run_histograms",
    "side_by_side",
    "table_1_1",
    "table_accuracy",
    "table_flop_ratio",
    "table_layer_density",
    "table_layer_flops",
    "table_model_density",
    "table_model_flops",
    "table_test_time",
    "table_test_time_spread",
    "to_markdown",
    "write_report",
    "written_summary",
]

PRUNER_ORDER = ("rand", "mag", "snip", "grasp", "synflow")
"""Column order of every table, as in the seed."""

_COLUMNS = [
    "run_dir", "expid", "label", "pruner", "compression", "density", "dataset", "model_class", "model", "pre_epochs",
    "post_epochs", "prune_iterations", "seed", "top1", "top5", "test_time_s", "test_time_iqr_s", "params_total",
    "params_kept", "flops_total", "flops_remaining", "flop_ratio", "collapsed_layers", "sample", "fallback",
]


def _labels(frame: pd.DataFrame) -> pd.Series:
    """Column names that keep different settings apart.

    A run is named by its pruner, plus its pruning iterations when they are not the
    kit's default (100 for SynFlow, 1 otherwise), plus its pre- and post-training
    epochs when runs of the same pruner on the same model differ in them. Runs that
    differ only in their seed share a name, and the tables average them.
    """
    labels: list[str] = []
    for _, row in frame.iterrows():
        parts = []
        default = 100 if row.pruner == "synflow" else 1
        if row.prune_iterations != default:
            parts.append(f"{row.prune_iterations} iteration{'s' if row.prune_iterations > 1 else ''}")
        same = frame[(frame.pruner == row.pruner) & (frame.dataset == row.dataset) & (frame.model == row.model)]
        for column, word in (("pre_epochs", "pre"), ("post_epochs", "post")):
            if same[column].nunique() > 1:
                parts.append(f"{word} {row[column]}")
        labels.append(f"{row.pruner} ({', '.join(parts)})" if parts else row.pruner)
    return pd.Series(labels, index=frame.index, dtype=object)


def collect(folder: str | Path, *, allow_empty: bool = False) -> pd.DataFrame:
    """One row per finished run below ``folder``.

    Args:
        folder: A sweep folder, a result folder, or one run's folder.
        allow_empty: Return an empty table (instead of raising) when there is no run yet.

    Returns:
        A DataFrame with run settings (``pruner``, ``compression``, ``dataset``, ``model`` …),
        outcomes (``top1``, ``test_time_s``, ``flop_ratio``, ``collapsed_layers`` …) and the
        data flags ``sample`` and ``fallback``; ``attrs["results"]`` maps ``run_dir`` to the full result dict.

    Raises:
        FileNotFoundError: If the folder does not exist or holds no finished run.
        ValueError: If a result was written by an incompatible version (its schema is named).
    """
    root = Path(folder)
    files = sorted(root.rglob(RESULT_FILE)) if root.exists() else []
    if not files:
        if allow_empty:
            empty = pd.DataFrame(columns=_COLUMNS)
            empty.attrs["results"] = {}
            return empty
        raise FileNotFoundError(f"no finished run (no {RESULT_FILE}) below {root}")
    rows, results = [], {}
    for file in files:
        result = load_result(file)
        config, params, flops = result["config"], result["params"], result["flops"]
        run = str(file.parent)
        results[run] = result
        rows.append(
            {
                "run_dir": run,
                "expid": result["expid"],
                "label": config["pruner"],
                "pruner": config["pruner"],
                "compression": float(config["compression"]),
                "density": params["ratio"],
                "dataset": config["dataset"],
                "model_class": config["model_class"],
                "model": config["model"],
                "pre_epochs": config["pre_epochs"],
                "post_epochs": config["post_epochs"],
                "prune_iterations": result["prune_iterations"],
                "seed": config["seed"],
                "top1": result["top1_accuracy"],
                "top5": result["top5_accuracy"],
                "test_time_s": result["test_time_s"],
                "test_time_iqr_s": result["test_time"]["iqr_s"],
                "params_total": params["total"],
                "params_kept": params["kept"],
                "flops_total": flops["total"],
                "flops_remaining": flops["remaining"],
                "flop_ratio": flops["ratio"],
                "collapsed_layers": ", ".join(result["collapsed_layers"]),
                "sample": bool(result["data"].get("sample")),
                "fallback": bool(result["data"].get("fallback")),
            }
        )
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    frame["label"] = _labels(frame)
    frame.attrs["results"] = results
    return frame


def data_label(frame: pd.DataFrame) -> str:
    """A caption prefix saying when the data was not the real, full dataset ("" when it was).

    Example:
        >>> data_label(pd.DataFrame({"sample": [True], "fallback": [False]}))
        'SHIPPED MNIST SAMPLE (10,000/2,000 images) · '
    """
    parts = []
    if frame["fallback"].any():
        parts.append("FALLBACK: MNIST digits standing in for CIFAR-10")
    if frame["sample"].any():
        parts.append("SHIPPED MNIST SAMPLE (10,000/2,000 images)")
    return "".join(f"{part} · " for part in parts)


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    def key(column: str) -> tuple[int, str]:
        base = str(column).split(" ")[0]
        return (PRUNER_ORDER.index(base) if base in PRUNER_ORDER else len(PRUNER_ORDER), str(column))

    return table[sorted(table.columns, key=key)]


def _pivot(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=list(PRUNER_ORDER))
    table = frame.pivot_table(index="compression", columns="label", values=value, aggfunc="mean")
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


def table_flop_ratio(frame: pd.DataFrame, dataset: str | None = None, model: str | None = None) -> pd.DataFrame:
    """Section 1.2.3: remaining FLOPs over the dense model's, compression × pruner."""
    return _pivot(_select(frame, dataset, model), "flop_ratio")


def table_1_1(frame: pd.DataFrame, compression: float = 1.0) -> pd.DataFrame:
    """Section 1.1: top-1 accuracy (%) at one compression, one row per (dataset, model), one column per pruner.

    Args:
        frame: :func:`collect` output.
        compression: The compression exponent of the table (the seed used 1).

    Returns:
        Index ``Data/Arch`` such as ``mnist/fc``; empty if no run has that compression.
    """
    chosen = frame[frame.compression.sub(compression).abs() < 1e-9]
    if chosen.empty:
        return pd.DataFrame(columns=list(PRUNER_ORDER))
    chosen = chosen.assign(arch=chosen.dataset + "/" + chosen.model)
    table = chosen.pivot_table(index="arch", columns="label", values="top1", aggfunc="mean")
    table.columns.name, table.index.name = None, "Data/Arch"
    return _ordered(table)


def layer_compression(frame: pd.DataFrame, target: float = 0.5) -> float:
    """The compression of the per-layer tables: ``target`` if any run has it, else the nearest one the runs have.

    Args:
        frame: :func:`collect` output (not empty).
        target: The wanted compression exponent (the seed's section 2 used 0.5).

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
    """Label → the (first) run directory at exactly ``compression``, or None; labels in the seed's order."""
    chosen: dict[str, str | None] = {}
    for label in _ordered(pd.DataFrame(columns=list(dict.fromkeys(frame.label)))).columns:
        rows = frame[(frame.label == label) & (frame.compression.sub(compression).abs() < 1e-9)]
        chosen[label] = rows.run_dir.iloc[0] if len(rows) else None
    return chosen


def _weight_rows(result: Mapping[str, Any]) -> pd.DataFrame:
    layers = pd.DataFrame(result["layers"])
    return layers[(layers.param == "weight") & layers.prunable].set_index("module")


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
    found = {label: _weight_rows(results[run]) for label, run in runs.items() if run is not None}
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
    return {label: pd.DataFrame(results[run]["histograms"])
            for label, run in runs.items() if run is not None and results[run].get("histograms")}


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
    label: str = "seed",
    *,
    by_pruner: bool = False,
) -> pd.DataFrame:
    """Our table with the seed's numbers beside it: columns ``(pruner, "kit")`` and ``(pruner, label)``.

    Args:
        ours: A table with pruners as columns.
        theirs: Row key → pruner → the seed's value (:mod:`prunekit.report.report_numbers`).
        label: The name of the seed's column.
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
        base = str(pruner).split(" ")[0]  # "synflow (1 iteration)" is compared with the seed's synflow
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


def _cell(value: Any, digits: int) -> str:
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
    shown = table.astype(object).map(lambda v: _cell(v, digits))
    shown.attrs = dict(table.attrs)
    return shown


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table; missing values show as "—".

    Example:
        >>> print(to_markdown(pd.DataFrame({"a": [1.5, None]}, index=pd.Index([1, 2], name="x"))))
        | x | a |
        | --- | ---: |
        | 1 | 1.5 |
        | 2 | — |
    """
    columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in table.columns]
    lines = [
        "| " + " | ".join([str(table.index.name or ""), *columns]) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for index, row in table.iterrows():
        lines.append("| " + " | ".join([_cell(index, digits), *(_cell(v, digits) for v in row.tolist())]) + " |")
    return "\n".join(lines)


def written_summary(frame: pd.DataFrame) -> list[str]:
    """The seed's section 3 in plain sentences, computed from the runs (one per finding).

    Args:
        frame: :func:`collect` output (for example a compression sweep).

    Returns:
        Sentences on the best pruner at each compression, layer collapse, FLOP ratios and
        test time; empty when there is no run.

    Example:
        >>> rows = pd.DataFrame({"label": ["rand", "snip"], "pruner": ["rand", "snip"], "compression": [2.0, 2.0],
        ...     "top1": [10.0, 80.0], "flop_ratio": [0.01, 0.04], "test_time_s": [0.5, 0.5],
        ...     "collapsed_layers": ["fc", ""], "dataset": "mnist", "model": "fc", "sample": False, "fallback": False})
        >>> written_summary(rows)[0]
        'Accuracy (mnist/fc): at compression 2, snip is best (80.00 %), rand worst (10.00 %).'
    """
    sentences: list[str] = []
    if frame.empty:
        return sentences
    for (dataset, model), rows in frame.groupby(["dataset", "model"]):
        arch = f"{dataset}/{model}"
        accuracy = table_accuracy(rows)
        best = [f"at compression {a:g}, {row.idxmax()} is best ({row.max():.2f} %), {row.idxmin()} worst ({row.min():.2f} %)"
                for a, row in accuracy.iterrows() if row.notna().sum() > 1]
        if best:
            sentences.append(f"Accuracy ({arch}): " + "; ".join(best) + ".")
        collapsed = rows[rows.collapsed_layers.astype(str) != ""]
        if collapsed.empty:
            sentences.append(f"Layer collapse ({arch}): none of the {len(rows)} runs emptied a layer.")
        else:
            cases = [f"{r.label} at compression {r.compression:g} ({r.collapsed_layers})" for r in collapsed.itertuples()]
            sentences.append(f"Layer collapse ({arch}): " + "; ".join(cases)
                             + ". A collapsed network cannot pass any signal and stays at chance level.")
        flops = table_flop_ratio(rows)
        shared = flops.index[flops.notna().sum(axis=1) >= 2] if not flops.empty else flops.index
        if len(shared):
            a = shared.max()  # the highest compression that several pruners ran
            order = flops.loc[a].dropna().sort_values(ascending=False)
            if order.iloc[0] - order.iloc[-1] < 1e-3:
                sentences.append(
                    f"FLOPs ({arch}): at compression {a:g} every pruner leaves the same FLOP ratio ({order.iloc[0]:.4f}): "
                    "when every weight costs the same number of multiply-adds "
                    "(one each in a fully connected net), the FLOP ratio is the density, whatever the pruner."
                )
            else:
                sentences.append(
                    f"FLOPs ({arch}): at compression {a:g} the FLOP ratio runs from {order.iloc[0]:.4f} "
                    f"({order.index[0]}) down to {order.iloc[-1]:.4f} ({order.index[-1]}): pruners that keep weights "
                    "in the early, large-activation layers keep more FLOPs at the same density."
                )
        times = rows.test_time_s.astype(float)
        sentences.append(
            f"Test time ({arch}): between {times.min():.4f} s and {times.max():.4f} s per pass over the test set; "
            "masked layers still multiply every weight, so pruning alone does not make inference faster."
        )
    return sentences


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _groups(frame: pd.DataFrame):
    """(dataset, model, rows, caption prefix) per architecture; rows keep the frame's results."""
    for (dataset, model), rows in frame.groupby(["dataset", "model"]):
        rows = rows.copy()
        rows.attrs = frame.attrs
        yield dataset, model, rows, data_label(rows)


def _tables(frame: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    """File stem → (caption, table) for every table the runs can fill."""
    label = data_label(frame)
    tables: dict[str, tuple[str, pd.DataFrame]] = {}
    one_one = table_1_1(frame)
    if not one_one.empty:
        seed_rows = {f"{d}/{m}": v for (d, m), v in seed_numbers.TABLE_1_1.items()}
        tables["table_1_1_accuracy"] = (f"{label}1.1 Top-1 accuracy (%) at compression 1", one_one)
        tables["table_1_1_vs_seed"] = (f"{label}1.1 next to the seed's numbers",
                                       side_by_side(one_one, seed_rows, by_pruner=True))
    for dataset, model, rows, tag in _groups(frame):
        arch = f"{model}/{dataset}"
        seed_arch = (dataset, model) == ("cifar10", "vgg16")
        accuracy, flops = table_accuracy(rows), table_flop_ratio(rows)
        tables[f"table_1_2_1_accuracy_{model}_{dataset}"] = (f"{tag}1.2.1 Top-1 accuracy (%), {arch}", accuracy)
        if seed_arch:
            tables["table_1_2_1_vs_seed"] = (f"{tag}1.2.1 next to the seed's numbers",
                                             side_by_side(accuracy, seed_numbers.TABLE_1_2_1))
        tables[f"table_1_2_2_test_time_{model}_{dataset}"] = (
            f"{tag}1.2.2 Test time (s, median of one pass over the test set), {arch}", table_test_time(rows))
        tables[f"table_1_2_3_flop_ratio_{model}_{dataset}"] = (
            f"{tag}1.2.3 FLOP ratio (remaining / dense), {arch}", flops)
        if seed_arch:
            tables["table_1_2_3_vs_seed"] = (f"{tag}1.2.3 next to the seed's numbers",
                                             side_by_side(flops, seed_numbers.TABLE_1_2_3))
        density, layer_flops = table_layer_density(rows), table_layer_flops(rows)
        at = f"compression {layer_compression(rows):g}"
        tables[f"table_2_1_layer_density_{model}_{dataset}"] = (f"{tag}2.1 Density per layer at {at}, {arch}", density)
        tables[f"table_2_2_layer_flops_{model}_{dataset}"] = (f"{tag}2.2 Weight FLOPs per layer at {at}, {arch}",
                                                              layer_flops)
        if seed_arch and layer_compression(rows) == 0.5:
            tables["table_2_2_vs_seed"] = (f"{tag}2.2 next to the seed's numbers",
                                           side_by_side(layer_flops, seed_numbers.TABLE_2_2))
    runs = frame[["expid", "label", "compression", "dataset", "model", "pre_epochs", "post_epochs",
                  "prune_iterations", "top1", "test_time_s", "flop_ratio", "collapsed_layers", "sample", "fallback"]]
    tables["runs"] = (f"{label}Every run", runs.set_index("expid"))
    return tables


def _slug(text: str) -> str:
    """A file-name-safe form of a label: ``"synflow (1 iteration)"`` → ``"synflow_1_iteration"``."""
    return "_".join("".join(c if c.isalnum() or c == "." else " " for c in str(text)).split())


def figures(frame: pd.DataFrame) -> dict[str, Any]:
    """The seed's figures from saved runs, per architecture, each title labelled when the data was not real.

    Args:
        frame: :func:`collect` output.

    Returns:
        File stem → matplotlib figure: ``accuracy_vs_compression_<model>_<dataset>`` (with two or more
        compressions; the seed's points as references for VGG16/CIFAR-10), ``layer_density_…``,
        ``weight_histograms_<pruner>_…`` (runs saved with histograms) and ``layer_flops_…``, the
        per-layer ones at :func:`layer_compression`. Empty without runs.
    """
    drawn: dict[str, Any] = {}
    for dataset, model, rows, tag in _groups(frame):
        arch, suffix = f"{model}/{dataset}", f"{model}_{dataset}"
        accuracy = table_accuracy(rows)
        if len(accuracy.index) > 1:
            reference = pd.DataFrame.from_dict(seed_numbers.TABLE_1_2_1, orient="index")
            drawn[f"accuracy_vs_compression_{suffix}"] = plots_report.plot_accuracy_vs_compression(
                accuracy, reference=reference if (dataset, model) == ("cifar10", "vgg16") else None,
                title=f"{tag}Top-1 accuracy against compression, {arch}")
        at = f"compression {layer_compression(rows):g}"
        density = table_layer_density(rows).dropna(axis=1, how="all")
        if not density.empty:
            kept = density.rename_axis("module").reset_index().melt(id_vars="module", var_name="label",
                                                                    value_name="density")
            kept["kept"] = (kept.density > 0).astype(int)  # only "is the layer empty?" is read from it
            drawn[f"layer_density_{suffix}"] = plots_lessons.plot_layer_density(
                kept, title=f"{tag}Density per layer, {arch}, {at}")
        for pruner, histograms in run_histograms(rows).items():
            drawn[f"weight_histograms_{_slug(pruner)}_{suffix}"] = plots_report.plot_weight_histograms_3d(
                histograms, title=f"{tag}{pruner}: weight histograms, {arch}, {at}")
        layer_flops = table_layer_flops(rows).dropna(axis=1, how="all")
        if not layer_flops.empty:
            drawn[f"layer_flops_{suffix}"] = plots_report.plot_layer_flops(
                layer_flops, title=f"{tag}Weight FLOPs per layer, {arch}, {at}")
    return drawn


def write_report(folder: str | Path, out_dir: str | Path, *, title: str = "prunekit report") -> Path:
    """Writes the seed's tables (Markdown and CSV), figures (PNG) and one self-contained HTML page.

    Args:
        folder: Where the runs are (see :func:`collect`).
        out_dir: Where the report goes (created).
        title: The page title.

    Returns:
        The path of ``report.html``.

    Raises:
        FileNotFoundError: If there is no finished run below ``folder``.
        ValueError: If a result has an incompatible schema.
    """
    frame = collect(folder)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = _tables(frame)
    drawn = figures(frame)
    markdown = [f"# {title}", "", f"{len(frame)} run(s) from `{folder}`.", ""]
    if data_label(frame):
        markdown += [f"**{data_label(frame).rstrip(' ·')}**: these are not results on the full real dataset.", ""]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{len(frame)} run(s) from <code>{html.escape(str(folder))}</code>.</p>"]
    if data_label(frame):
        body.append(f'<p class="warn">{html.escape(data_label(frame).rstrip(" ·"))}: '
                    "these are not results on the full real dataset.</p>")
    for stem, (caption, table) in tables.items():
        with atomic_write(out / f"{stem}.csv") as handle:
            table.to_csv(handle)
        markdown += [f"## {caption}", "", to_markdown(table), ""]
        body += [f"<h2>{html.escape(caption)}</h2>",
                 for_display(table).to_html(border=0)]
    summary = written_summary(frame)
    if summary:
        markdown += ["## Summary", "", *[f"- {line}" for line in summary], ""]
        body += ["<h2>Summary</h2><ul>", *[f"<li>{html.escape(line)}</li>" for line in summary], "</ul>"]
    for stem, figure in drawn.items():
        png = _png(figure)  # drawn once: the same bytes go to the file and into the page
        with atomic_write(out / f"{stem}.png", "wb") as handle:
            handle.write(png)
        markdown += [f"![{stem}]({stem}.png)", ""]
        heading = figure.axes[0].get_title() if figure.axes else stem
        body += [f"<h2>{html.escape(stem.replace('_', ' '))}</h2>",
                 f'<img alt="{html.escape(heading)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">']
    with atomic_write(out / "report.md") as handle:
        handle.write("\n".join(markdown))
    style = ("body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
             "td,th{padding:2px 8px;text-align:right;border-bottom:1px solid #ccc}img{max-width:100%}"
             ".warn{font-weight:bold;border:2px solid black;padding:6px}")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
    with atomic_write(out / "report.html") as handle:
        handle.write(page)
    return out / "report.html"


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit report <folder> [--out DIR]``.

    Returns:
        0 on success; 2 when the folder holds no run or an incompatible one.
    """
    parser = argparse.ArgumentParser(prog="prunekit report", description="The seed's tables and figures from runs.")
    parser.add_argument("folder", help="a sweep folder, results folder or run folder")
    parser.add_argument("--out", default=None, help="where the report goes (default: <folder>/report)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    out = Path(args.out) if args.out else Path(args.folder) / "report"
    try:
        page = write_report(args.folder, out)
    except (FileNotFoundError, ValueError) as error:
        print(f"prunekit report: {error}", file=sys.stderr)
        return 2
    print((out / "report.md").read_text(encoding="utf-8"))
    print(f"\nwrote {page} and the tables (.md, .csv) and figures (.png) beside it")
    return 0
