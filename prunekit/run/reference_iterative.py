"""The reference set's ``iterative`` part: IMP with rewinding against pruning at initialization.

FC on full MNIST at the compression exponents :data:`ITERATIVE_COMPRESSIONS`, seeds 1, 2, 3, every
method trained :data:`POST_EPOCHS` epochs after its last pruning:

- ``imp``: iterative magnitude pruning, :data:`IMP_LEVELS` levels of :data:`IMP_PRE_EPOCHS` epochs each
  (train, prune to density ``(10^-a)^(l/L)``, rewind the survivors, the optimizer and the schedule to
  initialization), Synaptic-Flow's ``multishot`` experiment with ``--pruner mag``;
- ``imp-reinit``: the lottery-ticket control, IMP's final mask with fresh random weights;
- ``mag``, ``synflow-r100``, ``rand``: one-shot Mag (pre-trained 20 epochs), SynFlow (100 rounds) and
  Rand at initialization. These are the ``mnist-sweep`` part's own runs at the same compressions (the
  same configurations, in the same work folder): computed once, whichever part asks first.

Each IMP run is one ``multishot`` run of one compression and seed, so the tasks are small and an
interrupted ``prunekit reference --part iterative`` resumes (a multishot run itself resumes after
its last finished level).

Example:
    >>> [s.label for s in ITERATIVE_SETTINGS]
    ['imp', 'imp-reinit', 'mag', 'synflow-r100', 'rand']
    >>> from prunekit.run.reference_parts import FULL
    >>> multi, single = iterative_configs(FULL, "/tmp/w", "/tmp/d")
    >>> len(multi), len(single), multi[0].level_list, multi[0].pre_epochs
    (18, 27, (5,), 4)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from prunekit.run.config import ExperimentConfig
from prunekit.run.experiments.results import MultishotResult
from prunekit.run.reference_parts import SWEEP_SETTINGS, Scale, Setting, single_config
from prunekit.run.reference_tables import PartFiles, csv_text, grouped, mean_std, runs_and_summary, settings_meta
from prunekit.run.result import RunResult

__all__ = [
    "IMP_LEVELS",
    "IMP_PRE_EPOCHS",
    "ITERATIVE_COMPRESSIONS",
    "ITERATIVE_SETTINGS",
    "POST_EPOCHS",
    "iterative_configs",
    "iterative_files",
]

ITERATIVE_COMPRESSIONS = (1.0, 2.0, 3.0)
"""The issue's compression exponents: densities 0.1, 0.01 and 0.001."""
IMP_LEVELS = 5
"""IMP's prune-train-rewind levels."""
IMP_PRE_EPOCHS = 4
"""Training epochs before each IMP pruning: 5 × 4 = 20, as many as one-shot Mag trains before its cut."""
POST_EPOCHS = 20
"""Training after the last pruning, for every method (as in ``mnist-sweep``)."""

_FROM_SWEEP = ("mag", "synflow-r100", "rand")

ITERATIVE_SETTINGS = (
    Setting("imp", "mag", None, IMP_PRE_EPOCHS, POST_EPOCHS,
            f"IMP: {IMP_LEVELS} levels of {IMP_PRE_EPOCHS} epochs, rewound to initialization"),
    Setting("imp-reinit", "mag", None, IMP_PRE_EPOCHS, POST_EPOCHS,
            "the lottery-ticket control: IMP's final mask, fresh random weights"),
    *(s for label in _FROM_SWEEP for s in SWEEP_SETTINGS if s.label == label),
)
"""The methods, in the order of the tables."""


def iterative_configs(scale: Scale, work: str | Path, data_dir: str | Path) -> tuple[
    list[ExperimentConfig], list[ExperimentConfig]
]:
    """The part's runs: the multishot ones (IMP and its control) and the single-shot ones (from ``mnist-sweep``).

    Args:
        scale: :data:`~prunekit.run.reference_parts.FULL` or a smoke scale.
        work: The work folder; multishot runs go to ``<work>/iterative``, single-shot ones to
            ``<work>/mnist-sweep`` (shared with that part).
        data_dir: The folder holding ``MNIST/raw/``.

    Returns:
        ``(multishot configs, single-shot configs)``, each in the order of the tables.
    """
    multi = []
    for setting in ITERATIVE_SETTINGS[:2]:
        for compression in scale.iterative_compressions:
            for seed in scale.seeds:
                base = single_config(setting, compression, seed, scale, Path(work) / "iterative", data_dir)
                multi.append(base.replace(
                    experiment="multishot", compression_list=(compression,), level_list=(IMP_LEVELS,),
                    reinitialize=setting.label == "imp-reinit"))
    single = [single_config(setting, compression, seed, scale, Path(work) / "mnist-sweep", data_dir)
              for setting in ITERATIVE_SETTINGS[2:] for compression in scale.iterative_compressions
              for seed in scale.seeds]
    return multi, single


_RUN_COLUMNS = (
    "setting", "pruner", "compression", "seed", "levels", "pre_epochs", "post_epochs", "top1", "top5", "density",
    "kept", "total", "n_collapsed_layers", "collapsed_layers", "disconnected", "data_origin", "train_examples",
)
_RUN_DIGITS = (0, 0, 2, 0, 0, 0, 0, 2, 2, 6, 0, 0, 0, 0, 0, 0, 0)
_SUMMARY_COLUMNS = (
    "setting", "pruner", "compression", "levels", "pre_epochs", "post_epochs", "seeds", "top1_mean", "top1_std",
    "top5_mean", "top5_std", "density_mean", "runs_collapsed", "runs_disconnected", "data_origin",
)
_SUMMARY_DIGITS = (0, 0, 2, 0, 0, 0, 0, 3, 3, 3, 3, 6, 0, 0, 0)
_LEVEL_COLUMNS = ("setting", "compression", "seed", "level", "density", "kept", "total", "top1_before_pruning")
_LEVEL_DIGITS = (0, 2, 0, 0, 6, 0, 0, 2)


def _single_label(result: RunResult) -> str:
    for setting in ITERATIVE_SETTINGS[2:]:
        if setting.pruner == result.config.pruner and setting.rounds in (None, result.config.rounds):
            return setting.label
    raise ValueError(f"run {result.expid} ({result.config.pruner}) is not one of the iterative part's single-shot "
                     f"settings: {', '.join(_FROM_SWEEP)}")


def iterative_files(multishot: Sequence[MultishotResult], single: Sequence[RunResult], scale: Scale) -> PartFiles:
    """``runs.csv``, ``summary.csv`` (mean ± std over seeds) and ``levels.csv`` (IMP's levels).

    Args:
        multishot: The finished multishot runs, in the order of :func:`iterative_configs`.
        single: The finished single-shot runs, in that order.
        scale: The scale they ran at.

    Returns:
        The part's files.
    """
    rows, levels = [], []
    for result in multishot:
        config, label = result.config, "imp-reinit" if result.config.reinitialize else "imp"
        for entry in result.entries:
            rows.append([label, config.pruner, entry.compression, config.seed, entry.levels, config.pre_epochs,
                         config.post_epochs, entry.top1, entry.top5, entry.density, entry.kept, entry.total,
                         len(entry.collapsed_layers), ";".join(entry.collapsed_layers), entry.disconnected,
                         result.data_origin, config.train_limit or 60000])
            levels.extend([label, entry.compression, config.seed, row.level, row.density, row.kept, row.total,
                           row.top1] for row in entry.level_rows)
    for result in single:
        config = result.config
        rows.append([_single_label(result), config.pruner, config.compression, config.seed, 1, config.pre_epochs,
                     config.post_epochs, result.top1, result.top5, result.params.kept / result.params.total,
                     result.params.kept,
                     result.params.total, len(result.collapsed_layers), ";".join(result.collapsed_layers),
                     getattr(result, "disconnected", None), result.origin.value, result.data.train_examples])
    summary = []
    for (label, compression), members in grouped(rows, lambda row: (row[0], row[2])).items():
        top1, top1_std = mean_std([row[7] for row in members])
        top5, top5_std = mean_std([row[8] for row in members])
        first = members[0]
        summary.append([label, first[1], compression, first[4], first[5], first[6], len(members), top1, top1_std,
                        top5, top5_std, statistics.fmean(row[9] for row in members),
                        sum(row[12] > 0 for row in members), sum(bool(row[14]) for row in members),
                        ";".join(sorted({row[15] for row in members}))])
    what = (f"IMP ({IMP_LEVELS} levels, rewound to initialization) and its lottery-ticket control against one-shot Mag, "
            f"SynFlow and Rand at initialization; FC, MNIST, {scale.epochs_of(POST_EPOCHS)} epochs after the last pruning")
    return PartFiles(
        csvs={
            **runs_and_summary(what, csv_text(_RUN_COLUMNS, rows, _RUN_DIGITS),
                               csv_text(_SUMMARY_COLUMNS, summary, _SUMMARY_DIGITS)),
            "levels.csv": ("IMP's levels: the density each level prunes to, and the top-1 % of the training "
                           "just before that pruning", csv_text(_LEVEL_COLUMNS, levels, _LEVEL_DIGITS)),
        },
        meta={
            "settings": settings_meta(ITERATIVE_SETTINGS),
            "compressions": list(scale.iterative_compressions), "imp_levels": IMP_LEVELS,
            "model": "default/fc", "dataset": "mnist", "train_limit": scale.train_limit,
            "test_limit": scale.test_limit,
        },
    )
