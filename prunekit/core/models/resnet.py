"""The ``lottery`` ResNet-20 for CIFAR (OpenLTH's ``cifar_resnet_20``).

A 3×3 stem of 16 channels, three stages of three basic blocks (16, 32, 64
channels, stride 2 between stages, 1×1 convolution shortcuts where the shape
changes), global average pooling and the classifier ``fc``.
"""

from __future__ import annotations

import torch
from torch import nn

from prunekit.core.layers import MaskedBatchNorm2d, MaskedConv2d
from prunekit.core.models.base import PrunableModel, classifier

__all__ = ["Block", "ResNet"]


class Block(nn.Module):
    """A basic residual block: conv-bn-relu-conv-bn plus shortcut, then ReLU.

    Example:
        >>> Block(16, 32, downsample=True)(torch.zeros(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = False) -> None:
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = MaskedConv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = MaskedBatchNorm2d(out_channels)
        self.conv2 = MaskedConv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = MaskedBatchNorm2d(out_channels)
        if downsample or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                MaskedConv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                MaskedBatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(PrunableModel):
    """ResNet for 32×32 inputs with ``blocks_per_stage`` blocks in each of three stages.

    Args:
        input_shape: Shape of one input, e.g. ``(3, 32, 32)``.
        num_classes: Number of outputs.
        blocks_per_stage: 3 gives ResNet-20.
        width: Channels of the first stage.
        dense_classifier: Keep the classifier dense.

    Example:
        >>> ResNet((3, 32, 32), 10)(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """

    init_scheme = "kaiming_normal"

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        blocks_per_stage: int = 3,
        width: int = 16,
        dense_classifier: bool = False,
    ) -> None:
        super().__init__(input_shape, num_classes)
        self.conv = MaskedConv2d(input_shape[0], width, 3, padding=1, bias=False)
        self.bn = MaskedBatchNorm2d(width)
        blocks: list[nn.Module] = []
        channels = width
        for stage, stage_width in enumerate((width, 2 * width, 4 * width)):
            for index in range(blocks_per_stage):
                blocks.append(Block(channels, stage_width, downsample=stage > 0 and index == 0))
                channels = stage_width
        self.blocks = nn.Sequential(*blocks)
        self.fc = classifier(channels, self.num_classes, dense_classifier)
        self.initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv(x)))
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))
