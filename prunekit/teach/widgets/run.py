"""The run explorer: choose a pruner, compression, model/data, epochs, rounds and seed; train; see the result.

Example:
    >>> from prunekit.run.presets import preset_config
    >>> explorer = RunExplorer(preset_config("quick", "mag"), preset="quick")
    >>> explorer.pre_epochs.value, explorer.rounds.value
    (1, 1)
    >>> explorer.pruner.value = "synflow"  # a pruner brings its own settings, not Mag's
    >>> explorer.pre_epochs.value, explorer.rounds.value
    (0, 100)
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as ipw
from IPython import get_ipython
from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm

from prunekit.core.scorers import get_scorer, pruner_names
from prunekit.run.config import ExperimentConfig
from prunekit.run.experiment import run_or_load
from prunekit.run.presets import get_preset
from prunekit.run.result import RunResult
from prunekit.teach import plots_lessons
from prunekit.teach.widgets.base import Explorer, slider
from prunekit.teach.widgets.watch import RunCancelled, Watch

__all__ = ["MODEL_CHOICES", "PrunerSettings", "RunExplorer", "default_runner", "pruner_settings"]

MODEL_CHOICES: dict[str, dict[str, str]] = {
    "FC on MNIST": {"model_class": "default", "model": "fc", "dataset": "mnist"},
    "Conv on MNIST": {"model_class": "default", "model": "conv", "dataset": "mnist"},
    "VGG16 on CIFAR-10": {"model_class": "lottery", "model": "vgg16", "dataset": "cifar10"},
}
"""Model/dataset pairs offered by :class:`RunExplorer`: label → ExperimentConfig fields."""


@dataclass(frozen=True)
class PrunerSettings:
    """What choosing a pruner sets in :class:`RunExplorer`.

    Attributes:
        pre_epochs: Training epochs before pruning.
        post_epochs: Training epochs after pruning; None = leave the control as it is.
        rounds: Scoring rounds (the pruner's default).
    """

    pre_epochs: int
    post_epochs: int | None
    rounds: int


def pruner_settings(pruner: str, preset: str | None = None) -> PrunerSettings:
    """The pruner-dependent settings of ``pruner``: its default rounds, and its preset's epochs.

    A preset trains some pruners differently (``quick`` pre-trains Mag for one epoch;
    ``report-mnist`` trains SynFlow for 150 epochs): choosing a pruner takes its own settings,
    never those of the pruner chosen before. Without a preset, no pruner is pre-trained.

    Args:
        pruner: A registered pruner.
        preset: A preset name (:data:`prunekit.run.presets.PRESETS`), or None.

    Returns:
        The :class:`PrunerSettings`; ``post_epochs`` is None unless the preset sets post-training
        epochs per pruner.

    Raises:
        ValueError: For an unknown pruner or preset (the message lists the valid ones).

    Example:
        >>> pruner_settings("mag", "quick")
        PrunerSettings(pre_epochs=1, post_epochs=None, rounds=1)
        >>> pruner_settings("synflow", "report-mnist")
        PrunerSettings(pre_epochs=0, post_epochs=150, rounds=100)
    """
    rounds = get_scorer(pruner).default_rounds
    if preset is None:
        return PrunerSettings(0, None, rounds)
    chosen = get_preset(preset)
    own = chosen.per_pruner.get(pruner, {})
    pre = own.get("pre_epochs", chosen.base.get("pre_epochs", 0))
    per_pruner_post = any("post_epochs" in fields for fields in chosen.per_pruner.values())
    post = own.get("post_epochs", chosen.base.get("post_epochs")) if per_pruner_post else None
    return PrunerSettings(int(pre), None if post is None else int(post), rounds)


def default_runner(config: ExperimentConfig) -> RunResult:
    """Runs ``config`` or loads its finished result: :func:`prunekit.run.experiment.run_or_load`.

    Args:
        config: The run.

    Returns:
        The run's :class:`~prunekit.run.result.RunResult`.

    Example:
        >>> result = default_runner(ExperimentConfig(post_epochs=1, result_dir="/tmp/pk"))  # doctest: +SKIP
    """
    return run_or_load(config, allow_fallback=True)


def _int_slider(value: int, maximum: int, description: str, minimum: int = 0) -> ipw.IntSlider:
    return ipw.IntSlider(value=value, min=minimum, max=max(maximum, value), description=description,
                         continuous_update=False, style={"description_width": "initial"})


class RunExplorer(Explorer):
    """Trains pruned networks and shows the test accuracy per epoch and the density per layer.

    Each control changes only the setting it names; choosing a pruner also sets the controls
    that depend on it (:func:`pruner_settings`: rounds to its default, and the preset's epochs for it).
    Train builds an :class:`ExperimentConfig` from ``base`` and the controls (:meth:`config`) and
    calls ``runner`` on it; the default, :func:`default_runner`, loads a finished identical run
    instead of computing it again, and resumes an unfinished one. Untouched controls give ``base`` itself.

    Clicking Train runs in a background thread with a progress bar (tqdm, epochs), so Cancel
    can stop it: training stops at its next batch, and Train again resumes from the last
    finished epoch. :meth:`run` does the same work in the calling thread (scripts and tests).

    Args:
        base: The configuration the controls modify (e.g. the notebook's preset config).
        runner: ``config -> RunResult``; default :func:`default_runner`.
        preset: The preset ``base`` came from, for the pruner-dependent epochs; None = none.
        max_epochs: The epoch sliders' upper end.
        max_compression: The compression slider's upper end.
        run_now: Run once right away, in this thread (else wait for the button).

    Attributes:
        pruner, compression, model, pre_epochs, post_epochs, rounds, seed: The controls.
        button, cancel_button: Train and Cancel.
        result: The last :class:`~prunekit.run.result.RunResult` (None before the first run).
        figure: The last training curve; ``density_figure`` the last per-layer density figure.
        watch: The :class:`~prunekit.teach.widgets.watch.Watch` of the last run (its progress).
        bar: The last run's tqdm progress bar (epochs).
        thread: The background thread of the last click (None before).

    Example:
        >>> from prunekit.run.presets import preset_config
        >>> explorer = RunExplorer(preset_config("quick", "snip"))
        >>> explorer.post_epochs.value = 0
        >>> explorer.config().post_epochs
        0
    """

    def __init__(
        self,
        base: ExperimentConfig,
        *,
        runner: Callable[[ExperimentConfig], RunResult] | None = None,
        preset: str | None = None,
        max_epochs: int = 20,
        max_compression: float = 3.0,
        run_now: bool = False,
    ) -> None:
        if preset is not None:
            get_preset(preset)
        self.base, self.runner, self.preset = base, runner or default_runner, preset
        current = next(
            (label for label, fields in MODEL_CHOICES.items() if all(getattr(base, k) == v for k, v in fields.items())),
            None,
        )
        self.choices = dict(MODEL_CHOICES)
        if current is None:
            current = f"{base.model} on {base.dataset}"
            self.choices[current] = {"model_class": base.model_class, "model": base.model, "dataset": base.dataset}
        self.pruner = ipw.Dropdown(options=list(pruner_names()), value=base.pruner, description="pruner")
        self.compression = slider(base.compression, max_compression)
        self.model = ipw.Dropdown(options=list(self.choices), value=current, description="model/data")
        self.pre_epochs = _int_slider(base.pre_epochs, max_epochs, "pre-training epochs")
        self.post_epochs = _int_slider(base.post_epochs, max_epochs, "post-training epochs")
        self.rounds = _int_slider(self._base_rounds(), 100, "pruning rounds", minimum=1)
        self.seed = ipw.BoundedIntText(value=base.seed, min=0, max=2**63 - 1, description="seed")
        self.button = ipw.Button(description="Train", button_style="primary", icon="play")
        self.cancel_button = ipw.Button(description="Cancel", button_style="warning", icon="stop", disabled=True)
        self.progress = ipw.HBox()
        self.status = ipw.HTML()
        self.output = ipw.Output()
        self.box = ipw.VBox(
            [
                ipw.HBox([self.pruner, self.compression, self.rounds]),
                ipw.HBox([self.model, self.pre_epochs, self.post_epochs]),
                ipw.HBox([self.seed, self.button, self.cancel_button]),
                self.progress,
                self.status,
                self.output,
            ]
        )
        self.result = self.figure = self.density_figure = None
        self.watch: Watch | None = None
        self.bar: Any = None
        self.thread: threading.Thread | None = None
        self.pruner.observe(self._pruner_chosen, names="value")
        self.button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.cancel())
        if run_now:
            self.run()

    def _base_rounds(self) -> int:
        return self.base.rounds or get_scorer(self.base.pruner).default_rounds

    def _pruner_chosen(self, change: Mapping[str, Any]) -> None:
        settings = pruner_settings(change["new"], self.preset)
        self.rounds.value = settings.rounds
        self.pre_epochs.value = settings.pre_epochs
        if settings.post_epochs is not None:
            self.post_epochs.max = max(self.post_epochs.max, settings.post_epochs)
            self.post_epochs.value = settings.post_epochs

    def config(self) -> ExperimentConfig:
        """The configuration the controls describe: ``base`` with their values.

        ``rounds`` stays None (the pruner's default) when the control shows that default,
        unless ``base`` named it for the same pruner: untouched controls give ``base`` itself.

        Raises:
            ValueError: If the settings are invalid (:meth:`ExperimentConfig.replace`).
        """
        pruner, rounds = self.pruner.value, int(self.rounds.value)
        if pruner == self.base.pruner and rounds == self._base_rounds():
            rounds_field = self.base.rounds
        else:
            rounds_field = None if rounds == get_scorer(pruner).default_rounds else rounds
        return self.base.replace(
            pruner=pruner,
            compression=float(self.compression.value),
            pre_epochs=int(self.pre_epochs.value),
            post_epochs=int(self.post_epochs.value),
            rounds=rounds_field,
            seed=int(self.seed.value),
            **self.choices[self.model.value],
        )

    def start(self) -> threading.Thread | None:
        """What Train does: runs the configured experiment in a background thread (None if one is running)."""
        if self.thread is not None and self.thread.is_alive():
            return None
        self.watch = Watch(0)  # made now, so a Cancel right after the click is not lost
        self.thread = threading.Thread(target=self._background, name="prunekit-run-explorer", daemon=True)
        self.thread.start()
        return self.thread

    def wait(self, timeout: float | None = None) -> None:
        """Waits for the background run of the last click to end."""
        if self.thread is not None:
            self.thread.join(timeout)

    def cancel(self) -> None:
        """What Cancel does: stops the running experiment at its next batch (nothing runs: nothing happens)."""
        if self.watch is not None:
            self.watch.cancel()

    def run(self) -> None:
        """Runs (or loads) the configured experiment in this thread and re-plots its curve and densities."""
        self.watch = Watch(0)
        self._work()

    def _background(self) -> None:
        try:
            self._work()
        except Exception as error:  # noqa: BLE001 - a thread's error would be lost; show it instead
            self._fail(f"unexpected {type(error).__name__}", error)

    def _new_bar(self, total: int, desc: str) -> Any:
        if get_ipython() is not None and issubclass(tqdm, notebook_tqdm):
            bar = tqdm(total=total, desc=desc, unit="epoch", display=False)
            self.progress.children = (bar.container,)
            return bar
        return tqdm(total=total, desc=desc, unit="epoch", leave=False)

    def _work(self) -> None:
        try:
            config = self.config()
        except ValueError as error:
            self._fail("invalid settings", error)
            return
        label = f"{config.pruner}, compression {config.compression:g}, {config.model} on {config.dataset}"
        epochs = config.pre_epochs + config.post_epochs
        self.status.value = html.escape(f"running {label}: {config.pre_epochs} pre- and "
                                        f"{config.post_epochs} post-training epoch(s) …")
        watch = self.watch
        watch.total, watch.bar = epochs, self._new_bar(epochs, label)
        self.bar = watch.bar
        self.button.disabled, self.cancel_button.disabled = True, False
        try:
            with watch:
                result = self.runner(config)
        except RunCancelled as stop:
            self.status.value = (f"<b>cancelled</b> {html.escape(label)}: {html.escape(str(stop))}; "
                                 "Train again resumes after the last finished epoch")
            return
        except (ValueError, FileNotFoundError) as error:
            self._fail(f"cannot run {label}", error)
            return
        finally:
            watch.bar.close()
            self.button.disabled, self.cancel_button.disabled = False, True
        self._draw(result, label, loaded=watch.batches == 0 and epochs > 0)

    def _draw(self, result: RunResult, label: str, *, loaded: bool) -> None:
        self.result = result
        tag = result.origin.tag
        history = [row.to_dict() for row in result.post_history]
        self.figure = plots_lessons.plot_training_curves({label: history}, title=f"{tag}{label}")
        self.density_figure = plots_lessons.plot_layer_density(
            result.weight_layers().reset_index()[["module", "kept", "density"]],
            title=f"{tag}density per layer · {label}",
        )
        final = result.post_history[-1]
        self.status.value = html.escape(
            f"{tag}{label}: {'loaded the finished run' if loaded else 'trained'}; top-1 {final.top1:.2f} % "
            f"after {final.epoch} epoch(s)"
            + (f"; LAYER COLLAPSE in {', '.join(result.collapsed_layers)}" if result.collapsed_layers else "")
        )
        self._show(self.figure, self.density_figure)
