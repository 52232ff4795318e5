"""The model registry and the architectures' shapes and names."""

from __future__ import annotations

import pytest
import torch

from prunekit import create_model, masked_parameters
from prunekit.core.models import MODELS


def prunable_weights(model) -> int:
    return sum(p.param.numel() for p in masked_parameters(model))


def test_fc_has_the_seeds_shape():
    net = create_model("default", "fc", (1, 28, 28), 10)
    assert prunable_weights(net) == 119_400
    assert [p.module_name for p in masked_parameters(net)] == [f"layers.{i}" for i in range(5)] + ["fc"]


def test_vgg16_names_match_the_seeds_tables():
    net = create_model("lottery", "vgg16", (3, 32, 32), 10)
    names = [p.module_name for p in masked_parameters(net)]
    expected = [f"layers.{i}.conv" for i in (0, 1, 3, 4, 6, 7, 8, 10, 11, 12, 14, 15, 16)] + ["fc"]
    assert names == expected
    assert prunable_weights(net) == 14_715_584


@pytest.mark.parametrize("model_class", sorted(MODELS))
def test_every_registered_model_runs(model_class):
    for name in MODELS[model_class]:
        shape = (1, 28, 28) if model_class == "default" else (3, 32, 32)
        net = create_model(model_class, name, shape, 7)
        assert net(torch.zeros(2, *shape)).shape == (2, 7), name
        assert net.input_shape == shape


def test_dense_classifier_is_not_prunable():
    net = create_model("lottery", "vgg11", (3, 32, 32), 10, dense_classifier=True)
    assert "fc" not in [p.module_name for p in masked_parameters(net)]


def test_batchnorm_variants_have_batchnorm():
    net = create_model("lottery", "vgg16-bn", (3, 32, 32), 10)
    assert net.layers[0].bn is not None


def test_initialize_weights_draws_fresh_weights():
    net = create_model("lottery", "vgg11", (3, 32, 32), 10)
    before = net.layers[0].conv.weight.detach().clone()
    net.initialize_weights()
    assert not torch.equal(before, net.layers[0].conv.weight)
    assert float(net.layers[0].conv.bias.detach().abs().sum()) == 0.0


@pytest.mark.parametrize(
    ("model_class", "name", "fragment"),
    [
        ("imagenet", "fc", "valid model classes: default, lottery"),
        ("default", "vgg16", "belongs to model class 'lottery'"),
        ("lottery", "vgg99", "valid models: resnet20, vgg11"),
    ],
)
def test_unknown_names_list_the_valid_choices(model_class, name, fragment):
    with pytest.raises(ValueError, match=fragment):
        create_model(model_class, name, (3, 32, 32), 10)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="input_shape"):
        create_model("default", "fc", (28, 28), 10)
    with pytest.raises(ValueError, match="num_classes"):
        create_model("default", "fc", (1, 28, 28), 0)
