"""Synaptic-Flow's experiments beyond one shot: ``multishot`` and the four conservation experiments.

``singleshot`` stays :func:`prunekit.run.experiment.run_singleshot` (re-exported by
:mod:`prunekit.run.experiments.singleshot`); :func:`run_experiment` runs any of the others by
``config.experiment``, and :func:`experiment_lines` says what a result holds in a few lines.

Example:
    >>> from prunekit.run.config import ExperimentConfig
    >>> run_experiment(ExperimentConfig(experiment="singleshot"))
    Traceback (most recent call last):
    ...
    ValueError: run_experiment runs multishot, unit-conservation, layer-conservation, imp-conservation, schedule-conservation; got 'singleshot' (use prunekit.run.experiment.run_singleshot)
"""

from __future__ import annotations

from prunekit.run.config import ExperimentConfig
from prunekit.run.experiments.common import folder_of
from prunekit.run.experiments.conservation import CONSERVATION_EXPERIMENTS, CUT_FLOW, SIGNED_SALIENCY, run_conservation
from prunekit.run.experiments.multishot import run_multishot
from prunekit.run.experiments.results import (
    EXPERIMENT_FILE,
    ConservationResult,
    MultishotResult,
    load_experiment,
)
from prunekit.run.paths import config_differences

__all__ = [
    "EXPERIMENT_FILE",
    "MULTI_EXPERIMENTS",
    "ConservationResult",
    "MultishotResult",
    "experiment_lines",
    "load_experiment",
    "run_experiment",
    "run_or_load_experiment",
    "run_conservation",
    "run_multishot",
]

MULTI_EXPERIMENTS = ("multishot", *CONSERVATION_EXPERIMENTS)
"""The experiments :func:`run_experiment` runs."""


def run_experiment(config: ExperimentConfig, *, progress: bool = True, overwrite: bool = False,
                   allow_fallback: bool = False) -> MultishotResult | ConservationResult:
    """Runs (or resumes) ``config.experiment``: multishot or one of the conservation experiments.

    Args:
        config: The run.
        progress: Show progress.
        overwrite: Replace a finished run of the same folder.
        allow_fallback: Use the labelled MNIST stand-in when CIFAR-10 is missing.

    Returns:
        Its result, also written to ``<result_dir>/<experiment>/<expid>/experiment.json``.

    Raises:
        ValueError: If the experiment is ``singleshot`` or unknown (the message lists the valid ones).
    """
    if config.experiment not in MULTI_EXPERIMENTS:
        raise ValueError(f"run_experiment runs {', '.join(MULTI_EXPERIMENTS)}; got {config.experiment!r}"
                         + (" (use prunekit.run.experiment.run_singleshot)" if config.experiment == "singleshot" else ""))
    if config.experiment == "multishot":
        return run_multishot(config, progress=progress, overwrite=overwrite, allow_fallback=allow_fallback)
    return run_conservation(config, progress=progress, overwrite=overwrite, allow_fallback=allow_fallback)


def run_or_load_experiment(config: ExperimentConfig, *, progress: bool = False,
                           allow_fallback: bool = False) -> MultishotResult | ConservationResult:
    """The result of ``config``: loaded when the same run finished before, else run (an unfinished one resumes).

    Notebooks call this, so running a cell twice costs nothing the second time.

    Args:
        config: The run.
        progress: Show progress while running.
        allow_fallback: Use the labelled MNIST stand-in when CIFAR-10 is missing.

    Returns:
        The result.

    Raises:
        RunExistsError: If the folder holds a finished run of another configuration.

    Example:
        >>> result = run_or_load_experiment(ExperimentConfig(experiment="layer-conservation"))  # doctest: +SKIP
    """
    folder = folder_of(config)
    if (folder / EXPERIMENT_FILE).is_file():
        saved = load_experiment(folder)
        if saved.status == "complete" and not config_differences(saved.config, config):
            if not _older_than_this_kit(saved):
                return saved
            return run_experiment(config, progress=progress, overwrite=True, allow_fallback=allow_fallback)
    return run_experiment(config, progress=progress, allow_fallback=allow_fallback)


def _older_than_this_kit(saved: MultishotResult | ConservationResult) -> bool:
    """A finished result written before this kit drew a curve it now draws (layer-conservation's SNIP before |·|,
    schedule-conservation's cut / flow ratios)."""
    if not isinstance(saved, ConservationResult):
        return False
    if saved.experiment == "layer-conservation":
        return "snip" in saved.slopes and SIGNED_SALIENCY not in saved.slopes
    if saved.experiment == "schedule-conservation":
        return not any(curve.label.endswith(CUT_FLOW) for curve in saved.curves)
    return False


def experiment_lines(result: MultishotResult | ConservationResult) -> list[str]:
    """A few lines on a result, for the command line.

    Example:
        >>> experiment_lines(ConservationResult(ExperimentConfig(experiment="layer-conservation"),
        ...                  "layer-conservation", (), {"synflow": -1.0}))
        ['layer-conservation: 0 curve(s), data: none', '  synflow: log-log slope of average score against layer size -1.000']
    """
    if isinstance(result, MultishotResult):
        lines = [f"multishot ({result.config.pruner}, rewind to "
                 f"{'initialization' if not result.config.rewind_iteration else f'iteration {result.config.rewind_iteration}'}"
                 f"{', reinitialized control' if result.config.reinitialize else ''}), data: {result.data_origin}",
                 "  compression  levels  density   top-1 %  top-5 %  collapsed"]
        for e in result.entries:
            lines.append(f"  {e.compression:11g}  {e.levels:6d}  {e.density:.5f}  {e.top1:7.2f}  {e.top5:7.2f}  "
                         f"{', '.join(e.collapsed_layers) or '-'}")
        return lines
    lines = [f"{result.experiment}: {len(result.curves)} curve(s), data: {result.data_origin}"]
    lines += [f"  {pruner}: log-log slope of average score against layer size {slope:.3f}"
              for pruner, slope in result.slopes.items()]
    return lines
