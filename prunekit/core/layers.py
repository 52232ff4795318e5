"""Masked layers: ``nn.Linear``, ``nn.Conv2d`` and batch norm with pruning masks.

Each masked layer keeps its masks as buffers named ``weight_mask`` (and
``bias_mask`` for the bias), created on the parameter's device and dtype, so they
move with ``.to()`` and round-trip through ``state_dict``. The forward pass uses
``weight * weight_mask``, hence a pruned weight receives a zero gradient.

Masks are looked up by parameter name (``"<param>_mask"``), never by position.

Example:
    >>> layer = MaskedLinear(4, 2)
    >>> layer.weight_mask.shape
    torch.Size([2, 4])
    >>> [p.param_name for p in masked_parameters(layer)]
    ['weight']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MaskedBatchNorm1d",
    "MaskedBatchNorm2d",
    "MaskedConv2d",
    "MaskedLinear",
    "MaskedParameter",
    "apply_masks_",
    "check_mask",
    "is_masked",
    "masked_parameters",
    "set_mask_",
]


def check_mask(mask: torch.Tensor, param: torch.Tensor, name: str = "mask") -> None:
    """Checks that ``mask`` fits ``param`` and holds only 0 and 1.

    Args:
        mask: The candidate mask.
        param: The parameter it masks.
        name: A name for error messages.

    Raises:
        ValueError: If the shapes differ or an entry is neither 0 nor 1.

    Example:
        >>> check_mask(torch.ones(3), torch.zeros(3))
    """
    if mask.shape != param.shape:
        raise ValueError(f"{name} has shape {tuple(mask.shape)}, but the parameter has shape {tuple(param.shape)}")
    bad = (mask != 0) & (mask != 1)
    if bool(bad.any()):
        value = mask[bad].flatten()[0].item()
        raise ValueError(f"{name} must hold only 0 and 1; found {value!r}")


class _MaskMixin:
    """Shared mask handling for the masked layers (buffers ``<param>_mask``)."""

    def _init_masks(self, bias_mask: bool = True) -> None:
        self.register_buffer("weight_mask", torch.ones_like(self.weight, memory_format=torch.contiguous_format))
        if bias_mask and getattr(self, "bias", None) is not None:
            self.register_buffer("bias_mask", torch.ones_like(self.bias))
        else:
            self.bias_mask = None

    def masked_weight(self) -> torch.Tensor:
        """Returns ``weight * weight_mask``."""
        return self.weight * self.weight_mask

    def masked_bias(self) -> torch.Tensor | None:
        """Returns ``bias * bias_mask`` (or the bias, or None, when there is no mask or bias)."""
        if self.bias is None or self.bias_mask is None:
            return self.bias
        return self.bias * self.bias_mask

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001 - torch signature
        for key in ("weight_mask", "bias_mask"):
            full = prefix + key
            if full in state_dict and getattr(self, key, None) is not None:
                check_mask(state_dict[full], getattr(self, key), full)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class MaskedLinear(_MaskMixin, nn.Linear):
    """``nn.Linear`` whose weight (and bias) is multiplied by a 0/1 mask.

    Args:
        in_features: Size of each input sample.
        out_features: Size of each output sample.
        bias: Whether to learn an additive bias.
        device: Where to create the parameters and masks.
        dtype: Their dtype.

    Example:
        >>> layer = MaskedLinear(3, 2)
        >>> layer(torch.ones(1, 3)).shape
        torch.Size([1, 2])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._init_masks()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.masked_weight(), self.masked_bias())


class MaskedConv2d(_MaskMixin, nn.Conv2d):
    """``nn.Conv2d`` whose weight (and bias) is multiplied by a 0/1 mask.

    Takes the same arguments as ``nn.Conv2d``.

    Example:
        >>> conv = MaskedConv2d(1, 2, 3, padding=1)
        >>> conv(torch.ones(1, 1, 5, 5)).shape
        torch.Size([1, 2, 5, 5])
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_masks()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.masked_weight(), self.masked_bias())


class _MaskedBatchNorm(_MaskMixin):
    """Batch norm with masks on its affine weight and bias (used with ``prune_batchnorm``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        use_batch_stats = self.training or self.running_mean is None
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        return F.batch_norm(
            x,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.masked_weight() if self.weight is not None else None,
            self.masked_bias(),
            use_batch_stats,
            momentum,
            self.eps,
        )


class MaskedBatchNorm1d(_MaskedBatchNorm, nn.BatchNorm1d):
    """``nn.BatchNorm1d`` with ``weight_mask`` and ``bias_mask`` buffers.

    Example:
        >>> MaskedBatchNorm1d(4)(torch.randn(3, 4)).shape
        torch.Size([3, 4])
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_masks()


class MaskedBatchNorm2d(_MaskedBatchNorm, nn.BatchNorm2d):
    """``nn.BatchNorm2d`` with ``weight_mask`` and ``bias_mask`` buffers.

    Example:
        >>> MaskedBatchNorm2d(2)(torch.randn(3, 2, 4, 4)).shape
        torch.Size([3, 2, 4, 4])
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_masks()


_PRUNABLE = (MaskedLinear, MaskedConv2d)
_NORMS = (MaskedBatchNorm1d, MaskedBatchNorm2d)


def is_masked(module: nn.Module) -> bool:
    """Whether ``module`` is one of prunekit's masked layers.

    Example:
        >>> is_masked(MaskedLinear(2, 2)), is_masked(nn.Linear(2, 2))
        (True, False)
    """
    return isinstance(module, _PRUNABLE + _NORMS)


@dataclass(frozen=True)
class MaskedParameter:
    """One prunable parameter and its mask, found by name.

    Attributes:
        module_name: Qualified module name, e.g. ``"layers.0.conv"``.
        param_name: ``"weight"`` or ``"bias"``.
        module: The module itself.
        param: The parameter.
        mask: The buffer ``<param_name>_mask`` of that module.
    """

    module_name: str
    param_name: str
    module: nn.Module
    param: nn.Parameter
    mask: torch.Tensor

    @property
    def name(self) -> str:
        """``"<module>.<param>"``, the key used in score and mask dictionaries."""
        return f"{self.module_name}.{self.param_name}" if self.module_name else self.param_name


def masked_parameters(model: nn.Module, bias: bool = False, batchnorm: bool = False) -> Iterator[MaskedParameter]:
    """Yields the prunable parameters of ``model`` with their masks.

    Weights of ``MaskedLinear`` and ``MaskedConv2d`` are always prunable; their
    biases only with ``bias=True``; batch-norm affine parameters only with
    ``batchnorm=True`` (and biases of those only with both).

    Args:
        model: A model built from prunekit's masked layers.
        bias: Include biases.
        batchnorm: Include batch-norm affine parameters.

    Returns:
        An iterator of :class:`MaskedParameter`, in module order.

    Example:
        >>> net = nn.Sequential(MaskedLinear(2, 3), MaskedLinear(3, 1))
        >>> [p.name for p in masked_parameters(net, bias=True)]
        ['0.weight', '0.bias', '1.weight', '1.bias']
    """
    for module_name, module in model.named_modules():
        if isinstance(module, _PRUNABLE) or (batchnorm and isinstance(module, _NORMS)):
            names = ["weight"] + (["bias"] if bias else [])
            for param_name in names:
                param = getattr(module, param_name, None)
                mask = getattr(module, f"{param_name}_mask", None)
                if param is not None and mask is not None:
                    yield MaskedParameter(module_name, param_name, module, param, mask)


@torch.no_grad()
def set_mask_(module: nn.Module, param_name: str, mask: torch.Tensor) -> None:
    """Copies ``mask`` into ``module.<param_name>_mask`` in place, after checking it.

    Args:
        module: A masked layer.
        param_name: ``"weight"`` or ``"bias"``.
        mask: A 0/1 tensor shaped like the parameter (any device or dtype).

    Raises:
        ValueError: If the module has no such mask, or the mask is not 0/1 or misshaped.

    Example:
        >>> layer = MaskedLinear(2, 1, bias=False)
        >>> set_mask_(layer, "weight", torch.tensor([[1.0, 0.0]]))
        >>> layer.weight_mask.tolist()
        [[1.0, 0.0]]
    """
    buffer = getattr(module, f"{param_name}_mask", None)
    if buffer is None:
        raise ValueError(f"{type(module).__name__} has no mask for {param_name!r}; masked parameters: weight, bias")
    check_mask(mask, buffer, f"{param_name}_mask")
    buffer.copy_(mask)


@torch.no_grad()
def apply_masks_(model: nn.Module) -> None:
    """Zeroes every masked-out weight and bias in place (``param *= mask``).

    The forward pass already multiplies by the mask; zeroing the stored values as
    well means weight decay and optimizer state see zeros, so pruned entries stay
    exactly zero during training. Parameter objects are unchanged.

    Example:
        >>> layer = MaskedLinear(2, 1, bias=False)
        >>> layer.weight_mask.zero_(); apply_masks_(layer)
        tensor([[0., 0.]])
        >>> layer.weight.abs().sum().item()
        0.0
    """
    for module in model.modules():
        if is_masked(module):
            for param_name in ("weight", "bias"):
                param = getattr(module, param_name, None)
                mask = getattr(module, f"{param_name}_mask", None)
                if param is not None and mask is not None:
                    param.mul_(mask)
