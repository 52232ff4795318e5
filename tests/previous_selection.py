"""The top-k selection prunekit used before :mod:`prunekit.core.selection` (kept as a test oracle).

It sets the scores of pruned entries to ``-inf``, finds the k-th largest score from a
sample bracket, then keeps every score above it and the earliest ties. The tests check
that the new selection keeps exactly the same entries on the same scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

_SAMPLE = 1 << 16


def _kth_largest(scores: Sequence[torch.Tensor], k: int, total: int, generator: torch.Generator) -> torch.Tensor:
    """The k-th largest value over all ``scores`` (flat tensors), without sorting them all.

    A seeded sample brackets the threshold between two sample quantiles; one
    counting pass checks the bracket, and only the values inside it go through
    ``kthvalue``. If the bracket misses, the exact fallback sorts nothing either:
    it runs ``kthvalue`` over everything.
    """
    device = scores[0].device
    picks = []
    for s in scores:
        n = max(1, round(_SAMPLE * s.numel() / total))
        index = torch.randint(s.numel(), (n,), generator=generator).to(device)
        picks.append(s.index_select(0, index))
    sample = torch.cat(picks).sort(descending=True).values
    m = sample.numel()
    q = k / total
    margin = 4.0 * math.sqrt(m * q * (1.0 - q)) + 8.0
    upper, lower = int(q * m - margin), int(q * m + margin) + 1
    high = sample[upper] if upper >= 0 else None
    low = sample[lower] if lower < m else None
    above = sum(int(torch.count_nonzero(s > high)) for s in scores) if high is not None else 0
    if above < k:
        if low is None or low == -math.inf:
            inside = [s[(s <= high) & (s > -math.inf)] if high is not None else s[s > -math.inf] for s in scores]
        else:
            inside = [s[(s >= low) & (s <= high)] if high is not None else s[s >= low] for s in scores]
        candidates = torch.cat(inside)
        need = k - above
        if 1 <= need <= candidates.numel():
            return torch.kthvalue(candidates, candidates.numel() - need + 1).values
    everything = torch.cat(list(scores))
    return torch.kthvalue(everything, everything.numel() - k + 1).values


def previous_select_topk_(
    scores: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    k: int,
    generator: torch.Generator | None = None,
    alive: int | None = None,
) -> None:
    """Keeps exactly ``k`` of the unpruned entries with the largest scores, in place.

    The scores of entries already pruned are set to ``-inf`` first, so a pruned
    weight never comes back. Ties at the threshold are broken by position: the
    earlier tensor, then the lower flat index, is kept first.

    Args:
        scores: Score tensors (overwritten); one per mask, same number of entries.
        masks: 0/1 masks, updated in place.
        k: How many entries to keep in all.
        generator: Random source for the threshold search (CPU); a fixed seed by default.
        alive: The number of unpruned entries, when the caller knows it.

    Example:
        >>> scores, mask = [torch.tensor([1.0, 1.0, 1.0, 0.0])], [torch.ones(4)]
        >>> select_topk_(scores, mask, 2)
        >>> mask[0].tolist()
        [1.0, 1.0, 0.0, 0.0]
    """
    flat = [s.reshape(-1) for s in scores]
    for s, mask in zip(flat, masks):
        s.nan_to_num_(nan=-math.inf)
        s.masked_fill_(mask.reshape(-1) == 0, -math.inf)
    if alive is None:
        alive = sum(int(torch.count_nonzero(mask)) for mask in masks)
    if k >= alive:
        return
    total = sum(s.numel() for s in flat)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    threshold = _kth_largest(flat, k, total, generator)
    keeps = [s > threshold for s in flat]
    missing = k - sum(int(torch.count_nonzero(keep)) for keep in keeps)
    for s, keep in zip(flat, keeps):
        if missing <= 0:
            break
        ties = torch.nonzero(s == threshold).flatten()[:missing]
        keep[ties] = True
        missing -= ties.numel()
    with torch.no_grad():
        for mask, keep in zip(masks, keeps):
            mask.view(-1).copy_(keep)


