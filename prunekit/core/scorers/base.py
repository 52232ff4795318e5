"""What a scorer is: a function from a model and its prunable parameters to scores.

A higher score means *keep*. Scores have the shape of their parameter. Scorers
never change the model: parameters, masks, buffers and ``.grad`` are left as
they were (SynFlow works on copies through ``torch.func.functional_call``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from prunekit.core.layers import MaskedParameter

__all__ = ["Batches", "Scorer", "ScoreFn", "batches_on", "require_data"]

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
"""An iterable of ``(inputs, targets)`` batches, e.g. a DataLoader."""

ScoreFn = Callable[..., list[torch.Tensor]]
"""``fn(model, params, data, loss_fn) -> one score tensor per parameter``."""


@dataclass(frozen=True)
class Scorer:
    """A named pruning criterion.

    Attributes:
        name: Registry key, as in the seed's ``--pruner``.
        fn: ``fn(model, params, data, loss_fn)`` returning one score tensor per parameter.
        needs_data: Whether ``data`` batches are required (SNIP, GraSP).
        default_iterations: Pruning iterations used when none are given
            (100 for SynFlow, as in its paper; 1 otherwise).
        formula: The score, in one line, for reports and notebooks.
    """

    name: str
    fn: ScoreFn
    needs_data: bool
    default_iterations: int
    formula: str

    def __call__(
        self,
        model: nn.Module,
        params: Sequence[MaskedParameter],
        data: Batches | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> list[torch.Tensor]:
        if self.needs_data:
            require_data(self.name, data)
        return self.fn(model, params, data, loss_fn)


def require_data(pruner: str, data: Batches | None) -> None:
    """Raises a clear error when a data-driven scorer gets no batches.

    Raises:
        ValueError: If ``data`` is None.

    Example:
        >>> require_data("mag", [])
    """
    if data is None:
        raise ValueError(
            f"pruner {pruner!r} scores weights with gradients of the loss, so it needs data: "
            "pass data=<iterable of (inputs, targets) batches>, e.g. prunekit.run.data.prune_loader(...)"
        )


def batches_on(data: Batches, device: torch.device) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Yields the batches of ``data`` moved to ``device``; refuses an empty iterable.

    Raises:
        ValueError: If ``data`` yields no batch.
    """
    count = 0
    for inputs, targets in data:
        count += 1
        yield inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
    if count == 0:
        raise ValueError("the pruning data yielded no batch; pass at least one (inputs, targets) batch")
