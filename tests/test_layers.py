"""Masked layers: buffers, devices, gradients, validation, state_dict."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit.core.layers import (
    MaskedBatchNorm2d,
    MaskedConv2d,
    MaskedLinear,
    apply_masks_,
    masked_parameters,
    set_mask_,
)


def test_masks_are_named_buffers_shaped_like_parameters():
    layer = MaskedConv2d(2, 3, 3)
    buffers = dict(layer.named_buffers())
    assert set(buffers) == {"weight_mask", "bias_mask"}
    assert buffers["weight_mask"].shape == layer.weight.shape
    assert buffers["weight_mask"].dtype == layer.weight.dtype
    assert bool((buffers["weight_mask"] == 1).all())


def test_masks_follow_dtype_moves():
    layer = MaskedLinear(3, 2).to(torch.float64)
    assert layer.weight_mask.dtype == torch.float64
    assert layer.weight_mask.device == layer.weight.device


def test_forward_uses_masked_weight():
    torch.manual_seed(0)
    layer = MaskedLinear(4, 3)
    mask = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    set_mask_(layer, "weight", mask)
    x = torch.randn(5, 4)
    expected = x @ (layer.weight * mask).T + layer.bias
    torch.testing.assert_close(layer(x), expected)


def test_masked_weights_get_zero_gradient_and_stay_zero_under_training():
    torch.manual_seed(0)
    net = nn.Sequential(MaskedLinear(6, 5), nn.ReLU(), MaskedLinear(5, 2))
    mask = (torch.rand(5, 6) > 0.5).float()
    set_mask_(net[0], "weight", mask)
    apply_masks_(net)
    ids = [id(p) for p in net.parameters()]
    for optimizer in (
        torch.optim.Adam(net.parameters(), lr=0.1, weight_decay=0.01),
        torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    ):
        for _ in range(3):
            optimizer.zero_grad()
            net(torch.randn(7, 6)).pow(2).sum().backward()
            assert bool((net[0].weight.grad[mask == 0] == 0).all())
            optimizer.step()
        assert bool((net[0].weight[mask == 0] == 0).all())
        assert int(net[0].weight.count_nonzero()) == int(mask.sum())
    assert ids == [id(p) for p in net.parameters()]


@pytest.mark.parametrize("bad", [torch.full((2, 3), 0.5), torch.full((2, 3), 2.0), torch.ones(3, 2)])
def test_bad_masks_are_refused(bad):
    layer = MaskedLinear(3, 2)
    with pytest.raises(ValueError, match="mask"):
        set_mask_(layer, "weight", bad)


def test_unknown_mask_name_is_refused():
    with pytest.raises(ValueError, match="'gamma'"):
        set_mask_(MaskedLinear(3, 2), "gamma", torch.ones(2, 3))


def test_state_dict_round_trips_masks():
    torch.manual_seed(0)
    source = nn.Sequential(MaskedConv2d(1, 2, 3), MaskedBatchNorm2d(2))
    set_mask_(source[0], "weight", (torch.rand(2, 1, 3, 3) > 0.5).float())
    state = source.state_dict()
    assert "0.weight_mask" in state and "1.weight_mask" in state
    target = nn.Sequential(MaskedConv2d(1, 2, 3), MaskedBatchNorm2d(2))
    target.load_state_dict(state)
    torch.testing.assert_close(target[0].weight_mask, source[0].weight_mask)
    x = torch.randn(2, 1, 5, 5)
    source.eval(), target.eval()
    torch.testing.assert_close(target(x), source(x))


def test_load_state_dict_refuses_non_binary_mask():
    layer = MaskedLinear(2, 2)
    state = layer.state_dict()
    state["weight_mask"] = torch.full((2, 2), 0.3)
    with pytest.raises(ValueError, match="only 0 and 1"):
        layer.load_state_dict(state)


def test_masked_batchnorm_matches_plain_batchnorm_with_full_mask():
    torch.manual_seed(0)
    masked, plain = MaskedBatchNorm2d(3), nn.BatchNorm2d(3)
    plain.load_state_dict({k: v for k, v in masked.state_dict().items() if not k.endswith("_mask")})
    x = torch.randn(4, 3, 5, 5)
    torch.testing.assert_close(masked(x), plain(x))
    torch.testing.assert_close(masked.running_mean, plain.running_mean)
    masked.eval(), plain.eval()
    torch.testing.assert_close(masked(x), plain(x))


def test_masked_parameters_are_found_by_name():
    net = nn.Sequential(MaskedLinear(2, 3), nn.ReLU(), MaskedConv2d(1, 1, 1), MaskedBatchNorm2d(1))
    assert [p.name for p in masked_parameters(net)] == ["0.weight", "2.weight"]
    assert [p.name for p in masked_parameters(net, bias=True, batchnorm=True)] == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
        "3.weight",
        "3.bias",
    ]
    for p in masked_parameters(net, bias=True, batchnorm=True):
        assert p.mask is getattr(p.module, f"{p.param_name}_mask")
