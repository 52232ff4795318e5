"""Saved runs as one table: :func:`collect` reads every ``result.json`` below a folder, one row per run.

Each row holds a run's settings and outcomes, read from its
:class:`~prunekit.run.result.RunResult` (kept in ``frame.attrs["results"]`` for the
per-layer tables), and the data's origin; :func:`data_label` turns the origins into
the caption prefix every table and figure carries.

Example:
    >>> frame = collect("results/notebooks")  # doctest: +SKIP
    >>> data_label(frame)  # doctest: +SKIP
    'SHIPPED MNIST SAMPLE (10,000/2,000 images) · '
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from prunekit.core.scorers import SCORERS
from prunekit.run.datasets import DataOrigin
from prunekit.run.paths import computed_fields
from prunekit.run.result import RESULT_FILE, ResultSchemaError, RunResult

__all__ = ["COLUMNS", "RunResults", "SkippedResultWarning", "collect", "data_label", "data_sentence"]


class SkippedResultWarning(UserWarning):
    """A ``result.json`` that cannot be read was left out of the table (the message names it and why)."""


class RunResults(Mapping[str, RunResult]):
    """The runs behind a :func:`collect` table (``run_dir`` → result), read-only and never copied.

    pandas deep-copies a frame's ``attrs`` after every operation (``frame[...]``, ``.pivot``, ``-`` …). A
    plain dict of results with their weight histograms made each of those copy megabytes: writing the
    report spent most of its time there. Copies of this mapping are the mapping itself.

    Example:
        >>> runs = RunResults({})
        >>> import copy; copy.deepcopy(runs) is runs, len(runs)
        (True, 0)
    """

    def __init__(self, results: Mapping[str, RunResult]) -> None:
        self._results = dict(results)

    def __getitem__(self, run: str) -> RunResult:
        return self._results[run]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __copy__(self) -> RunResults:
        return self

    def __deepcopy__(self, memo: dict) -> RunResults:
        return self


COLUMNS = [
    "run_dir", "expid", "label", "pruner", "compression", "density", "dataset", "model_class", "model", "pre_epochs",
    "post_epochs", "rounds", "seed", "top1", "top5", "test_time_s", "test_time_iqr_s", "test_time_threads", "test_time_load", "params_total",
    "params_kept", "flops_total", "flops_remaining", "flop_ratio", "collapsed_layers", "disconnected", "origin",
    "status",
]
"""The columns of :func:`collect`'s table."""


_NAMED_APART = ("pruner", "compression", "seed", "dataset", "model", "rounds", "data_dir", "experiment",
                "timing_repeats")
"""Settings a label never needs: the table's own axes, what it averages over, what it selects by, the rounds
(named apart, against the pruner's default), the data folder (named by its origin) and the number of timed
passes (how precisely a run measured its test time, not what it computed; the tables show its median)."""

_WORDS = {"pre_epochs": "pre", "post_epochs": "post", "train_limit": "train limit", "test_limit": "test limit"}


def _setting_text(field: str, value: object) -> str:
    if value is None:
        shown = "all" if field.endswith("_limit") else "none"
    elif isinstance(value, list):
        shown = ",".join(str(item) for item in value)
    else:
        shown = str(value)
    return f"{_WORDS.get(field, field.replace('_', ' '))} {shown}"


def _varying_settings(results: Mapping[str, RunResult], runs: list[str]) -> list[str]:
    """The computed settings (``paths.computed_fields``) whose values differ between ``runs``, in field order."""
    fields = [computed_fields(results[run].config) for run in runs]
    names = list(dict.fromkeys(name for each in fields for name in each))
    return [name for name in names if name not in _NAMED_APART
            and len({json.dumps(each.get(name), sort_keys=True) for each in fields}) > 1]


def _labels(frame: pd.DataFrame, results: Mapping[str, RunResult]) -> pd.Series:
    """Column names that keep different settings apart.

    A run is named by its pruner, plus its pruning rounds when they are not the
    pruner's default (the registry's ``default_rounds``), plus every setting that differs
    between the runs of the same pruner on the same model and data (pre- and post-training
    epochs, training limit, learning rate, ...: any field that changes what a run computes),
    plus its data origin (``sample``, ``fallback``) when those runs differ in it, plus
    ``diverged`` for a run whose training diverged (its own column in every table, with no
    accuracy). Runs that differ only in their seed share a name, and the tables average
    them; runs on different data or settings never do.
    """
    varying: dict[tuple, list[str]] = {}
    for key, group in frame.groupby(["pruner", "dataset", "model"], sort=False):
        varying[key] = _varying_settings(results, group.run_dir.tolist())
    labels: list[str] = []
    for _, row in frame.iterrows():
        parts = []
        default = SCORERS[row.pruner].default_rounds if row.pruner in SCORERS else 1  # the registry's
        if row.rounds != default:
            parts.append(f"{row.rounds} round{'s' if row.rounds > 1 else ''}")
        fields = computed_fields(results[row.run_dir].config)
        parts += [_setting_text(name, fields.get(name)) for name in varying[(row.pruner, row.dataset, row.model)]]
        same = frame[(frame.pruner == row.pruner) & (frame.dataset == row.dataset) & (frame.model == row.model)]
        if "origin" in same and same["origin"].nunique() > 1 and row.origin != "full":
            parts.append(f"{row.origin} data")
        if row.get("status") == "diverged":
            parts.append("diverged")
        labels.append(f"{row.pruner} ({', '.join(parts)})" if parts else row.pruner)
    return pd.Series(labels, index=frame.index, dtype=object)


def _load_all(files: list[Path]) -> tuple[dict[str, RunResult], list[str]]:
    """The readable results (by run folder) and one line per skipped file."""
    results, skipped = {}, []
    for file in files:
        try:
            results[str(file.parent)] = RunResult.load(file)
        except (ResultSchemaError, OSError, UnicodeDecodeError) as error:
            skipped.append(str(error) if str(file) in str(error) else f"{file}: {error}")
    return results, skipped


def collect(folder: str | Path, *, allow_empty: bool = False) -> pd.DataFrame:
    """One row per finished run below ``folder``.

    A ``result.json`` that cannot be read (not JSON, ``[]``, missing fields, another schema) is
    skipped with a :class:`SkippedResultWarning` naming it; the other runs are reported. A run
    whose training diverged has status ``diverged``, a label ending in ``diverged`` and no
    accuracy (NaN): its numbers are not results.

    Args:
        folder: A sweep folder, a result folder, or one run's folder.
        allow_empty: Return an empty table (instead of raising) when there is no run yet.

    Returns:
        A DataFrame with run settings (``pruner``, ``compression``, ``dataset``, ``model``, ``rounds`` …),
        outcomes (``top1``, ``test_time_s``, ``flop_ratio``, ``collapsed_layers``, ``disconnected``: True, False
        or None for a result saved before prunekit checked …) and ``origin``
        (a :class:`~prunekit.run.datasets.DataOrigin` value: ``full``, ``sample`` or ``fallback``);
        ``attrs["results"]`` maps ``run_dir`` to the run's :class:`~prunekit.run.result.RunResult`.

    Raises:
        FileNotFoundError: If the folder does not exist or holds no finished run.
        ResultSchemaError: A ``ValueError`` naming each file, if no result there can be read.

    Example:
        >>> collect("/nonexistent", allow_empty=True).empty
        True
    """
    root = Path(folder)
    files = sorted(root.rglob(RESULT_FILE)) if root.exists() else []
    if not files:
        if allow_empty:
            empty = pd.DataFrame(columns=COLUMNS)
            empty.attrs["results"] = RunResults({})
            return empty
        raise FileNotFoundError(f"no finished run (no {RESULT_FILE}) below {root}")
    results, skipped = _load_all(files)
    if not results:
        raise ResultSchemaError(f"no readable result below {root}: " + " | ".join(skipped), str(files[0]), None)
    for line in skipped:
        warnings.warn(f"skipping {line}", SkippedResultWarning, stacklevel=2)
    rows = []
    for run, result in results.items():
        config, params, flops = result.config, result.params, result.flops
        rows.append(
            {
                "run_dir": run,
                "expid": result.expid,
                "label": config.pruner,
                "pruner": config.pruner,
                "compression": float(config.compression),
                "density": params.density,
                "dataset": config.dataset,
                "model_class": config.model_class,
                "model": config.model,
                "pre_epochs": config.pre_epochs,
                "post_epochs": config.post_epochs,
                "rounds": result.prune.rounds,
                "seed": config.seed,
                "top1": math.nan if result.diverged else result.top1,
                "top5": math.nan if result.diverged else result.top5,
                "test_time_s": result.test_time_s,
                "test_time_iqr_s": result.timing.iqr_s,
                "test_time_threads": result.timing.threads,
                "test_time_load": result.timing.load,
                "params_total": params.total,
                "params_kept": params.kept,
                "flops_total": flops.total,
                "flops_remaining": flops.remaining,
                "flop_ratio": flops.ratio,
                "collapsed_layers": ", ".join(result.collapsed_layers),
                "disconnected": result.disconnected,
                "origin": result.origin.value,
                "status": result.status,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["label"] = _labels(frame, results)
    frame.attrs["results"] = RunResults(results)
    return frame


def data_label(frame: pd.DataFrame) -> str:
    """A caption prefix saying when the data was not the real, full dataset ("" when it was).

    Read from the ``origin`` column (:class:`~prunekit.run.datasets.DataOrigin` values): a fallback
    stand-in is named first, then the shipped sample.

    Example:
        >>> data_label(pd.DataFrame({"origin": ["sample", "full"]}))
        'SHIPPED MNIST SAMPLE (10,000/2,000 images) · '
        >>> data_label(pd.DataFrame({"origin": ["full"]}))
        ''
    """
    found = {DataOrigin(origin) for origin in frame["origin"]}
    return "".join(origin.tag for origin in (DataOrigin.FALLBACK, DataOrigin.SAMPLE) if origin in found)


def data_sentence(frame: pd.DataFrame) -> str:
    """What the runs trained and tested on, in one sentence for the top of a report.

    One part per dataset and origin, with its training and test examples (the largest among its runs;
    ``--train-limit`` runs use fewer), e.g. ``"Data: full MNIST: 60,000 training, 10,000 test images."``;
    the shipped sample and the CIFAR-10 stand-in are named by their captions (:attr:`DataOrigin.caption`).

    Args:
        frame: A :func:`collect` table (its ``attrs["results"]`` are read).

    Returns:
        The sentence ("" for a table without runs).
    """
    results = frame.attrs.get("results", {})
    seen: dict[tuple[str, str], tuple[int, int]] = {}
    for run in frame.run_dir:
        data = results[run].data if run in results else None
        if data is None:
            continue
        key = (data.origin.value, data.dataset)
        train, test = seen.get(key, (0, 0))
        seen[key] = (max(train, data.train_examples), max(test, data.test_examples))
    names = {"mnist": "MNIST", "cifar10": "CIFAR-10"}
    parts = [
        (f"full {names.get(dataset, dataset)}" if origin == DataOrigin.FULL.value else DataOrigin(origin).caption)
        + f": {train:,} training, {test:,} test images"
        for (origin, dataset), (train, test) in sorted(seen.items())
    ]
    return f"Data: {'; '.join(parts)}." if parts else ""
