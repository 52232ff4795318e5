"""prunekit.core.connectivity: disconnection (no input-output path) on exact small cases and real models."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from prunekit.core.connectivity import input_output_paths, is_disconnected, reachable_outputs
from prunekit.core.layers import MaskedConv2d, MaskedLinear, masked_parameters
from prunekit.core.models import create_model
from prunekit.core.models.fc import FC
from prunekit.core.pruning import LayerCollapseWarning, collapsed_layers, prune


def small_fc(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return FC((1, 2, 4), 3, width=8, depth=3)


def test_every_layer_kept_but_no_path_is_disconnected():
    net = small_fc()  # 8 inputs -> 8 -> 8 -> 3
    first, second, _ = (p.mask for p in masked_parameters(net))
    first.zero_()
    first[3].fill_(1)  # layer 0 keeps only the inputs of unit 3
    second.zero_()
    second[:, 5].fill_(1)  # layer 1 keeps only the connections leaving unit 5
    assert collapsed_layers(net) == []
    assert is_disconnected(net)
    assert input_output_paths(net) == 0.0
    assert not reachable_outputs(net).any()
    second[2, 3] = 1  # one weight from unit 3 to unit 2 of layer 1 reconnects it
    assert not is_disconnected(net)
    assert input_output_paths(net) == 8 * 1 * 3  # 8 inputs -> unit 3 -> unit 2 -> 3 outputs


def test_layer_collapse_implies_disconnection():
    for layer in range(3):
        net = small_fc()
        list(masked_parameters(net))[layer].mask.zero_()
        assert collapsed_layers(net) != []
        assert is_disconnected(net), f"layer {layer} empty but a path was found"


def test_reachability_matches_boolean_matrix_products_on_random_masks():
    generator = torch.Generator().manual_seed(7)
    outcomes = set()
    for trial in range(60):
        net = small_fc(trial)
        density = [0.05, 0.1, 0.2][trial % 3]
        for p in masked_parameters(net):
            p.mask.copy_((torch.rand(p.mask.shape, generator=generator) < density).float())
        reach = np.ones(8, dtype=bool)  # every input pixel
        for p in masked_parameters(net):
            reach = (p.mask.numpy().astype(bool) & reach[None, :]).any(axis=1)
        assert reachable_outputs(net).numpy().tolist() == reach.tolist()
        assert is_disconnected(net) == (not reach.any())
        paths = np.ones(8)
        for p in masked_parameters(net):
            paths = p.mask.double().numpy() @ paths
        assert input_output_paths(net) == paths.sum()
        outcomes.add(bool(reach.any()))
    assert outcomes == {True, False}, "the random cases should include both connected and disconnected masks"


def test_conv_channels_are_reachable_through_any_kept_kernel_entry():
    net = nn.Sequential(
        MaskedConv2d(1, 2, 3, padding=1), nn.ReLU(), MaskedConv2d(2, 2, 3, padding=1), nn.Flatten(),
        MaskedLinear(2 * 5 * 5, 1),
    )
    conv0, conv1, fc = (p.mask for p in masked_parameters(net))
    conv0.zero_()
    conv0[0, 0, 0, 0] = 1  # channel 0 gets one corner kernel entry
    conv1.zero_()
    conv1[1, 1].fill_(1)  # channel 1 of the second conv reads only channel 1 of the first (empty)
    assert collapsed_layers(net) == []
    assert is_disconnected(net, input_shape=(1, 5, 5))
    conv1[1, 0, 2, 2] = 1  # one kernel entry from channel 0 to channel 1
    fc.zero_()
    fc[0, 25:].fill_(1)  # the classifier reads only channel 1
    assert not is_disconnected(net, input_shape=(1, 5, 5))
    fc[0, 25:].zero_()
    fc[0, :25].fill_(1)  # now only channel 0, which has no input
    assert is_disconnected(net, input_shape=(1, 5, 5))


def test_a_kernel_entry_that_only_sees_padding_is_no_path():
    net = nn.Sequential(MaskedConv2d(1, 1, 3, padding=1), nn.Flatten(), MaskedLinear(1, 1))
    conv = next(iter(masked_parameters(net))).mask
    conv.zero_()
    conv[0, 0, 0, 0] = 1  # on a 1×1 input the corner entry reads only zero padding
    assert is_disconnected(net, input_shape=(1, 1, 1))
    conv[0, 0, 1, 1] = 1  # the centre reads the pixel
    assert not is_disconnected(net, input_shape=(1, 1, 1))


def test_residual_paths_are_the_union_of_block_and_skip():
    torch.manual_seed(0)
    net = create_model("lottery", "resnet20", (3, 32, 32), 10)
    names = {p.module_name: p.mask for p in masked_parameters(net)}
    names["blocks.0.conv1"].zero_()  # the first block's conv branch collapses; its identity skip remains
    assert collapsed_layers(net) == ["blocks.0.conv1"]
    assert not is_disconnected(net)
    names["conv"].zero_()  # the stem feeds every path
    assert is_disconnected(net)


def test_dense_classifier_counts_as_kept_and_model_is_left_unchanged():
    torch.manual_seed(0)
    net = create_model("default", "fc", (1, 28, 28), 10, dense_classifier=True)
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    assert input_output_paths(net) == 784 * 100**5 * 10
    assert not is_disconnected(net)
    assert net.training
    assert all(torch.equal(weights[k], v) for k, v in net.state_dict().items())
    assert all(not m._forward_hooks for m in net.modules()), "no hook may be left behind"


def test_vgg16_at_initialization_and_after_rand_pruning_at_a_1_keeps_paths():
    torch.manual_seed(0)
    net = create_model("lottery", "vgg16", (3, 32, 32), 10)
    assert not is_disconnected(net)
    prune(net, "rand", 1.0)
    assert not is_disconnected(net)


def test_rand_at_high_compression_disconnects_and_collapse_is_always_disconnection():
    seen = {"collapsed": 0, "disconnected": 0}
    for seed in range(8):
        torch.manual_seed(seed)
        net = create_model("default", "fc", (1, 28, 28), 10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)
            report = prune(net, "rand", 3.0)
        disconnected = is_disconnected(net)
        if report.collapsed_layers:
            assert disconnected
            seen["collapsed"] += 1
        seen["disconnected"] += disconnected
    assert seen["disconnected"] > seen["collapsed"] >= 0
    assert seen["disconnected"] >= 6, f"Rand keeps 119 of 119,400 weights at a = 3: {seen}"


def test_missing_or_bad_input_shape_is_an_error_that_says_what_to_pass():
    with pytest.raises(ValueError, match="input_shape"):
        is_disconnected(nn.Sequential(MaskedLinear(2, 1)))
    with pytest.raises(ValueError, match=r"positive sizes.*\(1, 0\)"):
        reachable_outputs(nn.Sequential(MaskedLinear(2, 1)), input_shape=(1, 0))


# --------------------------------------------------------------------------- in a run's result, summary and tables


@pytest.fixture(scope="module")
def rand_runs(tmp_path_factory, make_tiny_config):
    """Two tiny real runs of Rand on the FC net (seed 0): a = 2.5 disconnects without collapse, a = 1 does not."""
    from prunekit.run.experiment import run_singleshot

    folder = tmp_path_factory.mktemp("disconnection")
    runs = {}
    for compression in (1.0, 2.5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs[compression] = run_singleshot(
                make_tiny_config(folder, pruner="rand", compression=compression, seed=0), progress=False
            )
    return folder, runs


def test_a_run_records_disconnection_in_its_result_and_summary(rand_runs):
    from prunekit.run.result import RunResult
    from prunekit.run.summary import summary_lines

    _, runs = rand_runs
    cut, kept = runs[2.5], runs[1.0]
    assert cut.collapsed_layers == () and cut.disconnected is True
    assert kept.collapsed_layers == () and kept.disconnected is False
    assert any(line.startswith("DISCONNECTED: no path from input to output") for line in summary_lines(cut))
    assert not any("DISCONNECTED" in line for line in summary_lines(kept))
    assert RunResult.from_dict(cut.to_dict()).disconnected is True
    old = cut.to_dict()
    del old["disconnected"]  # a result saved before prunekit checked
    assert RunResult.from_dict(old).disconnected is None
    old["collapsed_layers"] = ["fc"]
    assert RunResult.from_dict(old).disconnected is True, "a collapsed layer shows the disconnection"


def test_collect_and_the_tables_mark_disconnected_runs(rand_runs):
    from prunekit.report.collect import collect
    from prunekit.report.tables import (
        DISCONNECTED_MARK,
        for_display,
        mark_disconnected,
        table_1_1,
        table_accuracy,
        table_disconnected,
    )

    folder, _ = rand_runs
    frame = collect(folder)
    assert dict(zip(frame.compression, frame.disconnected)) == {1.0: False, 2.5: True}
    shares = table_disconnected(frame)
    assert shares.rand.tolist() == [0.0, 1.0]
    marked = mark_disconnected(for_display(table_accuracy(frame)), shares)
    assert marked.loc[2.5, "rand"].endswith(DISCONNECTED_MARK)
    assert not marked.loc[1.0, "rand"].endswith(DISCONNECTED_MARK)
    assert "no path from input to output" in marked.attrs["note"]
    one = mark_disconnected(for_display(table_1_1(frame, 2.5)), table_disconnected(frame, by="arch"))
    assert one.loc["mnist/fc", "rand"].endswith(DISCONNECTED_MARK)
    with pytest.raises(ValueError, match="valid: compression, arch"):
        table_disconnected(frame, by="seed")


def test_the_report_page_has_a_disconnection_table_and_sentence(rand_runs, tmp_path):
    from prunekit.report.collect import collect
    from prunekit.report.render import write_report, written_summary

    folder, _ = rand_runs
    summary = written_summary(collect(folder))
    assert any(line.startswith("Disconnection (mnist/fc): rand at compression 2.5 (seed 0)") for line in summary)
    write_report(folder, tmp_path / "out")
    shares = pd.read_csv(tmp_path / "out" / "disconnected_fc_mnist.csv", index_col=0)
    assert shares.loc[2.5, "rand"] == 1.0 and shares.loc[1.0, "rand"] == 0.0
