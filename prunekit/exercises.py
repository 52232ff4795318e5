"""The notebooks' exercises: checks that compare a student's function with prunekit's own, and say what is wrong.

Each check runs the student's function and prunekit's reference on small seeded
models and batches and raises :class:`ExerciseCheckError` at the first
difference, naming the layer, the entry, the expected and the received value,
and a hint. A passing check prints one line. The exercises themselves (with
nbgrader solution regions) live in the notebooks; ``prunekit handout`` strips the
solutions for students.

Functions a student writes:

- ``my_<pruner>_scores(model, batches) -> {parameter name: score tensor}`` for each of the five pruners
  (names as in ``model.named_parameters()``, e.g. ``"layers.0.weight"``; ``batches`` is a list of
  ``(inputs, targets)``, unused by the data-free pruners);
- ``my_topk_masks(scores, k) -> {name: 0/1 tensor}``: the global top-k mask, exactly ``k`` ones;
- ``my_layer_flops(model, input_shape) -> {module name: FLOPs of its weight}``;
- ``my_density_table(model) -> {module name: fraction of its weights kept}``.

Example:
    >>> import torch
    >>> check_scores(lambda model, batches: {n: p.detach().abs() for n, p in model.named_parameters()
    ...                                      if n.endswith("weight")}, "mag")
    ✓ your mag scores match prunekit's on 2 models (180 weights)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from prunekit.layers import masked_parameters
from prunekit.metrics import layer_table
from prunekit.models.fc import FC, Conv
from prunekit.pruning import prune, select_topk_
from prunekit.scorers import get_scorer

__all__ = [
    "HINTS",
    "ExerciseCheckError",
    "check_density_table",
    "check_flops",
    "check_scores",
    "check_topk_mask",
    "small_batches",
    "small_models",
]

HINTS: dict[str, str] = {
    "rand": "Rand's score is a standard-normal draw per weight: torch.randn_like(weight), drawn layer by layer in "
    "the order of model.named_parameters(), right after the check seeded torch (do not seed it yourself)",
    "mag": "Mag's score is the absolute value of the weight: weight.detach().abs()",
    "snip": "SNIP ranks |g ⊙ θ|: sum the gradient g of the (mean) cross-entropy over the batches, multiply by the "
    "weight, and take the absolute value last",
    "grasp": "GraSP's score is θ ⊙ (H g): divide the logits by the temperature 200, sum g over the batches and "
    "detach it, then differentiate z = Σ_batches Σ_params (∂L/∂θ · g) once more (create_graph=True); keep the sign",
    "synflow": "SynFlow's score is |θ| ⊙ ∂R/∂|θ| with R the summed output for an all-ones input through the network "
    "whose parameters are all replaced by their absolute values (biases too); put the signs back afterwards",
}
"""Pruner → what its score is, shown when a student's scores differ."""


class ExerciseCheckError(AssertionError):
    """A student's function disagrees with prunekit's reference; the message says where and how."""


def small_models(seed: int = 0) -> dict[str, nn.Module]:
    """Two small seeded networks of prunekit's masked layers: an MLP and a ConvNet.

    Example:
        >>> sorted(small_models())
        ['conv', 'fc']
    """
    torch.manual_seed(seed)
    fc = FC((1, 4, 4), 3, depth=3, width=5)
    conv = Conv((1, 6, 6), 3, depth=3, width=2)
    return {"fc": fc, "conv": conv}


def small_batches(model: nn.Module, seed: int = 0, batches: int = 2, size: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded random ``(inputs, targets)`` batches shaped for ``model``."""
    generator = torch.Generator().manual_seed(seed)
    classes = next(module for name, module in model.named_modules() if name == "fc").out_features
    return [
        (torch.randn(size, *model.input_shape, generator=generator), torch.randint(0, classes, (size,), generator=generator))
        for _ in range(batches)
    ]


def _reference_scores(pruner: str, model: nn.Module, batches: Sequence[Any]) -> dict[str, torch.Tensor]:
    params = list(masked_parameters(model))
    scores = get_scorer(pruner)(model, params, batches)
    return {p.name: score.detach().double() for p, score in zip(params, scores)}


def _fail(text: str) -> None:
    raise ExerciseCheckError(text)


def _as_tensor(value: Any, name: str, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        _fail(f"{what} for {name} is a {type(value).__name__}; return a torch.Tensor")
    return value.detach().double().cpu()


def _compare(expected: Mapping[str, torch.Tensor], received: Any, what: str, hint: str, rtol: float, atol: float) -> int:
    """Raises at the first difference; returns the number of entries compared."""
    if not isinstance(received, Mapping):
        _fail(f"{what}: return a dict {{name: tensor}}; received a {type(received).__name__}. Hint: {hint}")
    missing = [name for name in expected if name not in received]
    if missing:
        _fail(f"{what}: no entry for {', '.join(missing)} (received names: {', '.join(map(str, received)) or 'none'}); "
              f"expected exactly {', '.join(expected)}. Hint: {hint}")
    extra = [name for name in received if name not in expected]
    if extra:
        _fail(f"{what}: unexpected entries {', '.join(map(str, extra))}; only the prunable weights "
              f"{', '.join(expected)}. Hint: {hint}")
    count = 0
    for name, want in expected.items():
        want = want.double()
        got = _as_tensor(received[name], name, what)
        if got.shape != want.shape:
            _fail(f"{what}: {name} has shape {tuple(got.shape)}, expected {tuple(want.shape)} (one value per weight)")
        close = torch.isclose(got, want, rtol=rtol, atol=atol)
        if not bool(close.all()):
            index = tuple(int(i) for i in torch.nonzero(~close)[0])
            wrong = int((~close).sum())
            where = f"{name}{list(index)}" if index else name
            text = (f"{what}: {where}: expected {want[index].item():.6g}, received {got[index].item():.6g} "
                    f"({wrong:,} of {want.numel():,} entries of {name} differ).")
            if torch.allclose(got.abs(), want.abs(), rtol=rtol, atol=atol) and bool((want >= 0).all()):
                text += " Your values have the right size but some are negative: take the absolute value."
            elif torch.allclose(-got, want, rtol=rtol, atol=atol):
                text += " Your values have the opposite sign."
            _fail(f"{text} Hint: {hint}")
        count += want.numel()
    return count


def _parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def check_scores(student_fn: Callable[..., Any], pruner: str, *, seeds: Sequence[int] = (0,)) -> None:
    """Compares ``student_fn(model, batches)`` with prunekit's ``pruner`` scores on two small models.

    Args:
        student_fn: ``(model, batches) -> {parameter name: score tensor}`` for the prunable weights.
        pruner: ``rand``, ``mag``, ``snip``, ``grasp`` or ``synflow``.
        seeds: Seeds of the models and batches.

    Raises:
        ExerciseCheckError: At the first difference (or if the function changes the model's weights).
        ValueError: For an unknown pruner; the message lists the valid ones.
    """
    if pruner not in HINTS:
        raise ValueError(f"unknown pruner {pruner!r}; valid pruners: {', '.join(HINTS)}")
    compared, models = 0, 0
    for seed in seeds:
        for label, model in small_models(seed).items():
            batches = small_batches(model, seed)
            before = _parameters(model)
            torch.manual_seed(seed)
            received = student_fn(model, batches)
            after = _parameters(model)
            changed = [name for name in before if not torch.equal(before[name], after[name])]
            if changed:
                _fail(f"your {pruner} scores changed the model's parameters ({', '.join(changed)}); score a copy or "
                      "restore them (with torch.no_grad())")
            torch.manual_seed(seed)
            expected = _reference_scores(pruner, model, batches)
            compared += _compare(expected, received, f"your {pruner} scores ({label} model)", HINTS[pruner],
                                 rtol=1e-4, atol=1e-9 if pruner == "grasp" else 1e-7)
            models += 1
    print(f"✓ your {pruner} scores match prunekit's on {models} models ({compared:,} weights)")


def check_topk_mask(student_fn: Callable[[dict[str, torch.Tensor], int], Any]) -> None:
    """Compares ``student_fn(scores, k)`` with prunekit's exact global top-k, ties included.

    Raises:
        ExerciseCheckError: If a mask keeps a different number of entries, or different entries.
    """
    generator = torch.Generator().manual_seed(0)
    cases = {
        "distinct scores": ({"a.weight": torch.rand(3, 4, generator=generator),
                             "b.weight": torch.rand(5, generator=generator)}, 6),
        "all scores tied": ({"a.weight": torch.ones(2, 3), "b.weight": torch.ones(4)}, 5),
        "ties at the threshold": ({"a.weight": torch.tensor([[3.0, 1.0], [1.0, 0.0]]),
                                   "b.weight": torch.tensor([1.0, 2.0, 1.0])}, 4),
    }
    hint = ("keep the k largest scores over all layers together; at the threshold, keep tied entries of the earlier "
            "layer first, and within a layer the lower flat index first, until exactly k are kept")
    for label, (scores, k) in cases.items():
        received = student_fn({name: s.clone() for name, s in scores.items()}, k)
        if isinstance(received, Mapping):
            kept = sum(int(torch.count_nonzero(torch.as_tensor(m))) for m in received.values())
            if kept != k:
                _fail(f"your mask ({label}) keeps {kept} entries; expected exactly k = {k}. Hint: {hint}")
        flat = [s.clone() for s in scores.values()]
        masks = [torch.ones_like(s) for s in flat]
        select_topk_(flat, masks, k)
        expected = {name: mask.double() for name, mask in zip(scores, masks)}
        _compare(expected, received, f"your mask ({label})", hint, rtol=0.0, atol=0.0)
    print(f"✓ your top-k masks match prunekit's on {len(cases)} cases, ties included")


def check_flops(student_fn: Callable[[nn.Module, tuple[int, ...]], Any]) -> None:
    """Compares ``student_fn(model, input_shape)`` with prunekit's FLOPs of each layer's weight.

    Raises:
        ExerciseCheckError: At the first layer whose count differs.
    """
    hint = ("a linear weight costs in·out multiply-adds; a convolution weight costs C_in·C_out·k_h·k_w·H_out·W_out "
            "with the OUTPUT height and width (after padding and stride)")
    compared = 0
    for label, model in small_models().items():
        table = layer_table(model)
        weights = table[(table.param == "weight") & table.prunable]
        expected = {row.module: torch.tensor(float(row.flops)) for row in weights.itertuples()}
        received = student_fn(model, tuple(model.input_shape))
        if isinstance(received, Mapping):
            received = {name: torch.tensor(float(value)) for name, value in received.items()}
        compared += _compare(expected, received, f"your FLOP counts ({label} model)", hint, rtol=0.0, atol=0.0)
    print(f"✓ your FLOP counts match prunekit's on {compared} layers")


def check_density_table(student_fn: Callable[[nn.Module], Any]) -> None:
    """Compares ``student_fn(model)`` with prunekit's per-layer density of pruned models.

    Raises:
        ExerciseCheckError: At the first layer whose density differs.
    """
    hint = "a layer's density is the number of ones in its weight_mask divided by the number of its weights"
    compared = 0
    for label, model in small_models(1).items():
        torch.manual_seed(1)
        prune(model, "rand", 0.5)
        table = layer_table(model)
        weights = table[(table.param == "weight") & table.prunable]
        expected = {row.module: torch.tensor(float(row.density)) for row in weights.itertuples()}
        received = student_fn(model)
        if isinstance(received, Mapping):
            received = {name: torch.tensor(float(value)) for name, value in received.items()}
        compared += _compare(expected, received, f"your density table ({label} model)", hint, rtol=1e-9, atol=0.0)
    print(f"✓ your density table matches prunekit's on {compared} layers")
