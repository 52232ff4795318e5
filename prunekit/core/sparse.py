"""Unstructured sparsity made real: pruned weights stored and multiplied as CSR tensors.

A masked layer multiplies every weight, kept or not. Here the kept weights alone are stored in
compressed sparse row form (``torch.sparse_csr_tensor``: row pointers, column indices, values) and
multiplied with ``torch.sparse.mm``-style products, so the work and the memory scale with the
density, plus an index per kept weight.

- :class:`SparseLinear` and :class:`SparseConv2d` (the convolution as unfold + CSR product) and
  :func:`to_sparse`, a copy of a masked model with those layers;
- :func:`sparse_state_dict` and :func:`load_sparse_state_dict`: a masked model's ``state_dict`` with
  each masked weight stored as CSR (values and indices of the kept weights only), and back. Write it
  with ``torch.save``; read it with ``torch.load(..., weights_only=True)``.

Example:
    >>> import torch
    >>> from prunekit import create_model, prune
    >>> net = create_model("default", "fc", (1, 28, 28), 10)
    >>> _ = prune(net, "rand", density=0.1)
    >>> fast = to_sparse(net)
    >>> x = torch.randn(4, 1, 28, 28)
    >>> torch.allclose(fast(x), net.eval()(x), atol=1e-5)
    True
    >>> state = sparse_state_dict(net)
    >>> state["sparse"]["layers.0.weight"]["values"].numel() < 78400
    True
"""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from prunekit.core.export import to_dense
from prunekit.core.layers import masked_parameters

__all__ = ["FORMAT", "SparseConv2d", "SparseLinear", "load_sparse_state_dict", "sparse_state_dict", "to_sparse"]

FORMAT = "prunekit-sparse-1"
"""The ``format`` entry of :func:`sparse_state_dict`'s payload."""


def _csr(weight: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The 2-D CSR form of ``weight`` (rows = output channels), keeping the entries where ``mask`` is set."""
    matrix = weight.detach().reshape(weight.shape[0], -1)
    keep = (matrix != 0) if mask is None else mask.reshape(matrix.shape).bool()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        pattern = keep.to_sparse_csr()
    return torch.sparse_csr_tensor(pattern.crow_indices(), pattern.col_indices(), matrix[keep], size=matrix.shape,
                                   dtype=matrix.dtype, device=matrix.device, check_invariants=False)


class SparseLinear(nn.Module):
    """A linear layer whose weight is a CSR tensor: ``y = x Wᵀ + b`` computed as ``(W xᵀ)ᵀ + b``.

    Args:
        weight: The ``(out, in)`` CSR weight.
        bias: The bias, or None.

    Example:
        >>> layer = SparseLinear.from_dense(nn.Linear(3, 2))
        >>> layer(torch.ones(5, 3)).shape
        torch.Size([5, 2])
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    @classmethod
    def from_dense(cls, layer: nn.Linear) -> SparseLinear:
        """The CSR copy of ``layer``: its kept weights (``weight_mask``) or, without a mask, its non-zero ones."""
        mask = getattr(layer, "weight_mask", None)
        bias = getattr(layer, "masked_bias", lambda: layer.bias)()
        return cls(_csr(layer.weight, mask), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[:-1]
        out = torch.mm(self.weight, x.reshape(-1, x.shape[-1]).t()).t()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*shape, out.shape[-1])


class SparseConv2d(nn.Module):
    """A convolution as ``unfold`` + a CSR product: ``W (C_out × C_in·k·k)`` times the input patches.

    Args:
        conv: The dense ``nn.Conv2d`` to copy (groups 1); zero weights are left out.

    Raises:
        ValueError: For a grouped convolution.

    Example:
        >>> conv = nn.Conv2d(2, 3, 3, padding=1)
        >>> x = torch.randn(1, 2, 5, 5)
        >>> torch.allclose(SparseConv2d(conv)(x), conv(x), atol=1e-5)
        True
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if conv.groups != 1 or conv.padding_mode != "zeros":
            raise ValueError(f"SparseConv2d copies convolutions with groups=1 and zero padding; got groups="
                             f"{conv.groups}, padding_mode={conv.padding_mode!r}")
        self.register_buffer("weight", _csr(conv.weight))
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().clone())
        self.out_channels = conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation = conv.padding, conv.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        patches = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        rows = patches.shape[-1]
        out = torch.mm(self.weight, patches.transpose(0, 1).reshape(patches.shape[1], -1))
        if self.bias is not None:
            out = out + self.bias[:, None]
        h_out = (height + 2 * self.padding[0] - self.dilation[0] * (self.kernel_size[0] - 1) - 1) // self.stride[0] + 1
        w_out = rows // h_out
        return out.reshape(self.out_channels, batch, h_out, w_out).transpose(0, 1)


def to_sparse(model: nn.Module) -> nn.Module:
    """A copy of ``model`` for inference, every linear and convolution layer stored and multiplied as CSR.

    The masks are multiplied in first (:func:`prunekit.core.export.to_dense`), so only kept, non-zero
    weights are stored. The copy is in eval mode; the original is untouched.

    Args:
        model: Any model (prunekit's masked layers or plain ones).

    Returns:
        The copy, with :class:`SparseLinear` and :class:`SparseConv2d` in place of ``nn.Linear``/``nn.Conv2d``.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> type(to_sparse(net)[0]).__name__
        'SparseLinear'
    """
    dense = to_dense(model) if any(True for _ in masked_parameters(model)) else copy.deepcopy(model)
    for parent in list(dense.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, SparseLinear.from_dense(child))
            elif type(child) is nn.Conv2d and child.groups == 1 and child.padding_mode == "zeros":
                setattr(parent, name, SparseConv2d(child))
    return dense.eval()


def sparse_state_dict(model: nn.Module) -> dict:
    """The model's ``state_dict`` with each masked weight stored as CSR (kept entries only).

    Masked weights and their masks become ``{"shape", "crow", "col", "values"}`` (indices as int32
    when they fit); everything else (biases, their masks, batch-norm statistics) stays dense. The
    kept positions come from the mask, so a kept weight that happens to be 0.0 stays kept.

    Args:
        model: A model of prunekit's masked layers.

    Returns:
        ``{"format": FORMAT, "dense": {...}, "sparse": {name: {...}}}``, ready for ``torch.save``.

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> layer = MaskedLinear(4, 2)
        >>> layer.weight_mask[0] = 0
        >>> sparse_state_dict(layer)["sparse"]["weight"]["values"].numel()
        4
    """
    state = model.state_dict()
    sparse = {}
    for p in masked_parameters(model):
        if p.param_name != "weight":
            continue
        matrix = _csr(p.param, p.mask)
        index = torch.int32 if p.param.numel() < 2**31 else torch.int64
        sparse[p.name] = {
            "shape": torch.tensor(tuple(p.param.shape), dtype=torch.int64),
            "crow": matrix.crow_indices().to(index),
            "col": matrix.col_indices().to(index),
            "values": matrix.values().clone(),
        }
        state.pop(p.name)
        state.pop(f"{p.name}_mask")
    return {"format": FORMAT, "dense": state, "sparse": sparse}


def load_sparse_state_dict(model: nn.Module, payload: dict) -> nn.Module:
    """Loads :func:`sparse_state_dict`'s payload into a model of the same architecture, in place.

    Args:
        model: A freshly built model of the same kind and size.
        payload: The payload (e.g. read back with ``torch.load(path, weights_only=True)``).

    Returns:
        ``model``, with the stored weights and masks (pruned weights are 0).

    Raises:
        ValueError: If the payload is not of :data:`FORMAT` or does not fit the model (missing or
            unexpected keys, wrong shapes).

    Example:
        >>> from prunekit.core.layers import MaskedLinear
        >>> layer = MaskedLinear(4, 2)
        >>> layer.weight_mask[0] = 0
        >>> twin = load_sparse_state_dict(MaskedLinear(4, 2), sparse_state_dict(layer))
        >>> twin.weight_mask.sum().item()
        4.0
    """
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"not a sparse-stored model: format is {found!r}; expected {FORMAT!r}")
    state = dict(payload["dense"])
    reference = model.state_dict()
    for name, entry in payload["sparse"].items():
        if name not in reference:
            raise ValueError(f"the payload has weight {name!r}, which the model does not have")
        shape = tuple(int(v) for v in entry["shape"])
        if shape != tuple(reference[name].shape):
            raise ValueError(f"{name}: stored shape {shape} does not fit the model's {tuple(reference[name].shape)}")
        rows = shape[0]
        columns = int(torch.tensor(shape[1:]).prod()) if len(shape) > 1 else 1
        crow, col, values = entry["crow"].long(), entry["col"].long(), entry["values"]
        try:
            weight = torch.sparse_csr_tensor(crow, col, values, size=(rows, columns), check_invariants=True).to_dense()
        except RuntimeError as error:
            raise ValueError(f"{name}: the stored CSR indices are invalid: {error}") from error
        ones = torch.ones_like(values)
        mask = torch.sparse_csr_tensor(crow, col, ones, size=(rows, columns), check_invariants=False).to_dense()
        state[name] = weight.reshape(shape)
        state[f"{name}_mask"] = mask.reshape(shape)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(f"the sparse-stored payload does not fit {type(model).__name__}: {error}") from error
    return model
