"""Random scores: the trivial baseline ("Rand").

Score: :math:`S(\\theta) = z,\\; z \\sim \\mathcal{N}(0, 1)` i.i.d., drawn on the
parameter's device from PyTorch's global generator (seed it for repeatable masks).
Keeping the top scores keeps a uniformly random subset, so with global scope each
layer keeps about the same density.

Reference: the random baseline of Tanaka et al., "Pruning neural networks without
any data by iteratively conserving synaptic flow", NeurIPS 2020.

Example:
    >>> from prunekit.core.layers import MaskedLinear, masked_parameters
    >>> layer = MaskedLinear(3, 2)
    >>> [s.shape for s in rand_scores(layer, list(masked_parameters(layer)))]
    [torch.Size([2, 3])]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.layers import MaskedParameter
from prunekit.core.scorers.base import Scorer

__all__ = ["SCORER", "rand_scores"]


def rand_scores(model: nn.Module, params: Sequence[MaskedParameter], data=None, loss_fn=None) -> list[torch.Tensor]:
    """Returns standard-normal scores shaped like each parameter.

    Args:
        model: Unused (kept for the common scorer signature).
        params: The prunable parameters.
        data: Unused.
        loss_fn: Unused.

    Returns:
        One tensor of i.i.d. N(0, 1) draws per parameter.
    """
    return [torch.randn_like(p.param, memory_format=torch.contiguous_format) for p in params]


SCORER = Scorer(
    name="rand",
    fn=rand_scores,
    label="Rand",
    needs_data=False,
    default_rounds=1,
    formula="S = z, z ~ N(0, 1)",
    hint=(
        "Rand's score is one draw from the standard normal distribution per weight, taken from torch's global "
        "random generator as the check leaves it (a generator you seed yourself gives every run the same masks); "
        "the draws follow the order in which model.named_parameters() lists the weights"
    ),
)
"""The Rand pruner, registered by :mod:`prunekit.core.scorers.registry`."""
