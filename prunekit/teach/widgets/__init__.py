"""Notebook widgets: explore pruners, compressions, runs and scores; re-run and re-plot.

Widgets hold no logic of their own: their callbacks call plain prunekit functions
(:mod:`prunekit.teach.lessons`, :func:`prunekit.run.experiment.run_or_load`, and the figures of
:mod:`prunekit.teach.plots_lessons` and :mod:`prunekit.teach.plots_scores`), which the tests
call too. Nothing waits for a click: building a widget returns at once, and a notebook shows
it only ``if INTERACTIVE:``. Every explorer keeps what it computed last (``report``, ``table``,
``result``, ``figure`` …) so tests and students can inspect it.

- :class:`PruneExplorer`: pruner, compression, rounds → per-layer density of a pruned copy.
- :class:`RunExplorer`: pruner, compression, model/data, pre- and post-training epochs, rounds,
  seed → a trained run's accuracy per epoch and density per layer; cancellable, resumable.
- :class:`ScoreExplorer`: a pruner's scores per layer against the global keep threshold.
- :class:`CompareExplorer`: two pruners' per-layer densities side by side, and a layer's weights.

Example:
    >>> from prunekit.teach import lessons
    >>> explorer = PruneExplorer(lessons.tiny_network(), pruner="mag", compression=0.3)
    >>> explorer.report.kept  # round(9 × 10^-0.3)
    5
"""

from prunekit.teach.widgets.base import prune_batches
from prunekit.teach.widgets.prune import PruneExplorer
from prunekit.teach.widgets.run import MODEL_CHOICES, PrunerSettings, RunExplorer, default_runner, pruner_settings
from prunekit.teach.widgets.scores import CompareExplorer, ScoreExplorer
from prunekit.teach.widgets.watch import RunCancelled, Watch

__all__ = [
    "MODEL_CHOICES",
    "CompareExplorer",
    "PruneExplorer",
    "PrunerSettings",
    "RunCancelled",
    "RunExplorer",
    "ScoreExplorer",
    "Watch",
    "default_runner",
    "prune_batches",
    "pruner_settings",
]
