"""A sweep's grid: run-field values written as text, and the expansion of pruners × compressions × seeds.

Every run of the grid is a validated :class:`~prunekit.run.config.ExperimentConfig`, so an
unknown pruner, field, preset, model or dataset, or an empty grid, fails before any run.

Example:
    >>> configs = expand_grid(["rand", "snip"], [0.5, 1], result_dir="/tmp/sweep", post_epochs=1)
    >>> [config.expid for config in configs]
    ['rand-c0.5-s1', 'rand-c1-s1', 'snip-c0.5-s1', 'snip-c1-s1']
    >>> [c.expid for c in expand_grid(["mag"], [1], result_dir="/tmp/sweep", vary={"model": ["fc", "conv"]})]
    ['mag-c1-s1-model=fc', 'mag-c1-s1-model=conv']
"""

from __future__ import annotations

import itertools
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from prunekit.core.models import MODELS
from prunekit.core.scorers import SCORERS
from prunekit.run import checks
from prunekit.run.config import ExperimentConfig
from prunekit.run.presets import get_preset, preset_config

__all__ = ["GRID_FIELDS", "expand_grid", "parse_override", "parse_value", "parse_vary"]

GRID_FIELDS = {
    "pruner": "--pruners",
    "compression": "--compressions",
    "seed": "--seeds",
    "expid": "the grid (expids are derived)",
    "result_dir": "--result-dir and --name",
}
"""Fields the grid sets itself → the option that sets them."""

_NAMED: dict[str, Callable[[ExperimentConfig], Iterable[str]]] = {
    "dataset": lambda config: checks.dataset_names(),
    "model_class": lambda config: checks.model_class_names(),
    "model": lambda config: MODELS.get(config.model_class, {}),
    "optimizer": lambda config: checks.optimizer_names(),
    "schedule": lambda config: checks.schedule_names(),
    "scope": lambda config: checks.scope_names(),
    "experiment": lambda config: checks.EXPERIMENTS,
}
"""Fields whose value must be a name from a registry → that registry (checked before any run)."""


# --------------------------------------------------------------------------- values of run fields


def _field_type(name: str) -> tuple[Any, bool]:
    """The field's base type and whether it may be None."""
    fields = ExperimentConfig.field_names()
    if name not in fields:
        raise ValueError(f"unknown field {name!r}; valid fields: {', '.join(fields)}")
    hint = typing.get_type_hints(ExperimentConfig)[name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        return tuple, False
    if type(None) in args:
        return next(arg for arg in args if arg is not type(None)), True
    return hint, False


def parse_value(name: str, text: str) -> Any:
    """The value of run field ``name`` written as text, with the field's type.

    Booleans are ``true``/``false``; fields that may be None take ``none``; ``lr_drops``
    is written ``30+60`` (an empty text is no drops).

    Args:
        name: An ExperimentConfig field (dashes are read as underscores: ``post-epochs``).
        text: The value.

    Returns:
        The typed value.

    Raises:
        ValueError: For an unknown field (the message lists the valid ones) or a value of the wrong kind.

    Example:
        >>> parse_value("post-epochs", "300"), parse_value("train_limit", "none"), parse_value("lr_drops", "30+60")
        (300, None, (30, 60))
    """
    name = name.replace("-", "_")
    kind, optional = _field_type(name)
    if optional and text.lower() in ("none", "null"):
        return None
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    try:
        if kind is bool:
            if text.lower() not in words:
                raise ValueError(text)
            return words[text.lower()]
        if kind is tuple:
            return tuple(int(part) for part in text.split("+") if part.strip())
        return kind(text)
    except ValueError:
        expected = {bool: "true or false (bool)", tuple: "whole numbers joined by + (e.g. 30+60)",
                    int: "a whole number (int)", float: "a number (float)"}.get(kind, "text")
        raise ValueError(f"{name} takes {expected}{' or none' if optional else ''}; got {text!r}") from None


def parse_override(text: str) -> tuple[str, str, Any]:
    """``PRUNER:FIELD=VALUE`` (e.g. ``grasp:post_epochs=300``) as ``(pruner, field, value)``.

    Raises:
        ValueError: If the text is not of that form, or the pruner, field or value is bad.

    Example:
        >>> parse_override("mag:pre_epochs=200")
        ('mag', 'pre_epochs', 200)
    """
    pruner, colon, rest = text.partition(":")
    name, equals, raw = rest.partition("=")
    if not colon or not equals or not pruner or not name:
        raise ValueError(f"an override is PRUNER:FIELD=VALUE, e.g. grasp:post_epochs=300; got {text!r}")
    if pruner not in SCORERS:
        raise ValueError(f"unknown pruner {pruner!r} in {text!r}; valid pruners: {', '.join(SCORERS)}")
    name = name.replace("-", "_")
    try:
        return pruner, name, parse_value(name, raw)
    except ValueError as error:
        raise ValueError(f"--override {text!r}: {error}") from None


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``FIELD=V1,V2,...`` (e.g. ``model=fc,conv``) as ``(field, [values])``: one grid axis.

    Raises:
        ValueError: If the text is not of that form, or the field or a value is bad.

    Example:
        >>> parse_vary("post-epochs=1,5")
        ('post_epochs', [1, 5])
    """
    name, equals, raw = text.partition("=")
    if not equals or not name or not raw:
        raise ValueError(f"a grid axis is FIELD=V1,V2,..., e.g. model=fc,conv; got {text!r}")
    name = name.replace("-", "_")
    try:
        return name, [parse_value(name, part) for part in raw.split(",")]
    except ValueError as error:
        raise ValueError(f"--vary {text!r}: {error}") from None


# --------------------------------------------------------------------------- the grid


def _token(value: Any) -> str:
    """A value as it appears in an expid."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "+".join(str(part) for part in value) or "none"
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", str(value))


def _check_names(config: ExperimentConfig) -> None:
    for name, registry in _NAMED.items():
        valid = list(registry(config))
        if getattr(config, name) not in valid:
            of = f" of model_class {config.model_class!r}" if name == "model" else ""
            raise ValueError(
                f"unknown {name} {getattr(config, name)!r}{of} (run {config.expid}); valid: {', '.join(valid)}"
            )


def expand_grid(
    pruners: Sequence[str],
    compressions: Sequence[float],
    *,
    result_dir: str | Path,
    seeds: Sequence[int] = (1,),
    preset: str | None = None,
    per_pruner: Mapping[str, Mapping[str, Any]] | None = None,
    vary: Mapping[str, Sequence[Any]] | None = None,
    **fields: Any,
) -> list[ExperimentConfig]:
    """Every run of a grid, validated before anything runs.

    Settings apply in this order, later ones winning: the preset's base, the preset's
    per-pruner settings, ``fields``, ``per_pruner``, the grid's own axes.

    Args:
        pruners: Pruner names.
        compressions: Compression exponents.
        result_dir: The sweep's folder (runs go to ``<result_dir>/singleshot/<expid>``).
        seeds: Seeds; each grid point runs once per seed.
        preset: A preset whose base and per-pruner settings come first (e.g. ``report-sweep``).
        per_pruner: Pruner → fields set on that pruner's runs only (e.g. ``{"grasp": {"post_epochs": 300}}``).
        vary: More grid axes: field → its values (e.g. ``{"model": ["fc", "conv"]}``).
        **fields: Fields set on every run (e.g. ``post_epochs=1``).

    Returns:
        The configurations, pruner-major, with expids ``<pruner>-c<compression>-s<seed>``
        followed by ``-<field>=<value>`` for each ``vary`` axis.

    Raises:
        ValueError: For an empty grid, an unknown pruner, preset, field, model, dataset or optimizer,
            a field set twice, or a value a configuration rejects; the message names the valid choices.

    Example:
        >>> configs = expand_grid(["mag", "grasp"], [1], result_dir="s", preset="report-sweep")
        >>> [(c.pruner, c.pre_epochs, c.post_epochs) for c in configs]
        [('mag', 200, 100), ('grasp', 0, 300)]
    """
    axes = {name.replace("-", "_"): list(values) for name, values in (vary or {}).items()}
    empty = [name for name, values in {"pruners": pruners, "compressions": compressions, "seeds": seeds,
                                       **axes}.items() if not len(values)]
    if empty:
        raise ValueError(f"an empty grid: no values for {', '.join(empty)}")
    unknown = [p for p in pruners if p not in SCORERS]
    if unknown:
        raise ValueError(f"unknown pruner(s) {', '.join(map(repr, unknown))}; valid pruners: {', '.join(SCORERS)}")
    if preset is not None:
        get_preset(preset)
    extra = {pruner: dict(settings) for pruner, settings in (per_pruner or {}).items()}
    strangers = [p for p in extra if p not in pruners]
    if strangers:
        raise ValueError(
            f"overrides for pruner(s) {', '.join(strangers)} that the grid does not run: {', '.join(pruners)}"
        )
    named = {"fields": list(fields), "vary": list(axes), **{f"{p} overrides": list(s) for p, s in extra.items()}}
    valid = ExperimentConfig.field_names()
    for where, names in named.items():
        bad = [name for name in names if name not in valid]
        if bad:
            raise ValueError(f"unknown config field(s) {', '.join(bad)} in {where}; valid fields: {', '.join(valid)}")
        grid_set = [name for name in names if name in GRID_FIELDS]
        if grid_set:
            raise ValueError(
                f"the grid sets {', '.join(grid_set)} itself; use {', '.join(GRID_FIELDS[n] for n in grid_set)}"
            )
    twice = sorted(set(axes) & ({*fields} | {name for settings in extra.values() for name in settings}))
    if twice:
        raise ValueError(f"{', '.join(twice)} is both a grid axis (vary) and a fixed setting; give it once")
    configs = []
    for pruner, compression, seed, combination in itertools.product(
        pruners, compressions, seeds, itertools.product(*axes.values())
    ):
        point = dict(zip(axes, combination))
        expid = f"{pruner}-c{float(compression):g}-s{int(seed)}" + "".join(
            f"-{name}={_token(value)}" for name, value in point.items()
        )
        settings = {**fields, **extra.get(pruner, {}), **point, "compression": float(compression),
                    "seed": int(seed), "expid": expid, "result_dir": str(result_dir)}
        try:
            if preset is not None:
                config = preset_config(preset, pruner, **settings)
            else:
                config = ExperimentConfig(pruner=pruner).replace(**settings)
        except checks.ConfigError as error:  # the config's own checks: say which run
            raise checks.ConfigError(f"run {expid}: {error}") from None
        except TypeError as error:  # a value of the wrong type compared in the config's checks
            raise ValueError(f"a value of the wrong type for run {expid}: {error}") from None
        _check_names(config)
        configs.append(config)
    expids = [config.expid for config in configs]
    repeated = sorted({expid for expid in expids if expids.count(expid) > 1})
    if repeated:
        raise ValueError(f"grid points given twice ({', '.join(repeated)}): give each value once")
    return configs
