"""The report's tables and figures from real (small) runs: shapes, values, labels, files and errors."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from prunekit import report

from prunekit.report import report_numbers
from prunekit.report.collect import data_sentence
from prunekit.report.shared_figures import setting_color
from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DataWarning
from prunekit.run.experiment import run_singleshot
from prunekit.core.metrics import flop_summary, layer_table
from prunekit.core.models import create_model


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two pruners × two compressions of FC on the shipped sample, no training (pruning and evaluation only)."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "none").mkdir()  # a data folder without MNIST: the shipped sample is read
    base = ExperimentConfig(post_epochs=0, train_limit=256, test_limit=256, timing_repeats=1, device="cpu",
                            result_dir=str(folder), data_dir=str(folder / "none"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        for pruner in ("mag", "rand"):
            for compression in (0.5, 2.0):
                run_singleshot(base.replace(pruner=pruner, compression=compression), progress=False)
        run_singleshot(base.replace(pruner="synflow", compression=0.5, rounds=1), progress=False)
    return folder


def test_collect_reads_one_row_per_run(runs: Path) -> None:
    frame = report.collect(runs)
    assert len(frame) == 5 and set(frame.label) == {"mag", "rand", "synflow (1 round)"}
    assert set(frame.origin) == {"sample"}
    row = frame[(frame.pruner == "rand") & (frame.compression == 2.0)].iloc[0]
    assert row.params_kept == round(0.01 * 119_400) and row.density == pytest.approx(1194 / 119_400)


def test_the_runs_behind_a_table_travel_with_every_derived_frame_uncopied(runs: Path) -> None:
    """pandas deep-copies ``attrs`` after each operation; the results (with their histograms) must not be copied."""
    frame = report.collect(runs)
    results = frame.attrs["results"]
    assert sorted(results) == sorted(frame.run_dir) and all(results[run].config.result_dir == str(runs) for run in results)
    derived = (frame[frame.pruner == "rand"].pivot_table(index="compression", values="top1") - 1).round(2)
    assert derived.attrs["results"] is results and frame[["top1"]].copy(deep=True).attrs["results"] is results
    with pytest.raises(TypeError):
        results["another"] = None  # read-only: one mapping shared by every table made from this frame


def test_compression_by_pruner_tables(runs: Path) -> None:
    frame = report.collect(runs)
    flops = report.table_flop_ratio(frame)
    assert list(flops.index) == [0.5, 2.0]
    assert list(flops.columns) == ["rand", "mag", "synflow (1 round)"], "columns in the report's pruner order"
    assert pd.isna(flops.loc[2.0, "synflow (1 round)"])
    for pruner in ("rand", "mag"):
        run = frame[(frame.pruner == pruner) & (frame.compression == 0.5)].iloc[0]
        assert flops.loc[0.5, pruner] == pytest.approx(run.flops_remaining / run.flops_total)
    accuracy = report.table_accuracy(frame)
    assert accuracy.loc[2.0, "mag"] == frame[(frame.label == "mag") & (frame.compression == 2.0)].top1.item()
    assert report.table_test_time(frame).shape == (2, 3)
    assert report.table_1_1(frame).empty, "no run at compression 1"
    assert list(report.table_1_1(frame, compression=0.5).index) == ["mnist/fc"]


def test_per_layer_tables_use_the_runs_at_compression_half(runs: Path) -> None:
    frame = report.collect(runs)
    density = report.table_layer_density(frame)
    assert list(density.index) == ["layers.0", "layers.1", "layers.2", "layers.3", "layers.4", "fc"]
    flops = report.table_layer_flops(frame)
    dense = layer_table(create_model("default", "fc", (1, 28, 28), 10))
    weights = dense[dense.param == "weight"].set_index("module")
    assert flops["unpruned"].tolist() == weights.flops.tolist()
    assert flops["synflow (1 round)"]["layers.0"] < flops["rand"]["layers.0"] < weights.flops["layers.0"]
    assert (flops["mag"] == (weights.flops * density["mag"]).round()).all()


def test_side_by_side_puts_the_reports_numbers_next_to_ours(runs: Path) -> None:
    ours = report.table_accuracy(report.collect(runs))  # real runs: mag and rand at 0.5 and 2, synflow (1 round) at 0.5
    table = report.side_by_side(ours, report_numbers.TABLE_1_2_1)
    assert table.columns.tolist() == [("rand", "kit"), ("rand", "report"), ("mag", "kit"), ("mag", "report"),
                                      ("synflow (1 round)", "kit"), ("synflow (1 round)", "report")]
    assert table.loc[2.0, ("mag", "kit")] == ours.loc[2.0, "mag"] and table.loc[2.0, ("mag", "report")] == 42.61
    assert table.loc[0.5, ("synflow (1 round)", "report")] == report_numbers.TABLE_1_2_1[0.5]["synflow"]
    assert math.isnan(table.loc[2.0, ("synflow (1 round)", "kit")]), "a run we did not make stays missing"


def test_write_report_writes_tables_figures_and_a_labelled_page(runs: Path, tmp_path: Path) -> None:
    page = report.write_report(runs, tmp_path / "out")
    names = {path.name for path in (tmp_path / "out").iterdir()}
    assert {"report.html", "report.md", "table_1_2_3_flop_ratio_fc_mnist.csv", "table_2_2_layer_flops_fc_mnist.csv",
            "layer_density_fc_mnist.png", "layer_flops_fc_mnist.png", "weight_histograms_mag_fc_mnist.png",
            "accuracy_vs_compression_fc_mnist.png", "weight_histograms_synflow_1_round_fc_mnist.png"} <= names
    text = page.read_text()
    assert text.count("SHIPPED MNIST SAMPLE") >= 5, "every table caption and figure title says the data was the sample"
    assert "5 run(s) from" in text and "Data: SHIPPED MNIST SAMPLE (10,000/2,000 images): 256 training, 256 test images." in text
    from prunekit.report.reference_view import default_reference_dir

    assert ("<h2>Reference set</h2>" in text) == (default_reference_dir() is not None), "the clone's reference/ by default"
    assert "…" not in text and text.count('<div class="scroll">') >= 5, "whole tables, each in its scrolling box"
    assert "data:image/png;base64," in text
    assert "1.2.1 Top-1 accuracy (%), fc/mnist, post 0 epochs, 1 seed</h2>" in text, "each caption names its setting"
    csv = pd.read_csv(tmp_path / "out" / "table_1_2_3_flop_ratio_fc_mnist.csv", index_col=0)
    assert csv.shape == (2, 3)


def test_report_cli_errors_before_doing_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path)]) == 2
    assert "no finished run" in capsys.readouterr().err
    old = tmp_path / "singleshot" / "x"
    old.mkdir(parents=True)
    (old / "result.json").write_text(json.dumps({"schema": "prunekit-result/0"}))
    assert report.main([str(tmp_path)]) == 2
    assert "prunekit-result/0" in capsys.readouterr().err


def test_flop_summary_agrees_with_the_report(runs: Path) -> None:
    frame = report.collect(runs)
    assert (frame.flops_total == flop_summary(layer_table(create_model("default", "fc", (1, 28, 28), 10)))["flops"]).all()


def test_labels_keep_every_setting_apart_that_differs_between_runs_of_a_pruner(tmp_path: Path) -> None:
    """Real runs that differ in pre-training, training limit or learning rate are never averaged into one column."""
    (tmp_path / "none").mkdir()
    base = ExperimentConfig(compression=1.0, post_epochs=0, train_limit=256, test_limit=256, timing_repeats=1,
                            device="cpu", result_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "none"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        for config in (base.replace(pruner="mag"), base.replace(pruner="mag", pre_epochs=1),
                       base.replace(pruner="mag", pre_epochs=1, seed=2),
                       base.replace(pruner="rand"), base.replace(pruner="rand", train_limit=512),
                       base.replace(pruner="snip"), base.replace(pruner="snip", lr=0.01),
                       base.replace(pruner="synflow", rounds=1), base.replace(pruner="grasp")):
            run_singleshot(config, progress=False)
    frame = report.collect(tmp_path / "runs")
    labels = sorted(frame.label)
    assert labels == ["grasp", "mag (pre 0)", "mag (pre 1)", "mag (pre 1)", "rand (train limit 256)",
                      "rand (train limit 512)", "snip (lr 0.001)", "snip (lr 0.01)", "synflow (1 round)"], labels
    accuracy = report.table_accuracy(frame)
    assert len(accuracy.columns) == 8, "only the two seeds of one setting share a column"
    mag = frame[frame.label == "mag (pre 1)"]
    assert accuracy.loc[1.0, "mag (pre 1)"] == pytest.approx(mag.top1.mean()) and sorted(mag.seed) == [1, 2]


def test_runs_on_other_data_are_never_averaged_together(runs: Path, tmp_path: Path) -> None:
    """A real run on the shipped sample beside the same configuration's real run on the full MNIST the kit ships."""
    folder = tmp_path / "mixed"
    sample_run = next(p for p in sorted((runs / "singleshot").iterdir()) if p.name.startswith("rand-c0.5"))
    shutil.copytree(sample_run, folder / "singleshot" / sample_run.name)
    full_data = Path(__file__).resolve().parents[1] / "data"
    run_singleshot(ExperimentConfig(pruner="rand", compression=0.5, post_epochs=0, train_limit=256, test_limit=256,
                                    timing_repeats=1, device="cpu", result_dir=str(folder), data_dir=str(full_data),
                                    expid="full"), progress=False)
    frame = report.collect(folder)
    assert sorted(frame.label) == ["rand", "rand (sample data)"]
    assert frame.set_index("label").origin.to_dict() == {"rand": "full", "rand (sample data)": "sample"}
    accuracy = report.table_accuracy(frame)
    assert list(accuracy.columns) == ["rand", "rand (sample data)"]
    assert accuracy.loc[0.5, "rand"] == frame[frame.origin == "full"].top1.item()


def test_model_tables_match_the_seed_dense_column() -> None:
    import torch

    from prunekit.core.pruning import prune

    torch.manual_seed(0)
    vgg = create_model("lottery", "vgg16", (3, 32, 32), 10)
    prune(vgg, "mag", 0.5)
    flops = report.table_model_flops({"mag": vgg})
    assert flops["unpruned"].to_dict() == {m: row["unpruned"] for m, row in report_numbers.TABLE_2_2.items()}
    density = report.table_model_density({"mag": vgg})["mag"]
    assert (flops["mag"] == (flops["unpruned"] * density).round().astype(int)).all()


def test_per_layer_tables_use_one_compression_and_leave_missing_pruners_empty(runs: Path) -> None:
    frame = report.collect(runs)
    assert report.layer_compression(frame, 1.0) == 0.5, "0.5 and 2 are equally near 1: the smaller one"
    assert report.layer_compression(frame, 3.0) == 2.0
    flops = report.table_layer_flops(frame, compression=2.0)
    assert flops.attrs["compression"] == 2.0
    assert flops["synflow (1 round)"].isna().all(), "no synflow run at compression 2: a missing column, not 0.5's"
    run = frame[(frame.label == "rand") & (frame.compression == 2.0)].iloc[0]
    assert flops["rand"].sum() == pytest.approx(run.flops_remaining - (run.flops_total - flops["unpruned"].sum()))
    shown = report.for_display(flops)
    assert set(shown["synflow (1 round)"]) == {"—"} and shown.loc["layers.0", "unpruned"] == "78,400"
    histograms = report.run_histograms(frame)
    assert set(histograms) == {"rand", "mag", "synflow (1 round)"}
    assert histograms["rand"].groupby("module").frequency.sum().round(6).le(1).all()


def test_side_by_side_by_pruner_has_one_row_per_pruner(runs: Path) -> None:
    ours = report.table_1_1(report.collect(runs), compression=0.5)  # real runs, one row: mnist/fc
    theirs = {f"{d}/{m}": row for (d, m), row in report_numbers.TABLE_1_1.items()}
    table = report.side_by_side(ours, theirs, by_pruner=True)
    assert table.index.tolist() == ours.columns.tolist() == ["rand", "mag", "synflow (1 round)"]
    assert table.loc["synflow (1 round)"].tolist() == [ours.loc["mnist/fc", "synflow (1 round)"],
                                                       report_numbers.TABLE_1_1[("mnist", "fc")]["synflow"]]
    assert report.side_by_side(ours.iloc[:0], theirs, by_pruner=True).shape == (3, 0)


def test_report_labels_fallback_runs_apart_from_sample_runs(runs: Path, fallback_run, tmp_path: Path) -> None:
    """Two real runs on the shipped sample next to a real run on the CIFAR-10 stand-in (fc, allow_fallback)."""
    folder = tmp_path / "mixed"
    for source in sorted((runs / "singleshot").iterdir())[:2]:
        shutil.copytree(source, folder / "singleshot" / source.name)
    shutil.copytree(fallback_run.folder, folder / "singleshot" / fallback_run.folder.name)
    frame = report.collect(folder)
    assert frame.origin.tolist().count("fallback") == 1 and frame.origin.tolist().count("sample") == 2
    stand_in = frame[frame.origin == "fallback"]
    assert stand_in.dataset.tolist() == ["cifar10"]
    assert report.data_label(stand_in).startswith("FALLBACK")
    assert not report.data_label(frame[frame.origin != "fallback"]).startswith("FALLBACK")
    assert report.data_label(frame) == ("FALLBACK: MNIST digits standing in for CIFAR-10 · "
                                        "SHIPPED MNIST SAMPLE (10,000/2,000 images) · ")
    page = report.write_report(folder, tmp_path / "out", with_reference=False).read_text()
    assert "FALLBACK: MNIST digits standing in for CIFAR-10 · 1.2.3 FLOP ratio (remaining / dense), fc/cifar10" in page
    assert "FALLBACK" not in page.split("fc/mnist")[1].split("</h2>")[0], "the sample's tables are not called fallback"
    assert '<p class="warn">FALLBACK' in page
    drawn = report.figures(frame)
    assert set(drawn) >= {"layer_flops_fc_cifar10", "layer_flops_fc_mnist", "layer_density_fc_cifar10"}
    assert drawn["layer_density_fc_cifar10"].axes[0].get_title().startswith("FALLBACK: MNIST digits standing in")


def test_collect_names_an_incompatible_schema(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "result.json").write_text(json.dumps({"schema": "other-tool/7"}))
    with pytest.raises(ValueError, match="other-tool/7"):
        report.collect(tmp_path)


def test_the_figures_draw_what_the_tables_hold(runs: Path) -> None:
    frame = report.collect(runs)
    drawn = report.figures(frame)
    density = report.table_layer_density(frame)
    bars = drawn["layer_density_fc_mnist"].axes[0].patches
    assert [bar.get_height() for bar in bars] == pytest.approx(
        [density.loc[module, label] for label in density.columns for module in density.index])
    accuracy = report.table_accuracy(frame)
    lines = drawn["accuracy_vs_compression_fc_mnist"].axes[0].lines
    assert [line.get_label() for line in lines] == list(accuracy.columns)
    for line, label in zip(lines, accuracy.columns):
        assert list(line.get_ydata()) == accuracy[label].dropna().tolist()
    assert [line.get_color() for line in lines] == [setting_color(label) for label in accuracy.columns]
    assert len({line.get_color() for line in lines}) == len(lines), "one colour per setting"
    flops = drawn["layer_flops_fc_mnist"].axes[0]
    assert flops.get_xscale() == "linear", "a linear FLOP axis by default: 3x differences show"


def test_pass_time_ratio_on_real_runs_compares_medians_and_knows_when_it_cannot_tell(runs: Path) -> None:
    frame = report.collect(runs)
    timing = report.pass_time_ratio(frame)
    medians = frame.groupby("compression").test_time_s.median()
    assert (timing.lowest, timing.highest) == (0.5, 2.0)
    assert timing.ratio == pytest.approx(medians[2.0] / medians[0.5])
    assert timing.density == pytest.approx(0.01) and timing.telling, "a 30-fold cut in weights is telling"
    assert timing.no_speedup, "masked layers multiply every weight: no 10-fold speed-up"
    half = frame[frame.compression == 0.5]
    assert len(half) == 3
    close = report.pass_time_ratio(half.assign(compression=[0.5, 0.5, 1.0]))
    assert not close.telling, "0.5 against 1.0: a factor of 3 in density is within timing noise"
    with pytest.raises(ValueError, match=r"two compressions.*\[0\.5\]"):
        report.pass_time_ratio(frame[frame.compression == 0.5])


def test_the_report_names_full_mnist_when_the_runs_used_it(tmp_path: Path) -> None:
    repo_data = Path(__file__).resolve().parents[1] / "data"
    config = ExperimentConfig(post_epochs=0, train_limit=512, test_limit=256, timing_repeats=1, device="cpu",
                              result_dir=str(tmp_path / "runs"), data_dir=str(repo_data), compression=0.5)
    run_singleshot(config, progress=False)
    frame = report.collect(tmp_path / "runs")
    assert report.data_label(frame) == ""
    assert data_sentence(frame) == "Data: full MNIST: 512 training, 256 test images."
    assert "Data: full MNIST: 512 training, 256 test images." in report.write_report(tmp_path / "runs", tmp_path / "out").read_text()
