"""SynFlow: iterative synaptic flow, data-free.

Score: :math:`S(\\theta) = \\frac{\\partial R}{\\partial \\theta} \\odot \\theta`
with :math:`R = \\mathbb{1}^\\top \\left( \\prod_{l=1}^{L} |\\theta^{[l]}| \\right) \\mathbb{1}`,
the network's output summed over an all-ones input after every parameter is made
positive (batch norm in eval mode). For a linear chain it is the sum of the
products of absolute weights along every input-output path through the weight.
Reference: Tanaka, Kunin, Yamins and Ganguli, "Pruning neural networks without any
data by iteratively conserving synaptic flow", NeurIPS 2020. Its lesson is the
*iteration*: pruned once, a large layer can be cut away entirely (layer collapse);
pruned over 100 steps, the flow is re-balanced after each cut and no layer collapses, up to far higher
compressions (not to every one: biases feed flow that skips the early layers, see
:func:`prunekit.teach.lessons.synflow_bias_effect`).

Numerics: ``R`` is a product over all layers, so in float32 it overflows or
underflows on deep nets (VGG19, a 20-layer FC). prunekit first evaluates it in
float32, which is fast, and keeps that result only when ``R`` lies safely inside
float32's range, ``1e-20 < R < 1e25``; otherwise it evaluates it again in float64 (not on Apple MPS, which has
no float64: there it warns). The model is never modified: positive copies of its
parameters go through ``torch.func.functional_call``, so its parameters stay
bit-identical and no sign has to be restored.

Example:
    >>> from prunekit.core.layers import MaskedLinear, masked_parameters
    >>> net = torch.nn.Sequential(MaskedLinear(2, 2, bias=False), MaskedLinear(2, 1, bias=False))
    >>> net.input_shape = (2,)
    >>> [s.shape for s in synflow_scores(net, list(masked_parameters(net)))]
    [torch.Size([2, 2]), torch.Size([1, 2])]
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence

import torch
from torch import nn
from torch.func import functional_call

from prunekit.core.layers import MaskedParameter
from prunekit.core.scorers.base import Scorer

__all__ = ["SCORER", "synaptic_flow", "synflow_scores"]


SAFE_RANGE = (1e-20, 1e25)
"""A float32 flow ``R`` is kept only inside this range; outside it SynFlow recomputes in float64.

Why checking ``R`` suffices: synaptic flow is conserved, so the scores of a layer
add up to at most ``R`` (none can overflow below ``1e25``, which leaves a margin of
``1e13`` for ``∂R/∂θ = S/θ``), and the scores near the pruning threshold are about
``R / N`` (above ``1e-28`` for ``N`` up to ``1e8``), far from float32's underflow
at ``1e-38``: the values that do underflow are ranked last either way.
"""


def _in_safe_range(flow: torch.Tensor) -> bool:
    low, high = SAFE_RANGE
    value = float(flow)
    return math.isfinite(value) and low < value < high


def _flow_scores(model: nn.Module, params: Sequence[MaskedParameter], shape, dtype: torch.dtype):
    device = params[0].param.device
    state: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if tensor.is_floating_point():
                masks_are_positive = name.endswith("_mask")
                state[name] = tensor.detach().to(dtype) if masks_are_positive else tensor.detach().abs().to(dtype)
    wanted = [state[p.name].requires_grad_(True) for p in params]
    ones = torch.ones((1, *shape), device=device, dtype=dtype)
    flow = functional_call(model, state, (ones,)).sum()
    grads = torch.autograd.grad(flow, wanted, allow_unused=True)
    scores = [torch.zeros_like(w) if g is None else g.mul_(w.detach()) for w, g in zip(wanted, grads)]
    return flow.detach(), scores


def synflow_scores(
    model: nn.Module,
    params: Sequence[MaskedParameter],
    data=None,
    loss_fn=None,
    input_shape: tuple[int, ...] | None = None,
    dtype: torch.dtype | None = None,
) -> list[torch.Tensor]:
    """Returns ``θ ⊙ ∂R/∂θ`` (non-negative) for each parameter.

    Args:
        model: A model of masked layers; ``model.input_shape`` gives the input shape.
        params: The prunable parameters.
        data: Unused: SynFlow needs no data.
        loss_fn: Unused.
        input_shape: Overrides ``model.input_shape``.
        dtype: Compute in this dtype only (e.g. ``torch.float64`` to check conservation);
            None = float32, or float64 when float32 leaves its safe range.

    Returns:
        One non-negative tensor per parameter (float32, or float64 when needed or asked for).

    Raises:
        ValueError: If the input shape is unknown.
    """
    shape = _input_shape(model, input_shape)
    with _norms_in_eval_mode(model):  # batch norm in eval mode: running statistics, nothing updated
        flow, scores = _flow_scores(model, params, shape, dtype or torch.float32)
        if dtype is None and not _in_safe_range(flow):
            if params[0].param.device.type == "mps":
                warnings.warn("SynFlow left float32's safe range on MPS, which has no float64", stacklevel=2)
            else:
                flow, scores = _flow_scores(model, params, shape, torch.float64)
    return scores


def _input_shape(model: nn.Module, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    shape = input_shape or getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("SynFlow needs the input shape: set model.input_shape or pass input_shape=(C, H, W)")
    return tuple(shape)


@contextlib.contextmanager
def _norms_in_eval_mode(model: nn.Module) -> Iterator[None]:
    """Batch-norm layers in eval mode inside the block, each back in its own mode after it."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    modes = [m.training for m in norms]
    for module in norms:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(norms, modes):
            module.train(mode)


def synaptic_flow(model: nn.Module, params: Sequence[MaskedParameter], input_shape: tuple[int, ...] | None = None,
                  dtype: torch.dtype = torch.float64) -> float:
    """The synaptic flow ``R = 1ᵀ ∏|θ| 1`` of the model as it is (masks applied), in ``dtype``.

    Args:
        model: A model of masked layers.
        params: Its prunable parameters (any non-empty list; they carry the device).
        input_shape: Overrides ``model.input_shape``.
        dtype: The dtype of the computation (float64 by default: ``R`` spans many orders of magnitude).

    Returns:
        ``R`` as a Python float.

    Example:
        >>> from prunekit.core.layers import MaskedLinear, masked_parameters
        >>> net = torch.nn.Sequential(MaskedLinear(2, 2, bias=False), MaskedLinear(2, 1, bias=False))
        >>> _ = [torch.nn.init.ones_(layer.weight) for layer in net]
        >>> synaptic_flow(net, list(masked_parameters(net)), input_shape=(2,))
        4.0
    """
    with _norms_in_eval_mode(model):
        return float(_flow_scores(model, params, _input_shape(model, input_shape), dtype)[0])


SCORER = Scorer(
    name="synflow",
    fn=synflow_scores,
    label="SynFlow",
    needs_data=False,
    default_rounds=100,
    formula="S = θ ⊙ ∂R/∂θ, R = 1ᵀ ∏|θ| 1",
    hint=(
        "SynFlow needs no data: a weight's score is its share of the flow R, the summed output for one all-ones "
        "example (model.input_shape, plus a batch dimension of 1) through a copy of the network whose parameters, "
        "biases too, are made non-negative; the network you are given keeps its own signs"
    ),
)
"""The SynFlow pruner, registered by :mod:`prunekit.core.scorers.registry`."""
