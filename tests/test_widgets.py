"""Tests for prunekit.teach.widgets: drive the explorers programmatically, as a student's clicks would.

The widgets' callbacks only call plain prunekit functions; each test checks that
the widget's state equals what those functions return when called directly.
"""

from __future__ import annotations

import warnings

import ipywidgets as ipw
import pytest
import torch
from matplotlib.figure import Figure

import prunekit
from prunekit.teach import lessons, widgets
from prunekit.run.presets import preset_config


@pytest.fixture(scope="module")
def fc():
    torch.manual_seed(1)
    return prunekit.create_model("default", "fc", (1, 28, 28), 10)


@pytest.fixture(scope="module")
def batches():
    generator = torch.Generator().manual_seed(2)
    return [(torch.randn(16, 1, 28, 28, generator=generator), torch.randint(0, 10, (16,), generator=generator))]


def test_prune_explorer_runs_at_once_and_matches_prune_copy(fc):
    explorer = widgets.PruneExplorer(fc, pruner="mag", compression=0.5)
    _, report = lessons.prune_copy(fc, "mag", 0.5)
    assert explorer.report.kept == report.kept == round(119_400 * 10**-0.5)
    assert explorer.report.layer_density == report.layer_density
    assert isinstance(explorer.figure, Figure)
    assert explorer.table.kept.sum() == report.kept
    assert "mag: kept" in explorer.status.value
    assert isinstance(explorer.box, ipw.VBox)
    assert lessons.layer_kept(fc).density.eq(1.0).all(), "the explorer prunes copies only"


def test_prune_explorer_reruns_on_click_with_new_values(fc, batches):
    explorer = widgets.PruneExplorer(fc, batches, pruner="rand", run_now=False)
    assert explorer.report is None and explorer.figure is None
    explorer.pruner.value = "snip"
    explorer.compression.value = 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", prunekit.LayerCollapseWarning)
        explorer.button.click()
        _, report = lessons.prune_copy(fc, "snip", 2.0, batches)
    assert explorer.report.pruner == "snip"
    assert explorer.report.kept == 1_194
    assert explorer.report.layer_density == report.layer_density
    first = explorer.figure
    explorer.compression.value = 1.0
    explorer.button.click()
    assert explorer.report.kept == 11_940 and explorer.figure is not first


def test_prune_explorer_sets_each_pruners_default_rounds(fc):
    explorer = widgets.PruneExplorer(fc, pruner="mag", run_now=False)
    assert explorer.iterations.value == 1
    explorer.pruner.value = "synflow"
    assert explorer.iterations.value == 100
    explorer.iterations.value = 1
    explorer.compression.value = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", prunekit.LayerCollapseWarning)
        explorer.run()
    assert explorer.report.iterations == 1
    assert explorer.report.collapsed_layers == ("layers.0",), "one SynFlow round collapses the 784-input layer"
    assert "LAYER COLLAPSE in layers.0" in explorer.status.value


def test_prune_explorer_reports_missing_data_instead_of_raising(fc):
    explorer = widgets.PruneExplorer(fc, pruner="mag", run_now=False)
    explorer.pruner.value = "grasp"
    explorer.run()
    assert explorer.report is None
    assert "cannot prune with grasp" in explorer.status.value and "needs data" in explorer.status.value


def test_prune_explorer_rejects_an_unknown_pruner(fc):
    with pytest.raises(ValueError, match="unknown pruner 'magic'"):
        widgets.PruneExplorer(fc, pruner="magic")


def test_run_explorer_builds_the_config_from_its_controls():
    calls = []
    base = preset_config("quick", "snip")
    explorer = widgets.RunExplorer(base, runner=lambda config: calls.append(config) or {"history": []})
    assert calls == [], "nothing runs before a click unless run_now=True"
    explorer.pruner.value = "grasp"
    explorer.compression.value = 0.5
    explorer.model.value = "Conv on MNIST"
    explorer.epochs.value = 3
    explorer.button.click()
    assert calls == [base.replace(pruner="grasp", compression=0.5, post_epochs=3, model="conv")]
    assert explorer.result == {"history": []}


def test_run_explorer_plots_the_runners_history_and_layers():
    history = [{"epoch": 0, "top1": 10.0}, {"epoch": 1, "top1": 80.5}]
    layers = [{"module": "layers.0", "kept": 0, "density": 0.0}, {"module": "fc", "kept": 10, "density": 0.01}]
    explorer = widgets.RunExplorer(
        preset_config("quick", "mag"), runner=lambda config: {"history": history, "layers": layers}
    )
    explorer.run()
    assert isinstance(explorer.figure, Figure) and isinstance(explorer.density_figure, Figure)
    assert "top-1 80.50 %" in explorer.status.value


def test_run_explorer_labels_fallback_data():
    result = {"history": [{"epoch": 0, "top1": 10.0}], "data_source": "FALLBACK: MNIST digits padded to 3×32×32 ..."}
    explorer = widgets.RunExplorer(preset_config("quick", "rand"), runner=lambda config: result)
    explorer.model.value = "VGG16 on CIFAR-10"
    explorer.run()
    assert explorer.figure.axes[0].get_title().startswith("FALLBACK: MNIST digits standing in for CIFAR-10")


def test_run_explorer_shows_errors_of_the_run():
    def missing(config):
        raise FileNotFoundError("CIFAR-10 not found under data/")

    explorer = widgets.RunExplorer(preset_config("quick", "rand"), runner=missing)
    explorer.run()
    assert explorer.result is None
    assert "CIFAR-10 not found" in explorer.status.value
