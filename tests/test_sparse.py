"""CSR storage: sparse layers compute the masked layers' outputs; sparse-stored models reload identically."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit import create_model, prune
from prunekit.core.layers import MaskedLinear
from prunekit.core.sparse import (
    FORMAT,
    SparseConv2d,
    SparseLinear,
    load_sparse_state_dict,
    sparse_state_dict,
    to_sparse,
)
from prunekit.core.structured import prune_channels


def _pruned(model_class: str, name: str, shape, density: float = 0.1, pruner: str = "rand"):
    torch.manual_seed(0)
    net = create_model(model_class, name, shape, 10)
    prune(net, pruner, density=density)
    return net.eval()


@pytest.mark.parametrize(("model_class", "name", "shape"), [("default", "fc", (1, 28, 28)),
                                                           ("lottery", "vgg11-bn", (3, 32, 32))])
def test_sparse_stored_save_reload_gives_identical_outputs(tmp_path, model_class, name, shape):
    net = _pruned(model_class, name, shape)
    path = tmp_path / "model.sparse.pt"
    torch.save(sparse_state_dict(net), path)
    payload = torch.load(path, weights_only=True)
    torch.manual_seed(123)  # a different initialization: everything must come from the file
    twin = load_sparse_state_dict(create_model(model_class, name, shape, 10), payload).eval()
    x = torch.randn(3, *shape)
    with torch.no_grad():
        assert torch.equal(twin(x), net(x))
    for key, value in net.state_dict().items():
        if key.endswith("weight_mask"):
            assert torch.equal(twin.state_dict()[key], value), key


def test_sparse_file_is_smaller_than_the_masked_state_dict(tmp_path):
    net = _pruned("default", "fc", (1, 28, 28), density=0.01)
    torch.save(sparse_state_dict(net), tmp_path / "sparse.pt")
    torch.save(net.state_dict(), tmp_path / "masked.pt")
    assert (tmp_path / "sparse.pt").stat().st_size < (tmp_path / "masked.pt").stat().st_size / 20


def test_a_kept_weight_of_value_zero_stays_kept():
    layer = MaskedLinear(4, 2)
    with torch.no_grad():
        layer.weight_mask[0] = 0
        layer.weight[1, 2] = 0.0
    payload = sparse_state_dict(layer)
    assert payload["format"] == FORMAT and payload["sparse"]["weight"]["values"].numel() == 4
    twin = load_sparse_state_dict(MaskedLinear(4, 2), payload)
    assert twin.weight_mask[1].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_structured_then_sparse_stored_reloads_identically(tmp_path):
    torch.manual_seed(0)
    net = create_model("default", "fc", (1, 28, 28), 10)
    prune_channels(net, 0.5)
    twin = load_sparse_state_dict(create_model("default", "fc", (1, 28, 28), 10), sparse_state_dict(net))
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(twin.eval()(x), net.eval()(x))


@pytest.mark.parametrize(("model_class", "name", "shape"), [("default", "fc", (1, 28, 28)),
                                                           ("lottery", "vgg11", (3, 32, 32)),
                                                           ("lottery", "vgg11-bn", (3, 32, 32))])
def test_csr_models_compute_the_masked_outputs(model_class, name, shape):
    net = _pruned(model_class, name, shape)
    fast = to_sparse(net)
    kinds = {type(m) for m in fast.modules()}
    assert SparseLinear in kinds and (SparseConv2d in kinds or name == "fc")
    x = torch.randn(3, *shape)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-4, atol=1e-5)


def test_sparse_linear_stores_only_the_kept_weights():
    layer = MaskedLinear(10, 5)
    with torch.no_grad():
        layer.weight_mask.zero_()
        layer.weight_mask[2, 3] = 1
    sparse = SparseLinear.from_dense(layer)
    assert sparse.weight.layout == torch.sparse_csr and sparse.weight.values().numel() == 1


def test_strided_sparse_convolution():
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(SparseConv2d(conv)(x), conv(x), rtol=1e-4, atol=1e-5)


def test_loading_refuses_other_files_and_misfits():
    with pytest.raises(ValueError, match="not a sparse-stored model: format is None; expected 'prunekit-sparse-1'"):
        load_sparse_state_dict(MaskedLinear(2, 2), {"dense": {}})
    payload = sparse_state_dict(MaskedLinear(4, 2))
    with pytest.raises(ValueError, match=r"weight: stored shape \(2, 4\) does not fit the model's \(3, 4\)"):
        load_sparse_state_dict(MaskedLinear(4, 3), payload)
    with pytest.raises(ValueError, match="grouped|groups=1"):
        SparseConv2d(nn.Conv2d(4, 4, 3, groups=2))
