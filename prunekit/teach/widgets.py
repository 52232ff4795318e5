"""Notebook widgets: choose a pruner, a compression, a model/dataset and epochs; re-run and re-plot.

Widgets hold no logic of their own: their callbacks call plain prunekit functions
(:func:`prunekit.teach.lessons.prune_copy`, :func:`prunekit.teach.lessons.layer_kept`,
:func:`prunekit.run.experiment.run_or_load` and the figures of
:mod:`prunekit.teach.plots_lessons`), which the tests call too. Nothing waits for a
click: building a widget returns at once, and a notebook shows it only
``if INTERACTIVE:``. Every explorer keeps what it computed last (``report``,
``table``, ``result``, ``figure``) so tests and students can inspect it.

Example:
    >>> from prunekit import lessons
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
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as ipw
from IPython import get_ipython
from IPython.display import display
from torch import nn

from prunekit.teach import lessons, plots_lessons
from prunekit.run.config import ExperimentConfig
from prunekit.core.scorers import SCORERS, get_scorer
from prunekit.core.scorers.base import Batches

__all__ = ["MODEL_CHOICES", "PruneExplorer", "RunExplorer", "default_runner"]

MODEL_CHOICES: dict[str, dict[str, str]] = {
    "FC on MNIST": {"model_class": "default", "model": "fc", "dataset": "mnist"},
    "Conv on MNIST": {"model_class": "default", "model": "conv", "dataset": "mnist"},
    "VGG16 on CIFAR-10": {"model_class": "lottery", "model": "vgg16", "dataset": "cifar10"},
}
"""Model/dataset pairs offered by :class:`RunExplorer`: label → ExperimentConfig fields."""


class _Explorer:
    """Shared parts: a status line, an output area, display by delegation to ``box``."""

    box: ipw.VBox
    status: ipw.HTML
    output: ipw.Output
    figure: Any

    def _show(self, *figures: Any) -> None:
        if get_ipython() is None:
            return  # outside IPython (scripts, tests) there is nowhere to draw
        self.output.clear_output(wait=True)
        with self.output:
            for fig in figures:
                display(fig)

    def _fail(self, what: str, error: Exception) -> None:
        self.status.value = f"<b>{html.escape(what)}:</b> {html.escape(str(error))}"
        if get_ipython() is not None:
            self.output.clear_output()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)


class PruneExplorer(_Explorer):
    """Prunes copies of one model: pruner, compression and rounds → per-layer density (no training).

    Args:
        model: The unpruned model (never modified; copies are pruned).
        data: Pruning batches for SNIP and GraSP (e.g. :func:`prunekit.run.data.prune_loader`).
        pruner: The pruner selected first.
        compression: The compression exponent selected first.
        iterations: Scoring rounds selected first; None = the pruner's default.
        pruners: The pruners offered.
        max_compression: The slider's upper end.
        run_now: Prune once right away (else wait for the button).

    Attributes:
        pruner, compression, iterations, button: The controls.
        report: The last :class:`prunekit.PruneReport` (None before the first run).
        table: The last :func:`prunekit.teach.lessons.layer_kept` table.
        figure: The last figure (a :func:`prunekit.teach.plots_lessons.plot_layer_density`).

    Example:
        >>> from prunekit import lessons
        >>> explorer = PruneExplorer(lessons.tiny_network(), pruner="synflow", run_now=False)
        >>> explorer.iterations.value
        100
    """

    def __init__(
        self,
        model: nn.Module,
        data: Batches | None = None,
        *,
        pruner: str = "synflow",
        compression: float = 1.0,
        iterations: int | None = None,
        pruners: Sequence[str] = tuple(SCORERS),
        max_compression: float = 3.0,
        run_now: bool = True,
    ) -> None:
        get_scorer(pruner)
        self.model, self.data = model, data
        self.pruner = ipw.Dropdown(options=list(pruners), value=pruner, description="pruner")
        self.compression = ipw.FloatSlider(
            value=compression,
            min=0.0,
            max=max_compression,
            step=0.05,
            description="compression a",
            readout_format=".2f",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.iterations = ipw.IntSlider(
            value=iterations or get_scorer(pruner).default_iterations,
            min=1,
            max=100,
            description="rounds",
            continuous_update=False,
        )
        self.button = ipw.Button(description="Prune", button_style="primary", icon="scissors")
        self.status = ipw.HTML()
        self.output = ipw.Output()
        self.box = ipw.VBox(
            [ipw.HBox([self.pruner, self.compression, self.iterations, self.button]), self.status, self.output]
        )
        self.report = self.table = self.figure = None
        self.pruner.observe(self._default_rounds, names="value")
        self.button.on_click(lambda _: self.run())
        if run_now:
            self.run()

    def _default_rounds(self, change: Mapping[str, Any]) -> None:
        self.iterations.value = get_scorer(change["new"]).default_iterations

    def run(self) -> None:
        """Prunes a copy with the current controls and re-plots its per-layer density."""
        pruner, compression, rounds = self.pruner.value, float(self.compression.value), int(self.iterations.value)
        self.status.value = f"pruning with {pruner} …"
        try:
            pruned, report = lessons.prune_copy(self.model, pruner, compression, self.data, iterations=rounds)
        except ValueError as error:
            self._fail(f"cannot prune with {pruner}", error)
            return
        self.report, self.table = report, lessons.layer_kept(pruned)
        self.figure = plots_lessons.plot_layer_density(
            self.table,
            title=f"{pruner}, compression {compression:g} (density {10**-compression:.3g}), {rounds} round(s)",
        )
        self.status.value = html.escape(report.summary())
        self._show(self.figure)


def default_runner(config: ExperimentConfig) -> dict[str, Any]:
    """Runs ``config`` or loads its finished result: :func:`prunekit.run.experiment.run_or_load`.

    Args:
        config: The run.

    Returns:
        The run's result dict.
    """
    from prunekit.run import experiment

    return experiment.run_or_load(config, progress=True)


class RunExplorer(_Explorer):
    """Trains pruned networks: pruner, compression, model/dataset and epochs → training curve and densities.

    Each click builds an :class:`ExperimentConfig` from ``base`` and the controls
    (:meth:`config`), calls ``runner`` on it (by default
    :func:`prunekit.run.experiment.run_or_load`, which reuses a finished identical run)
    and plots the result's post-training curve and per-layer density.

    Args:
        base: The configuration the controls modify (e.g. a preset's config).
        runner: ``config -> result dict``; the result needs ``history`` (post-training
            rows with ``epoch`` and ``top1``) and may have ``layers`` (per-layer rows
            with ``module``, ``kept``, ``density``).
        max_epochs: The epochs slider's upper end.
        max_compression: The compression slider's upper end.
        run_now: Run once right away (else wait for the button).

    Attributes:
        pruner, compression, model, epochs, button: The controls.
        result: The last result (None before the first run).
        figure: The last training-curve figure; ``density_figure`` the last density figure.

    Example:
        >>> from prunekit.run.presets import preset_config
        >>> explorer = RunExplorer(preset_config("quick", "snip"), runner=lambda c: {"history": []}, run_now=False)
        >>> explorer.epochs.value = 0
        >>> explorer.config().post_epochs
        0
    """

    def __init__(
        self,
        base: ExperimentConfig,
        *,
        runner: Callable[[ExperimentConfig], Mapping[str, Any]] | None = None,
        max_epochs: int = 20,
        max_compression: float = 3.0,
        run_now: bool = False,
    ) -> None:
        self.base = base
        self.runner = runner or default_runner
        current = next(
            (label for label, fields in MODEL_CHOICES.items() if all(getattr(base, k) == v for k, v in fields.items())),
            None,
        )
        choices = dict(MODEL_CHOICES)
        if current is None:
            current = f"{base.model} on {base.dataset}"
            choices[current] = {"model_class": base.model_class, "model": base.model, "dataset": base.dataset}
        self.choices = choices
        self.pruner = ipw.Dropdown(options=list(SCORERS), value=base.pruner, description="pruner")
        self.compression = ipw.FloatSlider(
            value=base.compression,
            min=0.0,
            max=max_compression,
            step=0.05,
            description="compression a",
            readout_format=".2f",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.model = ipw.Dropdown(options=list(choices), value=current, description="model/data")
        self.epochs = ipw.IntSlider(
            value=min(base.post_epochs, max_epochs),
            min=0,
            max=max(max_epochs, base.post_epochs),
            description="epochs",
            continuous_update=False,
        )
        self.button = ipw.Button(description="Train", button_style="primary", icon="play")
        self.status = ipw.HTML()
        self.output = ipw.Output()
        self.box = ipw.VBox(
            [
                ipw.HBox([self.pruner, self.compression]),
                ipw.HBox([self.model, self.epochs, self.button]),
                self.status,
                self.output,
            ]
        )
        self.result = self.figure = self.density_figure = None
        self.button.on_click(lambda _: self.run())
        if run_now:
            self.run()

    def config(self) -> ExperimentConfig:
        """The configuration the controls describe (``base`` with their values)."""
        return self.base.replace(
            pruner=self.pruner.value,
            compression=float(self.compression.value),
            post_epochs=int(self.epochs.value),
            **self.choices[self.model.value],
        )

    def run(self) -> None:
        """Runs (or loads) the configured experiment and re-plots its curve and densities."""
        try:
            config = self.config()
        except ValueError as error:
            self._fail("invalid settings", error)
            return
        label = f"{config.pruner}, compression {config.compression:g}, {config.model} on {config.dataset}"
        self.status.value = html.escape(f"running {label}, {config.post_epochs} epoch(s) …")
        try:
            result = self.runner(config)
        except (ValueError, FileNotFoundError) as error:
            self._fail(f"cannot run {label}", error)
            return
        self.result = dict(result)
        history = [row for row in self.result.get("history", []) if row.get("phase", "post") == "post"]
        figures = []
        source = self.result.get("data_source", "")
        prefix = "FALLBACK: MNIST digits standing in for CIFAR-10 · " if "FALLBACK" in str(source) else ""
        if history:
            self.figure = plots_lessons.plot_training_curves({label: history}, title=f"{prefix}{label}")
            figures.append(self.figure)
        layers = self.result.get("layers")
        if layers:
            import pandas as pd

            table = pd.DataFrame(layers)
            if {"module", "kept", "density"} <= set(table.columns):
                self.density_figure = plots_lessons.plot_layer_density(
                    table, title=f"{prefix}density per layer · {label}"
                )
                figures.append(self.density_figure)
        final = history[-1] if history else {}
        top1 = final.get("top1")
        self.status.value = html.escape(
            f"{label}: top-1 {top1:.2f} % after {final.get('epoch', 0)} epoch(s)"
            if isinstance(top1, float) and not math.isnan(top1)
            else f"{label}: done"
        )
        self._show(*figures)
