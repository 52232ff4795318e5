"""Magnitude scores ("Mag").

Score: :math:`S(\\theta) = |\\theta|`. At initialization this favours layers with
small fan-in (their weights are drawn larger), so the 784-input first layer of the
MNIST FC net is pruned hardest; trained first (the report's ``--pre-epochs``), it is
the classic magnitude pruning of Han et al., "Learning both weights and connections
for efficient neural networks", NeurIPS 2015.

Example:
    >>> from prunekit.core.layers import MaskedLinear, masked_parameters
    >>> layer = MaskedLinear(2, 1, bias=False)
    >>> with torch.no_grad(): _ = layer.weight.copy_(torch.tensor([[-3.0, 2.0]]))
    >>> mag_scores(layer, list(masked_parameters(layer)))[0].tolist()
    [[3.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.layers import MaskedParameter
from prunekit.core.scorers.base import Scorer

__all__ = ["SCORER", "mag_scores"]


def mag_scores(model: nn.Module, params: Sequence[MaskedParameter], data=None, loss_fn=None) -> list[torch.Tensor]:
    """Returns ``|θ|`` for each parameter.

    Args:
        model: Unused (kept for the common scorer signature).
        params: The prunable parameters.
        data: Unused.
        loss_fn: Unused.

    Returns:
        One tensor of absolute values per parameter.
    """
    return [p.param.detach().abs().contiguous() for p in params]


SCORER = Scorer(
    name="mag",
    fn=mag_scores,
    label="Mag",
    needs_data=False,
    default_rounds=1,
    formula="S = |θ|",
    hint=(
        "Mag ranks the weights by their size whatever their sign; a score is a plain tensor, outside autograd's "
        "graph of the parameters"
    ),
)
"""The Mag pruner, registered by :mod:`prunekit.core.scorers.registry`."""
