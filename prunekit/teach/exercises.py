"""The notebooks' exercises: prunekit's reference answers, and checks that say what is wrong with a student's.

Each check runs the student's function and the reference on small seeded networks
and batches, and raises :class:`ExerciseCheckError` at the first difference, naming
the network, the layer, the entry, the expected and the received value, what the
difference looks like (a missing absolute value, a flipped sign, a constant
factor, ...) and a hint. A passing check prints one ``✓`` line. The exercises (with
nbgrader solution regions) live in the notebooks; ``prunekit handout`` strips the
solutions for students.

Functions a student writes (names as in ``model.named_modules()`` / ``named_parameters()``):

- ``my_<pruner>_scores(model, batches) -> {weight name: score tensor}`` for each of the five pruners,
  for the ``weight`` of every ``Linear`` and ``Conv2d`` layer (e.g. ``"layers.0.weight"``); ``batches``
  is a list of ``(inputs, targets)``, unused by the data-free pruners;
- ``my_topk_masks(scores, k) -> {name: 0/1 tensor}``: the global top-k mask, exactly ``k`` ones;
- ``my_layer_flops(model, input_shape) -> {module name: multiply-adds of its weight}``;
- ``my_density_table(model) -> {module name: fraction of its weights kept}``.

The references (``reference_scores``, ``reference_topk_masks``, ``reference_layer_flops``,
``reference_density_table``) are thin wrappers around prunekit's scorers, pruning and metrics
with the students' signatures.

Example:
    >>> check_scores(lambda model, batches: reference_scores("mag", model, batches), "mag")
    ✓ your mag scores match prunekit's reference on 303 weights (3 small networks)
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from prunekit.core.layers import MaskedConv2d, MaskedLinear, masked_parameters
from prunekit.core.metrics import layer_table
from prunekit.core.models.fc import FC, Conv
from prunekit.core.pruning import prune, select_topk_
from prunekit.core.scorers import field_view, get_scorer

__all__ = [
    "HINTS",
    "ExerciseCheckError",
    "StridedNet",
    "check_density_table",
    "check_flops",
    "check_scores",
    "check_topk_mask",
    "positive_factor",
    "reference_density_table",
    "reference_layer_flops",
    "reference_scores",
    "reference_topk_masks",
    "small_batches",
    "small_models",
]

CLASSES = 3
"""Output classes of the small networks of the checks."""

HINTS: Mapping[str, str] = field_view("hint")
"""Pruner → what its score is, shown when a student's scores differ (live from the pruner registry)."""

TOPK_HINT = ("keep the k largest scores over all tensors together; at the threshold, keep tied entries of the earlier "
             "tensor first, and within a tensor the lower flat index first, until exactly k are kept")
FLOPS_HINT = ("count multiply-adds per value a layer outputs: a convolution repeats its kernel at every position of "
              "its OUTPUT, and stride and padding decide how many positions there are; a forward hook sees them")
DENSITY_HINT = "a layer's density is the number of ones in its weight_mask divided by the number of its weights"


class ExerciseCheckError(AssertionError):
    """A student's function disagrees with prunekit's reference; the message says where and how.

    In a notebook it shows as its message alone: the frames of the check inside prunekit say
    nothing to a student (IPython renders an exception through its ``_render_traceback_``).

    Example:
        >>> ExerciseCheckError("layers.0: expected 1, received 2")._render_traceback_()
        ['ExerciseCheckError: layers.0: expected 1, received 2']
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class StridedNet(nn.Module):
    """A tiny ConvNet whose convolutions change the image size (stride 2, no padding), input 1×9×9.

    Example:
        >>> StridedNet()(torch.zeros(2, 1, 9, 9)).shape
        torch.Size([2, 3])
    """

    def __init__(self) -> None:
        super().__init__()
        self.input_shape = (1, 9, 9)
        self.conv1 = MaskedConv2d(1, 2, 3, stride=2)  # 9×9 → 4×4
        self.conv2 = MaskedConv2d(2, 3, 2)  # 4×4 → 3×3
        self.fc = MaskedLinear(27, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv2(torch.relu(self.conv1(x)))).flatten(1))


def small_models(seed: int = 0) -> dict[str, nn.Module]:
    """Three small seeded networks of prunekit's masked layers: an MLP, a ConvNet and a strided ConvNet.

    Example:
        >>> sorted(small_models())
        ['conv', 'fc', 'strided']
    """
    torch.manual_seed(seed)
    return {
        "fc": FC((1, 4, 4), CLASSES, depth=3, width=5),
        "conv": Conv((1, 6, 6), CLASSES, depth=3, width=2),
        "strided": StridedNet(),
    }


def small_batches(model: nn.Module, seed: int = 0, batches: int = 2, size: int = 8) -> list[tuple[torch.Tensor, ...]]:
    """Seeded random ``(inputs, targets)`` batches shaped for ``model`` (which has ``input_shape``).

    Example:
        >>> [tuple(x.shape) for x, _ in small_batches(small_models()["fc"])]
        [(8, 1, 4, 4), (8, 1, 4, 4)]
    """
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, *model.input_shape, generator=generator),
         torch.randint(0, CLASSES, (size,), generator=generator))
        for _ in range(batches)
    ]


# ---------------------------------------------------------------- references (the students' signatures)


def reference_scores(pruner: str, model: nn.Module, batches: Sequence[Any]) -> dict[str, torch.Tensor]:
    """prunekit's ``pruner`` scores of the prunable weights of ``model``, by parameter name.

    Raises:
        ValueError: For an unknown pruner; the message lists the valid ones.

    Example:
        >>> net = small_models()["fc"]
        >>> sorted(reference_scores("mag", net, []))
        ['fc.weight', 'layers.0.weight', 'layers.1.weight']
    """
    params = list(masked_parameters(model))
    scores = get_scorer(pruner)(model, params, batches)
    return {p.name: score.detach() for p, score in zip(params, scores)}


def reference_topk_masks(scores: Mapping[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """prunekit's global top-k: 0/1 masks keeping exactly ``k`` entries, ties broken by position.

    Example:
        >>> reference_topk_masks({"a": torch.tensor([1.0, 3.0]), "b": torch.tensor([3.0])}, 2)["a"].tolist()
        [0.0, 1.0]
    """
    flat = [score.detach().clone().float() for score in scores.values()]
    masks = [torch.ones_like(score) for score in flat]
    select_topk_(flat, masks, k)
    return dict(zip(scores, masks))


def _weight_rows(model: nn.Module, input_shape: Sequence[int] | None = None) -> Any:
    table = layer_table(model, None if input_shape is None else tuple(input_shape))
    return table[(table.param == "weight") & table.prunable]


def reference_layer_flops(model: nn.Module, input_shape: Sequence[int] | None = None) -> dict[str, int]:
    """prunekit's multiply-adds of each prunable layer's weight for one input (``prunekit.layer_table``).

    Example:
        >>> reference_layer_flops(StridedNet())
        {'conv1': 288, 'conv2': 216, 'fc': 81}
    """
    return {row.module: int(row.flops) for row in _weight_rows(model, input_shape).itertuples()}


def reference_density_table(model: nn.Module) -> dict[str, float]:
    """prunekit's fraction of each prunable layer's weights kept (``prunekit.layer_table``).

    Example:
        >>> reference_density_table(StridedNet())
        {'conv1': 1.0, 'conv2': 1.0, 'fc': 1.0}
    """
    return {row.module: float(row.density) for row in _weight_rows(model).itertuples()}


# ---------------------------------------------------------------- comparing


def _fail(text: str) -> None:
    raise ExerciseCheckError(text)


def _number(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.6g}"


def _entry(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]" if index else name


def _first(condition: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in torch.nonzero(condition)[0])


def _difference(name: str, want: torch.Tensor, got: torch.Tensor, close: torch.Tensor, rtol: float,
                atol: float) -> tuple[tuple[int, ...], str]:
    """The entry to show and what the difference looks like (empty when nothing simple explains it)."""
    wrong = ~close
    if not bool(torch.isfinite(got).all()):
        return _first(~torch.isfinite(got)), f"received {_number(float(got[~torch.isfinite(got)][0]))} values"
    if bool((want >= 0).all()) and bool((got[wrong] < 0).any()):
        note = "received negative values where prunekit's are all ≥ 0"
        if torch.allclose(got.abs(), want, rtol=rtol, atol=atol):
            note += ", with the right size: take the absolute value"
        return _first(wrong & (got < 0)), note
    if bool((want < 0).any()) and torch.allclose(got, want.abs(), rtol=rtol, atol=atol):
        return _first(wrong), "received |expected| everywhere: this score keeps its sign (no absolute value)"
    if torch.allclose(-got, want, rtol=rtol, atol=atol):
        return _first(wrong), "every value has the opposite sign"
    if not bool(got.any()):
        return _first(wrong), f"every value of {name} is 0"
    scale = want.abs() > want.abs().max() * 1e-3
    if int(scale.sum()) >= 4:  # a factor shared by a few values, not a coincidence of one
        ratio = float(torch.median(got[scale] / want[scale]))
        if ratio != 0 and not math.isclose(ratio, 1.0, rel_tol=rtol) and torch.allclose(
                got, ratio * want, rtol=max(rtol, 1e-6), atol=atol):
            flipped = ", with the sign flipped" if ratio < 0 else ""
            return _first(wrong), f"every value of {name} is {ratio:.6g} × prunekit's: a constant factor{flipped}"
    return _first(wrong), ""


def _compare(expected: Mapping[str, torch.Tensor], received: Any, what: str, hint: str, rtol: float,
             atol: float) -> int:
    """Raises at the first difference; returns the number of entries compared."""
    if not isinstance(received, Mapping):
        _fail(f"{what}: return a dict {{name: value}}; received a {type(received).__name__}.\nHint: {hint}")
    missing = [name for name in expected if name not in received]
    if missing:
        _fail(f"{what}: no entry for {', '.join(missing)} (received names: {', '.join(map(str, received)) or 'none'}); "
              f"expected exactly {', '.join(expected)}.\nHint: {hint}")
    extra = [str(name) for name in received if name not in expected]
    if extra:
        _fail(f"{what}: unexpected entries {', '.join(extra)}; expected only {', '.join(expected)}.\nHint: {hint}")
    count = 0
    for name, want in expected.items():
        value = received[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = torch.tensor(float(value))
        if not isinstance(value, torch.Tensor):
            _fail(f"{what}: the value for {name} is of type {type(value).__name__}; return a torch.Tensor or a number")
        got, want = value.detach().double().cpu(), want.detach().double().cpu()
        if got.shape != want.shape:
            _fail(f"{what}: {name} has shape {tuple(got.shape)}, expected {tuple(want.shape)}.\nHint: {hint}")
        close = torch.isclose(got, want, rtol=rtol, atol=atol)
        if not bool(close.all()):
            index, note = _difference(name, want, got, close, rtol, atol)
            if want.dim():
                extent = f"{int((~close).sum()):,} of {want.numel():,} entries of {name} differ"
            else:
                differ = [other for other in expected
                          if not _scalar_close(received[other], expected[other], rtol, atol)]
                extent = f"{len(differ)} of {len(expected)} layers differ: {', '.join(differ)}"
            _fail(f"{what} differ at {_entry(name, index)}: expected {_number(want[index].item())}, "
                  f"received {_number(got[index].item())} ({extent})."
                  + (f"\n{note[0].upper()}{note[1:]}." if note else "") + f"\nHint: {hint}")
        count += want.numel()
    return count


def _scalar_close(value: Any, want: torch.Tensor, rtol: float, atol: float) -> bool:
    try:
        got = torch.as_tensor(value).detach().double().cpu()
    except (TypeError, ValueError, RuntimeError):
        return False
    return got.shape == want.shape and bool(torch.isclose(got, want.double(), rtol=rtol, atol=atol).all())


def positive_factor(expected: Mapping[str, torch.Tensor], received: Any, *, rtol: float = 1e-4,
                    atol: float = 0.0) -> float | None:
    """The positive constant ``c ≠ 1`` with ``received ≈ c · expected`` on every tensor at once, or None.

    One factor shared by all layers leaves a global ranking, and so every mask, unchanged: a
    score computed from a summed instead of a mean loss differs by such a factor.

    Args:
        expected: prunekit's scores by name.
        received: The student's answer (anything; None unless it maps the same names to tensors).
        rtol: Relative tolerance of the comparison with ``c · expected``.
        atol: Absolute tolerance, in units of ``expected`` (scaled by ``c``).

    Returns:
        ``c``, or None when there is no such factor (or it is 1).

    Example:
        >>> positive_factor({"w": torch.tensor([1.0, -2.0, 3.0, 4.0])}, {"w": torch.tensor([8.0, -16.0, 24.0, 32.0])})
        8.0
        >>> positive_factor({"w": torch.tensor([1.0, 2.0, 3.0, 4.0])}, {"w": torch.tensor([1.0, 2.0, 3.0, 4.0])}) is None
        True
    """
    if not isinstance(received, Mapping) or received.keys() != expected.keys():
        return None
    if not all(isinstance(received[name], torch.Tensor) and received[name].shape == want.shape
               for name, want in expected.items()):
        return None
    want = torch.cat([t.detach().double().cpu().flatten() for t in expected.values()])
    got = torch.cat([received[name].detach().double().cpu().flatten() for name in expected])
    if not want.numel() or not bool(torch.isfinite(got).all()):
        return None
    significant = want.abs() > want.abs().max() * 1e-3
    if int(significant.sum()) < 4:  # a factor shared by a few values, not the coincidence of one
        return None
    factor = float(torch.median(got[significant] / want[significant]))
    if not factor > 0 or math.isclose(factor, 1.0, rel_tol=rtol):
        return None
    return factor if torch.allclose(got, factor * want, rtol=rtol, atol=atol * factor) else None


def _hook_count(model: nn.Module) -> int:
    """Forward and forward-pre hooks registered on the model's modules."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())  # noqa: SLF001


def _parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


# ---------------------------------------------------------------- checks


def check_scores(student_fn: Callable[..., Any], pruner: str, *, seeds: Sequence[int] = (0,)) -> None:
    """Compares ``student_fn(model, batches)`` with prunekit's ``pruner`` scores on three small networks per seed.

    Args:
        student_fn: ``(model, batches) -> {weight name: score tensor}`` for the prunable weights.
        pruner: ``rand``, ``mag``, ``snip``, ``grasp`` or ``synflow``.
        seeds: Seeds of the networks and batches (torch is seeded with it before each call, for Rand).

    Raises:
        ExerciseCheckError: At the first difference, or if the function changes the network's parameters.
        ValueError: For an unknown pruner; the message lists the valid ones.

    Example:
        >>> check_scores(lambda model, batches: reference_scores("snip", model, batches), "snip", seeds=(1,))
        ✓ your snip scores match prunekit's reference on 303 weights (3 small networks)
    """
    if pruner not in HINTS:
        raise ValueError(f"unknown pruner {pruner!r}; valid pruners: {', '.join(HINTS)}")
    compared, networks, factors = 0, 0, []
    for seed in seeds:
        for label, model in small_models(seed).items():
            batches = small_batches(model, seed)
            torch.manual_seed(seed)
            expected = reference_scores(pruner, copy.deepcopy(model), batches)
            before = _parameters(model)
            torch.manual_seed(seed)
            received = student_fn(model, batches)
            after = _parameters(model)
            changed = [name for name in before if not torch.equal(before[name], after[name])]
            if changed:
                _fail(f"your {pruner} scores changed the network's parameters ({', '.join(changed)}): score a deep "
                      "copy of the network, or leave its parameters as they were.\n"
                      f"Hint: {HINTS[pruner]}")
            # tolerance relative to the scores' own scale (GraSP's are about 1e-8; a fixed 1e-9 would hide errors)
            scale = max((float(t.detach().abs().max()) for t in expected.values() if t.numel()), default=0.0)
            factor = positive_factor(expected, received, rtol=1e-4, atol=1e-6 * scale)
            if factor is not None:  # the same ranking, so the same masks: accepted, and said
                expected = {name: factor * score for name, score in expected.items()}
            compared += _compare(expected, received, f"your {pruner} scores ({label} network, seed {seed})",
                                 HINTS[pruner], rtol=1e-4, atol=1e-6 * scale * (factor or 1.0))
            if factors and not math.isclose(factor or 1.0, factors[0][1], rel_tol=1e-4):  # right up to the factor
                _fail(f"your {pruner} scores ({label} network, seed {seed}) are {factor or 1.0:.6g} × prunekit's, but "
                      f"{factors[0][1]:.6g} × on the {factors[0][0]} network: a constant factor is a convention (such "
                      "as a summed loss) only when it is the same on every network.\n"
                      f"Hint: {HINTS[pruner]}")
            factors.append((label, factor or 1.0))
            if pruner == "rand":
                torch.manual_seed(seed + 1)
                again = student_fn(model, batches)
                if isinstance(again, Mapping) and all(
                        isinstance(again.get(name), torch.Tensor) and torch.equal(again[name], received[name])
                        for name in expected):
                    _fail("your rand scores are the same whatever torch's random state: the function seeds the "
                          "generator itself. Leave seeding to the caller (the run's seed), so that seeds differ.\n"
                          f"Hint: {HINTS[pruner]}")
            networks += 1
    print(f"✓ your {pruner} scores match prunekit's reference on {compared:,} weights ({networks} small networks)")
    factor = factors[0][1] if factors else 1.0
    if not math.isclose(factor, 1.0, rel_tol=1e-4):
        print(f"  up to a positive constant: yours are {factor:.6g} × prunekit's "
              "on every layer at once. A factor shared by all layers keeps the ranking, so the masks are the same; "
              "prunekit's scores use the mean loss of a batch (a summed loss gives the batch size as factor)")


def _topk_cases(seed: int) -> dict[str, tuple[dict[str, torch.Tensor], int]]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "distinct scores": ({"a.weight": torch.rand(3, 4, generator=generator),
                             "b.weight": torch.rand(5, generator=generator)}, 6),
        "all scores tied": ({"a.weight": torch.ones(2, 3), "b.weight": torch.ones(4)}, 5),
        "ties at the threshold": ({"a.weight": torch.tensor([[3.0, 1.0], [1.0, 0.0]]),
                                   "b.weight": torch.tensor([1.0, 2.0, 1.0])}, 4),
        "negative scores": ({"a.weight": -torch.rand(4, generator=generator),
                             "b.weight": -torch.rand(2, 2, generator=generator)}, 3),
    }


def check_topk_mask(student_fn: Callable[[dict[str, torch.Tensor], int], Any], *, seeds: Sequence[int] = (0,)) -> None:
    """Compares ``student_fn(scores, k)`` with prunekit's exact global top-k, ties included.

    Raises:
        ExerciseCheckError: If a mask keeps a different number of entries, or different entries.

    Example:
        >>> check_topk_mask(reference_topk_masks)
        ✓ your top-k masks match prunekit's reference on 4 cases (42 entries), ties included
    """
    cases, entries = 0, 0
    for seed in seeds:
        for label, (scores, k) in _topk_cases(seed).items():
            received = student_fn({name: score.clone() for name, score in scores.items()}, k)
            what = f"your masks ({label}, k = {k})"
            if isinstance(received, Mapping) and all(isinstance(m, torch.Tensor) for m in received.values()):
                kept = sum(int(torch.count_nonzero(mask)) for mask in received.values())
                if kept != k:
                    _fail(f"{what} keep {kept} entries in all; expected exactly k = {k}.\nHint: {TOPK_HINT}")
            entries += _compare(reference_topk_masks(scores, k), received, what, TOPK_HINT, rtol=0.0, atol=0.0)
            cases += 1
    print(f"✓ your top-k masks match prunekit's reference on {cases} cases ({entries} entries), ties included")


def check_flops(student_fn: Callable[[nn.Module, tuple[int, ...]], Any]) -> None:
    """Compares ``student_fn(model, input_shape)`` with prunekit's FLOPs of each layer's weight on three networks.

    Raises:
        ExerciseCheckError: At the first layer whose count differs.

    Example:
        >>> check_flops(reference_layer_flops)
        ✓ your FLOP counts match prunekit's reference on 9 layers (3 small networks)
    """
    layers = 0
    for label, model in small_models().items():
        expected = {name: torch.tensor(float(flops)) for name, flops in reference_layer_flops(model).items()}
        hooks = _hook_count(model)
        received = student_fn(model, tuple(model.input_shape))
        if _hook_count(model) != hooks:
            _fail(f"your FLOP counter left {_hook_count(model) - hooks} hook(s) registered on the {label} network: "
                  "every later forward pass would run them. Keep the handle each registration returns and remove "
                  "the hooks when you are done (a try/finally block does it even after an error).")
        layers += _compare(expected, received, f"your FLOP counts ({label} network, input {tuple(model.input_shape)})",
                           FLOPS_HINT, rtol=0.0, atol=0.0)
    print(f"✓ your FLOP counts match prunekit's reference on {layers} layers (3 small networks)")


def check_density_table(student_fn: Callable[[nn.Module], Any], *, seeds: Sequence[int] = (1,)) -> None:
    """Compares ``student_fn(model)`` with prunekit's per-layer density of randomly pruned small networks.

    Each network is pruned at another compression (0.3, 0.6, 1.2), so densities differ between layers.

    Raises:
        ExerciseCheckError: At the first layer whose density differs.

    Example:
        >>> check_density_table(reference_density_table)
        ✓ your density table matches prunekit's reference on 9 layers (3 small networks)
    """
    layers, networks = 0, 0
    for seed in seeds:
        for (label, model), compression in zip(small_models(seed).items(), (0.3, 0.6, 1.2)):
            torch.manual_seed(seed)
            with warnings.catch_warnings():  # a collapsed layer (density 0) is one of the cases, not a problem
                warnings.simplefilter("ignore")
                prune(model, "rand", compression)
            received = student_fn(model)
            expected = reference_density_table(model)
            if isinstance(received, Mapping) and received.keys() == expected.keys() and all(
                    _scalar_close(received[name], torch.tensor(1.0 - d), 1e-6, 1e-9) for name, d in expected.items()
            ) and any(d != 0.5 for d in expected.values()):
                _fail(f"your densities ({label} network) are 1 − prunekit's: that is the sparsity, the fraction "
                      f"pruned.\nHint: {DENSITY_HINT}")
            layers += _compare({name: torch.tensor(d) for name, d in expected.items()},
                               received, f"your densities ({label} network pruned at compression {compression})",
                               DENSITY_HINT, rtol=1e-6, atol=1e-9)
            networks += 1
    print(f"✓ your density table matches prunekit's reference on {layers} layers ({networks} small networks)")
