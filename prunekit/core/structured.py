"""Structured pruning: whole channels and neurons removed, and the network rebuilt smaller.

Unstructured masks keep every multiply of a dense layer; removing a whole output channel
(a convolution's filter, a linear layer's neuron) removes a row of that layer and the matching
input columns of the next one, so the rebuilt network really does less work.

- :func:`channel_scores` scores each hidden layer's output channels: the L1 norm of the channel's
  kept weights (``"l1"``), or the sum over the channel of any registered pruner's weight scores.
- :func:`channel_masks` keeps exactly ``max(1, round(keep × C))`` channels of each hidden layer.
- :func:`prune_channels` writes those channels into the model's masks (the masked, same-size model).
- :func:`compact_model` returns a plain ``nn.Sequential`` (``nn.Linear``/``nn.Conv2d``/batch norm,
  no masks) without the channels whose output is zero or unused: the same outputs, fewer FLOPs.

Supported chains: prunekit's ``FC``, ``Conv`` and ``VGG`` (with or without batch norm); the
classifier's outputs (the classes) are never removed. ResNets have skip connections that tie the
channels of several layers together and are refused.

Example:
    >>> import torch
    >>> from prunekit import create_model
    >>> net = create_model("default", "fc", (1, 28, 28), 10)
    >>> kept = prune_channels(net, keep=0.5)
    >>> kept["layers.0"], kept["layers.4"]
    (50, 50)
    >>> small = compact_model(net)
    >>> [m.out_features for m in small if isinstance(m, torch.nn.Linear)]
    [50, 50, 50, 50, 50, 10]
    >>> x = torch.randn(3, 1, 28, 28)
    >>> torch.allclose(small(x), net.eval()(x), atol=1e-5)
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from prunekit.core.layers import masked_parameters
from prunekit.core.models.fc import FC, Conv
from prunekit.core.models.vgg import VGG, ConvModule
from prunekit.core.scorers.base import Batches
from prunekit.core.scorers.registry import pruner_names, resolve

__all__ = ["CHANNEL_METHODS", "channel_masks", "channel_scores", "compact_model", "hidden_layers", "prune_channels"]

CHANNEL_METHODS = ("l1",)
"""Channel scores that need no pruner: ``l1`` (the L1 norm of a channel's kept weights)."""

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass(frozen=True)
class _Op:
    """One step of a model's chain: ``kind`` is layer, bn, relu, flatten, gap (global mean) or module."""

    kind: str
    name: str = ""
    module: nn.Module | None = None


def _chain(model: nn.Module) -> list[_Op]:
    if isinstance(model, FC):
        ops = [_Op("flatten")]
        for index, layer in enumerate(model.layers):
            ops += [_Op("layer", f"layers.{index}", layer), _Op("relu")]
        return ops + [_Op("layer", "fc", model.fc)]
    if isinstance(model, Conv):
        ops = []
        for index, layer in enumerate(model.layers):
            ops += [_Op("layer", f"layers.{index}", layer), _Op("relu")]
        return ops + [_Op("gap"), _Op("layer", "fc", model.fc)]
    if isinstance(model, VGG):
        ops = []
        for index, module in enumerate(model.layers):
            if isinstance(module, ConvModule):
                ops.append(_Op("layer", f"layers.{index}.conv", module.conv))
                if module.bn is not None:
                    ops.append(_Op("bn", f"layers.{index}.bn", module.bn))
                ops.append(_Op("relu"))
            else:
                ops.append(_Op("module", f"layers.{index}", module))
        return ops + [_Op("module", "pool", model.pool), _Op("flatten"), _Op("layer", "fc", model.fc)]
    raise TypeError(
        f"structured pruning supports prunekit's FC, Conv and VGG models (chains without skip connections); "
        f"got {type(model).__name__}"
    )


def hidden_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers whose output channels may be removed: every linear/conv layer but the classifier.

    Args:
        model: A prunekit ``FC``, ``Conv`` or ``VGG`` model.

    Returns:
        Qualified module name → layer, in forward order.

    Raises:
        TypeError: For another kind of model.

    Example:
        >>> from prunekit import create_model
        >>> list(hidden_layers(create_model("default", "fc", (1, 28, 28), 10)))[:2]
        ['layers.0', 'layers.1']
    """
    layers = [op for op in _chain(model) if op.kind == "layer"]
    return {op.name: op.module for op in layers[:-1]}


def _effective(module: nn.Module, name: str) -> torch.Tensor | None:
    param = getattr(module, name, None)
    if param is None:
        return None
    mask = getattr(module, f"{name}_mask", None)
    return (param * mask if mask is not None else param).detach()


def channel_scores(
    model: nn.Module,
    method: str = "l1",
    data: Batches | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """One score per output channel of each hidden layer (higher = keep).

    Args:
        model: A prunekit ``FC``, ``Conv`` or ``VGG`` model.
        method: ``"l1"``: the L1 norm of the channel's kept weights; or a registered pruner's name
            (``rand``, ``mag``, ``snip``, ``grasp``, ``synflow`` …): the sum of that pruner's weight
            scores over the channel's kept weights (one scoring round).
        data: Batches for pruners that need data (SNIP, GraSP).
        loss_fn: Loss for data-driven pruners.

    Returns:
        Layer name → a 1-D tensor of ``out_channels`` scores, on the layer's device.

    Raises:
        ValueError: For an unknown method (the message lists the valid ones) or missing data.
        TypeError: For an unsupported model.

    Example:
        >>> from prunekit import create_model
        >>> scores = channel_scores(create_model("default", "fc", (1, 28, 28), 10), "mag")
        >>> scores["layers.0"].shape
        torch.Size([100])
    """
    layers = hidden_layers(model)
    if method == "l1":
        return {name: _effective(layer, "weight").abs().flatten(1).sum(1) for name, layer in layers.items()}
    if method not in pruner_names():
        valid = ", ".join(CHANNEL_METHODS + pruner_names())
        raise ValueError(f"unknown channel score method {method!r}; valid methods: {valid}")
    params = list(masked_parameters(model))
    scores = resolve(method)(model, params, data, loss_fn)
    by_name = {p.module_name: (score.detach(), p.mask) for p, score in zip(params, scores) if p.param_name == "weight"}
    missing = [name for name in layers if name not in by_name]
    if missing:
        raise ValueError(f"pruner {method!r} gave no weight scores for layer(s) {', '.join(missing)}; "
                         f"channel scores need masked hidden layers")
    result = {}
    for name in layers:
        score, mask = by_name[name]
        result[name] = (score.to(mask.dtype) * mask).flatten(1).sum(1)
    return result


def _check_keep(keep: float) -> float:
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
        raise ValueError(f"keep (the fraction of channels kept) must be a number in (0, 1]; got {keep!r}")
    return float(keep)


def channel_masks(scores: dict[str, torch.Tensor], keep: float) -> dict[str, torch.Tensor]:
    """Keeps the ``max(1, round(keep × C))`` highest-scoring channels of each layer.

    Ties are broken by position (the lower index is kept), so the count is exact.

    Args:
        scores: Layer name → one score per channel (from :func:`channel_scores`).
        keep: Fraction of each layer's channels to keep, in (0, 1].

    Returns:
        Layer name → a boolean tensor, True for kept channels.

    Raises:
        ValueError: If ``keep`` is not in (0, 1] (the message names the value and the range).

    Example:
        >>> channel_masks({"a": torch.tensor([3.0, 1.0, 2.0, 2.0])}, 0.5)["a"].tolist()
        [True, False, True, False]
    """
    keep = _check_keep(keep)
    masks = {}
    for name, score in scores.items():
        count = max(1, round(keep * score.numel()))
        order = torch.sort(score.float(), descending=True, stable=True).indices[:count]
        mask = torch.zeros(score.numel(), dtype=torch.bool, device=score.device)
        mask[order] = True
        masks[name] = mask
    return masks


@torch.no_grad()
def _zero_channels_(ops: list[_Op], index: int, dropped: torch.Tensor) -> None:
    """Masks channel ``dropped`` of the layer at ``ops[index]``: its row, bias, batch norm and next input columns."""
    layer = ops[index].module
    layer.weight_mask[dropped] = 0
    if getattr(layer, "bias_mask", None) is not None:
        layer.bias_mask[dropped] = 0
    for op in ops[index + 1:]:
        if op.kind == "bn":
            for name in ("weight", "bias"):
                if getattr(op.module, f"{name}_mask", None) is not None:
                    getattr(op.module, f"{name}_mask")[dropped] = 0
        if op.kind == "layer":
            nxt = op.module
            columns = nxt.weight_mask.shape[1]
            factor = columns // dropped.numel()
            column_mask = dropped.repeat_interleave(factor)
            nxt.weight_mask[:, column_mask] = 0
            return


def prune_channels(
    model: nn.Module,
    keep: float,
    method: str = "l1",
    data: Batches | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, int]:
    """Removes all but a fraction of each hidden layer's channels through the model's masks, in place.

    A removed channel loses its weights, its bias, its batch-norm scale and shift (so its output is
    exactly zero) and the next layer's weights that read it. The model keeps its shape;
    :func:`compact_model` then builds the smaller network.

    Args:
        model: A prunekit ``FC``, ``Conv`` or ``VGG`` model (masked layers).
        keep: Fraction of each hidden layer's channels to keep, in (0, 1].
        method: Channel score: ``"l1"`` or a registered pruner's name (see :func:`channel_scores`).
        data: Batches for data-driven pruners.
        loss_fn: Their loss.

    Returns:
        Layer name → number of channels kept.

    Raises:
        ValueError: For a bad ``keep`` or method, or a hidden layer without masks.
        TypeError: For an unsupported model.

    Example:
        >>> from prunekit import create_model
        >>> net = create_model("default", "fc", (1, 28, 28), 10)
        >>> prune_channels(net, 0.25)["layers.1"]
        25
    """
    _check_keep(keep)
    ops = _chain(model)
    layer_ops = [i for i, op in enumerate(ops) if op.kind == "layer"][:-1]
    for i in layer_ops:
        if getattr(ops[i].module, "weight_mask", None) is None:
            raise ValueError(f"layer {ops[i].name!r} ({type(ops[i].module).__name__}) has no mask; "
                             f"prune_channels needs prunekit's masked layers")
    masks = channel_masks(channel_scores(model, method, data, loss_fn), keep)
    for i in layer_ops:
        _zero_channels_(ops, i, ~masks[ops[i].name])
    return {name: int(mask.sum()) for name, mask in masks.items()}


@torch.no_grad()
def _alive(ops: list[_Op], index: int) -> torch.Tensor:
    """Channels of the layer at ``ops[index]`` whose output is neither zero nor unused (eval mode)."""
    layer = ops[index].module
    weight = _effective(layer, "weight")
    produces = weight.flatten(1).ne(0).any(1)
    constant = _effective(layer, "bias")
    constant = torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device) if constant is None else constant
    following = ops[index + 1:]
    nxt = None
    for op in following:
        if op.kind == "bn":
            bn = op.module
            scale = _effective(bn, "weight")
            shift = _effective(bn, "bias")
            mean = bn.running_mean if bn.running_mean is not None else torch.zeros_like(constant)
            var = bn.running_var if bn.running_var is not None else torch.ones_like(constant)
            constant = (constant - mean) / torch.sqrt(var + bn.eps)
            constant = constant * (scale if scale is not None else 1) + (shift if shift is not None else 0)
        elif op.kind == "relu":
            constant = torch.relu(constant)
        elif op.kind == "layer":
            nxt = op.module
            break
    alive = produces | constant.ne(0)
    next_weight = _effective(nxt, "weight")
    factor = next_weight.shape[1] // weight.shape[0]
    used = next_weight.transpose(0, 1).reshape(weight.shape[0], -1).ne(0).any(1) if factor == 1 else (
        next_weight.reshape(next_weight.shape[0], weight.shape[0], -1).ne(0).any(2).any(0))
    alive &= used
    if not bool(alive.any()):
        alive[0] = True  # a layer of zero channels cannot be built; one dead channel changes nothing
    return alive.nonzero().flatten()


def _plain_layer(layer: nn.Module, rows: torch.Tensor | None, columns: torch.Tensor | None) -> nn.Module:
    weight = _effective(layer, "weight")
    bias = _effective(layer, "bias")
    if rows is not None:
        weight = weight[rows]
        bias = None if bias is None else bias[rows]
    if columns is not None:
        weight = weight[:, columns]
    factory = {"device": weight.device, "dtype": weight.dtype}
    if isinstance(layer, nn.Conv2d):
        plain = nn.Conv2d(weight.shape[1] * layer.groups, weight.shape[0], layer.kernel_size, layer.stride,
                          layer.padding, layer.dilation, layer.groups, bias is not None, layer.padding_mode, **factory)
    else:
        plain = nn.Linear(weight.shape[1], weight.shape[0], bias is not None, **factory)
    plain.weight.copy_(weight)
    if bias is not None:
        plain.bias.copy_(bias)
    return plain


def _plain_bn(bn: nn.Module, rows: torch.Tensor) -> nn.Module:
    kind = nn.BatchNorm2d if isinstance(bn, nn.BatchNorm2d) else nn.BatchNorm1d
    plain = kind(rows.numel(), bn.eps, bn.momentum, bn.affine, bn.track_running_stats, device=rows.device)
    if bn.affine:
        plain.weight.copy_(_effective(bn, "weight")[rows])
        plain.bias.copy_(_effective(bn, "bias")[rows])
    if bn.track_running_stats:
        plain.running_mean.copy_(bn.running_mean[rows])
        plain.running_var.copy_(bn.running_var[rows])
        plain.num_batches_tracked.copy_(bn.num_batches_tracked)
    return plain


@torch.no_grad()
def compact_model(model: nn.Module) -> nn.Sequential:
    """A plain ``nn.Sequential`` without the channels that cannot change the output, masks multiplied in.

    A hidden channel is dropped when its output is always zero in eval mode (no kept weight, and a bias,
    batch norm and ReLU that give 0) or when the next layer reads it through no kept weight. After
    :func:`prune_channels` that is exactly the removed channels; after unstructured pruning, the
    neurons that happen to be emptied. The result gives the masked model's outputs (eval mode) to float
    tolerance and has no prunekit classes in it; the original model is untouched.

    Args:
        model: A prunekit ``FC``, ``Conv`` or ``VGG`` model (masked or plain layers).

    Returns:
        An ``nn.Sequential`` of ``nn.Flatten``, ``nn.Linear``, ``nn.Conv2d``, batch norm, ``nn.ReLU``
        and pooling modules, in eval mode, on the model's device.

    Raises:
        TypeError: For an unsupported model.

    Example:
        >>> from prunekit import create_model
        >>> net = create_model("lottery", "vgg11", (3, 32, 32), 10)
        >>> _ = prune_channels(net, 0.5)
        >>> small = compact_model(net)
        >>> small[0].out_channels, small[-1].in_features
        (32, 256)
    """
    ops = _chain(model)
    layer_ops = [i for i, op in enumerate(ops) if op.kind == "layer"]
    keep = {i: _alive(ops, i) for i in layer_ops[:-1]}
    modules: list[nn.Module] = []
    rows = None
    previous = None
    for i, op in enumerate(ops):
        if op.kind == "layer":
            columns = None
            if previous is not None:
                factor = op.module.weight.shape[1] // previous
                columns = (rows[:, None] * factor + torch.arange(factor, device=rows.device)).flatten()
            rows = keep.get(i)
            modules.append(_plain_layer(op.module, rows, columns))
            previous = op.module.weight.shape[0]
        elif op.kind == "bn":
            modules.append(_plain_bn(op.module, rows))
        elif op.kind == "relu":
            modules.append(nn.ReLU())
        elif op.kind == "flatten":
            modules.append(nn.Flatten(1))
        elif op.kind == "gap":
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
        else:
            modules.append(type(op.module)(**_pool_arguments(op.module)))
    return nn.Sequential(*modules).eval()


def _pool_arguments(module: nn.Module) -> dict:
    if isinstance(module, nn.MaxPool2d):
        return {"kernel_size": module.kernel_size, "stride": module.stride, "padding": module.padding,
                "dilation": module.dilation, "ceil_mode": module.ceil_mode}
    if isinstance(module, nn.AvgPool2d):
        return {"kernel_size": module.kernel_size, "stride": module.stride, "padding": module.padding,
                "ceil_mode": module.ceil_mode, "count_include_pad": module.count_include_pad}
    raise TypeError(f"compact_model cannot copy a {type(module).__name__}; supported: MaxPool2d, AvgPool2d")
