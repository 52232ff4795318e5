"""Each of the eight checked exercises, answered as students answer it.

For every exercise: the notebook's own solution and another correct variant pass; three typical
mistakes are rejected with a message that names what is wrong and gives none of the solution's code
(no line of the notebook's solution, and none of the calls that would hand it over).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from prunekit.teach import exercises, handout

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# exercise → (notebook, function name, check)
EXERCISES: dict[str, tuple[str, str, Callable[[Callable], None]]] = {
    "flops": ("00_setup", "my_layer_flops", exercises.check_flops),
    "density": ("00_setup", "my_density_table", exercises.check_density_table),
    "rand": ("01_random", "my_rand_scores", lambda fn: exercises.check_scores(fn, "rand")),
    "topk": ("01_random", "my_topk_masks", exercises.check_topk_mask),
    "mag": ("02_magnitude", "my_mag_scores", lambda fn: exercises.check_scores(fn, "mag")),
    "snip": ("03_snip", "my_snip_scores", lambda fn: exercises.check_scores(fn, "snip")),
    "grasp": ("04_grasp", "my_grasp_scores", lambda fn: exercises.check_scores(fn, "grasp")),
    "synflow": ("05_synflow", "my_synflow_scores", lambda fn: exercises.check_scores(fn, "synflow")),
}

# calls that write the answer for the student; no message or hint may contain them
GIVEAWAYS = ("randn_like", ".abs()", "abs_()", "create_graph=True", "autograd.grad", "register_forward_hook",
             "torch.sort", "topk(", "deepcopy(", "manual_seed", "weight_mask.sum", "reduction=")


def _notebook_cells(stem: str) -> list[str]:
    cells = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def notebook_solution(exercise: str) -> Callable:
    """The function as the instructor's notebook defines it (its answer cell, run as written)."""
    stem, name, _ = EXERCISES[exercise]
    namespace: dict = {}
    for code in _notebook_cells(stem):  # its answer cells in order: an earlier one may hold the imports
        if code.startswith("# Exercise") and handout.SOLUTION[0] in code:
            exec(compile(code, f"<{stem}>", "exec"), namespace)  # noqa: S102 - the notebook's own answer cells
        if name in namespace:
            return namespace[name]
    raise AssertionError(f"{stem} defines no {name}")


def solution_code(exercise: str) -> list[str]:
    stem, name, _ = EXERCISES[exercise]
    return [line for code in _notebook_cells(stem) if f"def {name}(" in code
            for line in handout.solution_lines(code) if len(line) > 12]


def _weights(model):
    return {name: w for name, w in model.named_parameters() if name.endswith("weight")}


# ---------------------------------------------------------------- correct variants (besides the notebook's)


def flops_from_output_numel(model, input_shape):
    """Weight size × output positions, from each layer's output shape."""
    seen = {}
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    handles = [m.register_forward_hook(lambda mod, i, out, n=n: seen.__setitem__(n, out.shape)) for n, m in layers]
    model(torch.zeros((1, *input_shape)))
    for handle in handles:
        handle.remove()
    return {n: m.weight.numel() * (seen[n][2] * seen[n][3] if m.weight.dim() == 4 else 1) for n, m in layers}


def density_as_mean(model):
    return {n: float(m.weight_mask.float().mean()) for n, m in model.named_modules() if hasattr(m, "weight_mask")}


def rand_module_by_module(model, batches):
    return {f"{n}.weight": torch.randn(m.weight.shape) for n, m in model.named_modules() if hasattr(m, "weight_mask")}


def topk_by_argsort(scores, k):
    flat = torch.cat([s.reshape(-1) for s in scores.values()])
    keep = torch.zeros(flat.numel())
    keep[torch.argsort(-flat, stable=True)[:k]] = 1.0
    return dict(zip(scores, torch.split(keep, [s.numel() for s in scores.values()])))


def topk_reshaped(scores, k):
    masks = topk_by_argsort(scores, k)
    return {name: mask.reshape(scores[name].shape) for name, mask in masks.items()}


def mag_twice(model, batches):  # a positive factor shared by every layer: the same masks
    return {name: 2 * w.detach().abs() for name, w in _weights(model).items()}


def mag_clone(model, batches):
    return {name: torch.abs(w.data.clone()) for name, w in _weights(model).items()}


def _gradients(model, batches, reduction="mean", temperature=1.0):
    weights = _weights(model)
    summed = {name: torch.zeros_like(w) for name, w in weights.items()}
    for inputs, targets in batches:
        loss = F.cross_entropy(model(inputs) / temperature, targets, reduction=reduction)
        for name, grad in zip(weights, torch.autograd.grad(loss, list(weights.values()))):
            summed[name] += grad
    return weights, summed


def snip_summed_loss(model, batches):
    weights, grads = _gradients(model, batches, reduction="sum")
    return {name: (grads[name] * w).detach().abs() for name, w in weights.items()}


def snip_one_batch_at_a_time(model, batches):
    weights = _weights(model)
    total = {name: 0 for name in weights}
    for inputs, targets in batches:
        model.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        for name, w in weights.items():
            total[name] = total[name] + w.grad.detach().clone()
    model.zero_grad()
    return {name: (total[name] * w.detach()).abs() for name, w in weights.items()}


def _grasp(model, batches, reduction="mean", temperature=200.0, sign=1.0, absolute=False):
    weights = _weights(model)
    names, params = list(weights), list(weights.values())
    fixed = [torch.zeros_like(w) for w in params]
    for inputs, targets in batches:
        loss = F.cross_entropy(model(inputs) / temperature, targets, reduction=reduction)
        for total, grad in zip(fixed, torch.autograd.grad(loss, params)):
            total += grad
    products = [torch.zeros_like(w) for w in params]
    for inputs, targets in batches:
        loss = F.cross_entropy(model(inputs) / temperature, targets, reduction=reduction)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * f).sum() for g, f in zip(grads, fixed))
        for total, hg in zip(products, torch.autograd.grad(dot, params)):
            total += hg
    scores = {name: sign * w.detach() * hg for name, w, hg in zip(names, params, products)}
    return {name: s.abs() for name, s in scores.items()} if absolute else scores


def grasp_summed_loss(model, batches):
    return _grasp(model, batches, reduction="sum")


def grasp_no_graph_variant(model, batches):  # Hg as a Hessian-vector product from torch.autograd.functional
    weights = _weights(model)
    names = list(weights)
    fixed = [torch.zeros_like(w) for w in weights.values()]
    for inputs, targets in batches:
        loss = F.cross_entropy(model(inputs) / 200.0, targets)
        for total, grad in zip(fixed, torch.autograd.grad(loss, list(weights.values()))):
            total += grad

    def loss_of(*tensors):
        total = 0
        for inputs, targets in batches:
            output = torch.func.functional_call(model, dict(zip(names, tensors)), (inputs,))
            total = total + F.cross_entropy(output / 200.0, targets)
        return total

    _, products = torch.autograd.functional.hvp(loss_of, tuple(w.detach() for w in weights.values()), tuple(fixed))
    return {name: w.detach() * hg for (name, w), hg in zip(weights.items(), products)}


def _synflow(model, signs=False, biases=True, float64=True, in_place=False):
    net = model if in_place else copy.deepcopy(model)
    if float64:
        net = net.double()
    with torch.no_grad():
        for name, parameter in net.named_parameters():
            if not signs and (biases or name.endswith("weight")):
                parameter.copy_(parameter.abs())
    weights = _weights(net)
    dtype = torch.float64 if float64 else torch.float32
    flow = net(torch.ones((1, *model.input_shape), dtype=dtype)).sum()
    grads = torch.autograd.grad(flow, list(weights.values()))
    return {name: (g * w).detach() for (name, w), g in zip(weights.items(), grads)}


def synflow_float32(model, batches):
    return _synflow(model, float64=False)


def synflow_eval_copy(model, batches):
    return _synflow(model.eval() if not model.training else model)


# ---------------------------------------------------------------- mistakes


def flops_with_input_size(model, input_shape):
    seen = {}
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    handles = [m.register_forward_hook(lambda mod, i, out, n=n: seen.__setitem__(n, i[0].shape)) for n, m in layers]
    model(torch.zeros((1, *input_shape)))
    for handle in handles:
        handle.remove()
    return {n: m.weight.numel() * (seen[n][2] * seen[n][3] if m.weight.dim() == 4 else 1) for n, m in layers}


def flops_leaving_hooks(model, input_shape):
    seen = {}
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    for n, m in layers:
        m.register_forward_hook(lambda mod, i, out, n=n: seen.__setitem__(n, out.shape))
    model(torch.zeros((1, *input_shape)))
    return {n: m.weight.numel() * (seen[n][2] * seen[n][3] if m.weight.dim() == 4 else 1) for n, m in layers}


def flops_convolutions_only(model, input_shape):
    return {n: c for n, c in flops_from_output_numel(model, input_shape).items()
            if isinstance(dict(model.named_modules())[n], torch.nn.Conv2d)}


def density_is_sparsity(model):
    return {n: 1.0 - v for n, v in density_as_mean(model).items()}


def density_with_biases(model):
    table = {}
    for n, m in model.named_modules():
        if hasattr(m, "weight_mask"):
            kept = m.weight_mask.sum() + (m.bias_mask.sum() if hasattr(m, "bias_mask") else 0)
            size = m.weight_mask.numel() + (m.bias_mask.numel() if hasattr(m, "bias_mask") else 0)
            table[n] = float(kept / size)
    return table


def density_by_parameter_name(model):
    return {f"{n}.weight": v for n, v in density_as_mean(model).items()}


def rand_seeded(model, batches):
    torch.manual_seed(0)
    return {name: torch.randn(w.shape) for name, w in _weights(model).items()}


def rand_uniform(model, batches):
    return {name: torch.rand(w.shape) for name, w in _weights(model).items()}


def rand_biases_too(model, batches):
    return {name: torch.randn(w.shape) for name, w in model.named_parameters()}


def topk_threshold(scores, k):
    flat = torch.cat([s.reshape(-1) for s in scores.values()])
    threshold = torch.topk(flat, k).values[-1]
    return {name: (s >= threshold).float() for name, s in scores.items()}


def topk_per_tensor(scores, k):
    total = sum(s.numel() for s in scores.values())
    masks = {}
    for name, s in scores.items():
        keep = round(k * s.numel() / total)
        mask = torch.zeros(s.numel())
        mask[torch.argsort(-s.reshape(-1), stable=True)[:keep]] = 1.0
        masks[name] = mask.reshape(s.shape)
    return masks


def topk_smallest(scores, k):
    return topk_reshaped({name: -s for name, s in scores.items()}, k)


def mag_signed(model, batches):
    return {name: w.detach().clone() for name, w in _weights(model).items()}


def mag_squared_per_layer_norm(model, batches):
    return {name: w.detach().abs() / w.detach().abs().max() for name, w in _weights(model).items()}


def mag_in_place(model, batches):
    with torch.no_grad():
        return {name: w.abs_().clone() for name, w in _weights(model).items()}


def snip_abs_per_batch(model, batches):
    weights = _weights(model)
    total = {name: torch.zeros_like(w) for name, w in weights.items()}
    for inputs, targets in batches:
        loss = F.cross_entropy(model(inputs), targets)
        for name, grad in zip(weights, torch.autograd.grad(loss, list(weights.values()))):
            total[name] += (grad * weights[name]).detach().abs()
    return total


def snip_signed(model, batches):
    weights, grads = _gradients(model, batches)
    return {name: (grads[name] * w).detach() for name, w in weights.items()}


def snip_gradient_only(model, batches):
    weights, grads = _gradients(model, batches)
    return {name: grads[name].abs() for name in weights}


def grasp_without_temperature(model, batches):
    return _grasp(model, batches, temperature=1.0)


def grasp_absolute(model, batches):
    return _grasp(model, batches, absolute=True)


def grasp_sign_flipped(model, batches):
    return _grasp(model, batches, sign=-1.0)


def synflow_signed(model, batches):
    return _synflow(model, signs=True)


def synflow_signed_biases(model, batches):
    return _synflow(model, biases=False)


def synflow_on_the_original(model, batches):
    return _synflow(model, in_place=True, float64=False)


CORRECT: dict[str, list[Callable]] = {
    "flops": [flops_from_output_numel],
    "density": [density_as_mean],
    "rand": [rand_module_by_module],
    "topk": [topk_reshaped],
    "mag": [mag_clone, mag_twice],
    "snip": [snip_summed_loss, snip_one_batch_at_a_time],
    "grasp": [grasp_summed_loss, grasp_no_graph_variant],
    "synflow": [synflow_float32, synflow_eval_copy],
}

# (mistake, what the message must say about it)
MISTAKES: dict[str, list[tuple[Callable, str]]] = {
    "flops": [(flops_with_input_size, r"strided network.*differ at conv1: expected 288, received 1,458"),
              (flops_leaving_hooks, r"left \d+ hook\(s\) registered"),
              (flops_convolutions_only, r"no entry for layers\.0, layers\.1, fc \(received names: none\)")],
    "density": [(density_is_sparsity, r"that is the sparsity"),
                (density_with_biases, r"your densities \(\w+ network pruned at compression [\d.]+\) differ at \w+"),
                (density_by_parameter_name, r"no entry for layers\.0.*received names: layers\.0\.weight")],
    "rand": [(rand_seeded, r"seeds the generator itself"),
             (rand_uniform, r"your rand scores \(fc network, seed 0\) differ at layers\.0\.weight"),
             (rand_biases_too, r"unexpected entries layers\.0\.bias")],
    "topk": [(topk_threshold, r"keep \d+ entries in all; expected exactly k = \d+"),
             (topk_per_tensor, r"your masks \(all scores tied, k = 5\) differ at a\.weight\[1, 0\]"),
             (topk_smallest, r"your masks \(distinct scores, k = 6\) differ at")],
    "mag": [(mag_signed, r"(?i)received negative values where prunekit's are all ≥ 0, with the right size: take the "
                         r"absolute value"),
            (mag_squared_per_layer_norm, r"your mag scores \(fc network, seed 0\) differ at layers\.0\.weight"),
            (mag_in_place, r"changed the network's parameters")],
    "snip": [(snip_abs_per_batch, r"your snip scores \(fc network, seed 0\) differ at layers\.0\.weight"),
             (snip_signed, r"(?i)received negative values.*take the absolute value"),
             (snip_gradient_only, r"your snip scores \(fc network, seed 0\) differ at")],
    "grasp": [(grasp_without_temperature, r"your grasp scores \(fc network, seed 0\) differ at"),
              (grasp_absolute, r"(?i)received \|expected\| everywhere: this score keeps its sign"),
              (grasp_sign_flipped, r"(?i)every value has the opposite sign")],
    "synflow": [(synflow_signed, r"your synflow scores \(fc network, seed 0\) differ at"),
                (synflow_signed_biases, r"your synflow scores \(\w+ network, seed 0\) differ at"),
                (synflow_on_the_original, r"changed the network's parameters")],
}


def test_every_exercise_has_two_correct_variants_and_three_mistakes() -> None:
    assert set(CORRECT) == set(MISTAKES) == set(EXERCISES)
    assert all(len(CORRECT[name]) + 1 >= 2 for name in EXERCISES)  # the notebook's solution is the first
    assert all(len(MISTAKES[name]) >= 3 for name in EXERCISES)


@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_the_notebook_solution_and_another_correct_variant_pass(exercise: str, capsys) -> None:
    check = EXERCISES[exercise][2]
    for answer in [notebook_solution(exercise), *CORRECT[exercise]]:
        check(answer)
        assert capsys.readouterr().out.startswith("✓ your"), answer.__name__


@pytest.mark.parametrize(("exercise", "mistake", "says"),
                         [(name, fn, says) for name, cases in MISTAKES.items() for fn, says in cases],
                         ids=[fn.__name__ for cases in MISTAKES.values() for fn, _ in cases])
def test_a_mistake_is_rejected_with_what_is_wrong_and_without_the_code(exercise: str, mistake: Callable,
                                                                      says: str) -> None:
    with pytest.raises(exercises.ExerciseCheckError, match=says) as rejected:
        EXERCISES[exercise][2](mistake)
    message = str(rejected.value)
    assert "Hint:" in message or "hook" in message or "seeds" in message, message
    leaked = [line for line in solution_code(exercise) if line in message]
    assert not leaked, f"the message gives the solution's code: {leaked}"
    assert not [call for call in GIVEAWAYS if call in message], message


def test_a_summed_loss_is_accepted_and_the_factor_is_said(capsys) -> None:
    exercises.check_scores(snip_summed_loss, "snip")
    exercises.check_scores(grasp_summed_loss, "grasp")
    out = capsys.readouterr().out
    assert "yours are 8 × prunekit's on every layer at once" in out  # 8 images per batch
    assert "yours are 64 × prunekit's" in out  # GraSP's Hg: the batch size squared
    assert "the masks are the same" in out


def test_a_factor_that_differs_between_layers_is_rejected() -> None:
    def first_layer_doubled(model, batches):
        scores = exercises.reference_scores("mag", model, batches)
        first = next(iter(scores))
        return {name: 2 * s if name == first else s for name, s in scores.items()}

    with pytest.raises(exercises.ExerciseCheckError, match=r"(?i)every value of layers\.0\.weight is 2 × prunekit's: a constant factor"):
        exercises.check_scores(first_layer_doubled, "mag")


def test_a_negative_factor_is_not_a_convention() -> None:
    def minus_twice(model, batches):
        return {name: -2 * s for name, s in exercises.reference_scores("snip", model, batches).items()}

    with pytest.raises(exercises.ExerciseCheckError, match="(?i)received negative values"):
        exercises.check_scores(minus_twice, "snip")


@pytest.mark.parametrize("pruner", ["rand", "mag", "snip", "grasp", "synflow"])
def test_no_hint_hands_over_the_code(pruner: str) -> None:
    hint = exercises.HINTS[pruner]
    assert not [call for call in GIVEAWAYS if call in hint], hint
    for text in (exercises.FLOPS_HINT, exercises.TOPK_HINT, exercises.DENSITY_HINT):
        assert not [call for call in GIVEAWAYS if call in text], text


def test_a_factor_on_one_network_only_is_rejected() -> None:
    """Right up to 8 × on the first network and exactly right on the others: no convention gives that."""
    def first_network_scaled(model, batches):
        factor = 8.0 if isinstance(model, type(exercises.small_models()["fc"])) else 1.0
        return {name: factor * s for name, s in exercises.reference_scores("snip", model, batches).items()}

    with pytest.raises(exercises.ExerciseCheckError,
                       match=r"\(conv network, seed 0\) are 1 × prunekit's, but 8 × on the fc network"):
        exercises.check_scores(first_network_scaled, "snip")


def test_a_wrong_network_after_a_scaled_one_gets_the_difference_not_the_factor() -> None:
    def scaled_then_signed(model, batches):
        scores = exercises.reference_scores("snip", model, batches)
        if isinstance(model, type(exercises.small_models()["fc"])):
            return {name: 8.0 * s for name, s in scores.items()}
        return {name: -s for name, s in scores.items()}

    with pytest.raises(exercises.ExerciseCheckError, match=r"(?s)\(conv network, seed 0\) differ at .*take the absolute"):
        exercises.check_scores(scaled_then_signed, "snip")
