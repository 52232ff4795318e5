"""The reference set's tables, figures and report section, from a tiny real ``prunekit reference`` run.

The fixture runs the same function as ``prunekit reference --smoke`` (:func:`prunekit.run.reference.run_reference`)
at a smaller scale: 2 seeds (so "mean ± std" has a std), no training epochs, compressions 0.5 and 2.5
(where some FC masks collapse or disconnect and some do not), and four VGG16 settings at compression 0.5.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from prunekit import report
from prunekit.report import reference_page as page
from prunekit.report import reference_view as rv
from prunekit.report.plots import plot_layer_flops
from prunekit.report.reference import compare_flop_ratios
from prunekit.report.shared_figures import setting_color
from prunekit.run import sweep
from prunekit.run.reference import run_reference
from prunekit.run.reference_parts import Scale

SCALE = Scale("smoke", (1, 2), (0.5, 2.5), (0.5,), epochs=0, train_limit=256, test_limit=200,
              vgg_settings=("rand", "mag-init", "snip", "synflow-r1"), iterative_compressions=(2.0,))
ROW_COLUMNS = ["rand", "mag", "snip", "grasp", "synflow-r100 (100 rounds, the kit's default)",
               "synflow-r1 (1 round, the report's setting)"]
PM = re.compile(r"^\d[\d,]*\.\d+ ± \d[\d,]*\.\d+( \((collapsed|disconnected|diverged) in \d/2 seeds.*\))?$")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(reference folder, work folder) of a real reference run at :data:`SCALE`."""
    scratch = tmp_path_factory.mktemp("reference")
    run_reference(jobs=1, scale=SCALE, out=scratch / "reference", work=scratch / "work", log=lambda line: None)
    compare_flop_ratios(scratch / "reference" / "vgg16-init")
    return scratch / "reference", scratch / "work"


@pytest.fixture(scope="module")
def ref(built: tuple[Path, Path]) -> rv.ReferenceSet:
    return rv.load_reference(built[0])


@pytest.fixture(scope="module")
def drawn(ref: rv.ReferenceSet) -> dict:
    return page.reference_figures(ref)


def test_loader_reads_the_parts_and_marks_a_missing_one(built, ref, tmp_path: Path) -> None:
    assert ref.missing() == []
    assert ref.mnist_sweep.scale == "smoke" and len(ref.mnist_sweep.runs) == 6 * 2 * 2
    assert list(ref.mnist_row.summary.setting) == ["rand", "mag", "snip", "grasp", "synflow-r100", "synflow-r1"]
    assert list(ref.vgg16_init.flop_summary.setting) == ["rand", "mag-init", "snip", "synflow-r1"]
    partial = tmp_path / "partial"
    shutil.copytree(built[0], partial)
    shutil.rmtree(partial / "mnist-row")
    (partial / "vgg16-init" / "layers_summary.csv").unlink()
    loaded = rv.load_reference(partial)
    assert loaded.mnist_row is None and loaded.vgg16_init is None and loaded.mnist_sweep is not None
    assert loaded.missing() == ["mnist-row", "vgg16-init"]
    shutil.rmtree(partial / "iterative")
    assert rv.load_reference(partial).missing() == ["mnist-row", "vgg16-init", "iterative"]
    with pytest.raises(FileNotFoundError, match="make reference"):
        rv.load_reference(tmp_path / "nowhere")


def test_mnist_row_table_one_row_one_column_per_setting_mean_pm_std(ref) -> None:
    table = rv.mnist_row_table(ref.mnist_row)
    assert table.table.columns.tolist() == ROW_COLUMNS
    assert table.table.index.tolist() == ["MNIST / FC"]
    assert table.title.startswith("SMOKE SCALE, not the reference numbers · Table 1.1, MNIST row")
    assert "compression 1, mean ± std over 2 seeds" in table.title
    summary = ref.mnist_row.summary
    for column, row in zip(ROW_COLUMNS, summary.itertuples()):
        cell = table.table.loc["MNIST / FC", column]
        assert PM.match(cell), cell
        assert cell.startswith(f"{row.top1_mean:.2f} ± {row.top1_std:.2f}")
        assert ("collapsed in" in cell) == (row.runs_collapsed > 0)
        assert ("disconnected in" in cell) == (row.runs_disconnected > 0)


def test_the_reports_tables_are_apart_and_the_cifar_row_names_its_command(tmp_path: Path) -> None:
    tables = {t.stem: t for t in page.report_tables()}
    one_one = tables["report_table_1_1"]
    assert one_one.title.startswith("Table 1.1 as published in the report")
    assert one_one.table.index.tolist() == [
        "MNIST / FC", "CIFAR-10 / VGG16: from the report, not reproduced here (needs CIFAR-10 and a GPU)"]
    assert one_one.table.loc["MNIST / FC", "synflow (1 round)"] == "11.35"
    command = one_one.note.split("`")[1]
    assert command == ("prunekit sweep --name report-cifar --preset report-cifar --pruners rand mag snip grasp "
                       "synflow --compressions 1 --override synflow:rounds=1 --seeds 1 2 3")
    words = command.split()[2:] + ["--dry-run", "--result-dir", str(tmp_path)]
    assert sweep.main(words) == 0, "the printed command is one prunekit sweep accepts"
    assert "--preset report-sweep" in tables["report_table_1_2_1"].note
    assert "not reproduced here" in tables["report_table_1_2_2"].title
    assert tables["report_table_1_2_1"].table.loc["2", "mag"] == "42.61"


def test_sweep_table_compression_by_setting(ref) -> None:
    table = rv.sweep_accuracy_table(ref.mnist_sweep)
    assert table.table.index.tolist() == ["0.5", "2.5"] and table.table.columns.tolist() == ROW_COLUMNS
    assert all(PM.match(cell) for cell in table.table.to_numpy().ravel())
    assert "MNIST / FC: top-1 accuracy (%) against compression" in table.title and "2 seeds" in table.title
    summary = ref.mnist_sweep.summary
    marked = sum("collapsed in" in cell for cell in table.table.to_numpy().ravel())
    assert marked == int((summary.runs_collapsed > 0).sum())


def test_vgg_tables_label_fallback_and_mag_at_initialization(ref) -> None:
    vgg = ref.vgg16_init
    origin = vgg.flop_summary.set_index("setting").prune_data_origin
    fallback = origin["snip"] == "fallback"
    flops = {t.stem: t for t in rv.vgg_flop_ratio_tables(vgg)}
    assert list(flops) == [f"reference_table_1_2_3_{s}" for s in ("rand", "mag-init", "snip", "synflow-r1")]
    rand = flops["reference_table_1_2_3_rand"]
    assert rand.table.columns.tolist() == ["the kit (mean ± std)", "the report (rand)", "kit − report", "verdict"]
    assert rand.table.index.tolist() == ["0.5"] and rand.table.loc["0.5", "the report (rand)"] == "0.3165"
    row = vgg.flop_summary.set_index("setting").loc["rand"]
    assert rand.table.loc["0.5", "the kit (mean ± std)"] == f"{row.flop_ratio_mean:.4f} ± {row.flop_ratio_std:.4f}"
    assert rand.table.loc["0.5", "verdict"] == "ok"
    assert "FALLBACK" not in rand.title
    assert ("FALLBACK: MNIST digits stand in for CIFAR-10" in flops["reference_table_1_2_3_snip"].title) == fallback
    assert "mag at initialization (the report pre-trained 200 epochs)" in flops["reference_table_1_2_3_mag-init"].title
    density, layer_flops = rv.vgg_layer_tables(vgg)
    snip = "snip (FALLBACK: MNIST digits stand in for CIFAR-10)" if fallback else "snip"
    assert density.table.columns.tolist() == [
        "rand", "mag at initialization (the report pre-trained 200 epochs)", snip,
        "synflow-r1 (1 round, the report's setting)"]
    assert ("FALLBACK: MNIST digits stand in for CIFAR-10 (snip)" in density.title) == fallback
    assert "Table 2.1" in density.title and "compression 0.5" in density.title
    assert len(density.table) == 14 and density.table.index[0] == "layers.0.conv"
    assert layer_flops.table.columns[0] == "unpruned" and layer_flops.table.iloc[0, 0] == "1,769,472"
    assert all(PM.match(cell) for cell in density.table.to_numpy().ravel())


def test_accuracy_figure_bands_markers_and_legend_outside(ref, drawn) -> None:
    assert list(drawn) == ["reference_accuracy_vs_compression_fc_mnist", "reference_flop_ratio_vgg16",
                           "reference_layer_density_vgg16", "reference_layer_flops_vgg16"]
    fig = drawn["reference_accuracy_vs_compression_fc_mnist"]
    ax = fig.axes[0]
    summary = ref.mnist_sweep.summary
    settings = list(dict.fromkeys(summary.setting))
    assert [line.get_label() for line in ax.lines] == settings
    for line, setting in zip(ax.lines, settings):
        assert list(line.get_ydata()) == summary[summary.setting == setting].top1_mean.tolist()
        assert line.get_color() == setting_color(setting)
    collapsed, disconnected = int((summary.runs_collapsed > 0).sum()), int((summary.runs_disconnected > 0).sum())
    assert 0 < collapsed <= disconnected < len(summary), "these seeds give collapsed and whole masks"
    assert len(ax.collections) == len(settings) + (collapsed > 0) + (disconnected > 0), "a band per setting, 2 scatters"
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[:len(settings)] == settings
    assert any("collapsed" in text for text in legend) == (collapsed > 0)
    assert len(ax.collections[len(settings)].get_offsets()) == collapsed
    assert len(ax.collections[len(settings) + 1].get_offsets()) == disconnected
    assert legend[len(settings):] == ["collapsed: a layer kept no weight (≥ 1 seed)",
                                      "disconnected: no input→output path (≥ 1 seed)"]
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().x0 > ax.get_window_extent().x1, "the legend is right of the axes"


def test_heatmap_and_linear_flop_axis(ref, drawn) -> None:
    heat = drawn["reference_layer_density_vgg16"].axes[0]
    density = rv.vgg_layer_density(ref.vgg16_init)
    assert density.shape == (4, 14)
    assert len(heat.texts) == 4 * 14
    assert heat.texts[0].get_text() == f"{density.iloc[0, 0]:.2f}"
    assert [t.get_text() for t in heat.get_yticklabels()][1] == "mag at initialization (the report pre-trained 200 epochs)"
    flops = drawn["reference_layer_flops_vgg16"].axes[0]
    assert flops.get_xscale() == "linear"
    assert len(flops.patches) == 14 * 5, "unpruned and four settings per layer"
    assert plot_layer_flops(rv.vgg_layer_flops(ref.vgg16_init), log=True).axes[0].get_xscale() == "log"


def test_report_html_has_every_table_whole(built, ref, drawn, tmp_path: Path) -> None:
    reference, work = built
    runs = work / "mnist-row"  # the row's runs: one compression, few figures of their own
    out = tmp_path / "out"
    text = report.write_report(runs, out, reference=reference).read_text(encoding="utf-8")
    assert "<h2>Reference set</h2>" in text
    for table in page.reference_tables(ref):
        assert html.escape(table.title) in text, table.title
        assert (out / f"{table.stem}.csv").is_file()
    assert "…" not in text and "..." not in text
    assert text.count('<div class="scroll">') >= len(page.reference_tables(ref))
    for stem in drawn:
        assert (out / f"{stem}.png").is_file() and html.escape(stem.replace("_", " ")) in text
    partial = tmp_path / "partial"
    shutil.copytree(reference, partial)
    shutil.rmtree(partial / "mnist-sweep")
    assert report.main([str(runs), "--out", str(tmp_path / "cli"), "--reference", str(partial)]) == 0
    text = (tmp_path / "cli" / "report.html").read_text(encoding="utf-8")
    assert "mnist-sweep: not computed yet: run <code>make reference</code>" in text
    assert "reference_accuracy_vs_compression" not in text
    none = report.write_report(runs, tmp_path / "none", with_reference=False).read_text()
    assert "Reference set" not in none


def test_mean_pm_std_formats() -> None:
    assert rv.mean_pm_std(97.4133, 0.1234) == "97.41 ± 0.12"
    assert rv.mean_pm_std(97.4133, float("nan")) == "97.41 (1 seed)"
    assert rv.mean_pm_std(float("nan"), 0.1) == "—"
    assert rv.mean_pm_std(585045.3, 21093.7, digits=0) == "585,045 ± 21,094"


def test_notebook_10_reads_the_iterative_part_in_its_own_columns_and_names_its_setting(built) -> None:
    from prunekit.teach.lessons import iterative

    frame = iterative.reference_runs(built[0])
    assert list(frame.method.unique()) == ["IMP", "IMP mask, new init", "Mag one-shot", "SynFlow at init",
                                           "Rand at init"]
    assert len(frame) == 5 * 2 and set(frame.seed) == {1, 2} and set(frame.compression) == {2.0}
    assert (frame.density == 1194 / 119_400).all()  # round(0.01 × 119,400) weights kept by every method
    assert frame.attrs["setting"] == ("reference set (smoke): FC on 256 MNIST training images, seeds 1, 2, 0 epochs after the "
                                      "last pruning; Mag one-shot pre-trained 0 epochs, IMP 0 epochs before each of its 5 "
                                      "prunings")
    table = iterative.comparison_table(frame)
    assert list(table.index) == list(iterative.METHODS) and list(table.columns) == ["a = 2"]
    assert all(cell.endswith("(2)") for cell in table["a = 2"])
    empty = built[0].parent / "no-iterative"
    shutil.copytree(built[0], empty)
    shutil.rmtree(empty / "iterative")
    assert iterative.reference_runs(empty) is None


def test_the_iterative_table_holds_one_setting_names_it_and_joins_the_report_page(ref) -> None:
    table = rv.iterative_table(ref.iterative)
    assert list(table.table.index) == ["IMP (rewound to initialization)", "IMP's mask, new initialization",
                                       "Mag one-shot", "SynFlow at initialization (100 rounds)", "Rand at initialization"]
    assert list(table.table.columns) == ["a = 2"]
    assert table.title.startswith("SMOKE SCALE, not the reference numbers · ")  # like every other reference table
    assert "IMP, 5 levels of 0 epochs" in table.title and "mean ± std over 2 seeds" in table.title
    assert all(PM.match(cell) for cell in table.table["a = 2"]), list(table.table["a = 2"])
    assert page.reference_tables(ref)[-1].stem == "reference_iterative_accuracy"
