"""Exported models run without prunekit and give the same outputs."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from prunekit import create_model, prune, to_dense, to_torch_prune


def pruned_vgg():
    torch.manual_seed(0)
    net = create_model("lottery", "vgg11-bn", (3, 32, 32), 10)
    prune(net, "mag", compression=1, prune_bias=True)
    return net.eval()


def test_to_dense_bakes_masks_into_plain_modules():
    net = pruned_vgg()
    plain = to_dense(net).eval()
    assert not any(name.endswith("_mask") for name, _ in plain.named_buffers())
    assert type(plain.layers[0].conv) is nn.Conv2d and type(plain.fc) is nn.Linear
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(plain(x), net(x))
    assert int(plain.fc.weight.count_nonzero()) == int(net.fc.weight_mask.sum())


def test_to_torch_prune_uses_pytorchs_form():
    net = pruned_vgg()
    exported = to_torch_prune(net).eval()
    conv = exported.layers[0].conv
    assert type(conv) is nn.Conv2d
    assert hasattr(conv, "weight_orig") and hasattr(conv, "weight_mask")
    assert torch_prune.is_pruned(exported)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(exported(x), net(x))
    torch.testing.assert_close(conv.weight_mask, net.layers[0].conv.weight_mask)


def test_export_leaves_the_original_untouched():
    net = pruned_vgg()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    to_dense(net), to_torch_prune(net)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
