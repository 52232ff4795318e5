"""Connectivity and flow: kept input connections, input-output paths, Rand's collapse, SynFlow's conservation.

``input_output_paths`` is :func:`prunekit.core.connectivity.input_output_paths`, re-exported for the notebooks;
the runs flag disconnection with the same code.

Example:
    >>> from prunekit.teach.lessons.tiny import tiny_network
    >>> input_output_paths(tiny_network())
    6.0
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import functional_call

from prunekit.core.connectivity import input_output_paths
from prunekit.core.layers import masked_parameters
from prunekit.core.models import create_model
from prunekit.core.pruning import LayerCollapseWarning, prune
from prunekit.core.scorers import get_scorer
from prunekit.teach.lessons.masks import layer_kept

__all__ = [
    "collapse_rates",
    "flow_conservation",
    "input_connections",
    "input_output_paths",
    "rand_collapse",
    "synflow_bias_effect",
]


def input_connections(model: nn.Module) -> tuple[np.ndarray, str]:
    """Kept connections of the first prunable layer, arranged like its input.

    For a linear first layer on image inputs (the FC net), the count of kept
    weights leaving each input pixel, summed over the layer's units and averaged
    over channels: an ``H × W`` map. For a convolution, the kept weights at each
    kernel position, summed over input and output channels: a ``k_h × k_w`` map.

    Args:
        model: A model of masked layers with ``input_shape``.

    Returns:
        ``(counts, kind)`` where ``kind`` is ``"pixel"`` or ``"kernel position"``.

    Raises:
        ValueError: If the model has no prunable layer or the first one does not match its input.

    Example:
        >>> from prunekit import create_model
        >>> counts, kind = input_connections(create_model("default", "fc", (1, 28, 28), 10))
        >>> counts.shape, kind, float(counts.max())
        ((28, 28), 'pixel', 100.0)
    """
    first = next(iter(masked_parameters(model)), None)
    if first is None:
        raise ValueError(f"{type(model).__name__} has no prunable layer")
    mask = first.mask.detach().double().cpu()
    if mask.dim() == 4:
        return mask.sum(dim=(0, 1)).numpy(), "kernel position"
    shape = tuple(getattr(model, "input_shape", ()))
    if mask.dim() != 2 or len(shape) != 3 or mask.shape[1] != math.prod(shape):
        raise ValueError(
            f"the first layer {first.module_name} (mask {tuple(mask.shape)}) does not match the input shape {shape}"
        )
    return mask.sum(dim=0).reshape(shape).mean(dim=0).numpy(), "pixel"


def rand_collapse(
    compressions: Iterable[float],
    seeds: Iterable[int],
    *,
    model_class: str = "default",
    model: str = "fc",
    input_shape: tuple[int, ...] = (1, 28, 28),
    num_classes: int = 10,
) -> pd.DataFrame:
    """Random pruning of one architecture at several compressions and seeds.

    Each (compression, seed) seeds torch, builds the model and prunes it with
    ``rand``: a layer of ``n`` weights keeps about ``n · 10^-a`` of them, so at high
    compression the smallest layer is often left empty (layer collapse) or the
    network disconnected.

    Args:
        compressions: Compression exponents.
        seeds: Random seeds.
        model_class: ``default`` or ``lottery``.
        model: A model of that class.
        input_shape: Shape of one input.
        num_classes: Outputs.

    Returns:
        One row per (compression, seed): ``compression``, ``seed``, ``kept``, the
        ``smallest_layer`` and its ``smallest_layer_kept``, ``collapsed`` (bool),
        ``collapsed_layers`` (comma-separated), ``paths`` and ``disconnected`` (no path left).
        A compression that keeps less than one weight raises.

    Raises:
        ValueError: For an unknown model, or a compression that keeps no weight at all.

    Example:
        >>> frame = rand_collapse([0.5], [1, 2], input_shape=(1, 2, 2), num_classes=2)
        >>> frame[["compression", "seed", "collapsed"]].values.tolist()
        [[0.5, 1, False], [0.5, 2, False]]
    """
    rows = []
    for compression in compressions:
        for seed in seeds:
            torch.manual_seed(seed)
            net = create_model(model_class, model, input_shape, num_classes)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LayerCollapseWarning)
                report = prune(net, "rand", compression)
            kept = layer_kept(net)
            smallest = kept.loc[kept["size"].idxmin()]
            paths = input_output_paths(net)
            rows.append(
                {
                    "compression": float(compression),
                    "seed": int(seed),
                    "kept": report.kept,
                    "smallest_layer": smallest.module,
                    "smallest_layer_kept": int(smallest.kept),
                    "collapsed": bool(report.collapsed_layers),
                    "collapsed_layers": ", ".join(report.collapsed_layers),
                    "paths": paths,
                    "disconnected": paths == 0.0,
                }
            )
    return pd.DataFrame(rows)


def collapse_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-compression summary of :func:`rand_collapse`.

    Args:
        frame: Its output.

    Returns:
        One row per compression: ``compression``, ``density``, ``runs``, ``kept``
        (weights kept), ``mean_smallest_layer_kept``, ``collapsed`` and
        ``disconnected`` (fractions of the runs).

    Example:
        >>> frame = pd.DataFrame({"compression": [3.0, 3.0], "seed": [1, 2], "kept": [119, 119],
        ...                       "smallest_layer_kept": [0, 2], "collapsed": [True, False],
        ...                       "disconnected": [True, False]})
        >>> collapse_rates(frame).collapsed.tolist()
        [0.5]
    """
    grouped = frame.groupby("compression", sort=True)
    table = pd.DataFrame(
        {
            "runs": grouped.seed.count(),
            "kept": grouped.kept.first(),
            "mean_smallest_layer_kept": grouped.smallest_layer_kept.mean(),
            "collapsed": grouped.collapsed.mean(),
            "disconnected": grouped.disconnected.mean(),
        }
    ).reset_index()
    table.insert(1, "density", 10.0**-table.compression)
    return table


def _without_biases(model: nn.Module) -> nn.Module:
    bias_free = copy.deepcopy(model)
    with torch.no_grad():
        for name, param in bias_free.named_parameters():
            if name.endswith("bias"):
                param.zero_()
    return bias_free


def synflow_bias_effect(model: nn.Module, compression: float, rounds: int = 100) -> pd.DataFrame:
    """Weights SynFlow keeps per layer, with the model's biases and with them set to zero.

    SynFlow scores a copy of the network with every parameter made positive, biases included (as
    Synaptic-Flow does). A bias injects flow in the middle of the network, flow that never passes the
    layers before it, so at extreme compression the later layers' weights outscore the early ones and
    the early layers can be emptied even in 100 rounds. Without biases every layer carries the same flow
    (:func:`flow_conservation`) and iterative SynFlow keeps them all.

    Args:
        model: The unpruned model (read only; copies are pruned).
        compression: The compression exponent.
        rounds: SynFlow's pruning rounds.

    Returns:
        One row per prunable layer: ``module``, ``size``, ``kept with biases``, ``kept, biases zeroed``;
        ``table.attrs`` holds ``collapsed with biases`` and ``collapsed, biases zeroed`` (the emptied layers)
        and ``disconnected with biases`` / ``disconnected, biases zeroed``.

    Example:
        >>> from prunekit import create_model
        >>> torch.manual_seed(1)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> table = synflow_bias_effect(create_model("default", "fc", (1, 28, 28), 10), 1.0, rounds=10)
        >>> int(table["kept with biases"].sum()), int(table["kept, biases zeroed"].sum())
        (11940, 11940)
    """
    table, attrs = None, {}
    for suffix, source in ((" with biases", model), (", biases zeroed", _without_biases(model))):
        clone = copy.deepcopy(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)
            prune(clone, "synflow", compression, rounds=rounds)
        kept = layer_kept(clone)[["module", "size", "kept"]].rename(columns={"kept": "kept" + suffix})
        table = kept if table is None else table.merge(kept, on=["module", "size"])
        attrs["collapsed" + suffix] = kept.module[kept["kept" + suffix] == 0].tolist()
        attrs["disconnected" + suffix] = input_output_paths(clone) == 0
    table.attrs.update(attrs)
    return table


def flow_conservation(model: nn.Module) -> pd.DataFrame:
    """SynFlow's scores summed per layer: equal in every layer of a bias-free network.

    For a network whose output is positively homogeneous in each layer's weights
    (linear layers and ReLUs, no biases), Euler's theorem gives
    ``Σ_{θ in layer l} θ ∂R/∂θ = R`` for every layer ``l``: each layer carries the
    whole synaptic flow ``R``. So a layer with many weights has a small *mean*
    score, and one-shot pruning cuts it away first. Scores are computed on a copy
    with all biases set to 0 (which makes it bias-free) and, for comparison, on
    the model as it is.

    Args:
        model: A model of masked layers with ``input_shape`` (read only).

    Returns:
        One row per prunable weight: ``module``, ``size``, ``flow`` (score sum,
        biases zeroed), ``mean_score`` (``flow / size``), ``flow_with_biases``
        (score sum of the model as is). ``table.attrs["R"]`` holds the bias-free
        network's total flow ``R``.

    Raises:
        ValueError: If ``model.input_shape`` is missing.

    Example:
        >>> from prunekit.teach.lessons.tiny import tiny_network
        >>> table = flow_conservation(tiny_network())
        >>> table.flow.round(4).tolist(), table.attrs["R"]
        ([7.625, 7.625], 7.625)
    """
    bias_free = _without_biases(model)
    scorer = get_scorer("synflow")
    flows = [s.double().sum().item() for s in scorer(bias_free, list(masked_parameters(bias_free)))]
    with_biases = [s.double().sum().item() for s in scorer(model, list(masked_parameters(model)))]
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("flow_conservation needs model.input_shape, e.g. (1, 28, 28)")
    state = {}
    for name, tensor in list(bias_free.named_parameters()) + list(bias_free.named_buffers()):
        if tensor.is_floating_point():
            state[name] = tensor.detach().double() if name.endswith("_mask") else tensor.detach().abs().double()
    device = next(model.parameters()).device
    with torch.no_grad():
        was_training = bias_free.training
        bias_free.eval()
        total = float(
            functional_call(bias_free, state, (torch.ones((1, *shape), dtype=torch.float64, device=device),)).sum()
        )
        bias_free.train(was_training)
    rows = [
        {
            "module": p.module_name,
            "size": p.mask.numel(),
            "flow": flow,
            "mean_score": flow / p.mask.numel(),
            "flow_with_biases": wb,
        }
        for p, flow, wb in zip(masked_parameters(model), flows, with_biases)
    ]
    table = pd.DataFrame(rows, columns=["module", "size", "flow", "mean_score", "flow_with_biases"])
    table.attrs["R"] = total
    return table
