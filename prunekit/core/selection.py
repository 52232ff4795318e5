"""Exact global top-k selection at about the cost of one pass over the scores.

Keeping the ``k`` largest of ``N`` scores does not need them sorted. A seeded sample of
the scores brackets the ``k``-th largest; one comparison pass collects the few entries on
the side of the bracket that holds fewer of them (the ones to drop in a round of iterative
pruning, the ones to keep in one-shot pruning at high compression); only those are looked
at again. The kept set is exactly that of a full sort: ties at the threshold are broken
by position (earlier tensor first, then lower flat index), and an entry already pruned
never comes back.

:class:`TopKSelector` keeps which entries are alive between the rounds of one
:func:`prunekit.core.pruning.prune` call and updates the masks only where they change;
:func:`select_topk_` is one selection.

Example:
    >>> scores, masks = [torch.tensor([3.0, 1.0, 1.0, 1.0, 2.0, 0.0])], [torch.ones(6)]
    >>> select_topk_(scores, masks, 4)
    >>> masks[0].tolist()
    [1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["TopKSelector", "select_topk_"]

SAMPLE = 1 << 14
"""Scores sampled to bracket the threshold (totals up to four times this are not sampled)."""


class TopKSelector:
    """Exact top-k selection over a fixed set of masks, round after round.

    Args:
        masks: 0/1 masks (one per pruned tensor); updated in place by :meth:`select_`.
        generator: Random source of the threshold sample (CPU); a fixed seed by default,
            so the same scores always give the same masks.

    Example:
        >>> masks = [torch.ones(4), torch.ones(2)]
        >>> selector = TopKSelector(masks)
        >>> selector.select_([torch.tensor([4.0, 3.0, 2.0, 1.0]), torch.tensor([5.0, 0.0])], 3)
        >>> [m.tolist() for m in masks], selector.alive
        ([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0]], 3)
    """

    def __init__(self, masks: Sequence[torch.Tensor], generator: torch.Generator | None = None) -> None:
        self.masks = [mask.view(-1) for mask in masks]
        self.sizes = [mask.numel() for mask in self.masks]
        self.total = sum(self.sizes)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self._alive = [mask != 0 for mask in self.masks]
        self.alive = sum(int(torch.count_nonzero(alive)) for alive in self._alive)
        self._hits = [torch.empty_like(alive) for alive in self._alive]

    def select_(self, scores: Sequence[torch.Tensor], k: int) -> None:
        """Keeps exactly ``k`` of the alive entries, those with the largest scores (NaN counts as lowest).

        Args:
            scores: One tensor per mask, same number of entries (left unchanged).
            k: How many to keep; ``k >= alive`` keeps every alive entry.

        Raises:
            ValueError: If the scores do not match the masks, or ``k`` < 0.
        """
        flat = [score.reshape(-1) for score in scores]
        if [s.numel() for s in flat] != self.sizes:
            raise ValueError(f"scores of sizes {[s.numel() for s in flat]} do not match masks of sizes {self.sizes}")
        if k < 0:
            raise ValueError(f"k must be >= 0; got {k}")
        if k >= self.alive:
            return
        drop = self.alive - k
        if k == 0:
            for alive, mask in zip(self._alive, self.masks):
                alive.zero_()
                with torch.no_grad():
                    mask.zero_()
        elif drop <= k:
            self._drop_lowest(flat, k, drop)
        else:
            self._keep_highest(flat, k)
        self.alive = k

    # ----------------------------------------------------------------------- the two sides

    def _drop_lowest(self, flat: list[torch.Tensor], k: int, drop: int) -> None:
        """Few to drop (a round of iterative pruning): collect the alive entries at or below a bracket above
        the threshold, and clear the lowest ``drop`` of them (ties: the later positions go first)."""
        bound = self._bound(flat, drop + 1, lowest=True)
        while True:
            positions, values = self._collect(flat, bound, lowest=True)
            if values.numel() > drop or bound == math.inf:
                break
            bound = math.inf  # the bracket missed (rare): every alive entry is a candidate
        threshold = torch.kthvalue(values, drop + 1).values  # the k-th largest alive score
        below = values < threshold
        tied = torch.nonzero(values == threshold).flatten()
        keep_tied = k - (self.alive - int(torch.count_nonzero(below)) - tied.numel())
        cleared = below.clone()
        cleared[tied[keep_tied:]] = True
        self._set(positions[cleared], False)

    def _keep_highest(self, flat: list[torch.Tensor], k: int) -> None:
        """Few to keep (one shot at high compression): collect the alive entries at or above a bracket below
        the threshold, and keep the highest ``k`` of them (ties: the earlier positions stay)."""
        bound = self._bound(flat, k, lowest=False)
        while True:
            positions, values = self._collect(flat, bound, lowest=False)
            if values.numel() >= k:
                break
            if bound == -math.inf:  # fewer than k alive scores are numbers: the NaNs kept count from the other side
                self._drop_lowest(flat, k, self.alive - k)
                return
            bound = -math.inf
        threshold = torch.kthvalue(values, values.numel() - k + 1).values
        above = values > threshold
        tied = torch.nonzero(values == threshold).flatten()
        kept = above.clone()
        kept[tied[: k - int(torch.count_nonzero(above))]] = True
        for alive, mask in zip(self._alive, self.masks):
            alive.zero_()
            with torch.no_grad():
                mask.zero_()
        self._set(positions[kept], True)

    # ----------------------------------------------------------------------- helpers

    def _bound(self, flat: list[torch.Tensor], rank: int, *, lowest: bool) -> float:
        """A value with at least ``rank`` alive scores at or beyond it (below it when ``lowest``), with high
        probability, from a seeded sample; ``±inf`` (everything) for small totals."""
        far = math.inf if lowest else -math.inf
        if self.total <= 4 * SAMPLE:
            return far
        picks = []
        for s, alive in zip(flat, self._alive):
            n = max(1, round(SAMPLE * s.numel() / self.total))
            index = torch.randint(s.numel(), (n,), generator=self.generator).to(s.device)
            picked = s.index_select(0, index).nan_to_num_(nan=-math.inf)
            picks.append(torch.where(alive.index_select(0, index), picked, far))  # a dead entry is never collected
        sample = torch.cat(picks)
        m = sample.numel()
        q = rank / self.total
        at = math.ceil(q * m + 4.0 * math.sqrt(m * q * (1.0 - q)) + 8.0)  # 4 standard deviations beyond
        if at >= m:
            return far
        return float(torch.kthvalue(sample, at + 1 if lowest else m - at).values)

    def _collect(self, flat: list[torch.Tensor], bound: float, *, lowest: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Global positions and scores of the alive entries at or below ``bound`` (at or above it unless
        ``lowest``), in position order."""
        positions, values, offset = [], [], 0
        for s, alive, hits in zip(flat, self._alive, self._hits):
            if lowest:  # alive and not above the bound: NaN scores are collected (and count as -inf)
                torch.gt(s, bound, out=hits)
                torch.gt(alive, hits, out=hits)
            else:  # alive and at or above the bound: NaN scores are not
                torch.ge(s, bound, out=hits)
                hits.logical_and_(alive)
            index = _true_positions(hits)
            positions.append(index + offset)
            values.append(s.index_select(0, index))
            offset += s.numel()
        return torch.cat(positions), torch.cat(values).nan_to_num_(nan=-math.inf)

    def _set(self, positions: torch.Tensor, value: bool) -> None:
        """Sets the alive flags and masks at global ``positions`` (sorted) to ``value``."""
        start = 0
        for alive, mask, size in zip(self._alive, self.masks, self.sizes):
            edges = torch.tensor([start, start + size], device=positions.device)
            lo, hi = torch.searchsorted(positions, edges).tolist()
            if hi > lo:
                local = positions[lo:hi] - start
                alive.index_fill_(0, local, value)
                with torch.no_grad():
                    mask.index_fill_(0, local, float(value))
            start += size


def _true_positions(hits: torch.Tensor) -> torch.Tensor:
    """``torch.nonzero(hits).flatten()`` for a sparse bool vector, faster: the bytes are read eight at a time
    (as 64-bit words), and only the words holding a True are looked into."""
    if hits.numel() % 8 or hits.numel() < SAMPLE or hits.storage_offset() % 8:
        return torch.nonzero(hits).flatten()
    words = torch.nonzero(hits.view(torch.int64)).flatten()
    row, column = torch.nonzero(hits.view(-1, 8).index_select(0, words), as_tuple=True)
    return words[row] * 8 + column


def select_topk_(
    scores: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    k: int,
    generator: torch.Generator | None = None,
) -> None:
    """Keeps exactly ``k`` of the unpruned entries with the largest scores, in place.

    A pruned entry (mask 0) never comes back; NaN scores count as the lowest. Ties at the
    threshold are broken by position: the earlier tensor, then the lower flat index, is
    kept first.

    Args:
        scores: Score tensors, one per mask, same number of entries (left unchanged).
        masks: 0/1 masks, updated in place.
        k: How many entries to keep in all.
        generator: Random source of the threshold sample (CPU); a fixed seed by default.

    Raises:
        ValueError: If the scores do not match the masks, or ``k`` < 0.

    Example:
        >>> scores, mask = [torch.tensor([1.0, 1.0, 1.0, 0.0])], [torch.ones(4)]
        >>> select_topk_(scores, mask, 2)
        >>> mask[0].tolist()
        [1.0, 1.0, 0.0, 0.0]
    """
    TopKSelector(masks, generator).select_(scores, k)
