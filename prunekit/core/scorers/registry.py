"""The one registry of pruners: name → :class:`Scorer`, in registration order.

The five built-in pruners are registered here; a sixth is one file that builds a
``Scorer`` and calls :func:`register` (e.g. a module named by ``PRUNEKIT_PLUGINS``
or ``--plugin``, see :mod:`prunekit.run.plugins`). The CLI's choices, the report's
default rounds, the exercise hints and the widgets' menus all read this registry.

Example:
    >>> pruner_names()
    ('rand', 'mag', 'snip', 'grasp', 'synflow')
    >>> get_scorer("synflow").default_rounds
    100
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from prunekit.core.scorers import grasp, mag, rand, snip, synflow
from prunekit.core.scorers.base import Scorer, ScoreFn, as_scorer

__all__ = ["BUILTIN", "SCORERS", "field_view", "get_scorer", "pruner_names", "register", "resolve", "unregister"]

_REGISTRY: dict[str, Scorer] = {}

SCORERS: Mapping[str, Scorer] = MappingProxyType(_REGISTRY)
"""A read-only, live view of the registry: name → Scorer."""

BUILTIN = ("rand", "mag", "snip", "grasp", "synflow")
"""The built-in pruners, in the report's column order."""


def register(scorer: Scorer, *, replace: bool = False) -> Scorer:
    """Adds a pruner to the registry; from then on every part of the kit offers it.

    Registering the same scorer twice is harmless (a plugin imported twice).

    Args:
        scorer: The :class:`Scorer`.
        replace: Replace a registered scorer of the same name (never a built-in one).

    Returns:
        ``scorer`` (so ``SCORER = register(Scorer(...))`` works).

    Raises:
        TypeError: If ``scorer`` is not a Scorer.
        ValueError: If another scorer has that name and ``replace`` is False, or the name is a built-in's.

    Example:
        >>> import torch
        >>> toy = Scorer("toy", lambda model, params, data, loss_fn: [torch.ones_like(p.param) for p in params])
        >>> register(toy).name in pruner_names()
        True
        >>> unregister("toy")
    """
    if not isinstance(scorer, Scorer):
        raise TypeError(f"register takes a Scorer (prunekit.core.scorers.Scorer); got {scorer!r}")
    known = _REGISTRY.get(scorer.name)
    if known is not None and known != scorer:
        if scorer.name in BUILTIN:
            raise ValueError(f"{scorer.name!r} is a built-in pruner; choose another name")
        if not replace:
            raise ValueError(
                f"a pruner named {scorer.name!r} is already registered; pass replace=True or choose another name"
            )
    _REGISTRY[scorer.name] = scorer
    return scorer


def unregister(name: str) -> None:
    """Removes a registered (non-built-in) pruner.

    Raises:
        ValueError: For a built-in or unknown name; the message lists the removable ones.
    """
    removable = [n for n in _REGISTRY if n not in BUILTIN]
    if name not in removable:
        raise ValueError(f"cannot unregister {name!r}; registered non-built-in pruners: {', '.join(removable) or 'none'}")
    del _REGISTRY[name]


def pruner_names() -> tuple[str, ...]:
    """The registered pruners' names, built-ins first.

    Example:
        >>> pruner_names()[:2]
        ('rand', 'mag')
    """
    return tuple(_REGISTRY)


def get_scorer(name: str) -> Scorer:
    """Looks a scorer up by name.

    Args:
        name: A registered name: ``rand``, ``mag``, ``snip``, ``grasp``, ``synflow`` or one added by :func:`register`.

    Returns:
        The :class:`Scorer`.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.

    Example:
        >>> get_scorer("mag").needs_data
        False
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown pruner {name!r}; valid pruners: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def resolve(pruner: str | Scorer | ScoreFn) -> Scorer:
    """A Scorer from a registered name, a Scorer, or a plain function ``fn(model, params, data, loss_fn)``.

    Raises:
        ValueError: For an unknown name (the message lists the valid ones).
        TypeError: For anything else.

    Example:
        >>> resolve("snip").needs_data, resolve(get_scorer("mag")).name
        (True, 'mag')
    """
    if isinstance(pruner, str):
        return get_scorer(pruner)
    return as_scorer(pruner)


class _FieldView(Mapping):
    """A live, read-only mapping name → one attribute of each registered scorer."""

    def __init__(self, attribute: str) -> None:
        self._attribute = attribute

    def __getitem__(self, name: str) -> Any:
        if name not in _REGISTRY:
            raise KeyError(name)
        return getattr(_REGISTRY[name], self._attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(list(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{name!r}: {self[name]!r}' for name in self)}}}"


def field_view(attribute: str) -> Mapping[str, Any]:
    """A live read-only mapping from each registered pruner to one of its attributes (e.g. ``hint``).

    Raises:
        ValueError: If ``attribute`` is not a Scorer field.

    Example:
        >>> field_view("default_rounds")["synflow"]
        100
    """
    fields = Scorer.__dataclass_fields__
    if attribute not in fields:
        raise ValueError(f"unknown Scorer field {attribute!r}; valid fields: {', '.join(fields)}")
    return _FieldView(attribute)


for _scorer in (rand.SCORER, mag.SCORER, snip.SCORER, grasp.SCORER, synflow.SCORER):
    register(_scorer)
