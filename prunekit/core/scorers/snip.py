"""SNIP: connection sensitivity.

Score: :math:`S(\\theta) = \\left|\\frac{\\partial L}{\\partial m} \\right| =
\\left| \\frac{\\partial L}{\\partial (\\theta \\odot m)} \\odot \\theta \\right|`,
the gradient of the loss with respect to the mask, summed over the pruning
batches; for an unpruned weight this is :math:`|g \\odot \\theta|`. Reference: Lee,
Ajanthan and Torr, "SNIP: Single-shot network pruning based on connection
sensitivity", ICLR 2019.

The mask gradients are taken through ``torch.func.functional_call`` with mask
copies that require grad, so the model (its masks and ``.grad``) is untouched.

Example:
    >>> from prunekit.core.layers import MaskedLinear, masked_parameters
    >>> layer = MaskedLinear(2, 2)
    >>> batch = [(torch.ones(4, 2), torch.tensor([0, 1, 0, 1]))]
    >>> scores = snip_scores(layer, list(masked_parameters(layer)), batch)
    >>> bool((scores[0] >= 0).all())
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from prunekit.core.layers import MaskedParameter
from prunekit.core.scorers.base import Batches, Scorer, batches_on

__all__ = ["SCORER", "snip_scores"]


def snip_scores(
    model: nn.Module,
    params: Sequence[MaskedParameter],
    data: Batches,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """Returns ``|∂L/∂m|`` for each parameter's mask, summed over ``data``.

    Args:
        model: A model of masked layers.
        params: The prunable parameters.
        data: Iterable of ``(inputs, targets)`` batches.
        loss_fn: The loss; cross-entropy by default.

    Returns:
        One non-negative tensor per parameter.

    Raises:
        ValueError: If ``data`` yields no batch.
    """
    loss_fn = loss_fn or F.cross_entropy
    device = params[0].param.device
    mask_names = [f"{p.name}_mask" for p in params]
    totals = [torch.zeros_like(p.param, memory_format=torch.contiguous_format) for p in params]
    for inputs, targets in batches_on(data, device):
        masks = {name: p.mask.detach().clone().requires_grad_(True) for name, p in zip(mask_names, params)}
        loss = loss_fn(functional_call(model, masks, (inputs,)), targets)
        grads = torch.autograd.grad(loss, list(masks.values()))
        for total, grad in zip(totals, grads):
            total.add_(grad)
    return [total.abs_() for total in totals]


SCORER = Scorer(
    name="snip",
    fn=snip_scores,
    label="SNIP",
    needs_data=True,
    default_rounds=1,
    formula="S = |∂L/∂m| = |g ⊙ θ|",
    hint=(
        "SNIP's connection sensitivity is the first-order change of the loss when a weight is scaled: the "
        "gradient times the weight. The batches' gradients add up with their signs before the magnitude is taken, once"
    ),
)
"""The SNIP pruner, registered by :mod:`prunekit.core.scorers.registry`."""
