"""The model contract: what every prunekit model provides (after OpenLTH's ``models/base.py``).

A model is a :class:`PrunableModel`: an ``nn.Module`` that

- records ``input_shape`` (one input, ``(channels, height, width)``) and ``num_classes``;
- names its prunable layers (:meth:`PrunableModel.prunable_layer_names`: the modules
  whose ``weight`` carries a mask, in model order; biases and batch norm are
  prunable only on request, see :func:`prunekit.core.layers.masked_parameters`);
- names its classifier (:attr:`PrunableModel.output_layer_name`, ``"fc"``), which
  ``dense_classifier=True`` builds as a plain ``nn.Linear`` (:func:`classifier`);
- initializes itself with one of the shared schemes (:data:`INIT_SCHEMES`), called
  at the end of ``__init__`` through :meth:`PrunableModel.initialize_weights`.

Example:
    >>> from prunekit.core.models import create_model
    >>> net = create_model("default", "fc", (1, 28, 28), 10)
    >>> isinstance(net, PrunableModel), net.output_layer_name, net.prunable_layer_names()[-2:]
    (True, 'fc', ['layers.4', 'fc'])
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from prunekit.core.layers import MaskedLinear, masked_parameters

__all__ = [
    "INIT_SCHEMES",
    "PrunableModel",
    "check_shape",
    "classifier",
    "kaiming_normal_init",
    "pytorch_default_init",
]


def check_shape(input_shape: tuple[int, ...], num_classes: int) -> tuple[tuple[int, int, int], int]:
    """Checks one input's shape and the number of classes, and returns them as plain ints.

    Args:
        input_shape: ``(channels, height, width)``, every size at least 1.
        num_classes: Number of outputs, at least 1.

    Returns:
        ``(input_shape, num_classes)`` as a tuple of ints and an int.

    Raises:
        ValueError: If ``input_shape`` is not three positive sizes or ``num_classes < 1``.

    Example:
        >>> check_shape([1, 28, 28], 10)
        ((1, 28, 28), 10)
        >>> check_shape((28, 28), 10)
        Traceback (most recent call last):
        ...
        ValueError: input_shape must be (channels, height, width) with positive sizes; got (28, 28)
    """
    if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
        raise ValueError(f"input_shape must be (channels, height, width) with positive sizes; got {tuple(input_shape)}")
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be at least 1; got {num_classes}")
    channels, height, width = (int(d) for d in input_shape)
    return (channels, height, width), int(num_classes)


def classifier(in_features: int, num_classes: int, dense_classifier: bool = False) -> nn.Linear:
    """The output layer: a :class:`~prunekit.core.layers.MaskedLinear`, or a plain dense ``nn.Linear``.

    Args:
        in_features: Features entering the classifier.
        num_classes: Number of outputs.
        dense_classifier: Build a plain ``nn.Linear``, which no pruner touches (the report's ``--dense-classifier``).

    Returns:
        The layer.

    Example:
        >>> type(classifier(8, 2)).__name__, type(classifier(8, 2, dense_classifier=True)).__name__
        ('MaskedLinear', 'Linear')
    """
    return nn.Linear(in_features, num_classes) if dense_classifier else MaskedLinear(in_features, num_classes)


def pytorch_default_init(model: nn.Module) -> None:
    """Redraws every linear and convolution layer with PyTorch's default initialization.

    That is Kaiming-uniform with ``a = √5``: weights from ``U(-b, b)`` with
    ``b = 1/√fan_in`` (the ``default`` model class, like Synaptic-Flow's ``mlp.py``).

    Args:
        model: The model (changed in place, in ``model.modules()`` order).

    Example:
        >>> layer = nn.Linear(400, 3)
        >>> pytorch_default_init(layer)
        >>> bool(layer.weight.abs().max() <= 0.05)
        True
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            module.reset_parameters()


def kaiming_normal_init(model: nn.Module) -> None:
    """Kaiming-normal weights, zero biases, batch norm at identity (the ``lottery`` class, as OpenLTH).

    Args:
        model: The model (changed in place, in ``model.modules()`` order).

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
        >>> kaiming_normal_init(net)
        >>> net[0].bias.tolist(), net[1].weight.tolist()
        ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


INIT_SCHEMES: dict[str, Callable[[nn.Module], None]] = {
    "pytorch_default": pytorch_default_init,
    "kaiming_normal": kaiming_normal_init,
}
"""Initialization scheme name → function; a model names its scheme in ``init_scheme``."""


class PrunableModel(nn.Module, metaclass=abc.ABCMeta):
    """Base class of prunekit's models: shape, prunable layers, classifier name, initialization.

    A subclass sets ``init_scheme`` (a key of :data:`INIT_SCHEMES`), calls
    ``super().__init__(input_shape, num_classes)`` first, builds its layers (the
    classifier named :attr:`output_layer_name`, made with :func:`classifier`),
    calls :meth:`initialize_weights` last, and implements :meth:`forward`.

    Args:
        input_shape: Shape of one input, ``(channels, height, width)``.
        num_classes: Number of outputs.

    Raises:
        ValueError: For a bad shape or class count (:func:`check_shape`).

    Example:
        >>> class Tiny(PrunableModel):
        ...     init_scheme = "kaiming_normal"
        ...     def __init__(self, input_shape, num_classes):
        ...         super().__init__(input_shape, num_classes)
        ...         self.fc = classifier(self.input_features, self.num_classes)
        ...         self.initialize_weights()
        ...     def forward(self, x):
        ...         return self.fc(x.flatten(1))
        >>> net = Tiny((1, 2, 2), 3)
        >>> net.prunable_layer_names(), net(torch.zeros(5, 1, 2, 2)).shape
        (['fc'], torch.Size([5, 3]))
    """

    output_layer_name: ClassVar[str] = "fc"
    """The classifier's module name (dense under ``dense_classifier=True``)."""

    init_scheme: ClassVar[str] = "pytorch_default"
    """The initialization of :meth:`initialize_weights`, a key of :data:`INIT_SCHEMES`."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.input_shape, self.num_classes = check_shape(input_shape, num_classes)

    @property
    def input_features(self) -> int:
        """The number of values in one input (``channels × height × width``)."""
        channels, height, width = self.input_shape
        return channels * height * width

    def prunable_layer_names(self) -> list[str]:
        """The modules whose weight is pruned by default, in model order.

        Returns:
            Module names such as ``["layers.0", …, "fc"]``; the classifier is left
            out when it is dense.
        """
        return [p.module_name for p in masked_parameters(self)]

    def initialize_weights(self) -> None:
        """Draws fresh weights with the model's ``init_scheme`` (from torch's global generator).

        Raises:
            ValueError: If ``init_scheme`` is not a key of :data:`INIT_SCHEMES`.
        """
        if self.init_scheme not in INIT_SCHEMES:
            raise ValueError(
                f"unknown init_scheme {self.init_scheme!r} of {type(self).__name__}; "
                f"valid schemes: {', '.join(INIT_SCHEMES)}"
            )
        INIT_SCHEMES[self.init_scheme](self)

    @abc.abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps a batch of inputs ``(batch, *input_shape)`` to logits ``(batch, num_classes)``."""
