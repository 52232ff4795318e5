"""What a scorer is: a named function from a model and its prunable parameters to scores.

A higher score means *keep*. Scores have the shape of their parameter. Scorers
never change the model: parameters, masks, buffers and ``.grad`` are left as
they were (SynFlow works on copies through ``torch.func.functional_call``).

A :class:`Scorer` carries everything the rest of the kit needs to know about a
pruner: its name (``--pruner``), the label of tables, the score function, whether
it needs data, its default number of rounds, its formula, the exercise hint and
its options (keyword arguments of the score function, e.g. GraSP's temperature).

Example:
    >>> import torch
    >>> from prunekit.core.layers import MaskedLinear, masked_parameters
    >>> def ones(model, params, data=None, loss_fn=None):
    ...     return [torch.ones_like(p.param) for p in params]
    >>> scorer = Scorer("ones", ones, label="Ones", formula="S = 1")
    >>> scorer(MaskedLinear(2, 1), list(masked_parameters(MaskedLinear(2, 1))))[0].tolist()
    [[1.0, 1.0]]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from prunekit.core.layers import MaskedParameter

__all__ = ["Batches", "Scorer", "ScoreFn", "as_scorer", "batches_on", "require_data"]

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
"""An iterable of ``(inputs, targets)`` batches, e.g. a DataLoader."""

ScoreFn = Callable[..., list[torch.Tensor]]
"""``fn(model, params, data, loss_fn) -> one score tensor per parameter``."""

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Scorer:
    """A named pruning criterion.

    Attributes:
        name: Registry key, as in ``--pruner``: lower-case letters, digits and ``_``, starting with a letter.
        fn: ``fn(model, params, data, loss_fn, **options)`` returning one score tensor per parameter.
        label: The name in tables and figures (e.g. ``SynFlow``); "" = ``name``.
        needs_data: Whether ``data`` batches are required (SNIP, GraSP).
        default_rounds: Scoring rounds used when none are given (100 for SynFlow, as in its paper; 1 otherwise).
        formula: The score, in one line, for reports and notebooks.
        hint: What the score is, shown when a student's exercise scores differ.
        options: Keyword arguments passed to ``fn`` on every call (e.g. ``{"temperature": 200.0}`` for GraSP);
            :meth:`with_options` gives a copy with other values.

    Raises:
        ValueError: If the name is not of the form above, ``fn`` is not callable or ``default_rounds`` < 1.
    """

    name: str
    fn: ScoreFn
    label: str = ""
    needs_data: bool = False
    default_rounds: int = 1
    formula: str = ""
    hint: str = ""
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"a scorer's name is lower-case letters, digits and _, starting with a letter; got {self.name!r}"
            )
        if not callable(self.fn):
            raise ValueError(f"scorer {self.name!r}: fn must be callable; got {self.fn!r}")
        if not isinstance(self.default_rounds, int) or isinstance(self.default_rounds, bool) or self.default_rounds < 1:
            raise ValueError(f"scorer {self.name!r}: default_rounds must be a whole number >= 1; "
                             f"got {self.default_rounds!r}")
        object.__setattr__(self, "label", self.label or self.name)
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def with_options(self, **options: Any) -> Scorer:
        """A copy whose ``fn`` gets other option values.

        Raises:
            ValueError: For an option the scorer does not have; the message lists the valid ones.

        Example:
            >>> from prunekit.core.scorers import get_scorer
            >>> dict(get_scorer("grasp").with_options(temperature=1.0).options)
            {'temperature': 1.0}
        """
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise ValueError(f"scorer {self.name!r} has no option {', '.join(unknown)}; valid options: {valid}")
        return Scorer(self.name, self.fn, self.label, self.needs_data, self.default_rounds, self.formula, self.hint,
                      {**self.options, **options})

    def __call__(
        self,
        model: nn.Module,
        params: Sequence[MaskedParameter],
        data: Batches | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> list[torch.Tensor]:
        if self.needs_data:
            require_data(self.name, data)
        return self.fn(model, params, data, loss_fn, **self.options)


def as_scorer(pruner: Scorer | ScoreFn, *, needs_data: bool = False) -> Scorer:
    """A :class:`Scorer` from a scorer or a plain score function.

    A plain function ``fn(model, params, data, loss_fn)`` (e.g. a student's) becomes a
    scorer named after it, with one default round.

    Args:
        pruner: A Scorer (returned as is) or a function.
        needs_data: For a plain function: whether it needs ``data`` batches.

    Returns:
        A Scorer.

    Raises:
        TypeError: If ``pruner`` is neither.

    Example:
        >>> as_scorer(lambda model, params, data, loss_fn: []).name
        'custom'
    """
    if isinstance(pruner, Scorer):
        return pruner
    if not callable(pruner):
        raise TypeError(f"a pruner is a registered name, a Scorer or a score function; got {pruner!r}")
    raw = getattr(pruner, "__name__", "")
    name = raw.lower() if _NAME.fullmatch(raw.lower()) else "custom"
    return Scorer(name, pruner, needs_data=needs_data)


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
