"""The ``default`` model class: a fully connected net and a small conv net.

These follow Synaptic-Flow's ``Models/mlp.py``: ``fc`` has six linear layers of
100 units (784→100×5→10 on MNIST, 119,400 prunable weights) and ``conv`` has
three 3×3 convolutions of 32 channels, global average pooling and a classifier.
Both use PyTorch's default initialization (``init_scheme = "pytorch_default"``).
"""

from __future__ import annotations

import torch
from torch import nn

from prunekit.core.layers import MaskedConv2d, MaskedLinear
from prunekit.core.models.base import PrunableModel, classifier

__all__ = ["FC", "Conv"]


class FC(PrunableModel):
    """A ReLU MLP: ``depth - 1`` hidden layers of ``width`` units and a classifier ``fc``.

    Args:
        input_shape: Shape of one input, e.g. ``(1, 28, 28)``.
        num_classes: Number of outputs.
        dense_classifier: Keep the classifier dense (a plain ``nn.Linear``).
        depth: Number of linear layers, classifier included (the report's L=6).
        width: Hidden units (the report's N=100).

    Example:
        >>> net = FC((1, 28, 28), 10)
        >>> sum(m.weight.numel() for m in net.modules() if isinstance(m, nn.Linear))
        119400
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        dense_classifier: bool = False,
        depth: int = 6,
        width: int = 100,
    ) -> None:
        if depth < 2:
            raise ValueError(f"depth must be at least 2 (one hidden layer and the classifier); got {depth}")
        super().__init__(input_shape, num_classes)
        sizes = [self.input_features] + [width] * (depth - 1)
        self.layers = nn.ModuleList(MaskedLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.fc = classifier(width, self.num_classes, dense_classifier)
        self.initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.fc(x)


class Conv(PrunableModel):
    """``depth - 1`` 3×3 convolutions of ``width`` channels, average pooling and ``fc``.

    Args:
        input_shape: Shape of one input, e.g. ``(3, 32, 32)``.
        num_classes: Number of outputs.
        dense_classifier: Keep the classifier dense.
        depth: Number of layers, classifier included (the report's L=3).
        width: Channels (the report's N=32).

    Example:
        >>> Conv((1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        dense_classifier: bool = False,
        depth: int = 3,
        width: int = 32,
    ) -> None:
        if depth < 2:
            raise ValueError(f"depth must be at least 2 (one convolution and the classifier); got {depth}")
        super().__init__(input_shape, num_classes)
        channels = [self.input_shape[0]] + [width] * (depth - 1)
        self.layers = nn.ModuleList(MaskedConv2d(a, b, 3, padding=1) for a, b in zip(channels[:-1], channels[1:]))
        self.fc = classifier(width, self.num_classes, dense_classifier)
        self.initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.fc(x.mean(dim=(2, 3)))
