"""The hand-worked tiny network: a bias-free linear 2-3-1 net whose every score fits on paper.

Example:
    >>> [s.tolist() for s in tiny_scores("mag", tiny_network())]
    [[[0.5, 1.0], [2.0, 0.25], [1.5, 1.0]], [[1.0, 0.5, 2.0]]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from prunekit.core.layers import MaskedLinear, masked_parameters
from prunekit.core.scorers import get_scorer
from prunekit.core.scorers.grasp import grasp_scores

__all__ = ["TINY_INPUT", "TINY_TARGET", "TINY_W1", "TINY_W2", "removal_effects", "tiny_network", "tiny_scores"]

TINY_W1 = ((0.5, -1.0), (2.0, 0.25), (-1.5, 1.0))
"""Weights of the tiny network's first layer (3 outputs × 2 inputs)."""

TINY_W2 = ((1.0, -0.5, 2.0),)
"""Weights of the tiny network's second layer (1 output × 3 inputs)."""

TINY_INPUT = (1.0, 2.0)
"""The one input of the tiny network's hand-worked example."""

TINY_TARGET = (1.0,)
"""Its regression target (the loss is the squared error ``(y - t)²``)."""


def tiny_network(w1: Sequence[Sequence[float]] = TINY_W1, w2: Sequence[Sequence[float]] = TINY_W2) -> nn.Sequential:
    """A bias-free linear 2-3-1 network with explicit weights, for scores worked out by hand.

    ``y = W2 @ W1 @ x`` (no activation, no bias): small enough to compute every
    score with pencil and paper, and bias-free, so synaptic flow is conserved exactly.

    Args:
        w1: First layer's weights, ``hidden × inputs``.
        w2: Second layer's weights, ``outputs × hidden``.

    Returns:
        ``nn.Sequential(MaskedLinear, MaskedLinear)`` with modules ``"0"`` and ``"1"``
        and ``input_shape`` set (SynFlow needs it).

    Raises:
        ValueError: If the shapes do not chain.

    Example:
        >>> net = tiny_network()
        >>> net(torch.tensor([[1.0, 2.0]])).item()
        -1.75
    """
    first = torch.as_tensor(w1, dtype=torch.float32)
    second = torch.as_tensor(w2, dtype=torch.float32)
    if first.dim() != 2 or second.dim() != 2 or second.shape[1] != first.shape[0]:
        raise ValueError(
            f"w1 must be hidden×inputs and w2 outputs×hidden; got shapes {tuple(first.shape)} and {tuple(second.shape)}"
        )
    net = nn.Sequential(
        MaskedLinear(first.shape[1], first.shape[0], bias=False),
        MaskedLinear(second.shape[1], second.shape[0], bias=False),
    )
    with torch.no_grad():
        net[0].weight.copy_(first)
        net[1].weight.copy_(second)
    net.input_shape = (first.shape[1],)
    return net


def tiny_scores(
    pruner: str,
    net: nn.Module | None = None,
    inputs: Sequence[float] = TINY_INPUT,
    targets: Sequence[float] = TINY_TARGET,
    *,
    temperature: float = 1.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """prunekit's scores for the tiny network on one example, to check a hand computation.

    The loss is the squared error ``L = (y - t)²`` (``F.mse_loss`` on one output);
    the batch is the single example ``(inputs, targets)``.

    Args:
        pruner: ``rand``, ``mag``, ``snip``, ``grasp`` or ``synflow``.
        net: The network; a fresh :func:`tiny_network` by default.
        inputs: One input vector.
        targets: Its target vector.
        temperature: GraSP divides the output by this before the loss (prunekit's
            GraSP uses 200; 1 makes the hand computation shorter).
        seed: Seeds torch's global generator before ``rand`` draws its scores.

    Returns:
        One float64 array per layer, shaped like its weight.

    Raises:
        ValueError: If the pruner is unknown.

    Example:
        >>> [s.round(2).tolist() for s in tiny_scores("synflow")]
        [[[0.5, 1.0], [1.0, 0.12], [3.0, 2.0]], [[1.5, 1.12, 5.0]]]
    """
    scorer = get_scorer(pruner)
    net = tiny_network() if net is None else net
    params = list(masked_parameters(net))
    batch = [(torch.tensor([list(inputs)], dtype=torch.float32), torch.tensor([list(targets)], dtype=torch.float32))]
    if pruner == "grasp":
        scores = grasp_scores(net, params, batch, F.mse_loss, temperature=temperature)
    else:
        if pruner == "rand":
            torch.manual_seed(seed)
        scores = scorer(net, params, batch, F.mse_loss)
    return [s.detach().double().cpu().numpy() for s in scores]


def removal_effects(
    net: nn.Module | None = None, inputs: Sequence[float] = TINY_INPUT, targets: Sequence[float] = TINY_TARGET
) -> pd.DataFrame:
    """SNIP's connection sensitivity next to the true effect of cutting each connection.

    For every weight of the (tiny) network: the SNIP score ``|g·θ|`` (the first-order
    estimate of the loss change when the weight is removed) and the actual
    ``|L(θ with that weight zeroed) − L(θ)|`` under the squared-error loss.

    Args:
        net: The network; a fresh :func:`tiny_network` by default.
        inputs: One input vector.
        targets: Its target vector.

    Returns:
        One row per weight: ``module``, ``index`` (position in the weight), ``weight``,
        ``snip`` and ``loss_change``, sorted by ``snip`` (largest first).

    Example:
        >>> table = removal_effects()
        >>> len(table), bool(table.snip.is_monotonic_decreasing)
        (9, True)
    """
    net = tiny_network() if net is None else net
    params = list(masked_parameters(net))
    snip = [
        s.detach().double()
        for s in get_scorer("snip")(
            net, params, [(torch.tensor([list(inputs)]), torch.tensor([list(targets)]))], F.mse_loss
        )
    ]
    x, t = torch.tensor([list(inputs)]), torch.tensor([list(targets)])
    with torch.no_grad():
        base = float(F.mse_loss(net(x), t))
        rows = []
        for p, score in zip(params, snip):
            for index in np.ndindex(*p.mask.shape):
                saved = float(p.mask[index])
                p.mask[index] = 0.0
                changed = float(F.mse_loss(net(x), t))
                p.mask[index] = saved
                rows.append(
                    {
                        "module": p.module_name,
                        "index": index,
                        "weight": float(p.param[index]),
                        "snip": float(score[index]),
                        "loss_change": abs(changed - base),
                    }
                )
    table = pd.DataFrame(rows, columns=["module", "index", "weight", "snip", "loss_change"])
    return table.sort_values("snip", ascending=False, kind="stable").reset_index(drop=True)
