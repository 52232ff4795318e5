"""Export a pruned model so it runs anywhere, without prunekit.

- :func:`to_dense` bakes the masks into the weights of plain ``nn`` modules.
- :func:`to_torch_prune` uses ``torch.nn.utils.prune`` form: ``weight_orig``
  parameters and ``weight_mask`` buffers, with PyTorch's own forward pre-hooks.

Both work on a deep copy; the original model is untouched.

Example:
    >>> from prunekit import create_model, prune
    >>> net = create_model("default", "fc", (1, 28, 28), 10)
    >>> _ = prune(net, "rand", compression=1)
    >>> plain = to_dense(net)
    >>> type(plain.fc).__name__
    'Linear'
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from prunekit.core.layers import MaskedBatchNorm1d, MaskedBatchNorm2d, MaskedConv2d, MaskedLinear

__all__ = ["to_dense", "to_torch_prune"]

_PLAIN: dict[type, type] = {
    MaskedLinear: nn.Linear,
    MaskedConv2d: nn.Conv2d,
    MaskedBatchNorm1d: nn.BatchNorm1d,
    MaskedBatchNorm2d: nn.BatchNorm2d,
}


def _plain_copy(module: nn.Module) -> nn.Module:
    plain = copy.copy(module)
    plain.__class__ = _PLAIN[type(module)]
    plain._buffers = {k: v for k, v in module._buffers.items() if not k.endswith("_mask")}
    plain._parameters = {k: (None if v is None else nn.Parameter(v.detach().clone())) for k, v in module._parameters.items()}
    plain._modules = dict(module._modules)
    plain.__dict__.pop("bias_mask", None)
    return plain


def _replace(model: nn.Module, make) -> nn.Module:
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) in _PLAIN:
                setattr(parent, child_name, make(child))
    return model


def to_dense(model: nn.Module) -> nn.Module:
    """Returns a copy made of plain ``nn`` modules with the masks multiplied in.

    Args:
        model: A model of prunekit's masked layers.

    Returns:
        A model with the same outputs and ``state_dict`` keys minus the masks.
    """

    def make(child: nn.Module) -> nn.Module:
        plain = _plain_copy(child)
        with torch.no_grad():
            for name in ("weight", "bias"):
                mask = getattr(child, f"{name}_mask", None)
                if mask is not None and getattr(plain, name) is not None:
                    getattr(plain, name).mul_(mask)
        return plain

    return _replace(model, make)


def to_torch_prune(model: nn.Module) -> nn.Module:
    """Returns a copy in ``torch.nn.utils.prune`` form (``weight_orig`` + ``weight_mask``).

    Only masks with a pruned entry are attached; ``torch_prune.remove`` makes
    them permanent.

    Args:
        model: A model of prunekit's masked layers.

    Returns:
        A model of plain ``nn`` modules carrying PyTorch's pruning hooks.
    """

    def make(child: nn.Module) -> nn.Module:
        plain = _plain_copy(child)
        for name in ("weight", "bias"):
            mask = getattr(child, f"{name}_mask", None)
            if mask is not None and getattr(plain, name) is not None and not bool(mask.all()):
                torch_prune.custom_from_mask(plain, name, mask.detach().clone())
        return plain

    return _replace(model, make)
