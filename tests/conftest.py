"""Shared fixtures: small masked models and batches, all on CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit.run import data as prunekit_data
from prunekit.core.layers import MaskedConv2d, MaskedLinear


@pytest.fixture(autouse=True)
def fresh_data_notices() -> None:
    """Each test sees the data module's once-per-process notices and network probe afresh."""
    prunekit_data._SHOUTED.clear()
    prunekit_data._reachable.cache_clear()


class SmallNet(nn.Module):
    """A Conv2d + Linear model (4·1·3·3 + 10·64 = 676 prunable weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.input_shape = (1, 4, 4)
        self.conv = MaskedConv2d(1, 4, 3, padding=1)
        self.fc = MaskedLinear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture
def small_net() -> SmallNet:
    torch.manual_seed(0)
    return SmallNet()


@pytest.fixture
def small_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [(torch.randn(8, 1, 4, 4, generator=generator), torch.randint(0, 10, (8,), generator=generator)) for _ in range(2)]
