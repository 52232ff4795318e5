"""Plugins: modules that register pruners (or anything else) when imported.

A sixth pruner is one module that builds a :class:`~prunekit.core.scorers.Scorer`
and calls :func:`~prunekit.core.scorers.register`. Name it with ``--plugin MODULE``
(``prunekit``, ``prunekit sweep``) or in ``PRUNEKIT_PLUGINS`` (module names separated
by commas); the module must be importable (on ``PYTHONPATH``). A sweep hands its
plugins to every run through ``PRUNEKIT_PLUGINS``, so the run notebooks, in their
own processes, know the pruner too.

Example:
    >>> load_plugins(["json"])
    ('json',)
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable

__all__ = ["ENV_VAR", "PluginError", "load_plugins", "loaded_plugins"]

ENV_VAR = "PRUNEKIT_PLUGINS"
"""The environment variable naming plugin modules (comma-separated)."""

_LOADED: list[str] = []


class PluginError(ImportError):
    """A plugin module could not be imported; the message names it and says where it was looked for."""


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.replace(os.pathsep if os.pathsep != ":" else ",", ",").split(",")
            if name.strip()]


def load_plugins(modules: Iterable[str] = ()) -> tuple[str, ...]:
    """Imports ``modules`` and those named by ``PRUNEKIT_PLUGINS`` (each once).

    Args:
        modules: Module names, e.g. ``["my_pruners"]``.

    Returns:
        Every plugin module imported so far, in order.

    Raises:
        PluginError: If a module cannot be imported.
    """
    for name in [*modules, *_names(os.environ.get(ENV_VAR, ""))]:
        if name in _LOADED:
            continue
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise PluginError(
                f"cannot import plugin module {name!r} ({error}); put its folder on PYTHONPATH "
                f"(named by --plugin or {ENV_VAR})"
            ) from error
        _LOADED.append(name)
    return tuple(_LOADED)


def loaded_plugins() -> tuple[str, ...]:
    """The plugin modules imported so far (what a sweep hands to its runs).

    Example:
        >>> isinstance(loaded_plugins(), tuple)
        True
    """
    return tuple(_LOADED)
