"""The prune explorer: pruner, compression and rounds → per-layer density of a pruned copy (no training).

Example:
    >>> from prunekit.teach import lessons
    >>> explorer = PruneExplorer(lessons.tiny_network(), pruner="mag", compression=0.3)
    >>> explorer.report.kept  # round(9 × 10^-0.3)
    5
    >>> explorer.compression.value = 0.5
    >>> explorer.run()
    >>> explorer.report.kept
    3
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as ipw
from torch import nn

from prunekit.core.scorers import get_scorer, pruner_names
from prunekit.core.scorers.base import Batches
from prunekit.run.config import ExperimentConfig
from prunekit.teach import lessons, plots_lessons
from prunekit.teach.widgets.base import Explorer, PrunerData, slider

__all__ = ["PruneExplorer"]


class PruneExplorer(Explorer):
    """Prunes copies of one model: pruner, compression and rounds → per-layer density (no training).

    SNIP and GraSP score with data: with ``data`` None, the explorer builds pruning batches
    itself the first time such a pruner is chosen (:func:`prunekit.teach.widgets.base.prune_batches`
    of ``config``, or of the dataset matching the model).

    Args:
        model: The unpruned model (never modified; copies are pruned).
        data: Pruning batches (e.g. ``lesson.prune_data``); None = built when needed.
        config: Where to build pruning batches from when ``data`` is None (e.g. ``lesson.config``).
        pruner: The pruner selected first.
        compression: The compression exponent selected first.
        rounds: Scoring rounds selected first; None = the pruner's default.
        pruners: The pruners offered (default: every registered pruner).
        max_compression: The slider's upper end.
        run_now: Prune once right away (else wait for the button).

    Attributes:
        pruner, compression, rounds, button: The controls.
        report: The last :class:`prunekit.PruneReport` (None before the first run).
        table: The last :func:`prunekit.teach.lessons.layer_kept` table.
        figure: The last figure (a :func:`prunekit.teach.plots_lessons.plot_layer_density`).

    Raises:
        ValueError: For an unknown pruner (the message lists the valid ones).

    Example:
        >>> from prunekit.teach import lessons
        >>> explorer = PruneExplorer(lessons.tiny_network(), pruner="synflow", run_now=False)
        >>> explorer.rounds.value
        100
    """

    def __init__(
        self,
        model: nn.Module,
        data: Batches | None = None,
        *,
        config: ExperimentConfig | None = None,
        pruner: str = "synflow",
        compression: float = 1.0,
        rounds: int | None = None,
        pruners: Sequence[str] | None = None,
        max_compression: float = 3.0,
        run_now: bool = True,
    ) -> None:
        get_scorer(pruner)
        self.model, self.data = model, PrunerData(model, data, config)
        self.pruner = ipw.Dropdown(options=list(pruners or pruner_names()), value=pruner, description="pruner")
        self.compression = slider(compression, max_compression)
        self.rounds = ipw.IntSlider(
            value=rounds or get_scorer(pruner).default_rounds, min=1, max=max(100, rounds or 1),
            description="rounds", continuous_update=False,
        )
        self.button = ipw.Button(description="Prune", button_style="primary", icon="scissors")
        self.status = ipw.HTML()
        self.output = ipw.Output()
        self.box = ipw.VBox(
            [ipw.HBox([self.pruner, self.compression, self.rounds, self.button]), self.status, self.output]
        )
        self.report = self.table = self.figure = None
        self.pruner.observe(self._default_rounds, names="value")
        self.button.on_click(lambda _: self.run())
        if run_now:
            self.run()

    def _default_rounds(self, change: Mapping[str, Any]) -> None:
        self.rounds.value = get_scorer(change["new"]).default_rounds

    def run(self) -> None:
        """Prunes a copy with the current controls and re-plots its per-layer density."""
        pruner, compression, rounds = self.pruner.value, float(self.compression.value), int(self.rounds.value)
        self.status.value = html.escape(f"pruning with {pruner} …")
        try:
            data = self.data.batches(pruner)
            pruned, report = lessons.prune_copy(self.model, pruner, compression, data, rounds=rounds)
        except (ValueError, FileNotFoundError) as error:
            self._fail(f"cannot prune with {pruner}", error)
            return
        self.report, self.table = report, lessons.layer_kept(pruned)
        self.figure = plots_lessons.plot_layer_density(
            self.table,
            title=f"{pruner}, compression {compression:g} (density {10**-compression:.3g}), {rounds} round(s)",
        )
        self.status.value = html.escape(report.summary())
        self._show(self.figure)
