"""FLOPs and per-layer tables, checked against the report's numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit import create_model, flop_summary, layer_table, prune, weight_histograms
from prunekit.core.layers import MaskedConv2d, MaskedLinear
from prunekit.core.metrics import COLUMNS

# The report's section 2.2 'Unpruned' column (VGG16, CIFAR-10).
SEED_UNPRUNED = {
    "layers.0.conv": 1769472,
    "layers.1.conv": 37748736,
    "layers.3.conv": 18874368,
    "layers.4.conv": 37748736,
    "layers.6.conv": 18874368,
    "layers.7.conv": 37748736,
    "layers.8.conv": 37748736,
    "layers.10.conv": 18874368,
    "layers.11.conv": 37748736,
    "layers.12.conv": 37748736,
    "layers.14.conv": 9437184,
    "layers.15.conv": 9437184,
    "layers.16.conv": 9437184,
    "fc": 5120,
}


@pytest.fixture(scope="module")
def vgg16_table():
    return layer_table(create_model("lottery", "vgg16", (3, 32, 32), 10), (3, 32, 32))


def test_vgg16_dense_total_is_the_seeds(vgg16_table):
    assert int(vgg16_table.flops.sum()) == 313_478_154
    assert flop_summary(vgg16_table)["flops"] == 313_478_154


def test_vgg16_weight_flops_match_the_seeds_column(vgg16_table):
    weights = vgg16_table[vgg16_table.param == "weight"]
    assert dict(zip(weights.module, weights.flops)) == SEED_UNPRUNED


def test_table_has_a_row_per_weight_and_bias(vgg16_table):
    assert list(vgg16_table.columns) == COLUMNS
    assert len(vgg16_table) == 2 * 14
    assert set(vgg16_table.param) == {"weight", "bias"}


def test_conv_and_linear_flops_by_hand():
    net = nn.Sequential(MaskedConv2d(2, 3, 3, stride=2), nn.Flatten(), MaskedLinear(3 * 3 * 3, 4))
    table = layer_table(net, (2, 7, 7))
    # conv: output 3x3; weight 2*3*3*3 * 9 = 486, bias 3 * 9 = 27; linear 27*4 = 108, bias 4
    assert table.flops.tolist() == [486, 27, 108, 4]


def test_batchnorm_flops():
    net = create_model("lottery", "vgg11-bn", (3, 32, 32), 10)
    table = layer_table(net)
    bn = table[table.module == "layers.0.bn"]
    assert bn.flops.tolist() == [64 * 32 * 32, 64 * 32 * 32]


def test_remaining_flops_follow_the_density():
    torch.manual_seed(0)
    net = create_model("lottery", "vgg16", (3, 32, 32), 10)
    prune(net, "rand", compression=1)
    table = layer_table(net)
    weights = table[table.param == "weight"]
    for row in weights.itertuples():
        assert row.flops_remaining == row.kept * (row.flops // row.size)
    summary = flop_summary(table)
    assert summary["kept"] == 1_471_558 and summary["params"] == 14_715_584
    assert 0.09 < summary["flop_ratio"] < 0.12


def test_hooks_are_removed_even_when_the_forward_fails():
    net = nn.Sequential(MaskedLinear(3, 2))
    with pytest.raises(RuntimeError):
        layer_table(net, (5,))
    assert not net[0]._forward_hooks
    layer_table(net, (3,))
    assert not net[0]._forward_hooks


def test_missing_input_shape_is_refused():
    with pytest.raises(ValueError, match="input shape"):
        layer_table(nn.Sequential(MaskedLinear(3, 2)))


def test_weight_histograms_sum_to_each_layers_density():
    torch.manual_seed(0)
    net = create_model("default", "fc", (1, 28, 28), 10)
    prune(net, "rand", density=0.3, scope="local")
    table = weight_histograms(net, bins=20)
    sums = table.groupby("module", sort=False).frequency.sum()
    assert list(sums.index) == [f"layers.{i}" for i in range(5)] + ["fc"]
    for value in sums:
        assert value == pytest.approx(0.3, abs=1e-3)


def test_weight_histograms_bin_each_layer_over_its_own_weights():
    torch.manual_seed(0)
    net = create_model("default", "fc", (1, 28, 28), 10)
    with torch.no_grad():
        net.layers[1].weight.mul_(10.0)  # a layer of much larger weights than its neighbours
    prune(net, "mag", density=0.5, scope="local")
    table = weight_histograms(net, bins=8)
    assert len(table) == 6 * 8
    for module, rows in table.groupby("module", sort=False):
        layer = net.get_submodule(module)
        largest = float((layer.weight.detach() * layer.weight_mask).abs().max())
        assert rows.bin_left.iloc[0] == pytest.approx(-largest) and rows.bin_right.iloc[-1] == pytest.approx(largest)
        assert (rows.bin_right.to_numpy()[:-1] == rows.bin_left.to_numpy()[1:]).all(), "contiguous bins"
        assert rows.frequency.sum() == pytest.approx(0.5, abs=1e-3)
    right = table.groupby("module", sort=False).bin_right.max()
    assert right["layers.1"] > 5 * right["layers.2"], "the scaled layer's bins span its own, wider range"
    middle = table[table.module == "layers.2"]
    assert middle[(middle.bin_left > -right["layers.2"] / 4) & (middle.bin_right < right["layers.2"] / 4)].frequency.sum() == 0, \
        "Mag's gap around zero falls into bins of the layer's own scale"
    shared = weight_histograms(net, bins=8, per_layer=False)
    assert shared.groupby("module").bin_right.max().nunique() == 1
    assert shared.bin_right.max() == pytest.approx(right.max())
    assert weight_histograms(net, bins=8, limit=0.5).bin_right.max() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="bins"):
        weight_histograms(net, bins=0)


def test_3d_histograms_draw_each_layers_own_bins():
    from prunekit.report.plots import plot_weight_histograms_3d

    torch.manual_seed(0)
    net = create_model("default", "fc", (1, 28, 28), 10)
    with torch.no_grad():
        net.layers[1].weight.mul_(10.0)
    table = weight_histograms(net, bins=4)
    ax = plot_weight_histograms_3d(table).axes[0]
    bars = ax.patches
    assert len(bars) == 6 * 4
    # each bar's x extent, from its 3-D vertices (matplotlib keeps them in Patch3D._segment3d)
    spans = [(min(v[0] for v in bar._segment3d), max(v[0] for v in bar._segment3d)) for bar in bars]
    assert spans == [pytest.approx((left, right)) for left, right in zip(table.bin_left, table.bin_right)]
    assert spans[4][1] - spans[4][0] > 5 * (spans[8][1] - spans[8][0]), "layers.1's bars are wider than layers.2's"
    assert ax.get_xlim() == pytest.approx((table.bin_left.min(), table.bin_right.max()))
