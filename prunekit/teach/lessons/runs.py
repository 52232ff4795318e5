"""Finished runs: their post-training histories and one summary row each.

Both take the :class:`~prunekit.run.result.RunResult` values that
:func:`prunekit.run.experiment.run_or_load` returns, keyed by the label a notebook gives them.

Example:
    >>> from prunekit.run.config import ExperimentConfig
    >>> from prunekit.run.experiment import run_or_load
    >>> runs = {"SNIP": run_or_load(ExperimentConfig(pruner="snip", compression=1, post_epochs=1))}  # doctest: +SKIP
    >>> run_table(runs).top1.tolist()  # doctest: +SKIP
    [96.5]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from prunekit.run.result import RunResult

__all__ = ["histories", "run_table"]


def _post_history(label: str, result: RunResult) -> list[dict[str, Any]]:
    if not isinstance(result, RunResult):
        raise TypeError(
            f"run {label!r} is a {type(result).__name__}, not a RunResult: pass what "
            "prunekit.run.experiment.run_or_load (or load_result) returns"
        )
    return [row.to_dict() for row in result.post_history]


def histories(runs: Mapping[str, RunResult]) -> dict[str, list[dict[str, Any]]]:
    """The post-training history of each run (epoch 0 = right after pruning), for the training-curve plot.

    Args:
        runs: Label → :class:`~prunekit.run.result.RunResult` of :func:`prunekit.run.experiment.run_or_load`.

    Returns:
        Label → list of rows with ``epoch``, ``top1``, ``test_loss`` … (what
        :func:`prunekit.teach.plots_lessons.plot_training_curves` takes).

    Raises:
        TypeError: If a value is not a :class:`~prunekit.run.result.RunResult`.

    Example:
        >>> histories({"a": {"post_history": []}})
        Traceback (most recent call last):
        ...
        TypeError: run 'a' is a dict, not a RunResult: pass what prunekit.run.experiment.run_or_load (or load_result) returns
    """
    return {label: _post_history(label, result) for label, result in runs.items()}


def run_table(runs: Mapping[str, RunResult]) -> pd.DataFrame:
    """One row per finished run: what was pruned, how, and the final test accuracy.

    Args:
        runs: Label → :class:`~prunekit.run.result.RunResult` of :func:`prunekit.run.experiment.run_or_load`.

    Returns:
        Columns ``run``, ``pruner``, ``compression``, ``density`` (kept / prunable),
        ``rounds`` (scoring rounds), ``pre_epochs``, ``post_epochs``, ``collapsed_layers``,
        ``top1`` (final test accuracy, %) and ``data`` (``full``, ``sample`` or ``fallback``).

    Raises:
        TypeError: If a value is not a :class:`~prunekit.run.result.RunResult`.

    Example:
        >>> run_table({}).empty
        True
    """
    rows = []
    for label, result in runs.items():
        history = _post_history(label, result)
        config = result.config
        rows.append(
            {
                "run": label,
                "pruner": config.pruner,
                "compression": config.compression,
                "density": result.params.density,
                "rounds": result.prune.rounds,
                "pre_epochs": config.pre_epochs,
                "post_epochs": config.post_epochs,
                "collapsed_layers": ", ".join(result.collapsed_layers) or "none",
                "top1": history[-1]["top1"],
                "data": result.origin.value,
            }
        )
    return pd.DataFrame(rows)
