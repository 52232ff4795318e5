"""The five scorers: formulas checked by hand, no side effects, numerics."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunekit import create_model, masked_parameters
from prunekit.core.layers import MaskedLinear, set_mask_
from prunekit.core.scorers import SCORERS, get_scorer
from prunekit.core.scorers.grasp import grasp_scores
from prunekit.core.scorers.mag import mag_scores
from prunekit.core.scorers.snip import snip_scores
from prunekit.core.scorers.synflow import synflow_scores


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_registry_lists_the_five_pruners_and_refuses_others():
    assert list(SCORERS) == ["rand", "mag", "snip", "grasp", "synflow"]
    with pytest.raises(ValueError, match="valid pruners: rand, mag, snip, grasp, synflow"):
        get_scorer("lottery")


def test_every_scorer_carries_what_the_kit_needs():
    labels = {name: s.label for name, s in SCORERS.items()}
    assert labels == {"rand": "Rand", "mag": "Mag", "snip": "SNIP", "grasp": "GraSP", "synflow": "SynFlow"}
    assert all(s.formula.startswith("S = ") and len(s.hint) > 40 for s in SCORERS.values())
    assert dict(SCORERS["grasp"].options) == {"temperature": 200.0}
    assert [name for name, s in SCORERS.items() if s.needs_data] == ["snip", "grasp"]


def test_register_refuses_clashes_and_bad_scorers():
    from prunekit.core.scorers import Scorer, pruner_names, register, unregister

    fake = Scorer("snip", lambda model, params, data, loss_fn: [])
    with pytest.raises(ValueError, match="'snip' is a built-in pruner"):
        register(fake)
    with pytest.raises(TypeError, match="register takes a Scorer"):
        register(lambda model, params, data, loss_fn: [])
    with pytest.raises(ValueError, match="lower-case letters, digits and _"):
        Scorer("My Pruner", lambda model, params, data, loss_fn: [])
    first = register(Scorer("twice", lambda model, params, data, loss_fn: []))
    try:
        assert register(first) is first  # the same scorer again: harmless
        with pytest.raises(ValueError, match="already registered; pass replace=True"):
            register(Scorer("twice", lambda model, params, data, loss_fn: []))
        assert pruner_names()[-1] == "twice"
    finally:
        unregister("twice")
    with pytest.raises(ValueError, match="cannot unregister 'mag'"):
        unregister("mag")


def test_exercise_hints_come_from_the_registry():
    from prunekit.teach.exercises import HINTS

    assert dict(HINTS) == {name: s.hint for name, s in SCORERS.items()}


def test_default_rounds():
    assert {name: s.default_rounds for name, s in SCORERS.items()} == {
        "rand": 1,
        "mag": 1,
        "snip": 1,
        "grasp": 1,
        "synflow": 100,
    }


@pytest.mark.parametrize("pruner", ["snip", "grasp"])
def test_data_scorers_refuse_missing_data(pruner, small_net):
    with pytest.raises(ValueError, match="needs data"):
        get_scorer(pruner)(small_net, list(masked_parameters(small_net)), None)


@pytest.mark.parametrize("pruner", list(SCORERS))
def test_scorers_leave_the_model_bit_identical(pruner, small_net, small_batches):
    before = snapshot(small_net)
    params = list(masked_parameters(small_net))
    scores = get_scorer(pruner)(small_net, params, small_batches)
    for key, value in snapshot(small_net).items():
        assert torch.equal(value, before[key]), key
    assert all(p.param.grad is None for p in params)
    assert [s.shape for s in scores] == [p.param.shape for p in params]


def test_mag_is_absolute_value(small_net):
    params = list(masked_parameters(small_net))
    for score, p in zip(mag_scores(small_net, params), params):
        assert torch.equal(score, p.param.detach().abs())


def test_snip_equals_abs_gradient_times_weight(small_net, small_batches):
    params = list(masked_parameters(small_net))
    expected = [torch.zeros_like(p.param) for p in params]
    for inputs, targets in small_batches:
        grads = torch.autograd.grad(F.cross_entropy(small_net(inputs), targets), [p.param for p in params])
        for total, grad in zip(expected, grads):
            total += grad
    for score, total, p in zip(snip_scores(small_net, params, small_batches), expected, params):
        torch.testing.assert_close(score, (total * p.param.detach()).abs())


def test_grasp_equals_weight_times_hessian_gradient_product():
    torch.manual_seed(0)
    net = nn.Sequential(MaskedLinear(3, 4, bias=False), nn.Tanh(), MaskedLinear(4, 2, bias=False))
    params = list(masked_parameters(net))
    inputs, targets = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    flat = torch.cat([p.param.detach().reshape(-1) for p in params])

    def loss_of(vector):
        w1, w2 = vector[:12].reshape(4, 3), vector[12:].reshape(2, 4)
        return F.cross_entropy(torch.tanh(inputs @ w1.T) @ w2.T / 200.0, targets)

    g = torch.autograd.functional.jacobian(loss_of, flat)
    hessian = torch.autograd.functional.hessian(loss_of, flat)
    expected = flat * (hessian @ g)
    scores = grasp_scores(net, params, [(inputs, targets)])
    torch.testing.assert_close(torch.cat([s.reshape(-1) for s in scores]), expected, rtol=1e-4, atol=1e-12)
    assert bool((expected < 0).any()), "GraSP scores are signed"


def test_synflow_is_the_product_of_path_sums_on_a_two_layer_net():
    net = nn.Sequential(MaskedLinear(2, 2, bias=False), MaskedLinear(2, 1, bias=False))
    net.input_shape = (2,)
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 0.5]]))
        net[1].weight.copy_(torch.tensor([[-4.0, 5.0]]))
    w1, w2 = net[0].weight.detach().abs(), net[1].weight.detach().abs()
    # R = sum over paths i -> j -> out of |w2[j]| |w1[j, i]|; a weight's score is the sum over its paths.
    expected_first = torch.tensor([[w2[0, j] * w1[j, i] for i in range(2)] for j in range(2)])
    expected_second = torch.tensor([[w2[0, j] * w1[j].sum() for j in range(2)]])
    first, second = synflow_scores(net, list(masked_parameters(net)))
    torch.testing.assert_close(first.double(), expected_first.double())
    torch.testing.assert_close(second.double(), expected_second.double())
    # conservation of synaptic flow: every layer's scores add up to R
    assert float(first.sum()) == pytest.approx(float(second.sum()))


def test_synflow_respects_masks():
    net = nn.Sequential(MaskedLinear(3, 3, bias=False), MaskedLinear(3, 1, bias=False))
    net.input_shape = (3,)
    set_mask_(net[0], "weight", torch.tensor([[1.0, 1, 1], [0, 0, 0], [1, 1, 1]]))
    first, second = synflow_scores(net, list(masked_parameters(net)))
    assert float(first[1].abs().sum()) == 0.0
    assert float(second[0, 1]) == 0.0


@pytest.mark.parametrize(
    ("model_class", "name", "shape"),
    [("lottery", "vgg19", (3, 32, 32)), ("lottery", "vgg19-bn", (3, 32, 32))],
)
def test_synflow_is_finite_and_positive_on_deep_nets(model_class, name, shape):
    torch.manual_seed(0)
    net = create_model(model_class, name, shape, 10)
    params = list(masked_parameters(net))
    scores = synflow_scores(net, params)
    for p, s in zip(params, scores):
        assert bool(torch.isfinite(s).all()), p.name
        assert bool((s > 0).all()), f"{p.name}: a live weight got no flow (underflow)"


def test_synflow_is_finite_and_positive_on_a_20_layer_fc():
    from prunekit.core.models.fc import FC

    torch.manual_seed(0)
    net = FC((1, 28, 28), 10, depth=20)
    params = list(masked_parameters(net))
    for p, s in zip(params, synflow_scores(net, params)):
        assert bool(torch.isfinite(s).all()) and bool((s > 0).all()), p.name


def test_synflow_float32_and_float64_rank_alike(monkeypatch):
    import prunekit.core.scorers.synflow as synflow

    torch.manual_seed(0)
    net = create_model("lottery", "vgg11", (3, 32, 32), 10)
    params = list(masked_parameters(net))
    fast = torch.cat([s.reshape(-1).double() for s in synflow_scores(net, params)])
    monkeypatch.setattr(synflow, "SAFE_RANGE", (0.0, 0.0))  # force the float64 path
    exact = torch.cat([s.reshape(-1) for s in synflow_scores(net, params)])
    assert exact.dtype == torch.float64
    torch.testing.assert_close(fast, exact, rtol=1e-3, atol=0.0)


def test_synflow_puts_batchnorm_in_eval_mode_and_restores_it():
    net = create_model("lottery", "vgg11-bn", (3, 32, 32), 10)
    net.train()
    before = net.layers[0].bn.running_mean.clone()
    synflow_scores(net, list(masked_parameters(net)))
    assert net.layers[0].bn.training
    assert torch.equal(net.layers[0].bn.running_mean, before)
