"""Exact masking: counts, ties, schedules, iterations, options, collapse, bad input."""

from __future__ import annotations

import copy

import math
import warnings

import pytest
import torch
from torch import nn

from prunekit import LayerCollapseWarning, create_model, masked_parameters, prune
from prunekit.core.layers import MaskedLinear
from prunekit.core.pruning import SCHEDULES, keep_count, select_topk_
from prunekit.core.scorers import SCORERS


def kept(model, **kw) -> int:
    return sum(int(p.mask.sum()) for p in masked_parameters(model, **kw))


@pytest.mark.parametrize("pruner", list(SCORERS))
@pytest.mark.parametrize("density", [0.5, 0.1, 0.037, 0.01, 0.003, 0.0015])
def test_exact_kept_count(pruner, density, small_net, small_batches):
    total = sum(p.mask.numel() for p in masked_parameters(small_net))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayerCollapseWarning)
        report = prune(small_net, pruner, density=density, data=small_batches, rounds=3 if pruner == "synflow" else None)
    assert report.kept == kept(small_net) == round(density * total)
    assert report.total == total


@pytest.mark.parametrize("compression", [1, 2, 3])
def test_exact_kept_count_on_vgg_like_sizes(compression):
    torch.manual_seed(0)
    net = create_model("default", "fc", (1, 28, 28), 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayerCollapseWarning)
        report = prune(net, "rand", compression=compression)
    assert report.kept == round(119_400 * 10.0**-compression)


def test_all_ties_keep_exactly_k_by_position():
    scores = [torch.ones(5), torch.ones(2, 3)]
    masks = [torch.ones(5), torch.ones(2, 3)]
    select_topk_(scores, masks, 7)
    assert masks[0].tolist() == [1, 1, 1, 1, 1]
    assert masks[1].tolist() == [[1, 1, 0], [0, 0, 0]]


def test_ties_at_the_threshold_do_not_over_prune():
    # The report's rule (drop everything <= threshold) would keep only 2 here.
    scores = [torch.tensor([3.0, 1.0, 1.0, 1.0, 2.0, 0.0])]
    masks = [torch.ones(6)]
    select_topk_(scores, masks, 4)
    assert masks[0].tolist() == [1, 1, 1, 0, 1, 0]


def test_constant_scores_through_prune(small_net):
    def const(model, params, data, loss_fn):
        return [torch.ones_like(p.param) for p in params]

    report = prune(small_net, const, density=0.25)  # a plain function prunes directly
    assert report.kept == kept(small_net) == round(0.25 * 676)
    assert (report.pruner, report.rounds) == ("const", 1)


def test_prune_takes_a_name_a_scorer_or_a_function(small_net, small_batches):
    from prunekit.core.scorers import Scorer, get_scorer

    by_name = prune(copy.deepcopy(small_net), "mag", density=0.3)
    by_scorer = prune(copy.deepcopy(small_net), get_scorer("mag"), density=0.3)
    by_function = prune(copy.deepcopy(small_net), Scorer("absolute", lambda m, ps, d, l: [p.param.abs() for p in ps]),
                        density=0.3)
    assert by_name.layer_density == by_scorer.layer_density == by_function.layer_density
    with pytest.raises(TypeError, match="a registered name, a Scorer or a score function"):
        prune(small_net, 3, density=0.3)


def test_grasp_options_reach_the_score_function(small_net, small_batches):
    from prunekit.core.scorers import get_scorer

    hot = get_scorer("grasp").with_options(temperature=1.0)
    one = prune(copy.deepcopy(small_net), hot, density=0.3, data=small_batches)
    default = prune(copy.deepcopy(small_net), "grasp", density=0.3, data=small_batches)
    assert one.layer_density != default.layer_density
    with pytest.raises(ValueError, match="no option heat; valid options: temperature"):
        get_scorer("grasp").with_options(heat=1.0)


def test_select_topk_matches_a_full_sort_on_random_scores():
    generator = torch.Generator().manual_seed(3)
    scores = [torch.randn(50_000, generator=generator), torch.randn(300, 70, generator=generator)]
    flat = torch.cat([s.reshape(-1) for s in scores])
    masks = [torch.ones(50_000), torch.ones(300, 70)]
    select_topk_([s.clone() for s in scores], masks, 12_345)
    chosen = torch.cat([m.reshape(-1) for m in masks]).bool()
    assert int(chosen.sum()) == 12_345
    assert float(flat[chosen].min()) >= float(flat[~chosen].max())


def test_pruned_weights_never_come_back(small_net):
    prune(small_net, "mag", density=0.5)
    first = [p.mask.clone() for p in masked_parameters(small_net)]
    with torch.no_grad():  # make the pruned weights the largest: magnitude would revive them
        for p in masked_parameters(small_net):
            p.param.add_((1 - p.mask) * 100.0)
    prune(small_net, "mag", density=0.25)
    for before, p in zip(first, masked_parameters(small_net)):
        assert bool((p.mask <= before).all())


@pytest.mark.parametrize("pruner", list(SCORERS))
def test_parameter_ids_unchanged(pruner, small_net, small_batches):
    ids = {name: id(param) for name, param in small_net.named_parameters()}
    prune(small_net, pruner, density=0.2, data=small_batches, rounds=2)
    assert ids == {name: id(param) for name, param in small_net.named_parameters()}


def test_masked_weights_are_zeroed_and_get_zero_gradient(small_net, small_batches):
    prune(small_net, "snip", density=0.3, data=small_batches)
    inputs, targets = small_batches[0]
    nn.functional.cross_entropy(small_net(inputs), targets).backward()
    for p in masked_parameters(small_net):
        assert bool((p.param[p.mask == 0] == 0).all())
        assert bool((p.param.grad[p.mask == 0] == 0).all())


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_iterative_schedule_reaches_the_target(schedule, small_net):
    report = prune(small_net, "synflow", density=0.05, rounds=10, schedule=schedule)
    assert report.rounds == 10 and report.kept == round(0.05 * 676)
    assert SCHEDULES[schedule](0.05, 10, 10) == pytest.approx(0.05)
    assert SCHEDULES[schedule](0.05, 0, 10) == pytest.approx(1.0)


def test_synflow_defaults_to_100_rounds(small_net):
    assert prune(small_net, "synflow", density=0.5).rounds == 100
    assert prune(small_net, "mag", density=0.5).rounds == 1


def test_local_scope_keeps_the_density_in_every_layer(small_net):
    prune(small_net, "mag", density=0.25, scope="local")
    for p in masked_parameters(small_net):
        assert int(p.mask.sum()) == round(0.25 * p.mask.numel())


def test_invert_keeps_the_lowest_scores_without_dividing_by_zero(small_net):
    with torch.no_grad():
        small_net.fc.weight[:, :40].zero_()  # 400 zero scores: the report's invert divided by them
    before = torch.cat([p.param.detach().abs().reshape(-1) for p in masked_parameters(small_net)])
    prune(small_net, "mag", density=0.75, invert=True)
    mask = torch.cat([p.mask.reshape(-1) for p in masked_parameters(small_net)]).bool()
    assert int(mask.sum()) == 507
    assert bool((before[mask] == 0).sum() == 400)  # every zero weight is kept
    assert float(before[mask].max()) <= float(before[~mask].min())  # and the lowest of the rest


def test_shuffle_really_permutes_each_layer(small_net):
    torch.manual_seed(0)
    prune(small_net, "mag", density=0.3)
    unshuffled = {p.name: p.mask.clone() for p in masked_parameters(small_net)}
    other = type(small_net)()
    other.load_state_dict(small_net.state_dict())
    for p in masked_parameters(other):
        p.mask.fill_(1)
    torch.manual_seed(0)
    prune(other, "mag", density=0.3, shuffle=True)
    for p in masked_parameters(other):
        assert int(p.mask.sum()) == int(unshuffled[p.name].sum())
    assert any(not torch.equal(p.mask, unshuffled[p.name]) for p in masked_parameters(other))


def test_reinitialize_draws_new_weights_and_keeps_masks():
    torch.manual_seed(0)
    net = create_model("default", "fc", (1, 28, 28), 10)
    before = net.layers[1].weight.detach().clone()
    prune(net, "rand", density=0.5, reinitialize=True)
    after = net.layers[1].weight.detach()
    alive = net.layers[1].weight_mask.bool()
    assert not torch.equal(before[alive], after[alive])
    assert bool((after[~alive] == 0).all())


def test_prune_bias_and_batchnorm_widen_the_prunable_set():
    net = create_model("lottery", "vgg11-bn", (3, 32, 32), 10)
    weights = prune(net, "rand", density=0.5).total
    net = create_model("lottery", "vgg11-bn", (3, 32, 32), 10)
    everything = prune(net, "rand", density=0.5, prune_bias=True, prune_batchnorm=True).total
    extra = sum(p.param.numel() for p in masked_parameters(net, bias=True, batchnorm=True)) - weights
    assert everything == weights + extra and extra > 0


def test_train_mode_is_restored(small_net):
    small_net.train()
    prune(small_net, "mag", density=0.5, train_mode=False)
    assert small_net.training
    small_net.eval()
    prune(small_net, "mag", density=0.5, train_mode=True)
    assert not small_net.training


def test_layer_collapse_is_detected_and_warned():
    net = nn.Sequential(MaskedLinear(1000, 2, bias=False), nn.ReLU(), MaskedLinear(2, 2, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(0.001)
        net[2].weight.fill_(1.0)
    with pytest.warns(LayerCollapseWarning, match="layer collapse: 0 kept no weights"):
        report = prune(net, "mag", density=0.002)
    assert report.collapsed_layers == ("0",)
    assert "LAYER COLLAPSE" in report.summary()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"pruner": "optimal", "compression": 1}, "unknown pruner 'optimal'; valid pruners: rand, mag"),
        ({"pruner": "mag", "compression": 1, "scope": "layer"}, "unknown scope 'layer'; valid scopes: global, local"),
        ({"pruner": "mag", "compression": 1, "schedule": "cosine"}, "valid schedules: exponential, linear"),
        ({"pruner": "mag", "density": 1.5}, r"density must be in \(0, 1\]; got 1.5"),
        ({"pruner": "mag", "density": 0.0}, r"density must be in \(0, 1\]; got 0.0"),
        ({"pruner": "mag", "compression": -1}, r"compression exponent must be a finite number >= 0 \(density = 10\*\*-compression\); got -1"),
        ({"pruner": "mag", "compression": 4}, "keeps less than one of 676"),
        ({"pruner": "mag", "compression": 1, "rounds": 0}, "rounds must be a whole number >= 1; got 0"),
        ({"pruner": "snip", "compression": 1}, "needs data"),
        ({"pruner": "grasp", "compression": 1}, "needs data"),
        ({"pruner": "mag"}, "give exactly one of compression"),
    ],
)
def test_bad_input_names_the_value_and_the_choices(kwargs, fragment, small_net):
    with pytest.raises(ValueError, match=fragment):
        prune(small_net, **kwargs)


def test_keep_count_rounds():
    assert keep_count(0.1, 14_715_584) == 1_471_558
    assert keep_count(10**-0.05, 10) == round(10 * 10**-0.05)
    assert math.isclose(10 ** -0.05, 0.8912509381337456)


def test_before_selection_sees_each_rounds_scores_before_its_masks_change() -> None:
    torch.manual_seed(0)
    net = create_model("default", "fc", (1, 28, 28), 10)
    seen: list[tuple[int, int, int]] = []

    def observe(step: int, scores: list[torch.Tensor]) -> None:
        kept = sum(int(p.mask.sum()) for p in masked_parameters(net))
        seen.append((step, len(scores), kept))

    report = prune(net, "synflow", density=0.01, rounds=3, before_selection=observe)
    total = report.total
    assert [step for step, _, _ in seen] == [1, 2, 3] and all(n == 6 for _, n, _ in seen)
    # the masks a round is about to cut: all weights, then the previous rounds' keep counts (density 0.01^(s/3))
    assert [kept for _, _, kept in seen] == [total, keep_count(SCHEDULES["exponential"](0.01, 1, 3), total),
                                             keep_count(SCHEDULES["exponential"](0.01, 2, 3), total)]
    assert report.kept == keep_count(0.01, total)
