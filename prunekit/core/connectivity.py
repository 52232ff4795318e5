"""Disconnection: whether a masked network keeps any path from its input to its output.

Layer collapse (a layer left with no weights) is the plain way a pruned network
loses its signal; disconnection is the general one: every layer may keep weights
and still no chain of kept weights may lead from an input to an output (layer 0
keeps only the inputs of unit 3 while layer 1 keeps only the connections leaving
unit 5). A collapsed network is always disconnected; not the other way round.

Both questions are answered by one forward pass through a copy of the network's
structure in float64 (eval mode, the model's own ``forward``, so skip connections,
pooling and batch norm count as they are): every prunable weight is replaced by
its 0/1 mask, every unmasked linear or convolution weight (a dense classifier) by
ones, batch-norm scales by 1 with running mean 0 and variance 1, and every other
parameter (biases, batch-norm shifts) by 0; the input is all ones. No value is ever
negative, so nothing cancels and ReLUs pass everything: an output is positive
exactly when some path of kept weights reaches it. :func:`reachable_outputs` turns
each layer's output into 0/1 reachability (a convolution's output channel at a
position is reachable through any kept kernel entry that sees a reachable input;
a residual sum is the union of its branches); :func:`input_output_paths` leaves
the values as they are, which counts the paths of a ReLU MLP exactly.

Example:
    >>> from prunekit.core.layers import MaskedLinear
    >>> net = nn.Sequential(MaskedLinear(4, 6), nn.ReLU(), MaskedLinear(6, 2))
    >>> _ = net[0].weight_mask.zero_(); _ = net[0].weight_mask[3].fill_(1)   # only unit 3 gets inputs
    >>> _ = net[2].weight_mask.zero_(); _ = net[2].weight_mask[:, 5].fill_(1)  # only unit 5 feeds out
    >>> is_disconnected(net, input_shape=(4,))
    True
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from prunekit.core.layers import masked_parameters

__all__ = ["input_output_paths", "is_disconnected", "reachable_outputs"]

_WEIGHTED = (nn.Linear, nn.modules.conv._ConvNd)


def _input_shape(model: nn.Module, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError(
            f"{type(model).__name__} has no input_shape; pass input_shape=, e.g. (1, 28, 28) for MNIST"
        )
    shape = tuple(int(d) for d in shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"input_shape must be positive sizes, e.g. (1, 28, 28); got {shape}")
    return shape


def _structure_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers that turn ``model`` into its 0/1 connection structure (float64)."""
    mask_of = {p.name: p.mask for p in masked_parameters(model)}
    weighted = {name for name, m in model.named_modules() if isinstance(m, _WEIGHTED)}
    norms = {name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    state: dict[str, torch.Tensor] = {}
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if not tensor.is_floating_point():
            continue
        module, _, leaf = name.rpartition(".")
        if name in mask_of:
            value = mask_of[name].detach()
        elif leaf.endswith("_mask"):
            value = torch.ones_like(tensor)
        elif module in weighted and leaf == "weight":
            value = torch.ones_like(tensor)  # an unmasked (dense) layer keeps every connection
        elif module in norms and leaf in ("weight", "running_var"):
            value = torch.ones_like(tensor)
        else:
            value = torch.zeros_like(tensor)  # biases, batch-norm shifts and running means
        state[name] = value.double()
    return state


@torch.no_grad()
def _structure_forward(model: nn.Module, input_shape: tuple[int, ...] | None, binary: bool) -> torch.Tensor:
    shape = _input_shape(model, input_shape)
    state = _structure_state(model)
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    handles = []
    if binary:
        def to_reachability(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            return (output > 0).double()

        handles = [m.register_forward_hook(to_reachability) for m in model.modules() if isinstance(m, _WEIGHTED)]
    was_training = model.training
    model.eval()
    try:
        output = functional_call(model, state, (torch.ones((1, *shape), dtype=torch.float64, device=device),))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return output[0]


def reachable_outputs(model: nn.Module, *, input_shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """Which outputs some path of kept weights reaches from the input.

    Args:
        model: A network of prunekit's masked layers (read only).
        input_shape: Shape of one input; ``model.input_shape`` by default.

    Returns:
        A bool tensor of the output's shape (one entry per class for a classifier).

    Raises:
        ValueError: If no input shape is given or known, or it has a size below 1.

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> net = MaskedLinear(3, 2)
        >>> _ = net.weight_mask[1].zero_()
        >>> reachable_outputs(net, input_shape=(3,)).tolist()
        [True, False]
    """
    return _structure_forward(model, input_shape, binary=True) > 0


def is_disconnected(model: nn.Module, *, input_shape: tuple[int, ...] | None = None) -> bool:
    """Whether no output can be reached from the input through kept weights.

    Layer collapse implies disconnection; a network can also be disconnected with
    weights left in every layer.

    Args:
        model: A network of prunekit's masked layers (read only).
        input_shape: Shape of one input; ``model.input_shape`` by default.

    Returns:
        ``True`` if no path from input to output is left.

    Raises:
        ValueError: If no input shape is given or known, or it has a size below 1.

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> net = nn.Sequential(MaskedLinear(3, 2), nn.ReLU(), MaskedLinear(2, 2))
        >>> is_disconnected(net, input_shape=(3,))
        False
        >>> _ = net[0].weight_mask[:, 0].zero_()  # input 0 is cut off, the others still pass
        >>> is_disconnected(net, input_shape=(3,))
        False
        >>> _ = net[2].weight_mask.zero_()         # the output layer collapses
        >>> is_disconnected(net, input_shape=(3,))
        True
    """
    return not bool(reachable_outputs(model, input_shape=input_shape).any())


def input_output_paths(model: nn.Module, *, input_shape: tuple[int, ...] | None = None) -> float:
    """The number of input-to-output paths through kept weights (0 = disconnected).

    For a ReLU MLP the number is exact; for convolutional or residual nets it is a
    positive count (pooling averages, batch norm divides by ``sqrt(1 + eps)``) that is
    0 exactly when no path is left.

    Args:
        model: A network of prunekit's masked layers (read only).
        input_shape: Shape of one input; ``model.input_shape`` by default.

    Returns:
        The count, as a float (``inf`` if it overflows float64).

    Raises:
        ValueError: If no input shape is given or known, or it has a size below 1.

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> net = nn.Sequential(MaskedLinear(3, 2), nn.ReLU(), MaskedLinear(2, 2))
        >>> input_output_paths(net, input_shape=(3,))
        12.0
    """
    return float(_structure_forward(model, input_shape, binary=False).sum())
