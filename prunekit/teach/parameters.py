"""The notebooks' parameters: one call right after the ``parameters`` cell checks them all.

Papermill injects ``-p NAME value`` as a cell of assignments headed ``# Parameters``
after the notebook's own ``parameters`` cell, and passes an unknown name on with
only a warning. :func:`check_parameters` therefore reads the cells IPython has run
(``In``), finds the notebook's parameters cell and the injected one, refuses any
injected name the notebook does not declare, and checks every declared value
against its rule in :data:`RULES` (type, range, valid choices). A bad value stops
the notebook at once with one :class:`ParameterError` that names the parameter,
its value and what is valid, instead of failing later deep in a run.

Example:
    >>> check_parameters({"SEED": 1, "COMPRESSION": 0.5}, declared=["SEED", "COMPRESSION"])
    >>> check_parameters({"COMPRESSION": "abc"}, declared=["COMPRESSION"])
    Traceback (most recent call last):
    ...
    prunekit.teach.parameters.ParameterError: parameter COMPRESSION = 'abc': expected a number >= 0 (the compression exponent a; density 10^-a)
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from prunekit.core.models import model_names
from prunekit.core.scorers import SCORERS
from prunekit.run.presets import PRESETS

__all__ = ["NEUTRAL", "RULES", "ParameterError", "assigned_names", "changed_parameters", "check_parameters", "parameter_cells"]

INJECTED_HEADER = "# Parameters"
"""The first line of the cell papermill injects."""

SEED_MAX = 2**63 - 1
"""The largest seed torch accepts."""


class ParameterError(ValueError):
    """A notebook parameter is unknown or has a value outside its rule."""


Rule = Callable[[str, Any], None]
"""``rule(name, value)`` raises :class:`ParameterError` for a bad value."""


def _fail(name: str, value: Any, expected: str) -> None:
    raise ParameterError(f"parameter {name} = {value!r}: expected {expected}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(name, value, "True or False")


def _integer(low: int, high: int | None = None, *, optional: bool = False, what: str = "") -> Rule:
    span = f">= {low}" if high is None else f"from {low} to {high}"
    expected = f"{'None or ' if optional else ''}a whole number {span}{f' ({what})' if what else ''}"

    def rule(name: str, value: Any) -> None:
        if value is None and optional:
            return
        if not _is_int(value) or value < low or (high is not None and value > high):
            _fail(name, value, expected)

    return rule


def _number(low: float, *, strict: bool = False, what: str = "") -> Rule:
    expected = f"a number {'>' if strict else '>='} {low:g}{f' ({what})' if what else ''}"

    def rule(name: str, value: Any) -> None:
        if not _is_number(value) or value < low or (strict and value == low):
            _fail(name, value, expected)

    return rule


def _numbers(low: float, what: str) -> Rule:
    expected = f"a non-empty list of numbers >= {low:g} ({what})"

    def rule(name: str, value: Any) -> None:
        if not isinstance(value, (list, tuple)) or not value or not all(_is_number(v) and v >= low for v in value):
            _fail(name, value, expected)

    return rule


def _choice(choices: Callable[[], Iterable[str]], *, many: bool = False) -> Rule:
    def rule(name: str, value: Any) -> None:
        valid = list(choices())
        values = value if many and isinstance(value, (list, tuple)) else [value]
        if (many and (not isinstance(value, (list, tuple)) or not value)) or any(v not in valid for v in values):
            kind = "a non-empty list of" if many else "one of"
            _fail(name, value, f"{kind} {', '.join(map(repr, valid))}")

    return rule


def _folder(*, optional: bool, must_exist: bool) -> Rule:
    def rule(name: str, value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, (str, Path)) or not str(value).strip():
            _fail(name, value, f"{'None or ' if optional else ''}a folder path (a string)")
        if must_exist and not Path(value).expanduser().is_dir():
            _fail(name, value, f"an existing folder ({Path(value).expanduser().resolve()} does not exist)"
                  + ("; None looks in $PRUNEKIT_DATA and the kit's data/" if optional else ""))

    return rule


COMPRESSION_WHAT = "the compression exponent a; density 10^-a"


def _fractions(what: str) -> Rule:
    expected = f"a non-empty list of numbers in (0, 1] ({what})"

    def rule(name: str, value: Any) -> None:
        if not isinstance(value, (list, tuple)) or not value or not all(_is_number(v) and 0 < v <= 1 for v in value):
            _fail(name, value, expected)

    return rule


def _layer_sizes(name: str, value: Any) -> None:
    pairs = isinstance(value, (list, tuple)) and value and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(_is_int(v) and v >= 1 for v in p) for p in value)
    if not pairs:
        _fail(name, value, "a non-empty list of [out, in] pairs of whole numbers >= 1 (linear layer sizes)")


RULES: dict[str, Rule] = {
    "INTERACTIVE": _boolean,
    "PRESET": _choice(lambda: PRESETS),
    "DATA_DIR": _folder(optional=True, must_exist=True),
    "RESULT_DIR": _folder(optional=False, must_exist=False),
    "SWEEP_DIR": _folder(optional=True, must_exist=False),
    "REPORT_DIR": _folder(optional=False, must_exist=False),
    "REFERENCE_DIR": _folder(optional=False, must_exist=True),
    "SEED": _integer(0, SEED_MAX, what="the random seed"),
    "COMPRESSION": _number(0, what=COMPRESSION_WHAT),
    "HIGH_COMPRESSION": _number(0, what=COMPRESSION_WHAT),
    "COMPRESSIONS": _numbers(0, COMPRESSION_WHAT),
    "COLLAPSE_COMPRESSIONS": _numbers(0, COMPRESSION_WHAT),
    "COLLAPSE_SEEDS": _integer(1, what="random seeds per compression"),
    "POST_EPOCHS": _integer(0, optional=True, what="training epochs after pruning; None keeps the preset's"),
    "PRE_EPOCHS": _integer(0, what="training epochs before pruning"),
    "COMPARE_EPOCHS": _integer(0, what="training epochs"),
    "SANITY_EPOCHS": _integer(0, what="training epochs"),
    "ROUNDS": _integer(1, what="pruning rounds"),
    "PRUNERS": _choice(lambda: SCORERS, many=True),
    "SANITY_PRUNER": _choice(lambda: SCORERS),
    "PRUNER": _choice(lambda: SCORERS),
    "MODEL_CLASS": _choice(lambda: model_names()),
    "MODEL": _choice(lambda: sorted({m for names in model_names().values() for m in names})),
    "DATASET": _choice(lambda: ("mnist", "cifar10", "cifar100")),
    "TEMPERATURE": _number(0, strict=True, what="the temperature T"),
    "BINS": _integer(2, what="histogram bins"),
    "LEVELS": _integer(1, what="prune-train-rewind levels of iterative magnitude pruning"),
    "SEEDS": _numbers(0, "random seeds, whole numbers"),
    "TRAIN_LIMIT": _integer(1, optional=True, what="training images used; None = all"),
    "THREADS": _integer(1, what="torch threads while timing"),
    "REPEATS": _integer(3, what="timed calls per measurement"),
    "LAYER_SIZES": _layer_sizes,
    "LAYER_BATCH": _integer(1, what="inputs per layer product"),
    "DENSITIES": _fractions("fractions of weights kept"),
    "KEEPS": _fractions("fractions of channels kept"),
    "CHANNEL_METHODS": _choice(lambda: ("l1", *SCORERS), many=True),
    "VGG_BATCH": _integer(1, what="images per VGG16 forward"),
    "VGG_TRAIN_IMAGES": _integer(0, what="images to train each VGG16 on; 0: no VGG16 accuracy"),
}
"""Parameter name → its rule. A notebook parameter without a rule is an error, so every one is checked."""


def assigned_names(source: str) -> list[str] | None:
    """The names a cell of plain ``NAME = value`` statements assigns, or None for any other cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else None
        if not targets or not all(isinstance(t, ast.Name) and t.id.isupper() for t in targets):
            return None
        names += [t.id for t in targets]
    return names or None


def _parameter_sources(history: Sequence[str]) -> tuple[str | None, str | None]:
    """The sources of the declared and of the injected parameters cell among the cells run so far."""
    declared: str | None = None
    injected: str | None = None
    for source in reversed(history):
        if assigned_names(source) is None:
            continue
        if source.lstrip().startswith(INJECTED_HEADER):
            if injected is None and declared is None:
                injected = source
        else:
            declared = source
            break
    return declared, injected


def parameter_cells(history: Sequence[str]) -> tuple[list[str], list[str]]:
    """The declared and the injected parameter names, from the sources of the cells run so far.

    The injected cell is the last parameter-like cell that starts with ``# Parameters``
    (papermill's); the declared cell is the last parameter-like cell before it (or the
    last one at all when nothing was injected).

    Args:
        history: Cell sources in the order they ran (IPython's ``In``, current cell last).

    Returns:
        ``(declared, injected)`` names; both empty when no parameters cell ran.

    Example:
        >>> parameter_cells(["SEED = 1\\nPRESET = 'quick'", "# Parameters\\nSEED = 2\\n", "check_parameters(...)"])
        (['SEED', 'PRESET'], ['SEED'])
    """
    declared, injected = _parameter_sources(history)
    return (assigned_names(declared) or [] if declared else []), (assigned_names(injected) or [] if injected else [])


def _defaults(source: str | None) -> dict[str, Any]:
    """Name → literal default value of a parameters cell (names with a non-literal value are left out)."""
    values: dict[str, Any] = {}
    if not source:
        return values
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            continue
        values.update({t.id: value for t in targets if isinstance(t, ast.Name)})
    return values


NEUTRAL = frozenset({"INTERACTIVE", "RESULT_DIR", "REPORT_DIR", "SWEEP_DIR"})
"""Parameters that change where things go or whether widgets show, never what a run computes."""

_STATE: dict[str, tuple[str, ...]] = {"changed": ()}


def changed_parameters() -> tuple[str, ...]:
    """The parameters the last :func:`check_parameters` found changed from the notebook's defaults.

    Only injected values (papermill ``-p``) that differ from the parameters cell count, and
    not the :data:`NEUTRAL` ones; :mod:`prunekit.teach.claims` asserts a discussion's claims only
    when this is empty, since the prose was written for the defaults.

    Example:
        >>> check_parameters({"SEED": 1}, declared=["SEED"])
        >>> changed_parameters()
        ()
    """
    return _STATE["changed"]


def _history() -> list[str]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        return []
    shell = get_ipython()
    return list(shell.user_ns.get("In", [])) if shell is not None else []


def check_parameters(namespace: Mapping[str, Any], *, declared: Sequence[str] | None = None,
                     injected: Sequence[str] = ()) -> None:
    """Checks a notebook's parameters; call it with ``globals()`` in the cell after the ``parameters`` cell.

    Args:
        namespace: The notebook's globals.
        declared: The names the parameters cell declares; None reads them (and the
            injected names) from the cells IPython has run.
        injected: Names papermill injected (only with ``declared`` given).

    Raises:
        ParameterError: For an injected name the notebook does not declare, a declared name
            without a rule in :data:`RULES`, or a value its rule refuses; the message names
            the parameter, its value and what is valid.
    """
    defaults: dict[str, Any] = {}
    if declared is None:
        history = _history()
        declared, injected = parameter_cells(history)
        defaults = _defaults(_parameter_sources(history)[0])
    unknown = [name for name in injected if name not in declared]
    if unknown:
        given = ", ".join(f"{n} = {namespace.get(n)!r}" for n in unknown)
        raise ParameterError(f"unknown parameter(s) {given}: this notebook's parameters are {', '.join(declared)}")
    for name in declared:
        if name not in RULES:
            raise ParameterError(f"parameter {name} has no rule in prunekit.teach.parameters.RULES; add one")
        RULES[name](name, namespace.get(name))
    _STATE["changed"] = tuple(
        name for name in injected
        if name not in NEUTRAL and (name not in defaults or defaults[name] != namespace.get(name))
    )
