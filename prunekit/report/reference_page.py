"""The report's "Reference set" section: the set's tables and figures, and the report's own numbers beside them.

:func:`reference_tables` lists every table (the kit's from :mod:`prunekit.report.reference_view`, then the
report's own, each separately titled); :func:`reference_figures` draws the set; :func:`reference_html`
renders both as HTML (tables scroll inside their own box, never truncated). The report's cells that need
CIFAR-10 and a GPU (table 1.1's CIFAR-10 row, tables 1.2.1 and 1.2.2) are labelled as not reproduced here,
with the ``prunekit sweep`` command that would reproduce them.

Example:
    >>> [t.stem for t in report_tables()]
    ['report_table_1_1', 'report_table_1_2_1', 'report_table_1_2_2', 'report_table_2_2']
"""

from __future__ import annotations

import base64
import html
import io

import pandas as pd
from matplotlib.figure import Figure

from prunekit.report.plots import plot_accuracy_vs_compression, plot_layer_density_heatmap, plot_layer_flops
from prunekit.report.reference_view import (
    NOT_COMPUTED,
    ReferenceSet,
    TitledTable,
    caption_tag,
    flop_ratio_series,
    iterative_table,
    mnist_row_table,
    sweep_accuracy_table,
    sweep_series,
    vgg_flop_ratio_tables,
    vgg_layer_density,
    vgg_layer_flops,
    vgg_layer_tables,
    vgg_setting_names,
)
from prunekit.report.report_numbers import PRUNERS, TABLE_1_1, TABLE_1_2_1, TABLE_1_2_2, TABLE_1_2_3, TABLE_2_2
from prunekit.run.presets import get_preset

__all__ = ["NOT_REPRODUCED", "figure_png", "reference_figures", "reference_html", "reference_tables", "report_tables",
           "table_html"]

NOT_REPRODUCED = "from the report, not reproduced here (needs CIFAR-10 and a GPU)"


def _command(preset: str, *extra: str) -> str:
    name = get_preset(preset).name  # raises if the preset is renamed
    return " ".join(["prunekit sweep", f"--name {name}", f"--preset {name}", "--pruners", *PRUNERS, *extra,
                     "--override synflow:rounds=1", "--seeds 1 2 3"])


def _numbers(values: dict, digits: int, index: str) -> pd.DataFrame:
    table = pd.DataFrame({str(key if isinstance(key, str) else f"{key:g}"): {p: f"{row[p]:,.{digits}f}" for p in row}
                          for key, row in values.items()}).T
    return table.rename(columns={"synflow": "synflow (1 round)"}).rename_axis(index)


def report_tables() -> list[TitledTable]:
    """The report's own tables 1.1, 1.2.1, 1.2.2 and 2.2, each titled as the report's (one run per cell).

    Returns:
        The tables; the CIFAR-10 / VGG16 training results are labelled :data:`NOT_REPRODUCED`, with the command.
    """
    one_one = _numbers({"MNIST / FC": TABLE_1_1[("mnist", "fc")],
                        f"CIFAR-10 / VGG16: {NOT_REPRODUCED}": TABLE_1_1[("cifar10", "vgg16")]}, 2,
                       "data / architecture")
    sweep = f"To reproduce it (CIFAR-10 in data/, a GPU): `{_command('report-sweep')}`"
    return [
        TitledTable("report_table_1_1", "Table 1.1 as published in the report: top-1 accuracy (%) at compression 1, "
                    "one run per cell, SynFlow with 1 round, Mag pre-trained (20 epochs on MNIST, 200 on CIFAR-10)",
                    one_one, "To reproduce the CIFAR-10 / VGG16 row (CIFAR-10 in data/, a GPU): "
                    f"`{_command('report-cifar', '--compressions 1')}`"),
        TitledTable("report_table_1_2_1", f"Table 1.2.1, VGG16 / CIFAR-10 top-1 accuracy (%), one run per cell: "
                    f"{NOT_REPRODUCED}", _numbers(TABLE_1_2_1, 2, "compression a"), sweep),
        TitledTable("report_table_1_2_2", "Table 1.2.2, VGG16 / CIFAR-10 test time (s, one pass over the test set), "
                    f"one run per cell: {NOT_REPRODUCED}", _numbers(TABLE_1_2_2, 3, "compression a"), sweep),
        TitledTable("report_table_2_2", "Table 2.2 as published in the report: VGG16 per-layer weight FLOPs at "
                    "compression 0.5 (Mag pre-trained 200 epochs, SNIP and GraSP on CIFAR-10, SynFlow 1 round)",
                    _numbers(TABLE_2_2, 0, "layer")),
    ]


def reference_tables(reference: ReferenceSet) -> list[TitledTable]:
    """Every table of the set in the report's order, each kit table followed by the report's own.

    Args:
        reference: :func:`~prunekit.report.reference_view.load_reference` output; missing parts are skipped.

    Returns:
        The tables.
    """
    report = {t.stem: t for t in report_tables()}
    out = [mnist_row_table(reference.mnist_row)] if reference.mnist_row is not None else []
    out.append(report["report_table_1_1"])
    if reference.mnist_sweep is not None:
        out.append(sweep_accuracy_table(reference.mnist_sweep))
    out += [report["report_table_1_2_1"], report["report_table_1_2_2"]]
    if reference.vgg16_init is not None:
        out += vgg_flop_ratio_tables(reference.vgg16_init) + vgg_layer_tables(reference.vgg16_init)
    out.append(report["report_table_2_2"])
    return out + ([iterative_table(reference.iterative)] if reference.iterative is not None else [])


def reference_figures(reference: ReferenceSet) -> dict[str, Figure]:
    """The set's figures: accuracy against compression (MNIST / FC), and for VGG16 at initialization the FLOP
    ratio against compression (the report's Rand and SynFlow 1 round dotted), density per layer (heatmap) and
    weight FLOPs per layer (linear axis).

    Args:
        reference: The set; a missing part draws nothing.

    Returns:
        File stem → figure.
    """
    drawn: dict[str, Figure] = {}
    if reference.mnist_sweep is not None:
        part, series = reference.mnist_sweep, sweep_series(reference.mnist_sweep)
        seeds = int(part.summary.seeds.max())
        drawn["reference_accuracy_vs_compression_fc_mnist"] = plot_accuracy_vs_compression(
            series.mean, spread=series.std, collapsed=series.collapsed, disconnected=series.disconnected,
            title=f"{caption_tag(part)}MNIST / FC: top-1 accuracy against compression, mean over {seeds} seed(s), "
                  "band ± std")
    if reference.vgg16_init is not None:
        part, names = reference.vgg16_init, vgg_setting_names(reference.vgg16_init)
        tag = caption_tag(part)
        mean, std = flop_ratio_series(part)
        report = pd.DataFrame.from_dict(TABLE_1_2_3, orient="index")[["rand", "synflow"]]
        drawn["reference_flop_ratio_vgg16"] = plot_accuracy_vs_compression(
            mean, spread=std, reference=report.rename(columns={"synflow": "synflow-r1"}),
            ylabel="FLOP ratio (remaining / dense)",
            title=f"{tag}VGG16 masks at initialization: FLOP ratio against compression (report dotted)")
        density = vgg_layer_density(part)
        drawn["reference_layer_density_vgg16"] = plot_layer_density_heatmap(
            density.rename(index=names), title=f"{tag}VGG16 density per layer, masks at initialization, compression 0.5")
        drawn["reference_layer_flops_vgg16"] = plot_layer_flops(
            vgg_layer_flops(part), title=f"{tag}VGG16 weight FLOPs per layer, masks at initialization, compression 0.5")
    return drawn


def _note_html(note: str) -> str:
    pieces = note.split("`")
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(pieces))


def table_html(table: TitledTable) -> str:
    """A titled table as HTML: title, the whole table in a horizontally scrolling box, its note.

    Example:
        >>> t = TitledTable("x", "Title", pd.DataFrame({"a": ["1.00 ± 0.10"]}), "run `make reference`")
        >>> "<code>make reference</code>" in table_html(t) and "1.00 ± 0.10" in table_html(t)
        True
    """
    note = f'<p class="note">{_note_html(table.note)}</p>' if table.note else ""
    return (f"<h3>{html.escape(table.title)}</h3><div class=\"scroll\">"
            f"{table.table.to_html(border=0, max_rows=None, max_cols=None)}</div>{note}")


def reference_html(reference: ReferenceSet, figures: dict[str, bytes]) -> str:
    """The "Reference set" section: what is missing, the tables, then the figures (PNG bytes, inlined).

    Args:
        reference: The set.
        figures: File stem → PNG bytes (e.g. of :func:`reference_figures`).

    Returns:
        HTML.
    """
    body = ["<h2>Reference set</h2>",
            f"<p>From <code>{html.escape(str(reference.folder))}</code> (the committed results of "
            "<code>make reference</code>; mean ± std over seeds).</p>"]
    body += [f'<p class="warn">{html.escape(part)}: {_note_html(NOT_COMPUTED)}</p>' for part in reference.missing()]
    body += [table_html(t) for t in reference_tables(reference)]
    for stem, png in figures.items():
        body += [f"<h3>{html.escape(stem.replace('_', ' '))}</h3>",
                 f'<img alt="{html.escape(stem)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">']
    return "".join(body)


def figure_png(figure: Figure) -> bytes:
    """The figure as PNG bytes (110 dpi, cropped to what is drawn)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()
