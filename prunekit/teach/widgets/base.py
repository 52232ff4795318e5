"""What every explorer shares: a status line, an output area, and pruning batches made on demand.

Example:
    >>> from prunekit.teach import lessons
    >>> PrunerData(lessons.tiny_network(), [(1, 2)]).batches("snip")
    [(1, 2)]
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as ipw
from IPython import get_ipython
from torch import nn

from prunekit.core.scorers import get_scorer
from prunekit.core.scorers.base import Batches
from prunekit.run.config import ExperimentConfig
from prunekit.run.datasets import DATASETS
from prunekit.run.experiment import load_splits
from prunekit.run.loader import prune_loader

__all__ = ["Explorer", "PrunerData", "prune_batches"]


def prune_batches(model: nn.Module, config: ExperimentConfig | None = None) -> Batches:
    """Pruning batches for ``model``: :func:`prunekit.run.loader.prune_loader` of ``config``'s training data.

    Without ``config``, the dataset is the one whose images have the model's ``input_shape``
    (MNIST for 1×28×28, CIFAR-10 for 3×32×32, or its labelled MNIST stand-in when CIFAR-10 is missing),
    with :class:`~prunekit.run.config.ExperimentConfig`'s default data folder and pruning-batch settings.

    Args:
        model: A model with ``input_shape`` (the batches go to its device).
        config: The dataset, data folder, ``prune_dataset_ratio``, ``prune_batch_size`` and ``seed``.

    Returns:
        The batches (a :class:`~prunekit.run.loader.DeviceLoader`).

    Raises:
        ValueError: If no dataset has the model's input shape (the message lists the datasets' shapes).
        DatasetNotFoundError: If the data is missing.

    Example:
        >>> from prunekit.teach import lessons
        >>> prune_batches(lessons.tiny_network())
        Traceback (most recent call last):
        ...
        ValueError: no dataset has images of shape (2,) ...
    """
    if config is None:
        shape = tuple(getattr(model, "input_shape", ()))
        names = [name for name, spec in DATASETS.items() if tuple(spec.input_shape) == shape]
        if not names:
            shapes = ", ".join(f"{name} {tuple(spec.input_shape)}" for name, spec in DATASETS.items())
            raise ValueError(f"no dataset has images of shape {shape} (the model's input_shape); "
                             f"pass pruning batches as data; the datasets: {shapes}")
        config = ExperimentConfig(dataset=names[0])
    parameter = next(model.parameters())
    train, _ = load_splits(config, parameter.device, allow_fallback=True)
    return prune_loader(train, config.prune_dataset_ratio, config.prune_batch_size, config.seed)


class PrunerData:
    """The pruning batches of an explorer: the ones it was given, else built once when a pruner needs them.

    Args:
        model: The model the batches are for.
        data: Batches given by the notebook (e.g. ``lesson.prune_data``); None = build them on demand.
        config: Where to build them from (:func:`prune_batches`); None = the dataset matching the model.
    """

    def __init__(self, model: nn.Module, data: Batches | None, config: ExperimentConfig | None = None) -> None:
        self.model, self.data, self.config = model, data, config

    def batches(self, pruner: str) -> Batches | None:
        """The batches ``pruner`` scores with: None for data-free pruners, else given or built (once).

        Raises:
            ValueError: For an unknown pruner, or when the batches cannot be built (:func:`prune_batches`).
        """
        if not get_scorer(pruner).needs_data:
            return None
        if self.data is None:
            self.data = prune_batches(self.model, self.config)
        return self.data


class Explorer:
    """Shared parts: a status line, an output area, display by delegation to ``box``."""

    box: ipw.VBox
    status: ipw.HTML
    output: ipw.Output

    def _show(self, *figures: Any) -> None:
        """Replaces the output area's figures (thread-safe: no ``with output`` capture)."""
        if get_ipython() is None:
            return  # outside IPython (scripts, tests) there is nowhere to draw
        self.output.outputs = ()
        for fig in figures:
            self.output.append_display_data(fig)

    def _fail(self, what: str, error: BaseException) -> None:
        self.status.value = f"<b>{html.escape(what)}:</b> {html.escape(str(error))}"
        if get_ipython() is not None:
            self.output.outputs = ()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)


def slider(value: float, maximum: float, description: str = "compression a") -> ipw.FloatSlider:
    """The compression slider every explorer shows."""
    return ipw.FloatSlider(
        value=value, min=0.0, max=max(maximum, value), step=0.05, description=description, readout_format=".2f",
        continuous_update=False, style={"description_width": "initial"},
    )
