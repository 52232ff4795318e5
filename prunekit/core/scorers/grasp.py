"""GraSP: gradient signal preservation.

Score: :math:`S(\\theta) = \\theta \\odot H g`, where :math:`g = \\nabla_\\theta L`
and :math:`H g` is the Hessian-gradient product, both with logits divided by a
temperature :math:`T = 200`. Reference: Wang, Zhang and Grosse, "Picking winning
tickets before training by preserving gradient flow", ICLR 2020.

Sign convention: the paper scores :math:`-\\theta \\odot Hg` and *removes* the
largest scores; prunekit always *keeps* the largest score, so it keeps the largest
:math:`\\theta \\odot Hg`, which is the same rule. Scores are signed: a weight
whose removal would increase the gradient norm has a negative score and goes first.

Example:
    >>> from prunekit.core.layers import MaskedLinear, masked_parameters
    >>> net = torch.nn.Sequential(MaskedLinear(3, 4), torch.nn.ReLU(), MaskedLinear(4, 2))
    >>> batch = [(torch.randn(8, 3), torch.randint(0, 2, (8,)))]
    >>> [s.shape for s in grasp_scores(net, list(masked_parameters(net)), batch)]
    [torch.Size([4, 3]), torch.Size([2, 4])]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from prunekit.core.layers import MaskedParameter
from prunekit.core.scorers.base import Batches, Scorer, batches_on

__all__ = ["SCORER", "TEMPERATURE", "grasp_scores"]

TEMPERATURE = 200.0


def grasp_scores(
    model: nn.Module,
    params: Sequence[MaskedParameter],
    data: Batches,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    temperature: float = TEMPERATURE,
) -> list[torch.Tensor]:
    """Returns ``θ ⊙ Hg`` for each parameter (keep the largest).

    Args:
        model: A model of masked layers.
        params: The prunable parameters.
        data: Iterable of ``(inputs, targets)`` batches; it is read twice.
        loss_fn: The loss; cross-entropy by default.
        temperature: Logits are divided by this before the loss.

    Returns:
        One signed tensor per parameter.

    Raises:
        ValueError: If ``data`` yields no batch.
    """
    loss_fn = loss_fn or F.cross_entropy
    device = params[0].param.device
    weights = [p.param for p in params]
    batches = list(batches_on(data, device))
    # g, summed over the batches and detached (the "stopped" gradient).
    g_stop = [torch.zeros_like(w) for w in weights]
    for inputs, targets in batches:
        grads = torch.autograd.grad(loss_fn(model(inputs) / temperature, targets), weights)
        for total, grad in zip(g_stop, grads):
            total.add_(grad)
    # Hg = ∂(g · g_stop)/∂θ, taken batch by batch.
    hg = [torch.zeros_like(w) for w in weights]
    for inputs, targets in batches:
        grads = torch.autograd.grad(loss_fn(model(inputs) / temperature, targets), weights, create_graph=True)
        z = sum((grad * stop).sum() for grad, stop in zip(grads, g_stop))
        for total, grad in zip(hg, torch.autograd.grad(z, weights)):
            total.add_(grad)
    return [(w.detach() * h).contiguous() for w, h in zip(weights, hg)]


SCORER = Scorer(
    name="grasp",
    fn=grasp_scores,
    label="GraSP",
    needs_data=True,
    default_rounds=1,
    formula="S = θ ⊙ Hg (T = 200)",
    hint=(
        "GraSP's score is the weight times a Hessian-gradient product. The Hessian is never formed: differentiating "
        "the dot product of the gradient with a fixed (detached) copy of it gives the product, so the first gradient "
        "must keep its graph. The logits are softened by the temperature, and the score keeps its sign"
    ),
    options={"temperature": TEMPERATURE},
)
"""The GraSP pruner, registered by :mod:`prunekit.core.scorers.registry`."""
