"""Per-layer sizes, densities and FLOPs, counted as the report counts them.

FLOPs per parameter (Synaptic-Flow's ``Utils/metrics.py``):

- convolution weight: ``C_in/groups · C_out · k_h · k_w · H_out · W_out``; bias: ``C_out · H_out · W_out``;
- linear weight: ``in · out``; bias: ``out``;
- batch norm (2-D) weight and bias: ``C · H · W`` each; (1-D): ``C`` each.

The remaining FLOPs of a parameter are its FLOPs times its density, so pruning a
weight removes the multiply-adds it took part in. For VGG16 (no batch norm) on a
3×32×32 input the dense total is 313,478,154.

Example:
    >>> from prunekit import create_model
    >>> table = layer_table(create_model("default", "fc", (1, 28, 28), 10), (1, 28, 28))
    >>> int(table.loc[table.param == "weight", "size"].sum())
    119400
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

__all__ = ["COLUMNS", "flop_summary", "layer_table", "weight_histograms"]

COLUMNS = [
    "module",
    "type",
    "param",
    "shape",
    "size",
    "kept",
    "density",
    "flops",
    "flops_remaining",
    "prunable",
]


def _param_flops(module: nn.Module, param_name: str, output: torch.Tensor) -> int:
    spatial = int(output[0, 0].numel()) if output.dim() > 2 else 1
    if isinstance(module, nn.Conv2d):
        if param_name == "weight":
            k_h, k_w = module.kernel_size
            return module.in_channels // module.groups * module.out_channels * k_h * k_w * spatial
        return module.out_channels * spatial
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features if param_name == "weight" else module.out_features
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return module.num_features * spatial
    return 0


def layer_table(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> pd.DataFrame:
    """One row per weight and bias: size, kept count, density and FLOPs.

    A forward pass on one zero input records each layer's output size; the hooks
    are removed afterwards, even if the pass fails.

    Args:
        model: Any model; masks are read from ``<param>_mask`` buffers (density 1 without).
        input_shape: Shape of one input; defaults to ``model.input_shape``.

    Returns:
        A DataFrame with the columns of :data:`COLUMNS`; ``prunable`` is True for
        parameters that carry a mask. Layers without parameters are left out.

    Raises:
        ValueError: If the input shape is unknown.

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> net = nn.Sequential(MaskedLinear(3, 2))
        >>> layer_table(net, (3,))[["module", "param", "flops"]].values.tolist()
        [['0', 'weight', 6], ['0', 'bias', 2]]
    """
    shape = input_shape or getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("layer_table needs the input shape: pass input_shape=(C, H, W) or set model.input_shape")
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)):
            handles.append(
                module.register_forward_hook(lambda mod, inp, out, name=name: outputs.__setitem__(name, out.detach()))
            )
    first = next(model.parameters())
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *shape), device=first.device, dtype=first.dtype))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    rows = []
    for name, module in model.named_modules():
        if name not in outputs:
            continue
        for param_name, param in module.named_parameters(recurse=False):
            mask = getattr(module, f"{param_name}_mask", None)
            size = param.numel()
            kept = int(mask.count_nonzero()) if mask is not None else size
            flops = _param_flops(module, param_name, outputs[name])
            rows.append(
                {
                    "module": name,
                    "type": type(module).__name__,
                    "param": param_name,
                    "shape": tuple(param.shape),
                    "size": size,
                    "kept": kept,
                    "density": kept / size,
                    "flops": flops,
                    "flops_remaining": kept * flops // size if size else 0,
                    "prunable": mask is not None,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def flop_summary(table: pd.DataFrame, prunable_weights_only: bool = True) -> dict[str, float]:
    """Totals of a :func:`layer_table`: parameters, density, FLOPs and the FLOP ratio.

    Args:
        table: The per-layer table.
        prunable_weights_only: Count ``params``/``kept``/``density`` over the
            prunable weights only (the report's convention); FLOPs always cover all rows.

    Returns:
        A dict with ``params``, ``kept``, ``density``, ``flops``, ``flops_remaining``
        and ``flop_ratio`` (remaining / dense, the report's table 1.2.3).

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> flop_summary(layer_table(nn.Sequential(MaskedLinear(3, 2)), (3,)))["flops"]
        8
    """
    rows = table[(table.param == "weight") & table.prunable] if prunable_weights_only else table
    params, kept = int(rows["size"].sum()), int(rows["kept"].sum())
    flops, remaining = int(table["flops"].sum()), int(table["flops_remaining"].sum())
    return {
        "params": params,
        "kept": kept,
        "density": kept / params if params else 1.0,
        "flops": flops,
        "flops_remaining": remaining,
        "flop_ratio": remaining / flops if flops else 1.0,
    }


def weight_histograms(
    model: nn.Module, bins: int = 50, limit: float | None = None, *, per_layer: bool = True
) -> pd.DataFrame:
    """Histograms of each prunable layer's kept weights, as in the report's section 2.1.

    Frequencies are normalized by the layer's *total* weight count, so each
    layer's bars add up to its density: a heavily pruned layer is a low ridge.

    By default (``per_layer=True``) each layer's ``bins`` span that layer's own kept
    weights, ``[-m, m]`` with ``m`` its largest kept ``|w|``: a deep VGG16 layer
    (weights of std 0.02) gets as many bins as the first one (std 0.2), so the gap
    Mag leaves around zero shows in every layer. ``per_layer=False`` shares one
    range across all layers (the largest kept ``|w|`` of the model, or ``limit``).

    Args:
        model: A model of masked layers.
        bins: Number of bins per layer.
        limit: Bins span ``[-limit, limit]`` in every layer (implies a shared range).
        per_layer: Each layer's own range (default); False: one range for all layers.

    Returns:
        A long DataFrame with columns ``module``, ``bin_left``, ``bin_right``,
        ``frequency`` (``bins`` rows per layer, in module order); the edges are the
        layer's own, so a bin's centre is ``(bin_left + bin_right) / 2``. A layer that
        kept no weight gets bins over ``[-1, 1]`` and zero frequencies.

    Raises:
        ValueError: If ``bins`` < 1 or ``limit`` is not positive.

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> net = nn.Sequential(MaskedLinear(10, 10), MaskedLinear(10, 10))
        >>> with torch.no_grad():
        ...     _ = net[1].weight.copy_(net[0].weight / 10)  # the same weights, ten times smaller
        >>> table = weight_histograms(net, bins=4)
        >>> table.groupby("module").frequency.sum().round(6).tolist()
        [1.0, 1.0]
        >>> ranges = table.groupby("module", sort=False).bin_right.max()
        >>> bool(abs(ranges.iloc[1] - ranges.iloc[0] / 10) < 1e-6)
        True
        >>> weight_histograms(net, bins=4, per_layer=False).groupby("module").bin_right.max().nunique()
        1
    """
    from prunekit.core.layers import masked_parameters

    if bins < 1:
        raise ValueError(f"bins must be at least 1; got {bins}")
    if limit is not None and not limit > 0:
        raise ValueError(f"limit must be positive; got {limit}")
    layers = [(p.module_name, p.param.detach(), p.mask.detach()) for p in masked_parameters(model)]

    def largest(weight: torch.Tensor, mask: torch.Tensor) -> float:
        return float((weight * mask).abs().max()) if weight.numel() else 0.0

    shared = limit
    if shared is None and not per_layer:
        shared = max((largest(w, m) for _, w, m in layers), default=1.0) or 1.0
    rows = []
    for name, weight, mask in layers:
        span = shared if shared is not None else (largest(weight, mask) or 1.0)
        edges = torch.linspace(-span, span, bins + 1, dtype=torch.float64)
        kept = weight[mask.bool()].double().cpu()
        counts = torch.histc(kept, bins=bins, min=-span, max=span) / weight.numel()
        rows.extend(
            {"module": name, "bin_left": float(edges[i]), "bin_right": float(edges[i + 1]), "frequency": float(counts[i])}
            for i in range(bins)
        )
    return pd.DataFrame(rows, columns=["module", "bin_left", "bin_right", "frequency"])
