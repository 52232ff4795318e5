"""Tests for prunekit.teach.widgets: drive the explorers as a student's clicks would, on real runs and prunes.

Every widget is driven by tiny real runs (tests/conftest.py: 300 training and 200 test images of the
shipped MNIST sample, one epoch) or real prunes, with every control changed and every button clicked.
The assertions read the data the figures draw (line y-data, bar heights, the threshold line's x) and
compare it with what the plain functions the widgets call return when called directly.
No test hands a widget a made-up result.
"""

from __future__ import annotations

import functools
import math
import threading
import warnings

import ipywidgets as ipw
import pytest
import torch
from matplotlib.figure import Figure
from torch.nn.modules.module import register_module_forward_pre_hook

import prunekit
from prunekit.run.data import DataWarning
from prunekit.run.experiment import load_model, load_result, run_dir, run_or_load
from prunekit.run.presets import preset_config
from prunekit.teach import lessons, widgets


@pytest.fixture(scope="module")
def fc():
    torch.manual_seed(1)
    return prunekit.create_model("default", "fc", (1, 28, 28), 10)


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        warnings.simplefilter("ignore", prunekit.LayerCollapseWarning)
        yield


def _bar_heights(figure: Figure, axis: int = 0) -> list[float]:
    return [bar.get_height() for bar in figure.axes[axis].patches]


def _tick_labels(figure: Figure) -> list[str]:
    return [tick.get_text() for tick in figure.axes[0].get_xticklabels()]


def _densities(model, pruner, compression, data=None, **options) -> list[float]:
    """Per-layer weight density of a pruned copy, computed without any widget."""
    pruned, _ = lessons.prune_copy(model, pruner, compression, data, **options)
    return lessons.layer_kept(pruned).density.tolist()


# --------------------------------------------------------------------------- PruneExplorer


def test_prune_explorer_runs_at_once_and_matches_prune_copy(fc):
    explorer = widgets.PruneExplorer(fc, pruner="mag", compression=0.5)
    _, report = lessons.prune_copy(fc, "mag", 0.5)
    assert explorer.report.kept == report.kept == round(119_400 * 10**-0.5)
    assert explorer.report.layer_density == report.layer_density
    assert _bar_heights(explorer.figure) == pytest.approx(_densities(fc, "mag", 0.5))
    assert "mag: kept" in explorer.status.value
    assert isinstance(explorer.box, ipw.VBox)
    assert lessons.layer_kept(fc).density.eq(1.0).all(), "the explorer prunes copies only"


def test_prune_explorer_changes_every_control_and_reprunes_on_click(fc, sample_prune_data):
    explorer = widgets.PruneExplorer(fc, sample_prune_data, pruner="rand", run_now=False)
    assert explorer.report is None and explorer.figure is None
    explorer.pruner.value = "snip"
    explorer.compression.value = 2.0
    explorer.button.click()
    assert explorer.report.pruner == "snip" and explorer.report.kept == 1_194
    assert _bar_heights(explorer.figure) == pytest.approx(_densities(fc, "snip", 2.0, sample_prune_data))
    first = explorer.figure
    explorer.pruner.value = "synflow"
    explorer.rounds.value = 3
    explorer.compression.value = 1.0
    explorer.button.click()
    assert explorer.report.rounds == 3 and explorer.report.kept == 11_940 and explorer.figure is not first
    assert _bar_heights(explorer.figure) == pytest.approx(_densities(fc, "synflow", 1.0, rounds=3))


def test_prune_explorer_sets_each_pruners_default_rounds(fc):
    explorer = widgets.PruneExplorer(fc, pruner="mag", run_now=False)
    assert explorer.rounds.value == 1
    explorer.pruner.value = "synflow"
    assert explorer.rounds.value == 100
    explorer.rounds.value = 1
    explorer.compression.value = 1.0
    explorer.run()
    assert explorer.report.rounds == 1
    assert explorer.report.collapsed_layers == ("layers.0",), "one SynFlow round collapses the 784-input layer"
    assert "LAYER COLLAPSE in layers.0" in explorer.status.value
    assert _bar_heights(explorer.figure)[0] == 0.0


@pytest.mark.parametrize("pruner", ["snip", "grasp"])
def test_prune_explorer_built_as_notebook_05_builds_it_prunes_with_data_driven_pruners(fc, pruner):
    # notebook 05 used to build it without data, so choosing SNIP or GraSP failed
    explorer = widgets.PruneExplorer(fc, pruner="synflow", compression=1.0, rounds=1, run_now=False)
    explorer.pruner.value = pruner
    assert explorer.rounds.value == 1
    explorer.button.click()
    assert explorer.report is not None, explorer.status.value
    assert explorer.report.pruner == pruner and explorer.report.kept == 11_940
    built = explorer.data.data
    assert len(built) > 0 and next(iter(built))[0].shape[1:] == (1, 28, 28), "real MNIST pruning batches"
    assert _bar_heights(explorer.figure) == pytest.approx(_densities(fc, pruner, 1.0, built))
    explorer.button.click()
    assert explorer.data.data is built, "the pruning batches are built once"


def test_prune_explorer_builds_pruning_batches_from_the_lessons_config(fc, sample_run):
    explorer = widgets.PruneExplorer(fc, config=sample_run.config, pruner="snip", compression=1.5)
    assert explorer.report.kept == round(119_400 * 10**-1.5)
    assert explorer.data.data.num_examples == sample_run.config.prune_dataset_ratio * 10


def test_prune_explorer_reports_data_it_cannot_build_instead_of_raising():
    explorer = widgets.PruneExplorer(lessons.tiny_network(), pruner="mag", run_now=False)
    explorer.pruner.value = "grasp"
    explorer.run()
    assert explorer.report is None
    assert "cannot prune with grasp" in explorer.status.value and "no dataset has images of shape (2,)" in (
        explorer.status.value
    )


def test_prune_explorer_rejects_an_unknown_pruner(fc):
    with pytest.raises(ValueError, match="unknown pruner 'magic'"):
        widgets.PruneExplorer(fc, pruner="magic")


def test_prune_explorer_on_a_real_runs_model_draws_the_pruned_densities(sample_run, sample_prune_data):
    model = load_model(sample_run.folder)
    explorer = widgets.PruneExplorer(model, sample_prune_data, pruner="snip", compression=1.5, run_now=False)
    explorer.button.click()
    weights = explorer.table.set_index("module")
    assert _tick_labels(explorer.figure) == list(weights.index) == ["layers.0", "layers.1", "layers.2", "layers.3",
                                                                      "layers.4", "fc"]
    assert _bar_heights(explorer.figure) == pytest.approx(_densities(model, "snip", 1.5, sample_prune_data))
    assert lessons.layer_kept(model).kept.sum() == sample_run.result.params.kept, "the run's model is left as it was"


# --------------------------------------------------------------------------- RunExplorer


def _assert_draws(explorer, result):
    line = explorer.figure.axes[0].lines[0]
    assert list(line.get_xdata()) == [row.epoch for row in result.post_history]
    assert list(line.get_ydata()) == [row.top1 for row in result.post_history]
    weights = result.weight_layers()
    assert _tick_labels(explorer.density_figure) == list(weights.index), "one bar per layer: no bias rows"
    assert _bar_heights(explorer.density_figure) == pytest.approx(weights.density.tolist())


def test_run_explorer_changes_every_control_and_trains_a_real_run_on_click(make_tiny_config, tmp_path):
    calls = []

    def runner(config):
        calls.append(config)
        return run_or_load(config)

    base = make_tiny_config(tmp_path)
    explorer = widgets.RunExplorer(base, runner=runner)
    assert calls == [] and explorer.result is None, "nothing runs before a click unless run_now=True"
    assert explorer.config() == base, "untouched controls describe the base configuration"
    explorer.pruner.value = "synflow"
    explorer.rounds.value = 2
    explorer.compression.value = 0.5
    explorer.model.value = "Conv on MNIST"
    explorer.pre_epochs.value = 1
    explorer.post_epochs.value = 1
    explorer.seed.value = 3
    thread = explorer.button.click() or explorer.thread
    explorer.wait()
    assert not thread.is_alive()
    want = base.replace(pruner="synflow", rounds=2, compression=0.5, model="conv", pre_epochs=1, post_epochs=1, seed=3)
    assert calls == [want]
    result = explorer.result
    assert result == load_result(run_dir(want))
    assert result.prune.rounds == 2 and len(result.pre_history) == 2 and len(result.post_history) == 2
    _assert_draws(explorer, result)
    assert explorer.figure.axes[0].get_title().startswith("SHIPPED MNIST SAMPLE (10,000/2,000 images) · synflow")
    assert explorer.watch.epochs_done == explorer.bar.n == explorer.bar.total == 2, "the bar counted both epochs"
    assert f"trained; top-1 {result.top1:.2f} % after 1 epoch(s)" in explorer.status.value
    assert not explorer.button.disabled and explorer.cancel_button.disabled


def test_run_explorer_each_control_changes_only_what_it_names():
    base = preset_config("quick", "mag", compression=1.0)
    explorer = widgets.RunExplorer(base, preset="quick")
    assert (explorer.pre_epochs.value, explorer.post_epochs.value, explorer.rounds.value) == (
        base.pre_epochs, base.post_epochs, 1) == (1, 5, 1)
    changes = {
        explorer.compression: ("compression", 2.0),
        explorer.pre_epochs: ("pre_epochs", 3),
        explorer.post_epochs: ("post_epochs", 5),
        explorer.rounds: ("rounds", 4),
        explorer.seed: ("seed", 9),
    }
    for control, (field, value) in changes.items():
        old = control.value
        control.value = value
        assert explorer.config() == base.replace(**{field: value}), field
        control.value = old
    explorer.model.value = "VGG16 on CIFAR-10"
    assert explorer.config() == base.replace(model_class="lottery", model="vgg16", dataset="cifar10")
    explorer.model.value = "FC on MNIST"
    explorer.pruner.value = "snip"  # Mag's pre-training is Mag's: SNIP does not inherit it
    assert explorer.config() == base.replace(pruner="snip", pre_epochs=0)
    explorer.pruner.value = "synflow"  # the rounds control shows SynFlow's default, which the config leaves implicit
    assert explorer.rounds.value == 100 and explorer.config() == base.replace(pruner="synflow", pre_epochs=0)
    explorer.rounds.value = 1
    assert explorer.config().rounds == 1
    explorer.pruner.value = "mag"
    assert explorer.config() == base


def test_run_explorer_keeps_a_base_that_names_its_rounds():
    base = preset_config("quick", "synflow", rounds=100)
    explorer = widgets.RunExplorer(base, preset="quick")
    assert explorer.config() == base, "untouched controls load the notebook's own run"


def test_pruner_settings_follow_the_preset():
    assert widgets.pruner_settings("mag", "quick") == widgets.PrunerSettings(1, None, 1)
    assert widgets.pruner_settings("snip", "quick") == widgets.PrunerSettings(0, None, 1)
    assert widgets.pruner_settings("synflow", "report-mnist") == widgets.PrunerSettings(0, 150, 100)
    assert widgets.pruner_settings("rand", "report-mnist") == widgets.PrunerSettings(0, 20, 1)
    assert widgets.pruner_settings("mag") == widgets.PrunerSettings(0, None, 1)
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        widgets.pruner_settings("mag", "fast")


def test_run_explorer_with_the_default_runner_loads_a_finished_run(sample_run, monkeypatch):
    from prunekit.run import experiment

    def fail(*args, **kwargs):
        raise AssertionError("the finished run was computed again")

    monkeypatch.setattr(experiment, "run_singleshot", fail)
    explorer = widgets.RunExplorer(sample_run.config, run_now=True)
    assert explorer.result == sample_run.result
    _assert_draws(explorer, sample_run.result)
    assert "loaded the finished run" in explorer.status.value
    explorer.button.click()
    explorer.wait()
    assert explorer.result == sample_run.result and "loaded the finished run" in explorer.status.value


def test_run_explorer_cancel_stops_at_the_next_batch_and_train_again_resumes(make_tiny_config, tmp_path):
    base = make_tiny_config(tmp_path, pruner="mag", compression=0.5, post_epochs=2)
    explorer = widgets.RunExplorer(base)

    def cancel_in_the_second_epoch(module, inputs):
        watch = explorer.watch
        if threading.current_thread() is explorer.thread and hasattr(module, "input_shape") and module.training:
            if watch.epochs_done == 1:
                explorer.cancel_button.click()

    handle = register_module_forward_pre_hook(cancel_in_the_second_epoch)
    try:
        explorer.button.click()
        explorer.wait()
    finally:
        handle.remove()
    folder = run_dir(base)
    assert explorer.result is None and explorer.figure is None
    assert "cancelled" in explorer.status.value and "after 1 of 2 training epoch(s)" in explorer.status.value
    assert explorer.bar.n == 1
    assert not (folder / "result.json").exists() and (folder / "checkpoint-post.pt").is_file()
    assert not explorer.button.disabled and explorer.cancel_button.disabled

    explorer.button.click()  # Train again: resumes after epoch 1
    explorer.wait()
    result = explorer.result
    assert result is not None and explorer.watch.epochs_done == 1, "only the second epoch was trained again"
    straight = run_or_load(base.replace(result_dir=str(tmp_path / "uninterrupted")))
    assert [row.top1 for row in result.post_history] == [row.top1 for row in straight.post_history]
    _assert_draws(explorer, result)


def test_run_explorer_cancel_when_nothing_runs_does_nothing(make_tiny_config, tmp_path):
    explorer = widgets.RunExplorer(make_tiny_config(tmp_path))
    explorer.cancel_button.click()
    assert explorer.result is None and explorer.status.value == ""


def test_run_explorer_labels_fallback_data(fallback_run):
    explorer = widgets.RunExplorer(fallback_run.config, runner=functools.partial(run_or_load, allow_fallback=True))
    assert explorer.model.value == "fc on cifar10"
    explorer.button.click()
    explorer.wait()
    assert explorer.result == fallback_run.result
    _assert_draws(explorer, fallback_run.result)
    for figure in (explorer.figure, explorer.density_figure):
        assert figure.axes[0].get_title().startswith("FALLBACK: MNIST digits standing in for CIFAR-10 · ")


def test_run_explorer_shows_errors_of_the_run(make_tiny_config, tmp_path):
    explorer = widgets.RunExplorer(make_tiny_config(tmp_path, dataset="cifar10"), runner=run_or_load)
    explorer.button.click()
    explorer.wait()
    assert explorer.result is None and explorer.figure is None
    assert "cannot run" in explorer.status.value and "CIFAR-10 not found" in explorer.status.value


# --------------------------------------------------------------------------- ScoreExplorer and CompareExplorer


def _threshold_x(figure: Figure, axis: int) -> float:
    (line,) = figure.axes[axis].lines
    return float(line.get_xdata()[0])


def test_score_explorer_draws_each_layers_scores_against_the_global_threshold(fc, sample_prune_data):
    explorer = widgets.ScoreExplorer(fc, sample_prune_data, pruner="mag", compression=1.0)
    frame = lessons.score_frame(fc, "mag")
    threshold = lessons.global_threshold(frame, 1.0)
    assert explorer.table.threshold.iloc[0] == threshold
    histograms = lessons.score_histograms(lessons.layer_scores(fc, "mag"))
    modules = ["layers.0", "layers.1", "layers.2", "layers.3", "layers.4", "fc"]
    for axis, module in enumerate(modules):
        assert _bar_heights(explorer.figure, axis) == histograms[histograms.module == module]["count"].tolist()
        assert _threshold_x(explorer.figure, axis) == pytest.approx(math.log10(threshold))
    assert explorer.table.kept.tolist() == lessons.layer_kept(lessons.prune_copy(fc, "mag", 1.0)[0]).kept.tolist()
    assert _bar_heights(explorer.kept_figure) == pytest.approx(_densities(fc, "mag", 1.0))

    explorer.compression.value = 2.0  # moves only the threshold
    scored = explorer.scores
    explorer.button.click()
    assert explorer.scores is scored
    assert _threshold_x(explorer.figure, 0) == pytest.approx(math.log10(lessons.global_threshold(frame, 2.0)))
    assert _bar_heights(explorer.kept_figure) == pytest.approx(_densities(fc, "mag", 2.0))

    explorer.pruner.value = "snip"  # scores again, with the pruning batches
    explorer.button.click()
    snip = lessons.score_frame(fc, "snip", sample_prune_data)
    assert _threshold_x(explorer.figure, 0) == pytest.approx(math.log10(lessons.global_threshold(snip, 2.0)))
    assert explorer.table.kept.tolist() == [round(d * s) for d, s in zip(
        _densities(fc, "snip", 2.0, sample_prune_data), explorer.table["size"])]
    assert "keep threshold" in explorer.status.value


def test_score_explorer_shows_grasps_signed_scores(fc, sample_prune_data):
    explorer = widgets.ScoreExplorer(fc, sample_prune_data, pruner="grasp", compression=0.5, run_now=False)
    explorer.button.click()
    assert explorer.table.kept.sum() == round(119_400 * 10**-0.5)
    assert explorer.histograms.left_out.gt(0).any(), "GraSP's negative scores are counted, not drawn"
    assert "scores ≤ 0 not shown" in explorer.figure.axes[0].get_title()


def _kept(model, module: str) -> int:
    return int(lessons.layer_kept(model).set_index("module").kept[module])


def test_compare_explorer_draws_two_pruners_side_by_side_and_a_layers_weights(fc, sample_prune_data):
    explorer = widgets.CompareExplorer(fc, sample_prune_data, pruners=("mag", "synflow"), compression=1.0)
    mag, synflow = _densities(fc, "mag", 1.0), _densities(fc, "synflow", 1.0)
    assert _bar_heights(explorer.figure) == pytest.approx(mag + synflow), "mag's bars, then synflow's"
    assert [text.get_text() for text in explorer.figure.axes[0].get_legend().get_texts()] == ["mag", "synflow"]
    steps = explorer.weight_figure.axes[0].patches
    assert [patch.get_label() for patch in steps] == ["all weights", "mag", "synflow"]
    assert sum(steps[0].get_data().values) == 784 * 100
    assert sum(steps[1].get_data().values) == _kept(explorer.models["mag"], "layers.0")

    explorer.layer.value = "fc"  # re-draws the chosen layer only
    assert explorer.weights.groupby("label", sort=False)["count"].sum().tolist() == [
        1000, *(_kept(explorer.models[name], "fc") for name in ("mag", "synflow"))]
    assert [sum(patch.get_data().values) for patch in explorer.weight_figure.axes[0].patches][0] == 1000

    explorer.first.value = "snip"
    explorer.second.value = "grasp"
    explorer.compression.value = 2.0
    explorer.button.click()
    assert list(explorer.reports) == ["snip", "grasp"]
    assert _bar_heights(explorer.figure) == pytest.approx(
        _densities(fc, "snip", 2.0, sample_prune_data) + _densities(fc, "grasp", 2.0, sample_prune_data))
    labels = [patch.get_label() for patch in explorer.weight_figure.axes[0].patches]
    assert labels == ["all weights", "snip", "grasp"] and "Weights of fc" in explorer.weight_figure.axes[0].get_title()
