"""The conservation experiments: SynFlow's neuron-wise and layer-wise conservation, and the command lines."""

from __future__ import annotations

import shlex
import warnings

import pytest
import torch

from prunekit import cli, create_model
from prunekit.run import data as prunekit_data
from prunekit.run.data import cifar_fallback
from prunekit.run.experiments import load_experiment
from prunekit.run.experiments.conservation import (
    CUT_FLOW,
    layer_average_scores,
    loglog_slope,
    run_conservation,
    signed_layer_saliency,
    unit_scores,
)
from prunekit.run.loader import prune_loader


@pytest.fixture(autouse=True)
def _quiet_data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", prunekit_data.DataWarning)
        yield


@pytest.mark.parametrize("model", ["fc", "conv"])
def test_synflow_conserves_the_score_of_every_hidden_unit(model) -> None:
    torch.manual_seed(3)
    net = create_model("default", model, (1, 28, 28), 10)
    with torch.no_grad():
        for param in net.parameters():
            param.add_(0.01)  # non-zero biases: their flow must be counted in
    units = unit_scores(net, "synflow", dtype=torch.float64)
    assert len(units) == len([m for m in net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]) - 1
    for name, into, out in units:
        assert into.dtype == torch.float64
        assert torch.allclose(into, out, rtol=1e-4, atol=0), name


def test_synflow_conserves_units_across_a_flatten(small_net) -> None:
    for name, into, out in unit_scores(small_net, "synflow", dtype=torch.float64):
        assert torch.allclose(into, out, rtol=1e-4, atol=0), name


def test_snip_does_not_conserve_unit_scores() -> None:
    torch.manual_seed(3)
    net = create_model("default", "fc", (1, 28, 28), 10)
    batch = [(torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,)))]
    name, into, out = unit_scores(net, "snip", batch)[0]
    assert not torch.allclose(into, out, rtol=1e-2)


def test_layer_conservation_slopes_on_vgg16_at_initialization() -> None:
    """SynFlow's average score falls as 1/size exactly; SNIP's is printed (data: the labelled FALLBACK)."""
    torch.manual_seed(1)
    net = create_model("lottery", "vgg16", (3, 32, 32), 10)
    data = prune_loader(cifar_fallback(train=True), ratio=10, batch_size=256, seed=1)
    slopes = {}
    for pruner in ("synflow", "snip"):
        rows = layer_average_scores(net, pruner, data)
        slopes[pruner] = loglog_slope([size for _, size, _ in rows], [score for _, _, score in rows])
    rows = signed_layer_saliency(net, data)
    slopes["signed"] = loglog_slope([size for _, size, _ in rows], [score for _, _, score in rows])
    print(f"VGG16 at initialization, log-log slope of average score against layer size: "
          f"SynFlow {slopes['synflow']:.3f}, SNIP {slopes['snip']:.3f}, SNIP before its absolute value (θ·∂L/∂θ) "
          f"{slopes['signed']:.3f} (SNIP scored on FALLBACK data)")
    assert -1.1 <= slopes["synflow"] <= -0.9
    assert slopes["signed"] == pytest.approx(-1.0, abs=0.01)  # the conserved quantity: zero biases, exact
    assert -0.9 < slopes["snip"] < 0  # the absolute value adds up terms of both signs: flatter


@pytest.mark.parametrize("experiment", ["unit-conservation", "layer-conservation", "imp-conservation",
                                        "schedule-conservation"])
def test_synaptic_flows_conservation_commands_run_as_prunekit(experiment, make_tiny_config, tmp_path) -> None:
    data_dir = make_tiny_config(tmp_path).data_dir
    line = (f"--model-class default --model fc --dataset mnist --experiment {experiment} "
            "--pruner-list rand mag snip grasp synflow --compression-list 0.5 1 --prune-epoch-list 1 10 "
            "--post-epochs 1")
    extra = f"--train-limit 300 --test-limit 200 --result-dir {tmp_path} --data-dir {data_dir} --quiet --expid e"
    assert cli.main([*shlex.split(line), *shlex.split(extra)]) == 0
    result = load_experiment(tmp_path / experiment / "e")
    assert result.experiment == experiment and result.curves
    if experiment == "layer-conservation":
        assert result.slopes["synflow"] == pytest.approx(-1.0, abs=0.01)  # FC biases carry a little flow
        # FC's biases start non-zero and take part in the law (S(W_l) + S(b_l) = S(W_l+1)), so the weights' signed
        # sums are not all equal; they still fall more steeply than SNIP's absolute values (exactly -1: VGG16 above)
        assert result.slopes["snip-signed"] < result.slopes["snip"] - 0.2
        assert [c.pruner for c in result.curves] == ["rand", "mag", "snip", "grasp", "synflow", "snip-signed"]
    if experiment == "unit-conservation":
        for curve in (c for c in result.curves if c.pruner == "synflow"):
            assert curve.x == pytest.approx(curve.y, rel=1e-4)
    if experiment == "schedule-conservation":
        assert {c.label for c in result.curves} == {"rounds=1", "rounds=10", "rounds=1 max cut/flow",
                                                    "rounds=10 max cut/flow"}
        assert all(0 <= kept <= 1 for curve in result.curves if not curve.label.endswith(CUT_FLOW) for kept in curve.y)
        assert all(cut > 0 for curve in result.curves if curve.label.endswith(CUT_FLOW) for cut in curve.y)


def test_unit_conservation_refuses_a_resnet_before_any_work(make_tiny_config, tmp_path) -> None:
    """A residual block's flow bypasses the chain of layers, so in- and out-scores need not agree."""
    net = create_model("lottery", "resnet20", (3, 32, 32), 10)
    with pytest.raises(ValueError, match="skip connections"):
        unit_scores(net, "synflow")
    config = make_tiny_config(tmp_path, experiment="unit-conservation", model_class="lottery", model="resnet20",
                              dataset="cifar10", pruner_list=("synflow",))
    with pytest.raises(ValueError, match="'resnet20' has skip connections: use fc, conv or a vgg model"):
        run_conservation(config, progress=False)
    assert not (tmp_path / "unit-conservation").exists()


def test_a_layer_conservation_result_saved_before_the_signed_curve_is_computed_again(make_tiny_config, tmp_path) -> None:
    """Notebook 10 reads the ``snip-signed`` slope: a finished result from an older kit lacks it and is not reused."""
    from prunekit.run.experiments import run_or_load_experiment
    from prunekit.run.experiments.common import folder_of
    from prunekit.run.experiments.results import EXPERIMENT_FILE
    from prunekit.run.io import read_json, write_json

    config = make_tiny_config(tmp_path, experiment="layer-conservation", pruner_list=("snip", "synflow"))
    first = run_or_load_experiment(config)
    assert "snip-signed" in first.slopes
    path = folder_of(config) / EXPERIMENT_FILE
    old = read_json(path)
    old["slopes"].pop("snip-signed")
    old["curves"] = [c for c in old["curves"] if c["pruner"] != "snip-signed"]
    write_json(path, old)
    again = run_or_load_experiment(config)
    assert again.slopes == first.slopes and "snip-signed" in load_experiment(folder_of(config)).slopes


def test_schedule_conservations_cut_flow_is_the_synflow_score_a_round_removes_over_the_flow(
    make_tiny_config, tmp_path
) -> None:
    """Synaptic-Flow's measure, checked by hand for one round; and many rounds keep every cut below the flow."""
    from prunekit.core.layers import masked_parameters
    from prunekit.core.pruning import prune
    from prunekit.core.scorers.synflow import synaptic_flow, synflow_scores

    config = make_tiny_config(tmp_path, experiment="schedule-conservation", pruner_list=("synflow", "mag"),
                              compression_list=(1.0, 2.0), prune_epoch_list=(1, 100))
    result = run_conservation(config, progress=False)
    curves = {(c.pruner, c.label): c for c in result.curves}
    for pruner, dtype in (("synflow", None), ("mag", torch.float64)):  # SynFlow's own round scores; Mag's in float64
        torch.manual_seed(config.seed)
        net = create_model("default", "fc", (1, 28, 28), 10)
        params = list(masked_parameters(net))
        flow = synaptic_flow(net, params)
        scores = synflow_scores(net, params, dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prune(net, pruner, 1.0, rounds=1)
        cut = sum(float(s.double()[p.mask == 0].sum()) for s, p in zip(scores, params))
        assert curves[(pruner, "rounds=1" + CUT_FLOW)].y[0] == pytest.approx(cut / flow, rel=1e-9)
    one, many = curves[("synflow", "rounds=1" + CUT_FLOW)], curves[("synflow", "rounds=100" + CUT_FLOW)]
    assert all(ratio > 1 for ratio in one.y), "one round cuts more than the whole flow at once"
    assert all(ratio < 0.3 for ratio in many.y), "no round of 100 cuts more than a small part of it"
    assert one.names == curves[("synflow", "rounds=1")].names  # the same collapse marks as the flow-kept curve


def test_a_schedule_conservation_result_saved_before_the_cut_flow_curves_is_computed_again(
    make_tiny_config, tmp_path
) -> None:
    from prunekit.run.experiments import run_or_load_experiment
    from prunekit.run.experiments.common import folder_of
    from prunekit.run.experiments.results import EXPERIMENT_FILE
    from prunekit.run.io import read_json, write_json

    config = make_tiny_config(tmp_path, experiment="schedule-conservation", pruner_list=("synflow",),
                              compression_list=(1.0,), prune_epoch_list=(1,))
    first = run_or_load_experiment(config)
    path = folder_of(config) / EXPERIMENT_FILE
    old = read_json(path)
    old["curves"] = [c for c in old["curves"] if not c["label"].endswith(CUT_FLOW)]
    write_json(path, old)
    again = run_or_load_experiment(config)
    assert again.curves == first.curves and len(load_experiment(folder_of(config)).curves) == 2
