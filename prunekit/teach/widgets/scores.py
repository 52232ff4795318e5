"""The score explorer (scores against the global keep threshold, per layer) and the compare explorer
(two pruners' per-layer densities side by side, and one layer's weights).

Example:
    >>> from prunekit.teach import lessons
    >>> explorer = ScoreExplorer(lessons.tiny_network(), pruner="mag", compression=0.5)
    >>> explorer.table.kept.tolist()
    [2, 1]
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import ipywidgets as ipw
from torch import nn

from prunekit.core.layers import masked_parameters
from prunekit.core.scorers import get_scorer, pruner_names
from prunekit.core.scorers.base import Batches
from prunekit.run.config import ExperimentConfig
from prunekit.teach import lessons, plots_lessons, plots_scores
from prunekit.teach.widgets.base import Explorer, PrunerData, slider

__all__ = ["CompareExplorer", "ScoreExplorer"]


class ScoreExplorer(Explorer):
    """A pruner's scores per layer against the global keep threshold at a compression (one round).

    Score scores the model (unchanged) with the chosen pruner: one histogram of ``log10(score)`` per
    layer with the threshold as a dashed line (:func:`prunekit.teach.plots_scores.plot_layer_scores`),
    and the fraction of each layer's weights at or above it
    (:func:`prunekit.teach.lessons.threshold_table`). Moving the compression only moves the threshold:
    the scores are kept until the pruner changes.

    Args:
        model: The unpruned model (never modified).
        data: Pruning batches for SNIP and GraSP; None = built when needed (see :class:`PruneExplorer`).
        config: Where to build them from when ``data`` is None.
        pruner: The pruner selected first.
        compression: The compression exponent selected first.
        bins: Histogram bins.
        pruners: The pruners offered.
        max_compression: The slider's upper end.
        run_now: Score once right away.

    Attributes:
        pruner, compression, button: The controls.
        scores: The last :func:`~prunekit.teach.lessons.layer_scores`; ``histograms`` their
            :func:`~prunekit.teach.lessons.score_histograms`; ``table`` the threshold table.
        figure: The histograms with the threshold; ``kept_figure`` the kept fraction per layer.

    Raises:
        ValueError: For an unknown pruner.
    """

    def __init__(
        self,
        model: nn.Module,
        data: Batches | None = None,
        *,
        config: ExperimentConfig | None = None,
        pruner: str = "synflow",
        compression: float = 1.0,
        bins: int = 50,
        pruners: Sequence[str] | None = None,
        max_compression: float = 3.0,
        run_now: bool = True,
    ) -> None:
        get_scorer(pruner)
        self.model, self.data, self.bins = model, PrunerData(model, data, config), bins
        self.pruner = ipw.Dropdown(options=list(pruners or pruner_names()), value=pruner, description="pruner")
        self.compression = slider(compression, max_compression)
        self.button = ipw.Button(description="Score", button_style="primary", icon="bar-chart")
        self.status = ipw.HTML()
        self.output = ipw.Output()
        self.box = ipw.VBox([ipw.HBox([self.pruner, self.compression, self.button]), self.status, self.output])
        self.scores = self.histograms = self.table = self.figure = self.kept_figure = None
        self._scored: str | None = None
        self.button.on_click(lambda _: self.run())
        if run_now:
            self.run()

    def run(self) -> None:
        """Scores with the chosen pruner (unless already scored with it) and re-draws against the threshold."""
        pruner, compression = self.pruner.value, float(self.compression.value)
        try:
            if self._scored != pruner:
                self.status.value = html.escape(f"scoring with {pruner} …")
                self.scores = lessons.layer_scores(self.model, pruner, self.data.batches(pruner))
                self.histograms, self._scored = lessons.score_histograms(self.scores, self.bins), pruner
            table = lessons.threshold_table(self.scores, compression)
        except (ValueError, FileNotFoundError) as error:
            self._fail(f"cannot score with {pruner}", error)
            return
        self.table = table
        what = f"{pruner}, compression {compression:g} (density {10**-compression:.3g})"
        self.figure = plots_scores.plot_layer_scores(self.histograms, table, title=f"Scores per layer · {what}")
        self.kept_figure = plots_lessons.plot_layer_density(table, title=f"Kept fraction per layer · {what}")
        threshold = float(table.threshold.iloc[0])
        empty = table.module[table.kept == 0].tolist()
        self.status.value = html.escape(
            f"{what}: keep threshold {threshold:.3g} (log10 {math.log10(threshold):.2f})" if threshold > 0
            else f"{what}: keep threshold {threshold:.3g}"
        ) + html.escape(f"; no weight of {', '.join(empty)} reaches it" if empty else "")
        self._show(self.figure, self.kept_figure)


class CompareExplorer(Explorer):
    """Two pruners at one compression: their per-layer densities side by side, and one layer's weights.

    Compare prunes two copies of the model (:func:`prunekit.teach.lessons.prune_each`) and draws
    their :func:`~prunekit.teach.lessons.kept_comparison` densities, and the chosen layer's
    weight histogram: all its weights and those each pruner keeps
    (:func:`~prunekit.teach.lessons.weight_histogram`). Choosing another layer only re-draws.

    Args:
        model: The unpruned model (never modified).
        data: Pruning batches for SNIP and GraSP; None = built when needed.
        config: Where to build them from when ``data`` is None.
        pruners: The two pruners selected first.
        compression: The compression exponent selected first.
        bins: Weight histogram bins.
        max_compression: The slider's upper end.
        run_now: Compare once right away.

    Attributes:
        first, second, compression, layer, button: The controls.
        table: The last kept comparison; ``reports`` the prune reports by pruner;
            ``weights`` the last weight histogram table.
        figure: The densities side by side; ``weight_figure`` the layer's weight histogram.

    Raises:
        ValueError: For an unknown pruner, or a model without prunable layers.
    """

    def __init__(
        self,
        model: nn.Module,
        data: Batches | None = None,
        *,
        config: ExperimentConfig | None = None,
        pruners: tuple[str, str] = ("mag", "synflow"),
        compression: float = 1.0,
        bins: int = 40,
        max_compression: float = 3.0,
        run_now: bool = True,
    ) -> None:
        for name in pruners:
            get_scorer(name)
        layers = [p.module_name for p in masked_parameters(model)]
        if not layers:
            raise ValueError("CompareExplorer needs a model with prunable (masked) layers")
        self.model, self.data, self.bins = model, PrunerData(model, data, config), bins
        options = list(pruner_names())
        self.first = ipw.Dropdown(options=options, value=pruners[0], description="pruner A")
        self.second = ipw.Dropdown(options=options, value=pruners[1], description="pruner B")
        self.compression = slider(compression, max_compression)
        self.layer = ipw.Dropdown(options=layers, value=layers[0], description="layer")
        self.button = ipw.Button(description="Compare", button_style="primary", icon="columns")
        self.status = ipw.HTML()
        self.output = ipw.Output()
        self.box = ipw.VBox(
            [ipw.HBox([self.first, self.second, self.compression]), ipw.HBox([self.layer, self.button]),
             self.status, self.output]
        )
        self.models = self.reports = self.table = self.weights = self.figure = self.weight_figure = None
        self.layer.observe(lambda _: self.draw_layer(), names="value")
        self.button.on_click(lambda _: self.run())
        if run_now:
            self.run()

    def run(self) -> None:
        """Prunes a copy per chosen pruner and re-draws the densities and the layer's weights."""
        names = list(dict.fromkeys([self.first.value, self.second.value]))
        compression = float(self.compression.value)
        self.status.value = html.escape(f"pruning with {' and '.join(names)} …")
        try:
            data = next((self.data.batches(n) for n in names if get_scorer(n).needs_data), None)
            models, reports = lessons.prune_each(self.model, names, compression, data)
        except (ValueError, FileNotFoundError) as error:
            self._fail(f"cannot prune with {' and '.join(names)}", error)
            return
        self.models, self.reports = models, reports
        self.table = lessons.kept_comparison(models)
        self.figure = plots_lessons.plot_layer_density(
            self.table, title=f"Density per layer · {' vs '.join(names)}, compression {compression:g}"
        )
        self.status.value = "<br>".join(html.escape(report.summary()) for report in reports.values())
        self.draw_layer()

    def draw_layer(self) -> None:
        """Re-draws the chosen layer's weight histogram from the last comparison (nothing before one)."""
        if self.models is None:
            return
        module = self.layer.value
        self.weights = lessons.weight_histogram(self.models, module, self.bins, dense=self.model)
        self.weight_figure = plots_scores.plot_weight_histogram(
            self.weights,
            title=f"Weights of {module}: all, and those {' and '.join(self.models)} keep "
                  f"(compression {float(self.compression.value):g})",
        )
        self._show(self.figure, self.weight_figure)
