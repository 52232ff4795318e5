"""Structured pruning: exact channel counts, compact models with the masked model's outputs, clear errors."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from prunekit import create_model, prune
from prunekit.core.layers import masked_parameters
from prunekit.core.metrics import layer_table
from prunekit.core.structured import channel_masks, channel_scores, compact_model, hidden_layers, prune_channels


def _model(model_class: str, name: str, shape: tuple[int, ...], seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model(model_class, name, shape, 10)


def _same_outputs(net: nn.Module, shape: tuple[int, ...]) -> nn.Sequential:
    small = compact_model(net)
    x = torch.randn(4, *shape)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(small(x), net(x), rtol=1e-4, atol=1e-5)
    return small


@pytest.mark.parametrize("keep", [0.5, 0.25, 0.1])
def test_fc_compact_equals_masked_with_exact_neuron_counts(keep):
    net = _model("default", "fc", (1, 28, 28))
    kept = prune_channels(net, keep)
    assert kept == {f"layers.{i}": round(keep * 100) for i in range(5)}
    small = _same_outputs(net, (1, 28, 28))
    linears = [m for m in small if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [round(keep * 100)] * 5 + [10]
    assert linears[0].in_features == 784 and linears[-1].in_features == round(keep * 100)
    assert not any(name.endswith("_mask") for name, _ in small.named_buffers())


def test_vgg16_half_channels_compact_equals_masked_and_has_a_quarter_of_the_flops():
    net = _model("lottery", "vgg16", (3, 32, 32))
    kept = prune_channels(net, 0.5)
    assert kept["layers.0.conv"] == 32 and kept["layers.16.conv"] == 256 and len(kept) == 13
    small = _same_outputs(net, (3, 32, 32))
    convs = [m for m in small if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64, 128, 128, 128, 256, 256, 256, 256, 256, 256]
    assert all(type(m) in (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Linear) for m in small)
    dense_flops = int(layer_table(_model("lottery", "vgg16", (3, 32, 32)), (3, 32, 32)).flops.sum())
    small_flops = int(layer_table(small, (3, 32, 32)).flops.sum())
    assert 0.24 < small_flops / dense_flops < 0.27
    # the masked model's own FLOP count (rows and the next layer's columns masked) agrees with the compact one's
    masked_weights = layer_table(net, (3, 32, 32))
    masked_weights = int(masked_weights.loc[masked_weights.param == "weight", "flops_remaining"].sum())
    compact_weights = layer_table(small, (3, 32, 32))
    assert masked_weights == int(compact_weights.loc[compact_weights.param == "weight", "flops"].sum())


def test_batchnorm_compact_equals_masked_in_eval_mode_after_training_statistics():
    net = _model("lottery", "vgg11-bn", (3, 32, 32))
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, 32, 32))  # running statistics away from 0 and 1
    prune_channels(net, 0.25, method="mag")
    small = _same_outputs(net, (3, 32, 32))
    norms = [m for m in small if isinstance(m, nn.BatchNorm2d)]
    assert [n.num_features for n in norms] == [16, 32, 64, 64, 128, 128, 128, 128]


def test_conv_model_and_removed_channels_zero_the_next_layers_columns():
    net = _model("default", "conv", (1, 28, 28))
    prune_channels(net, 0.5)
    small = _same_outputs(net, (1, 28, 28))
    assert [m.out_channels for m in small if isinstance(m, nn.Conv2d)] == [16, 16]
    dropped = net.layers[0].weight_mask.flatten(1).sum(1) == 0
    assert int(dropped.sum()) == 16
    assert float(net.layers[1].weight_mask[:, dropped].sum()) == 0


@pytest.mark.parametrize("method", ["rand", "mag", "snip", "grasp", "synflow"])
def test_every_registered_scorer_aggregates_to_channel_scores(method):
    net = _model("default", "fc", (1, 28, 28))
    data = [(torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,)))]
    scores = channel_scores(net, method, data=data)
    assert list(scores) == [f"layers.{i}" for i in range(5)]
    assert all(s.shape == (100,) and torch.isfinite(s).all() for s in scores.values())
    kept = prune_channels(net, 0.3, method=method, data=data)
    assert set(kept.values()) == {30}
    _same_outputs(net, (1, 28, 28))


def test_l1_scores_are_the_channel_norms_of_the_kept_weights():
    net = _model("default", "fc", (1, 28, 28))
    prune(net, "rand", density=0.5)
    scores = channel_scores(net, "l1")
    layer = net.layers[2]
    torch.testing.assert_close(scores["layers.2"], (layer.weight * layer.weight_mask).abs().sum(1))


def test_compact_after_unstructured_pruning_drops_only_emptied_neurons():
    net = _model("default", "fc", (1, 28, 28))
    with torch.no_grad():
        net.layers[1].weight_mask[7] = 0
        net.layers[1].bias_mask[7] = 0
        net.layers[3].weight_mask[:, 42] = 0  # neuron 42 of layers.2 is read by nobody
    small = _same_outputs(net, (1, 28, 28))
    assert [m.out_features for m in small if isinstance(m, nn.Linear)] == [100, 99, 99, 100, 100, 10]


def test_a_channel_with_a_positive_bias_and_no_weights_is_kept():
    net = _model("default", "fc", (1, 28, 28))
    with torch.no_grad():
        net.layers[0].weight_mask[3] = 0
        net.layers[0].bias.fill_(0.5)  # relu(0.5) reaches the next layer: not removable
    small = _same_outputs(net, (1, 28, 28))
    assert small[1].out_features == 100


def test_compact_model_leaves_the_original_untouched():
    net = _model("default", "fc", (1, 28, 28))
    prune_channels(net, 0.5)
    before = copy.deepcopy(net.state_dict())
    compact_model(net)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize("keep", [0, -0.5, 1.5, float("nan"), True, "half"])
def test_bad_fractions_name_the_value_and_the_range(keep):
    net = _model("default", "fc", (1, 28, 28))
    with pytest.raises(ValueError, match=r"keep .* must be a number in \(0, 1\]; got") as error:
        prune_channels(net, keep)
    assert repr(keep) in str(error.value)


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown channel score method 'l3'; valid methods: l1, rand, mag"):
        channel_scores(_model("default", "fc", (1, 28, 28)), "l3")


def test_resnets_are_refused_with_the_supported_models_named():
    net = _model("lottery", "resnet20", (3, 32, 32))
    with pytest.raises(TypeError, match="supports prunekit's FC, Conv and VGG.*got ResNet"):
        hidden_layers(net)


def test_channel_masks_keep_at_least_one_and_break_ties_by_position():
    masks = channel_masks({"a": torch.ones(10), "b": torch.tensor([1.0, 5.0, 5.0])}, 0.01)
    assert masks["a"].tolist() == [True] + [False] * 9
    assert masks["b"].tolist() == [False, True, False]


def test_masks_count_exactly_after_prune_channels():
    net = _model("lottery", "vgg11", (3, 32, 32))
    kept = prune_channels(net, 0.3)
    for p in masked_parameters(net):
        if p.module_name in kept:
            rows = p.mask.flatten(1).any(1)
            assert int(rows.sum()) == kept[p.module_name], p.module_name
