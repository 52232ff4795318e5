"""prunekit.core.selection keeps exactly the entries the previous selection kept, at a fraction of its cost.

The oracle is the previous implementation (tests/previous_selection.py) and, independently,
a full stable sort. Score sets: random normal, heavy-tailed, heavily tied (few distinct
values, all equal), with NaNs, with entries already pruned; densities from 0.001 to 0.99;
totals large enough that the sampled bracket is used (more than 4 × SAMPLE entries).
"""

from __future__ import annotations

import math
import zlib

import pytest
import torch

from prunekit import create_model, prune
from prunekit.core.layers import masked_parameters
from prunekit.core.selection import SAMPLE, TopKSelector, select_topk_
from previous_selection import previous_select_topk_

SHAPES = [(120_000,), (300, 500), (7, 11, 13), (64, 3, 3, 3)]  # 281,042 entries in four tensors
DENSITIES = [0.001, 0.01, 0.1, 0.5, 0.9, 0.99]


def _scores(kind: str, generator: torch.Generator) -> list[torch.Tensor]:
    def draw(shape):
        if kind == "normal":
            return torch.randn(shape, generator=generator)
        if kind == "heavy":  # Cauchy: a few huge scores, most near zero
            return torch.tan(math.pi * (torch.rand(shape, generator=generator, dtype=torch.float64) - 0.5)).float()
        if kind == "tied":
            return torch.randint(0, 5, shape, generator=generator).float()
        if kind == "equal":
            return torch.ones(shape)
        if kind == "nan":
            values = torch.randn(shape, generator=generator)
            return values.masked_fill(torch.rand(shape, generator=generator) < 0.05, math.nan)
        if kind == "float64":  # SynFlow scores in double precision, spanning many decades
            return torch.exp(torch.randn(shape, generator=generator, dtype=torch.float64) * 30)
        raise ValueError(kind)

    return [draw(shape) for shape in SHAPES]


def _masks(pruned: float, generator: torch.Generator) -> list[torch.Tensor]:
    return [(torch.rand(shape, generator=generator) >= pruned).float() for shape in SHAPES]


def _full_sort_masks(scores: list[torch.Tensor], masks: list[torch.Tensor], k: int) -> list[torch.Tensor]:
    """Keep the k largest alive scores (NaN lowest), ties by position: a stable sort of everything."""
    flat = torch.cat([s.reshape(-1).double() for s in scores]).nan_to_num(nan=-math.inf)
    alive = torch.cat([m.reshape(-1) for m in masks]).bool()
    by_score = torch.sort(flat, descending=True, stable=True).indices
    order = by_score[torch.sort(alive[by_score].int(), descending=True, stable=True).indices][:k]  # alive first
    keep = torch.zeros_like(flat)
    keep[order] = 1
    return [part.view(m.shape).to(m.dtype) for part, m in zip(keep.split([m.numel() for m in masks]), masks)]


def _total() -> int:
    return sum(math.prod(shape) for shape in SHAPES)


def test_the_score_sets_are_large_enough_for_the_sampled_bracket() -> None:
    assert _total() > 4 * SAMPLE


@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("kind", ["normal", "heavy", "tied", "equal", "nan", "float64"])
@pytest.mark.parametrize("pruned", [0.0, 0.3])
def test_the_same_entries_as_the_previous_selection_and_a_full_sort(kind: str, density: float, pruned: float) -> None:
    generator = torch.Generator().manual_seed(zlib.crc32(f"{kind} {density} {pruned}".encode()))
    scores, masks = _scores(kind, generator), _masks(pruned, generator)
    alive = int(sum(m.sum() for m in masks))
    k = max(1, round(density * alive))
    new, old = [m.clone() for m in masks], [m.clone() for m in masks]
    select_topk_([s.clone() for s in scores], new, k)
    previous_select_topk_([s.clone() for s in scores], old, k)
    finite = int(sum((torch.isfinite(s) & (m != 0)).sum() for s, m in zip(scores, masks)))
    for a, b, c, m in zip(new, old, _full_sort_masks(scores, masks, k), masks):
        assert torch.equal(a, c), "differs from a full stable sort"
        if k <= finite:
            assert torch.equal(a, b), "differs from the previous selection"
        else:  # the threshold is -inf: the previous selection took pruned entries among the ties
            assert not (a > m).any()
    assert int(sum(m.sum() for m in new)) == k


def test_rounds_of_one_selector_match_the_previous_selection_round_by_round() -> None:
    generator = torch.Generator().manual_seed(5)
    masks = _masks(0.0, generator)
    old = [m.clone() for m in masks]
    selector = TopKSelector(masks)
    total = _total()
    for step in range(1, 21):
        k = round(total * 0.1 ** (step / 20))
        scores = _scores("heavy" if step % 2 else "tied", generator)
        selector.select_([s.clone() for s in scores], k)
        previous_select_topk_([s.clone() for s in scores], old, k)
        assert all(torch.equal(a, b) for a, b in zip(masks, old)), f"round {step}"
        assert selector.alive == k == int(sum(m.sum() for m in masks))


def test_scores_are_left_unchanged_and_a_pruned_entry_never_returns() -> None:
    scores = [torch.tensor([5.0, math.nan, 1.0, 9.0]), torch.tensor([7.0, 2.0])]
    masks = [torch.tensor([1.0, 1.0, 1.0, 0.0]), torch.tensor([1.0, 1.0])]
    before = [s.clone() for s in scores]
    select_topk_(scores, masks, 3)
    assert [m.tolist() for m in masks] == [[1.0, 0.0, 0.0, 0.0], [1.0, 1.0]]  # 9.0 was pruned: it stays pruned
    assert all(torch.equal(a.nan_to_num(-1.0), b.nan_to_num(-1.0)) for a, b in zip(scores, before))


def test_when_nan_scores_must_be_kept_they_are_kept_by_position_and_the_pruned_stay_pruned() -> None:
    # Four alive entries, two of them NaN (the lowest), keep 3: the earlier NaN stays. The
    # previous selection counted pruned entries among the tied -inf and could revive one.
    scores = [torch.tensor([math.nan, 1.0, 0.5]), torch.tensor([math.nan, 2.0])]
    masks = [torch.tensor([0.0, 1.0, 1.0]), torch.tensor([1.0, 1.0])]
    scores[0][2] = math.nan
    select_topk_(scores, masks, 3)
    assert [m.tolist() for m in masks] == [[0.0, 1.0, 1.0], [0.0, 1.0]]


def test_keeping_a_few_when_most_scores_are_nan_keeps_the_numbers_then_the_earliest_nans() -> None:
    generator = torch.Generator().manual_seed(11)
    scores = [torch.full((100_000,), math.nan), torch.full((200_000,), math.nan)]
    scores[1][:2_000] = torch.rand(2_000, generator=generator)
    masks = [torch.ones(100_000), torch.ones(200_000)]
    select_topk_(scores, masks, 3_000)  # keeps the 2,000 numbers and the first 1,000 NaNs
    assert torch.equal(masks[1][:2_000], torch.ones(2_000)) and int(masks[1][2_000:].sum()) == 0
    assert int(masks[0][:1_000].sum()) == 1_000 and int(masks[0][1_000:].sum()) == 0


def test_keeping_all_or_none_and_bad_input() -> None:
    masks = [torch.ones(3)]
    select_topk_([torch.randn(3)], masks, 5)
    assert masks[0].tolist() == [1.0, 1.0, 1.0]
    select_topk_([torch.randn(3)], masks, 0)
    assert masks[0].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"scores of sizes \[2\] do not match masks of sizes \[3\]"):
        select_topk_([torch.randn(2)], [torch.ones(3)], 1)
    with pytest.raises(ValueError, match="k must be >= 0; got -1"):
        select_topk_([torch.randn(3)], [torch.ones(3)], -1)


@pytest.mark.parametrize("scope", ["global", "local"])
def test_iterative_synflow_keeps_the_masks_of_the_previous_selection(scope: str, monkeypatch) -> None:
    """prune() with 20 SynFlow rounds on the FC net, once with each selection."""
    from prunekit.core import pruning

    def previous(masks, generator=None):
        class Previous:
            def select_(self, scores, k):
                previous_select_topk_(scores, masks, k, generator)

        return Previous()

    masks = {}
    for name, selector in (("new", TopKSelector), ("previous", previous)):
        monkeypatch.setattr(pruning, "TopKSelector", selector)
        torch.manual_seed(0)
        net = create_model("default", "fc", (1, 28, 28), 10)
        prune(net, "synflow", compression=1.5, rounds=20, scope=scope)
        masks[name] = [p.mask.clone() for p in masked_parameters(net)]
    assert all(torch.equal(a, b) for a, b in zip(masks["new"], masks["previous"]))
