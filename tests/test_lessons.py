"""Tests for prunekit.teach.lessons (the pruner notebooks' data) and prunekit.teach.plots_lessons (their figures)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

import prunekit
from prunekit.teach import lessons, plots_lessons
from prunekit.core.layers import MaskedBatchNorm2d, MaskedConv2d, MaskedLinear

W1 = np.array(lessons.TINY_W1)
W2 = np.array(lessons.TINY_W2)
X = np.array(lessons.TINY_INPUT)
T = np.array(lessons.TINY_TARGET)


@pytest.fixture(scope="module")
def fc():
    torch.manual_seed(1)
    return prunekit.create_model("default", "fc", (1, 28, 28), 10)


@pytest.fixture(scope="module")
def fc_batches():
    generator = torch.Generator().manual_seed(3)
    return [(torch.randn(32, 1, 28, 28, generator=generator), torch.randint(0, 10, (32,), generator=generator))]


# --------------------------------------------------------------------------- the tiny network, by hand


def test_tiny_network_computes_w2_w1_x():
    net = lessons.tiny_network()
    assert net(torch.tensor(X[None, :], dtype=torch.float32)).item() == pytest.approx((W2 @ W1 @ X).item())
    assert net.input_shape == (2,)


def test_tiny_network_rejects_shapes_that_do_not_chain():
    with pytest.raises(ValueError, match="w1 must be hidden×inputs"):
        lessons.tiny_network(w1=[[1.0, 2.0]], w2=[[1.0, 2.0, 3.0]])


def test_tiny_mag_scores_are_absolute_weights():
    s1, s2 = lessons.tiny_scores("mag")
    np.testing.assert_allclose(s1, np.abs(W1))
    np.testing.assert_allclose(s2, np.abs(W2))


def test_tiny_snip_scores_match_the_chain_rule():
    h = W1 @ X
    e = (W2 @ h - T).item()  # L = e², dL/dy = 2e
    g1 = 2 * e * np.outer(W2[0], X)
    g2 = 2 * e * h[None, :]
    s1, s2 = lessons.tiny_scores("snip")
    np.testing.assert_allclose(s1, np.abs(g1 * W1), rtol=1e-5)
    np.testing.assert_allclose(s2, np.abs(g2 * W2), rtol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 200.0])
def test_tiny_grasp_scores_match_the_hessian_gradient_product(temperature):
    h = W1 @ X
    e = (W2 @ h / temperature - T).item()
    u1, u2 = np.outer(W2[0], X) / temperature, h[None, :] / temperature  # ∂e/∂θ
    g1, g2 = 2 * e * u1, 2 * e * u2
    # H = 2 u uᵀ + 2 e ∂²e; the only second derivatives of e are ∂²e/∂W1[i,j]∂W2[0,i] = x[j] / T
    hg1 = 2 * u1 * ((u1 * g1).sum() + (u2 * g2).sum()) + 2 * e * np.outer(g2[0], X) / temperature
    hg2 = 2 * u2 * ((u1 * g1).sum() + (u2 * g2).sum()) + 2 * e * (g1 @ X)[None, :] / temperature
    s1, s2 = lessons.tiny_scores("grasp", temperature=temperature)
    np.testing.assert_allclose(s1, W1 * hg1, rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(s2, W2 * hg2, rtol=1e-4, atol=1e-12)
    assert (np.concatenate([s1.ravel(), s2.ravel()]) < 0).any(), "GraSP scores are signed"


def test_tiny_synflow_scores_are_path_products_and_conserve_flow():
    a1, a2 = np.abs(W1), np.abs(W2)
    flow = (a2 @ a1 @ np.ones(2)).item()
    s1, s2 = lessons.tiny_scores("synflow")
    np.testing.assert_allclose(s1, a1 * a2[0][:, None], rtol=1e-6)
    np.testing.assert_allclose(s2, a2 * (a1 @ np.ones(2))[None, :], rtol=1e-6)
    assert s1.sum() == pytest.approx(flow) and s2.sum() == pytest.approx(flow)


def test_tiny_rand_scores_repeat_with_the_seed():
    torch.manual_seed(5)
    expected = [torch.randn(3, 2).numpy(), torch.randn(1, 3).numpy()]
    first = lessons.tiny_scores("rand", seed=5)
    np.testing.assert_array_equal(first[0], expected[0])
    np.testing.assert_array_equal(first[1], expected[1])
    assert not np.array_equal(lessons.tiny_scores("rand", seed=6)[0], first[0])


def test_tiny_scores_reject_an_unknown_pruner():
    with pytest.raises(ValueError, match="unknown pruner 'magic'.*synflow"):
        lessons.tiny_scores("magic")


# --------------------------------------------------------------------------- score tables


def test_score_frame_holds_every_weight_and_leaves_the_model_unchanged(fc, fc_batches):
    before = [p.detach().clone() for p in fc.parameters()]
    frame = lessons.score_frame(fc, "snip", fc_batches)
    assert list(frame.columns) == ["module", "layer", "size", "score"]
    assert len(frame) == 119_400
    assert frame.groupby("module", sort=False).size().to_dict() == {
        "layers.0": 78_400,
        "layers.1": 10_000,
        "layers.2": 10_000,
        "layers.3": 10_000,
        "layers.4": 10_000,
        "fc": 1_000,
    }
    assert all(torch.equal(a, b) for a, b in zip(before, fc.parameters()))


def test_score_frame_samples_per_layer_with_a_seed(fc):
    a = lessons.score_frame(fc, "mag", max_per_layer=500, seed=1)
    b = lessons.score_frame(fc, "mag", max_per_layer=500, seed=1)
    assert a.groupby("module").size().max() == 500 and a.groupby("module").size().min() == 500
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="max_per_layer"):
        lessons.score_frame(fc, "mag", max_per_layer=0)


def test_score_frame_needs_data_for_snip(fc):
    with pytest.raises(ValueError, match="needs data"):
        lessons.score_frame(fc, "snip")


def test_score_summary_counts_negative_and_zero_scores():
    frame = pd.DataFrame(
        {
            "module": ["a"] * 4 + ["b"] * 2,
            "layer": [0] * 4 + [1] * 2,
            "size": [4] * 4 + [2] * 2,
            "score": [-1.0, 0.0, 2.0, 3.0, 1.0, 1.0],
        }
    )
    table = lessons.score_summary(frame)
    assert table.module.tolist() == ["a", "b"]
    assert table.negative.tolist() == [0.25, 0.0]
    assert table.zero.tolist() == [0.25, 0.0]
    assert table["sum"].tolist() == [4.0, 2.0]


def test_global_threshold_is_the_smallest_kept_magnitude(fc):
    frame = lessons.score_frame(fc, "mag")
    threshold = lessons.global_threshold(frame, 1.0)
    with pytest.warns(prunekit.LayerCollapseWarning):
        pruned, report = lessons.prune_copy(fc, "mag", 1.0)
    kept = torch.cat(
        [p.weight.detach()[p.weight_mask.bool()].abs() for p in pruned.modules() if isinstance(p, MaskedLinear)]
    )
    assert float(kept.min()) == pytest.approx(threshold)
    assert report.kept == 11_940


# --------------------------------------------------------------------------- kept weights


def test_prune_copy_leaves_the_original_dense(fc):
    pruned, report = lessons.prune_copy(fc, "rand", 1.0)
    assert lessons.layer_kept(fc).density.eq(1.0).all()
    assert int(lessons.layer_kept(pruned).kept.sum()) == report.kept == 11_940


def test_kept_comparison_stacks_labelled_tables(fc):
    half, _ = lessons.prune_copy(fc, "mag", density=0.5)
    table = lessons.kept_comparison({"dense": fc, "half": half})
    assert table.label.unique().tolist() == ["dense", "half"]
    assert table.groupby("label").kept.sum().to_dict() == {"dense": 119_400, "half": 59_700}
    with pytest.raises(ValueError, match="at least one"):
        lessons.kept_comparison({})


def test_one_synflow_round_collapses_the_first_layer_and_more_rounds_do_not(fc):
    table, reports = lessons.compare_iterations(fc, 1.0, (1, 10))
    assert reports["1 iteration"].collapsed_layers == ("layers.0",)
    assert reports["10 iterations"].collapsed_layers == ()
    first = table[table.module == "layers.0"].set_index("label").kept
    assert first["1 iteration"] == 0 and first["10 iterations"] > 0
    with pytest.raises(ValueError, match="whole numbers"):
        lessons.compare_iterations(fc, 1.0, (0,))


def test_magnitude_at_initialization_empties_the_784_input_layer(fc):
    table = lessons.fan_in_table(fc)
    assert table.fan_in.tolist() == [784, 100, 100, 100, 100, 100]
    np.testing.assert_allclose(table.bound, [1 / math.sqrt(784)] + [0.1] * 5)
    np.testing.assert_allclose(table.mean_abs, table.expected_mean_abs, rtol=0.05)
    threshold = lessons.global_threshold(lessons.score_frame(fc, "mag"), 1.0)
    assert table.max_abs.iloc[0] < threshold < table.max_abs.iloc[1:].min()
    with pytest.warns(prunekit.LayerCollapseWarning):
        _, report = lessons.prune_copy(fc, "mag", 1.0)
    assert report.collapsed_layers == ("layers.0",)


# --------------------------------------------------------------------------- paths and Rand's collapse


def test_input_output_paths_counts_paths_of_an_mlp(fc):
    assert lessons.input_output_paths(fc) == 784 * 100**5 * 10
    net = lessons.tiny_network()
    net[0].weight_mask[0].zero_()  # hidden unit 0 loses both inputs
    assert lessons.input_output_paths(net) == 4.0
    net[1].weight_mask.zero_()
    assert lessons.input_output_paths(net) == 0.0


def test_input_output_paths_ignores_biases_and_handles_batch_norm():
    net = torch.nn.Sequential(
        MaskedConv2d(1, 2, 3, padding=1), MaskedBatchNorm2d(2), torch.nn.Flatten(), MaskedLinear(2 * 4 * 4, 1)
    )
    net.input_shape = (1, 4, 4)
    with torch.no_grad():
        net[1].running_mean.fill_(5.0)
    assert lessons.input_output_paths(net) > 0
    net[3].weight_mask.zero_()
    assert lessons.input_output_paths(net) == 0.0
    with pytest.raises(ValueError, match="input_shape"):
        lessons.input_output_paths(torch.nn.Sequential(MaskedLinear(2, 1)))


def test_rand_collapse_grows_with_compression():
    frame = lessons.rand_collapse([1.0, 3.5], range(6))
    assert len(frame) == 12
    assert (frame.collapsed <= frame.disconnected).all(), "an empty layer always disconnects the network"
    low, high = frame[frame.compression == 1.0], frame[frame.compression == 3.5]
    assert not low.collapsed.any() and not low.disconnected.any()
    assert high.disconnected.all() and high.collapsed.any()
    assert (frame.smallest_layer == "fc").all()
    rates = lessons.collapse_rates(frame)
    assert rates.compression.tolist() == [1.0, 3.5]
    assert rates.runs.tolist() == [6, 6]
    assert rates.collapsed.tolist() == [0.0, high.collapsed.mean()]
    assert rates.density.tolist() == pytest.approx([0.1, 10**-3.5])


def test_flow_is_conserved_layer_by_layer_without_biases(fc):
    table = lessons.flow_conservation(fc)
    np.testing.assert_allclose(table.flow, table.attrs["R"], rtol=1e-4)
    np.testing.assert_allclose(table.mean_score, table.flow / table["size"])
    assert not np.allclose(table.flow_with_biases, table.attrs["R"], rtol=1e-4), "biases add flow"
    assert lessons.flow_conservation(lessons.tiny_network()).attrs["R"] == pytest.approx(7.625)


# --------------------------------------------------------------------------- figures


def _closed(fig: Figure) -> bool:
    import matplotlib.pyplot as plt

    return fig.number not in plt.get_fignums() if hasattr(fig, "number") else True


def test_figures_are_returned_closed_with_labelled_axes(fc, fc_batches, sample_run):
    frame = lessons.score_frame(fc, "grasp", fc_batches)
    table, _ = lessons.compare_iterations(fc, 1.0, (1, 2))
    figures = [
        plots_lessons.plot_score_distributions(lessons.score_frame(fc, "synflow"), title="SynFlow", threshold=1.0),
        plots_lessons.plot_score_distributions(frame, title="GraSP"),
        plots_lessons.plot_score_distributions(lessons.score_frame(fc, "rand"), title="Rand", scale="linear"),
        plots_lessons.plot_signed_histogram(frame, title="GraSP"),
        plots_lessons.plot_layer_density(table, title="SynFlow"),
        plots_lessons.plot_training_curves(lessons.histories({"snip": sample_run.result}), references={"report": 11.35}),
        plots_lessons.plot_collapse_rates(lessons.collapse_rates(lessons.rand_collapse([3.0], [1, 2]))),
        plots_lessons.plot_flow_conservation(lessons.flow_conservation(fc)),
        plots_lessons.plot_fan_in(lessons.fan_in_table(fc), threshold=0.07),
    ]
    for fig in figures:
        assert isinstance(fig, Figure) and _closed(fig)
        for ax in fig.axes:
            assert ax.get_xlabel() and ax.get_ylabel()
    assert figures[1].axes[0].get_xscale() == "symlog"
    assert figures[0].axes[0].get_xscale() == "log"
    curve = figures[5].axes[0].lines[0]
    assert list(curve.get_ydata()) == [row.top1 for row in sample_run.result.post_history], "the real run's curve"
    texts = [t.get_text() for t in figures[4].axes[0].texts]
    assert texts.count("collapsed") == int((table.kept == 0).sum()) >= 1, "one label per empty layer"


def test_plot_functions_reject_empty_or_bad_input(sample_run):
    empty = pd.DataFrame(columns=["module", "layer", "size", "score", "density", "kept"])
    with pytest.raises(ValueError, match="non-empty"):
        plots_lessons.plot_score_distributions(empty)
    with pytest.raises(ValueError, match="non-empty"):
        plots_lessons.plot_layer_density(empty)
    with pytest.raises(ValueError, match="unknown scale 'loglog'; valid scales: log, symlog, linear"):
        plots_lessons.plot_score_distributions(
            pd.DataFrame({"module": ["a"], "layer": [0], "size": [1], "score": [1.0]}), scale="loglog"
        )
    with pytest.raises(ValueError, match="non-zero"):
        plots_lessons.plot_signed_histogram(pd.DataFrame({"score": [0.0, 0.0]}))
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        plots_lessons.plot_training_curves(lessons.histories({"snip": sample_run.result}), metric="acc")
    with pytest.raises(ValueError, match="at least one"):
        plots_lessons.plot_training_curves({})


def test_removal_effects_are_exact_loss_changes_of_the_tiny_network():
    h = W1 @ X
    e = (W2 @ h - T).item()
    table = lessons.removal_effects()
    assert len(table) == 9 and table.snip.is_monotonic_decreasing
    for row in table.itertuples():
        if row.module == "0":
            i, j = row.index
            removed = W2[0, i] * W1[i, j] * X[j]
        else:
            removed = W2[0, row.index[1]] * h[row.index[1]]
        assert row.loss_change == pytest.approx(abs((e - removed) ** 2 - e**2), rel=1e-5)
        assert row.snip == pytest.approx(abs(2 * e * removed), rel=1e-5), "SNIP = |g·θ| = first-order loss change"


def test_gradient_norm_matches_the_hand_gradient_and_ignores_pruned_weights():
    h = W1 @ X
    e = (W2 @ h - T).item()
    g1, g2 = 2 * e * np.outer(W2[0], X), 2 * e * h
    batch = [(torch.tensor(X[None, :], dtype=torch.float32), torch.tensor(T[None, :], dtype=torch.float32))]
    net = lessons.tiny_network()
    assert lessons.gradient_norm(net, batch, loss_fn=torch.nn.functional.mse_loss) == pytest.approx(
        (g1**2).sum() + (g2**2).sum(), rel=1e-5
    )
    net[0].weight_mask[0, 0] = 0.0
    with torch.no_grad():
        net[0].weight[0, 0] = 0.0
    h = (W1 * np.array([[0, 1], [1, 1], [1, 1]])) @ X
    e = (W2 @ h - T).item()
    g1 = 2 * e * np.outer(W2[0], X) * np.array([[0, 1], [1, 1], [1, 1]])
    expected = (g1**2).sum() + ((2 * e * h) ** 2).sum()
    assert lessons.gradient_norm(net, batch, loss_fn=torch.nn.functional.mse_loss) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="at least one"):
        lessons.gradient_norm(net, [])


# --------------------------------------------------------------------------- lesson setup


def test_lesson_setup_builds_a_seeded_model_and_pruning_batches():
    from prunekit.run.presets import preset_config

    config = preset_config("quick", "snip", seed=3)
    first, second = lessons.lesson_setup(config, device="cpu"), lessons.lesson_setup(config, device="cpu")
    assert first.train.spec.input_shape == (1, 28, 28) and not first.fallback and first.tag == ""
    assert first.train.train and not first.test.train
    assert lessons.majority_share(first.test) == pytest.approx(
        100.0 * torch.bincount(first.test.targets).max().item() / len(first.test)
    )
    assert first.title("x") == "x"
    assert sum(len(targets) for _, targets in first.prune_data) == config.prune_dataset_ratio * 10
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    other = lessons.lesson_setup(config.replace(seed=4), device="cpu")
    assert not torch.equal(first.model.fc.weight, other.model.fc.weight)


def test_lesson_setup_labels_the_cifar_fallback(monkeypatch):
    from prunekit.run.data import DatasetNotFoundError
    from prunekit.run.presets import preset_config

    real = prunekit.run.experiment.load_dataset

    def missing_cifar(name, *args, **kwargs):
        if name == "cifar10":
            raise DatasetNotFoundError("CIFAR-10 not found (test)")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(prunekit.run.experiment, "load_dataset", missing_cifar)
    monkeypatch.setattr(prunekit.run.data, "load_dataset", missing_cifar)
    config = preset_config("quick", "mag").replace(model_class="default", model="conv", dataset="cifar10")
    with pytest.warns(prunekit.run.data.FallbackDataWarning):
        lesson = lessons.lesson_setup(config, device="cpu")
    assert lesson.fallback and lesson.tag.startswith(lessons.FALLBACK_TAG)
    assert lesson.title("Mag scores").startswith("FALLBACK: MNIST digits standing in for CIFAR-10")
    assert lesson.train.spec.input_shape == (3, 32, 32)
    assert lesson.model.input_shape == (3, 32, 32)


def test_pretrain_copy_trains_a_repeatable_copy():
    from prunekit.run.presets import preset_config

    lesson = lessons.lesson_setup(preset_config("quick", "mag", train_limit=256), device="cpu")
    before = lesson.model.layers[0].weight.detach().clone()
    first, second = lessons.pretrain_copy(lesson, 1), lessons.pretrain_copy(lesson, 1)
    assert torch.equal(lesson.model.layers[0].weight, before), "the lesson's model is untouched"
    assert not torch.equal(first.layers[0].weight, before)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert torch.equal(lessons.pretrain_copy(lesson, 0).layers[0].weight, before)
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        lessons.pretrain_copy(lesson, -1)


def test_input_connections_maps_kept_weights_to_pixels_and_kernel_positions(fc):
    pruned, _ = lessons.prune_copy(fc, "mag", density=0.5)
    counts, kind = lessons.input_connections(pruned)
    assert kind == "pixel" and counts.shape == (28, 28)
    assert counts.sum() == pruned.layers[0].weight_mask.sum().item()
    torch.manual_seed(0)
    conv = prunekit.create_model("default", "conv", (3, 8, 8), 10)
    counts, kind = lessons.input_connections(conv)
    assert kind == "kernel position" and counts.tolist() == [[3 * 32] * 3] * 3
    fig = plots_lessons.plot_input_connections(*lessons.input_connections(pruned), title="Mag")
    assert fig.axes[0].get_title() == "Mag"
    assert np.array_equal(fig.axes[0].images[0].get_array(), lessons.input_connections(pruned)[0])
    with pytest.raises(ValueError, match="valid kinds: pixel, kernel position"):
        plots_lessons.plot_input_connections(counts, "pixels")
    with pytest.raises(ValueError, match="2-D map"):
        plots_lessons.plot_input_connections(np.zeros(4))
    bad = torch.nn.Sequential(MaskedLinear(5, 2))
    bad.input_shape = (1, 2, 2)
    with pytest.raises(ValueError, match="does not match the input shape"):
        lessons.input_connections(bad)


def test_gradient_norms_are_relative_to_the_first_model(fc, fc_batches):
    pruned, _ = lessons.prune_copy(fc, "grasp", 1.0, fc_batches)
    table = lessons.gradient_norms({"dense": fc, "grasp": pruned}, iter(fc_batches))
    assert table.model.tolist() == ["dense", "grasp"]
    assert table.relative.iloc[0] == 1.0
    assert table.gradient_norm_sq.iloc[1] == pytest.approx(lessons.gradient_norm(pruned, fc_batches))
    assert table.relative.iloc[1] == pytest.approx(table.gradient_norm_sq.iloc[1] / table.gradient_norm_sq.iloc[0])
    with pytest.raises(ValueError, match="at least one"):
        lessons.gradient_norms({}, fc_batches)


# --------------------------------------------------------------------------- seaborn figures, plotting without analysis


def test_density_heatmap_shows_each_pruners_layer_density(fc, fc_batches):
    torch.manual_seed(0)
    copies = {name: lessons.prune_copy(fc, name, 2.0, fc_batches)[0] for name in ("rand", "mag", "synflow")}
    table = lessons.kept_comparison(copies)
    fig = plots_lessons.plot_density_heatmap(table, title="density")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["rand", "mag", "synflow"]
    assert [t.get_text() for t in ax.get_xticklabels()] == lessons.layer_kept(fc).module.tolist()
    cells = np.ma.filled(ax.collections[0].get_array().astype(float), np.nan).reshape(3, -1)
    expected = table.pivot(index="label", columns="module", values="density").loc[list(copies)]
    expected = expected[lessons.layer_kept(fc).module].to_numpy(copy=True)
    expected[expected == 0] = np.nan
    assert np.allclose(cells, expected, equal_nan=True)
    collapsed = int((table.kept == 0).sum())
    assert collapsed > 0, "mag at compression 2 empties the 784-input layer"
    assert sum(t.get_text() == "collapsed" for t in ax.texts) == collapsed
    with pytest.raises(ValueError, match="one row per"):
        plots_lessons.plot_density_heatmap(pd.concat([table, table]))
    with pytest.raises(ValueError, match="missing"):
        plots_lessons.plot_density_heatmap(table.drop(columns="kept"))


def test_over_seeds_draws_the_mean_and_a_one_sd_band_of_real_rand_runs():
    frame = lessons.rand_collapse([1.0, 2.0], [1, 2, 3], input_shape=(1, 6, 6), num_classes=3)
    fig = plots_lessons.plot_over_seeds(frame, "compression", "smallest_layer_kept")
    ax = fig.axes[0]
    grouped = frame.groupby("compression").smallest_layer_kept
    assert ax.lines[0].get_xdata().tolist() == [1.0, 2.0]
    assert np.allclose(ax.lines[0].get_ydata(), grouped.mean())
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.max(), (grouped.mean() + grouped.std()).max())
    assert np.isclose(band.min(), (grouped.mean() - grouped.std()).min())
    frame["model"] = np.where(frame.seed == 1, "a", "b")
    fig = plots_lessons.plot_over_seeds(frame, "compression", "kept", hue="model")
    assert len([line for line in fig.axes[0].lines if len(line.get_xdata()) == 2]) == 2
    with pytest.raises(ValueError, match="missing \\['top1'\\]"):
        plots_lessons.plot_over_seeds(frame, "compression", "top1")


def test_layer_density_names_repeated_layers(fc):
    rows = prunekit.layer_table(fc)
    with pytest.raises(ValueError, match="one row per layer"):
        plots_lessons.plot_layer_density(rows)


def test_plotting_modules_do_no_analysis():
    import ast
    import inspect

    for module in (plots_lessons, prunekit.report.shared_figures):
        tree = ast.parse(inspect.getsource(module))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in imported if m and m.startswith("prunekit") and "shared_figures" not in m}, module


def test_all_weights_of_a_layer_come_from_the_unpruned_network() -> None:
    torch.manual_seed(0)
    net = prunekit.create_model("default", "fc", (1, 28, 28), 10)
    models, _ = lessons.prune_each(net, ["mag", "rand"], 1.0)
    table = lessons.weight_histogram(models, "layers.0", bins=20, dense=net)
    dense = net.layers[0].weight.detach().reshape(-1).double().numpy()
    edges = np.append(table[table.label == "all weights"].left.to_numpy(),
                      table[table.label == "all weights"].right.iloc[-1])
    assert table[table.label == "all weights"]["count"].tolist() == np.histogram(dense, bins=edges)[0].tolist()
    assert table.groupby("label", sort=False)["count"].sum().to_dict() == {
        "all weights": dense.size, "mag": int(models["mag"].layers[0].weight_mask.sum()),
        "rand": int(models["rand"].layers[0].weight_mask.sum())}
    assert "all weights" not in set(lessons.weight_histogram(models, "layers.0", bins=20).label)


def test_synflow_bias_effect_biases_empty_the_early_layers_at_compression_3() -> None:
    """The reference sweep's 100-round SynFlow collapse at a = 3 (seed 1) and what removes it."""
    torch.manual_seed(1)
    model = prunekit.create_model("default", "fc", (1, 28, 28), 10)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    table = lessons.synflow_bias_effect(model, 3.0)
    assert table["kept with biases"].sum() == table["kept, biases zeroed"].sum() == 119
    assert table.attrs["collapsed with biases"] == ["layers.0", "layers.1", "layers.2", "layers.3"]
    assert table.attrs["disconnected with biases"] is True
    assert table.attrs["collapsed, biases zeroed"] == [] and table.attrs["disconnected, biases zeroed"] is False
    assert (table["kept, biases zeroed"] > 0).all()
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items()), "the model is read only"
