"""The report as files: Markdown and CSV tables, PNG figures, one self-contained HTML page; ``prunekit report``.

:func:`write_report` collects the runs below a folder (:func:`~prunekit.report.collect.collect`),
shapes the report's tables (:mod:`prunekit.report.tables`), writes the findings in plain sentences
(:func:`written_summary`) and draws the figures (:func:`figures`). Runs on the shipped MNIST
sample or on the labelled CIFAR-10 fallback are marked in every table caption and figure title.
The page ends with the "Reference set" section (:mod:`prunekit.report.reference_page`), read from the
clone's ``reference/`` unless another folder is given (``--reference DIR``).

Example:
    >>> page = write_report("results/notebooks", "out/report")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import base64
import html
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from prunekit.report.collect import SkippedResultWarning, collect, data_label, data_sentence
from prunekit.report.conservation import experiment_figures
from prunekit.report.plots import plot_accuracy_vs_compression, plot_layer_flops, plot_weight_histograms_3d
from prunekit.report.reference_page import figure_png, reference_figures, reference_html, reference_tables
from prunekit.report.reference_view import NOT_COMPUTED, default_reference_dir, load_reference
from prunekit.report.report_numbers import TABLE_1_1, TABLE_1_2_1, TABLE_1_2_3, TABLE_2_2
from prunekit.report.shared_figures import plot_layer_density
from prunekit.report.tables import (
    format_cell,
    for_display,
    layer_compression,
    run_histograms,
    side_by_side,
    table_1_1,
    table_accuracy,
    table_disconnected,
    table_flop_ratio,
    table_layer_density,
    table_layer_flops,
    table_test_time,
)
from prunekit.run.io import atomic_write

__all__ = ["figures", "main", "to_markdown", "write_report", "written_summary"]


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
        lines.append("| " + " | ".join([format_cell(index, digits), *(format_cell(v, digits) for v in row.tolist())]) + " |")
    return "\n".join(lines)


def written_summary(frame: pd.DataFrame) -> list[str]:
    """The report's section 3 in plain sentences, computed from the runs (one per finding).

    Args:
        frame: :func:`collect` output (for example a compression sweep).

    Returns:
        Sentences on the best pruner at each compression, layer collapse, FLOP ratios and
        test time; empty when there is no run.

    Example:
        >>> rows = pd.DataFrame({"label": ["rand", "snip"], "pruner": ["rand", "snip"], "compression": [2.0, 2.0],
        ...     "top1": [10.0, 80.0], "flop_ratio": [0.01, 0.04], "test_time_s": [0.5, 0.5],
        ...     "collapsed_layers": ["fc", ""], "dataset": "mnist", "model": "fc", "origin": "full"})
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
        if "disconnected" in rows:
            cut = rows[rows.disconnected.eq(True) & (rows.collapsed_layers.astype(str) == "")]
            if not cut.empty:
                cases = [f"{r.label} at compression {r.compression:g} (seed {r.seed})" for r in cut.itertuples()]
                sentences.append(f"Disconnection ({arch}): " + "; ".join(cases) + ". Every layer kept weights, but "
                                 "no path from input to output is left, so the network stays at chance level.")
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
    return figure_png(figure)


def _groups(frame: pd.DataFrame):
    """(dataset, model, rows, caption prefix) per architecture; rows keep the frame's results."""
    for (dataset, model), rows in frame.groupby(["dataset", "model"]):
        rows = rows.copy()
        rows.attrs = frame.attrs
        yield dataset, model, rows, data_label(rows)


def _setting(rows: pd.DataFrame) -> str:
    """The training setting the rows share, e.g. ``"post 5 epochs (mag: pre 1), 1 seed"``; ranges where they differ."""
    def span(values: pd.Series) -> str:
        low, high = int(values.min()), int(values.max())
        return f"{low}" if low == high else f"{low}–{high}"

    text = f"post {span(rows.post_epochs)} epochs"
    pre = rows[rows.pre_epochs > 0]
    if len(pre):
        text += f" ({'/'.join(sorted(set(pre.pruner)))}: pre {span(pre.pre_epochs)})"
    seeds = rows.groupby(["label", "compression"]).size().max() if len(rows) else 0
    return f"{text}, {seeds} seed{'s' if seeds != 1 else ''}"


def _tables(frame: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    """File stem → (caption, table) for every table the runs can fill; each caption names the runs' setting."""
    label = data_label(frame)
    tables: dict[str, tuple[str, pd.DataFrame]] = {}
    one_one = table_1_1(frame)
    if not one_one.empty:
        report_rows = {f"{d}/{m}": v for (d, m), v in TABLE_1_1.items()}
        at_one = frame[frame.compression == 1.0]
        tables["table_1_1_accuracy"] = (f"{label}1.1 Top-1 accuracy (%) at compression 1; {_setting(at_one)}", one_one)
        tables["table_1_1_vs_report"] = (
            f"{label}1.1 beside the report's numbers: different settings (the kit's runs: {_setting(at_one)}; the "
            "report's: its own epochs, 20 to 150 on MNIST, and SynFlow in 1 round)",
            side_by_side(one_one, report_rows, by_pruner=True))
    for dataset, model, rows, tag in _groups(frame):
        arch = f"{model}/{dataset}, {_setting(rows)}"
        report_arch = (dataset, model) == ("cifar10", "vgg16")
        accuracy, flops = table_accuracy(rows), table_flop_ratio(rows)
        tables[f"table_1_2_1_accuracy_{model}_{dataset}"] = (f"{tag}1.2.1 Top-1 accuracy (%), {arch}", accuracy)
        if report_arch:
            tables["table_1_2_1_vs_report"] = (f"{tag}1.2.1 next to the report's numbers",
                                             side_by_side(accuracy, TABLE_1_2_1))
        tables[f"table_1_2_2_test_time_{model}_{dataset}"] = (
            f"{tag}1.2.2 Test time (s, median of one pass over the test set), {arch}", table_test_time(rows))
        tables[f"table_1_2_3_flop_ratio_{model}_{dataset}"] = (
            f"{tag}1.2.3 FLOP ratio (remaining / dense), {arch}", flops)
        tables[f"disconnected_{model}_{dataset}"] = (
            f"{tag}Share of runs left with no path from input to output (disconnected; 1 = every seed), {arch}",
            table_disconnected(rows))
        if report_arch:
            tables["table_1_2_3_vs_report"] = (f"{tag}1.2.3 next to the report's numbers",
                                             side_by_side(flops, TABLE_1_2_3))
        density, layer_flops = table_layer_density(rows), table_layer_flops(rows)
        at = f"compression {layer_compression(rows):g}"
        tables[f"table_2_1_layer_density_{model}_{dataset}"] = (f"{tag}2.1 Density per layer at {at}, {arch}", density)
        tables[f"table_2_2_layer_flops_{model}_{dataset}"] = (f"{tag}2.2 Weight FLOPs per layer at {at}, {arch}",
                                                              layer_flops)
        if report_arch and layer_compression(rows) == 0.5:
            tables["table_2_2_vs_report"] = (f"{tag}2.2 next to the report's numbers",
                                           side_by_side(layer_flops, TABLE_2_2))
    runs = frame[["expid", "label", "compression", "dataset", "model", "pre_epochs", "post_epochs",
                  "rounds", "top1", "test_time_s", "flop_ratio", "collapsed_layers", "disconnected", "origin"]]
    tables["runs"] = (f"{label}Every run", runs.set_index("expid"))
    return tables


def _slug(text: str) -> str:
    """A file-name-safe form of a label: ``"synflow (1 iteration)"`` → ``"synflow_1_iteration"``."""
    return "_".join("".join(c if c.isalnum() or c == "." else " " for c in str(text)).split())


def figures(frame: pd.DataFrame) -> dict[str, Any]:
    """The report's figures from saved runs, per architecture, each title labelled when the data was not real.

    Args:
        frame: :func:`collect` output.

    Returns:
        File stem → matplotlib figure: ``accuracy_vs_compression_<model>_<dataset>`` (with two or more
        compressions; the report's points as references for VGG16/CIFAR-10), ``layer_density_…``,
        ``weight_histograms_<pruner>_…`` (runs saved with histograms) and ``layer_flops_…``, the
        per-layer ones at :func:`layer_compression`. Empty without runs.
    """
    drawn: dict[str, Any] = {}
    for dataset, model, rows, tag in _groups(frame):
        arch, suffix = f"{model}/{dataset}", f"{model}_{dataset}"
        accuracy = table_accuracy(rows)
        if len(accuracy.index) > 1:
            reference = pd.DataFrame.from_dict(TABLE_1_2_1, orient="index")
            drawn[f"accuracy_vs_compression_{suffix}"] = plot_accuracy_vs_compression(
                accuracy, reference=reference if (dataset, model) == ("cifar10", "vgg16") else None,
                title=f"{tag}Top-1 accuracy against compression, {arch}")
        at = f"compression {layer_compression(rows):g}"
        density = table_layer_density(rows).dropna(axis=1, how="all")
        if not density.empty:
            kept = density.rename_axis("module").reset_index().melt(id_vars="module", var_name="label",
                                                                    value_name="density")
            kept["kept"] = (kept.density > 0).astype(int)  # only "is the layer empty?" is read from it
            drawn[f"layer_density_{suffix}"] = plot_layer_density(
                kept, title=f"{tag}Density per layer, {arch}, {at}")
        for pruner, histograms in run_histograms(rows).items():
            drawn[f"weight_histograms_{_slug(pruner)}_{suffix}"] = plot_weight_histograms_3d(
                histograms, title=f"{tag}{pruner}: weight histograms, {arch}, {at}")
        layer_flops = table_layer_flops(rows).dropna(axis=1, how="all")
        if not layer_flops.empty:
            drawn[f"layer_flops_{suffix}"] = plot_layer_flops(
                layer_flops, title=f"{tag}Weight FLOPs per layer, {arch}, {at}")
    return drawn


def _reference_section(reference: str | Path | None, out: Path) -> tuple[list[str], str]:
    """The "Reference set" section (Markdown lines, HTML), its tables and figures written to ``out``."""
    folder = Path(reference) if reference is not None else default_reference_dir()
    if folder is None:
        note = "No reference set found (a clone's reference/ folder; pass --reference DIR)."
        return ["## Reference set", "", note, ""], f"<h2>Reference set</h2><p>{html.escape(note)}</p>"
    loaded = load_reference(folder)
    markdown = ["## Reference set", "", f"From `{folder}`; mean ± std over seeds.", ""]
    markdown += [f"**{part}: {NOT_COMPUTED}**" for part in loaded.missing()] + [""]
    for table in reference_tables(loaded):
        with atomic_write(out / f"{table.stem}.csv") as handle:
            table.table.to_csv(handle)
        markdown += [f"### {table.title}", "", to_markdown(table.table), ""] + ([table.note, ""] if table.note else [])
    pngs = {stem: _png(figure) for stem, figure in reference_figures(loaded).items()}
    for stem, png in pngs.items():
        with atomic_write(out / f"{stem}.png", "wb") as handle:
            handle.write(png)
        markdown += [f"![{stem}]({stem}.png)", ""]
    return markdown, reference_html(loaded, pngs)


def write_report(
    folder: str | Path,
    out_dir: str | Path,
    *,
    title: str = "prunekit report",
    reference: str | Path | None = None,
    with_reference: bool = True,
) -> Path:
    """Writes the report's tables (Markdown and CSV), figures (PNG) and one self-contained HTML page.

    The page ends with the "Reference set" section (:mod:`prunekit.report.reference_page`): the committed
    reference results' tables and figures beside the report's numbers.

    Args:
        folder: Where the runs are (see :func:`collect`).
        out_dir: Where the report goes (created).
        title: The page title.
        reference: The reference folder; default the clone's ``reference/`` (the section says when there is none).
        with_reference: False leaves the section out.

    Returns:
        The path of ``report.html``.

    Multishot and conservation results (``experiment.json``) below ``folder`` add one figure each
    (:mod:`prunekit.report.conservation`).

    Raises:
        FileNotFoundError: If there is no finished run below ``folder``, or ``reference`` is not a folder.
        ValueError: If a result has an incompatible schema.
    """
    experiments = experiment_figures(folder)  # multishot and conservation runs (experiment.json)
    frame = collect(folder, allow_empty=bool(experiments))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = _tables(frame) if len(frame) else {}
    drawn = {**(figures(frame) if len(frame) else {}), **experiments}
    markdown = [f"# {title}", "", f"{len(frame)} run(s) from `{folder}`. {data_sentence(frame)}", ""]
    if data_label(frame):
        markdown += [f"**{data_label(frame).rstrip(' ·')}**: these are not results on the full real dataset.", ""]
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p>{len(frame)} run(s) from <code>{html.escape(str(folder))}</code>. "
            f"{html.escape(data_sentence(frame))}</p>"]
    if data_label(frame):
        body.append(f'<p class="warn">{html.escape(data_label(frame).rstrip(" ·"))}: '
                    "these are not results on the full real dataset.</p>")
    for stem, (caption, table) in tables.items():
        with atomic_write(out / f"{stem}.csv") as handle:
            table.to_csv(handle)
        markdown += [f"## {caption}", "", to_markdown(table), ""]
        body += [f"<h2>{html.escape(caption)}</h2>",
                 f'<div class="scroll">{for_display(table).to_html(border=0, max_rows=None, max_cols=None)}</div>']
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
    if with_reference:
        lines, section = _reference_section(reference, out)
        markdown += lines
        body.append(section)
    with atomic_write(out / "report.md") as handle:
        handle.write("\n".join(markdown))
    style = ("body{font-family:sans-serif;max-width:84em;margin:auto;padding:0 1em}table{border-collapse:collapse}"
             "td,th{padding:2px 8px;text-align:right;border-bottom:1px solid #ccc;vertical-align:top}"
             "td{white-space:nowrap}th{max-width:16em}img{max-width:100%}.scroll{overflow-x:auto;max-width:100%}"
             "code{white-space:pre-wrap;word-break:break-word}.note{font-size:90%}"
             ".warn{font-weight:bold;border:2px solid black;padding:6px}")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
    with atomic_write(out / "report.html") as handle:
        handle.write(page)
    return out / "report.html"


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit report <folder> [--out DIR] [--reference DIR | --no-reference]``.

    Returns:
        0 on success; 2 when the folder holds no run or an incompatible one.
    """
    parser = argparse.ArgumentParser(prog="prunekit report", description="The report's tables and figures from runs.")
    parser.add_argument("folder", help="a sweep folder, results folder or run folder")
    parser.add_argument("--out", default=None, help="where the report goes (default: <folder>/report)")
    parser.add_argument("--reference", default=None, metavar="DIR",
                        help="the reference set's folder (default: the clone's reference/, if there is one)")
    parser.add_argument("--no-reference", action="store_true", help="leave the reference set's section out")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    out = Path(args.out) if args.out else Path(args.folder) / "report"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SkippedResultWarning)
            page = write_report(args.folder, out, reference=args.reference, with_reference=not args.no_reference)
    except (FileNotFoundError, ValueError) as error:
        print(f"prunekit report: {error}", file=sys.stderr)
        return 2
    finally:
        for warning in caught:  # a skipped file is one plain line; other warnings as Python shows them
            if issubclass(warning.category, SkippedResultWarning):
                print(f"prunekit report: {warning.message}", file=sys.stderr)
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    print((out / "report.md").read_text(encoding="utf-8"))
    print(f"\nwrote {page} and the tables (.md, .csv) and figures (.png) beside it")
    return 0
