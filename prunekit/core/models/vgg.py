"""The ``lottery`` VGG family (OpenLTH's CIFAR VGG, as in Synaptic-Flow's ``lottery_vgg``).

Plans of 3×3 convolutions and 2×2 max pools, then 2×2 average pooling and one
classifier ``fc`` (512→classes). Module names match the report's tables: the
convolutions of VGG16 are ``layers.0.conv``, ``layers.1.conv``, ``layers.3.conv``
… ``layers.16.conv`` (pools take the missing indices) and the classifier is ``fc``.
Weights use Kaiming-normal initialization, biases start at zero.
"""

from __future__ import annotations

import torch
from torch import nn

from prunekit.core.layers import MaskedBatchNorm2d, MaskedConv2d
from prunekit.core.models.base import PrunableModel, classifier

__all__ = ["PLANS", "VGG", "ConvModule"]

PLANS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512],
}


class ConvModule(nn.Module):
    """A 3×3 convolution ``conv``, optional batch norm ``bn``, then ReLU.

    Example:
        >>> ConvModule(3, 8, batch_norm=True)(torch.zeros(1, 3, 4, 4)).shape
        torch.Size([1, 8, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = False) -> None:
        super().__init__()
        self.conv = MaskedConv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.bn = MaskedBatchNorm2d(out_channels) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return torch.relu(x)


class VGG(PrunableModel):
    """A VGG network for 32×32 inputs.

    Args:
        plan: Channel counts and ``"M"`` for max pools (see :data:`PLANS`).
        input_shape: Shape of one input, e.g. ``(3, 32, 32)``.
        num_classes: Number of outputs.
        batch_norm: Add batch norm after each convolution (the ``-bn`` variants).
        dense_classifier: Keep the classifier dense.

    Example:
        >>> net = VGG(PLANS["vgg11"], (3, 32, 32), 10)
        >>> net(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """

    init_scheme = "kaiming_normal"

    def __init__(
        self,
        plan: list[int | str],
        input_shape: tuple[int, ...],
        num_classes: int,
        batch_norm: bool = False,
        dense_classifier: bool = False,
    ) -> None:
        super().__init__(input_shape, num_classes)
        modules: list[nn.Module] = []
        channels = input_shape[0]
        for spec in plan:
            if spec == "M":
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                modules.append(ConvModule(channels, int(spec), batch_norm))
                channels = int(spec)
        self.layers = nn.Sequential(*modules)
        self.pool = nn.AvgPool2d(2)
        self.fc = classifier(channels, self.num_classes, dense_classifier)
        self.initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.layers(x))
        return self.fc(x.flatten(1))
