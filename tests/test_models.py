"""The model registry and the architectures' shapes and names."""

from __future__ import annotations

import pytest
import torch

from prunekit import create_model, masked_parameters
from prunekit.core.models import MODELS
from prunekit.core.models.base import INIT_SCHEMES, PrunableModel, check_shape, classifier


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


# --------------------------------------------------------------------------- the model contract (core/models/base.py)

_SHAPES = {"default": (1, 28, 28), "lottery": (3, 32, 32)}


@pytest.mark.parametrize(
    ("model_class", "name"), [(cls, name) for cls, models in MODELS.items() for name in sorted(models)]
)
def test_every_model_keeps_the_contract(model_class, name):
    shape = _SHAPES[model_class]
    net = create_model(model_class, name, shape, 7)
    assert isinstance(net, PrunableModel)
    assert net.input_shape == shape and net.num_classes == 7
    assert net.init_scheme in INIT_SCHEMES
    names = net.prunable_layer_names()
    assert names == [p.module_name for p in masked_parameters(net)] and len(names) == len(set(names))
    assert names[-1] == net.output_layer_name == "fc"
    modules = dict(net.named_modules())
    assert all(hasattr(modules[n], "weight_mask") for n in names)
    assert modules["fc"].out_features == 7
    assert net(torch.zeros(2, *shape)).shape == (2, 7)
    dense = create_model(model_class, name, shape, 7, dense_classifier=True)
    assert net.output_layer_name not in dense.prunable_layer_names()
    assert dense.prunable_layer_names() == names[:-1]


def test_initialization_schemes_are_shared_and_seeded():
    assert create_model("default", "fc", (1, 28, 28), 10).init_scheme == "pytorch_default"
    assert create_model("lottery", "vgg11", (3, 32, 32), 10).init_scheme == "kaiming_normal"
    torch.manual_seed(1)
    vgg = create_model("lottery", "vgg11-bn", (3, 32, 32), 10)
    assert torch.count_nonzero(vgg.fc.bias) == 0
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in vgg.modules() if isinstance(m, torch.nn.BatchNorm2d))
    conv = vgg.layers[0].conv.weight
    assert conv.std().item() == pytest.approx((2.0 / (3 * 9)) ** 0.5, rel=0.15), "Kaiming-normal: std √(2/fan_in)"
    fc = create_model("default", "fc", (1, 28, 28), 10)
    assert fc.layers[0].weight.abs().max().item() <= 1 / 784**0.5, "PyTorch default: U(-1/√fan_in, 1/√fan_in)"
    torch.manual_seed(1)
    again = create_model("lottery", "vgg11-bn", (3, 32, 32), 10)
    assert torch.equal(again.layers[0].conv.weight, conv)


def test_a_new_model_needs_only_the_contract():
    class Tiny(PrunableModel):
        init_scheme = "kaiming_normal"

        def __init__(self, input_shape, num_classes, dense_classifier=False):
            super().__init__(input_shape, num_classes)
            self.fc = classifier(self.input_features, self.num_classes, dense_classifier)
            self.initialize_weights()

        def forward(self, x):
            return self.fc(x.flatten(1))

    net = Tiny((1, 2, 3), 4)
    assert net.input_features == 6 and net.prunable_layer_names() == ["fc"]
    assert Tiny((1, 2, 3), 4, dense_classifier=True).prunable_layer_names() == []

    class Unfinished(PrunableModel):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Unfinished((1, 2, 2), 2)

    class BadInit(Tiny):
        init_scheme = "xavier"

    with pytest.raises(ValueError, match="valid schemes: pytorch_default, kaiming_normal"):
        BadInit((1, 2, 2), 2)


def test_check_shape_names_the_bad_value():
    assert check_shape((3, 32, 32), 10) == ((3, 32, 32), 10)
    with pytest.raises(ValueError, match=r"got \(3, 0, 32\)"):
        check_shape((3, 0, 32), 10)
    with pytest.raises(ValueError, match="num_classes must be at least 1; got 0"):
        check_shape((3, 32, 32), 0)
