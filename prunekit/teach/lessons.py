"""The data behind the pruner notebooks' lessons (01_random … 05_synflow).

Each function computes one table that a notebook shows or plots: the scores of a
tiny network worked out by hand, score distributions per layer, the kept weights
per layer of several pruned copies, the fan-in effect behind magnitude pruning's
layer collapse, Rand's collapse rate over seeds, SynFlow with 1 versus 100
iterations, and the conservation of synaptic flow. They only call prunekit's
scorers, :func:`prunekit.prune` and :func:`prunekit.layer_table`; figures are in
:mod:`prunekit.teach.plots_lessons`.

Example:
    >>> net = tiny_network()
    >>> [s.tolist() for s in tiny_scores("mag", net)]
    [[[0.5, 1.0], [2.0, 0.25], [1.5, 1.0]], [[1.0, 0.5, 2.0]]]
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DeviceDataset, DeviceLoader, prune_loader
from prunekit.run.device import select_device
from prunekit.run.experiment import load_splits, seeded_model
from prunekit.core.layers import MaskedLinear, masked_parameters
from prunekit.core.metrics import layer_table
from prunekit.core.models import create_model
from prunekit.core.pruning import LayerCollapseWarning, PruneReport, density_from_compression, keep_count, prune
from prunekit.core.scorers import get_scorer
from prunekit.core.scorers.base import Batches
from prunekit.core.scorers.grasp import grasp_scores
from prunekit.run.training import make_optimizer, train_epoch

__all__ = [
    "FALLBACK_TAG",
    "Lesson",
    "TINY_INPUT",
    "TINY_TARGET",
    "TINY_W1",
    "TINY_W2",
    "collapse_rates",
    "compare_iterations",
    "fan_in_table",
    "global_threshold",
    "histories",
    "gradient_norm",
    "gradient_norms",
    "flow_conservation",
    "input_connections",
    "input_output_paths",
    "kept_comparison",
    "lesson_setup",
    "majority_share",
    "layer_kept",
    "pretrain_copy",
    "prune_copy",
    "rand_collapse",
    "run_table",
    "removal_effects",
    "score_frame",
    "score_summary",
    "tiny_network",
    "tiny_scores",
]

TINY_W1 = ((0.5, -1.0), (2.0, 0.25), (-1.5, 1.0))
"""Weights of the tiny network's first layer (3 outputs × 2 inputs)."""

TINY_W2 = ((1.0, -0.5, 2.0),)
"""Weights of the tiny network's second layer (1 output × 3 inputs)."""

TINY_INPUT = (1.0, 2.0)
"""The one input of the tiny network's hand-worked example."""

TINY_TARGET = (1.0,)
"""Its regression target (the loss is the squared error ``(y - t)²``)."""


FALLBACK_TAG = "FALLBACK: MNIST digits standing in for CIFAR-10"
"""The label every table and figure made from :func:`prunekit.run.data.cifar_fallback` data carries."""


@dataclass(frozen=True)
class Lesson:
    """What a pruner notebook works on: a fresh model, its training data and pruning batches.

    Attributes:
        config: The configuration it was built from.
        model: The unpruned model, initialized with ``torch.manual_seed(config.seed)``.
        train: The training split.
        test: The test split.
        prune_data: The pruning batches (:func:`prunekit.run.data.prune_loader`).
        device: Where model and data live.
        fallback: True when MNIST digits stand in for a missing CIFAR-10.
        tag: ``""``, or :data:`FALLBACK_TAG` plus ``" · "`` to prefix titles and captions with.
    """

    config: ExperimentConfig
    model: nn.Module
    train: DeviceDataset
    test: DeviceDataset
    prune_data: DeviceLoader
    device: torch.device
    fallback: bool
    tag: str

    def title(self, text: str) -> str:
        """``text`` prefixed with the fallback label when the data is a stand-in."""
        return f"{self.tag}{text}"


def lesson_setup(config: ExperimentConfig, device: str | torch.device | None = None) -> Lesson:
    """Loads the data of ``config`` and builds its seeded, unpruned model.

    CIFAR-10 is used when it is on disk; when it is not, MNIST digits padded to
    3×32×32 stand in (:func:`prunekit.run.data.cifar_fallback`, which warns loudly)
    and ``fallback``/``tag`` say so, for every title and caption.

    Args:
        config: The run's configuration (dataset, model, seed, data_dir, pruning batch settings).
        device: Overrides ``config.device`` (``"auto"``: CUDA, then MPS, then CPU).

    Returns:
        A :class:`Lesson`.

    Raises:
        DatasetNotFoundError: If not even the shipped MNIST sample is there.
        ValueError: For an unknown dataset or model.

    Example:
        >>> from prunekit.run.presets import preset_config
        >>> lesson = lesson_setup(preset_config("quick", "snip"), device="cpu")  # doctest: +SKIP
        >>> lesson.train.spec.input_shape, lesson.fallback  # doctest: +SKIP
        ((1, 28, 28), False)
    """
    where = select_device(config.device if device is None else device)
    train, test = load_splits(config, where, allow_fallback=True)
    fallback = train.source.startswith("FALLBACK")
    model = seeded_model(config, train, where)
    data = prune_loader(train, config.prune_dataset_ratio, config.prune_batch_size, config.seed)
    return Lesson(config, model, train, test, data, where, fallback, f"{FALLBACK_TAG} · " if fallback else "")


def majority_share(dataset: DeviceDataset) -> float:
    """The accuracy of always answering the most frequent class, in percent.

    A network whose output no longer depends on its input (layer collapse) can
    at best learn this; on the full MNIST test set it is 11.35 % (digit 1), the
    seed's SynFlow result.

    Args:
        dataset: A split (usually the test split).

    Returns:
        ``100 × (count of the most frequent label) / (number of examples)``.

    Example:
        >>> from prunekit.run.data import DATASETS
        >>> data = DeviceDataset("mnist", False, torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
        ...                      torch.tensor([1, 1, 1, 7]), DATASETS["mnist"], "toy")
        >>> majority_share(data)
        75.0
    """
    counts = torch.bincount(dataset.targets.long().cpu())
    return 100.0 * float(counts.max()) / len(dataset)


# --------------------------------------------------------------------------- the tiny network


def tiny_network(w1: Sequence[Sequence[float]] = TINY_W1, w2: Sequence[Sequence[float]] = TINY_W2) -> nn.Sequential:
    """A bias-free linear 2-3-1 network with explicit weights, for scores worked out by hand.

    ``y = W2 @ W1 @ x`` (no activation, no bias): small enough to compute every
    score with pencil and paper, and bias-free, so synaptic flow is conserved exactly.

    Args:
        w1: First layer's weights, ``hidden × inputs``.
        w2: Second layer's weights, ``outputs × hidden``.

    Returns:
        ``nn.Sequential(MaskedLinear, MaskedLinear)`` with modules ``"0"`` and ``"1"``
        and ``input_shape`` set (SynFlow needs it).

    Raises:
        ValueError: If the shapes do not chain.

    Example:
        >>> net = tiny_network()
        >>> net(torch.tensor([[1.0, 2.0]])).item()
        -1.75
    """
    first = torch.as_tensor(w1, dtype=torch.float32)
    second = torch.as_tensor(w2, dtype=torch.float32)
    if first.dim() != 2 or second.dim() != 2 or second.shape[1] != first.shape[0]:
        raise ValueError(
            f"w1 must be hidden×inputs and w2 outputs×hidden; got shapes {tuple(first.shape)} and {tuple(second.shape)}"
        )
    net = nn.Sequential(
        MaskedLinear(first.shape[1], first.shape[0], bias=False),
        MaskedLinear(second.shape[1], second.shape[0], bias=False),
    )
    with torch.no_grad():
        net[0].weight.copy_(first)
        net[1].weight.copy_(second)
    net.input_shape = (first.shape[1],)
    return net


def tiny_scores(
    pruner: str,
    net: nn.Module | None = None,
    inputs: Sequence[float] = TINY_INPUT,
    targets: Sequence[float] = TINY_TARGET,
    *,
    temperature: float = 1.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """prunekit's scores for the tiny network on one example, to check a hand computation.

    The loss is the squared error ``L = (y - t)²`` (``F.mse_loss`` on one output);
    the batch is the single example ``(inputs, targets)``.

    Args:
        pruner: ``rand``, ``mag``, ``snip``, ``grasp`` or ``synflow``.
        net: The network; a fresh :func:`tiny_network` by default.
        inputs: One input vector.
        targets: Its target vector.
        temperature: GraSP divides the output by this before the loss (prunekit's
            GraSP uses 200; 1 makes the hand computation shorter).
        seed: Seeds torch's global generator before ``rand`` draws its scores.

    Returns:
        One float64 array per layer, shaped like its weight.

    Raises:
        ValueError: If the pruner is unknown.

    Example:
        >>> [s.round(2).tolist() for s in tiny_scores("synflow")]
        [[[0.5, 1.0], [1.0, 0.12], [3.0, 2.0]], [[1.5, 1.12, 5.0]]]
    """
    scorer = get_scorer(pruner)
    net = tiny_network() if net is None else net
    params = list(masked_parameters(net))
    batch = [(torch.tensor([list(inputs)], dtype=torch.float32), torch.tensor([list(targets)], dtype=torch.float32))]
    if pruner == "grasp":
        scores = grasp_scores(net, params, batch, F.mse_loss, temperature=temperature)
    else:
        if pruner == "rand":
            torch.manual_seed(seed)
        scores = scorer(net, params, batch, F.mse_loss)
    return [s.detach().double().cpu().numpy() for s in scores]


def removal_effects(
    net: nn.Module | None = None, inputs: Sequence[float] = TINY_INPUT, targets: Sequence[float] = TINY_TARGET
) -> pd.DataFrame:
    """SNIP's connection sensitivity next to the true effect of cutting each connection.

    For every weight of the (tiny) network: the SNIP score ``|g·θ|`` (the first-order
    estimate of the loss change when the weight is removed) and the actual
    ``|L(θ with that weight zeroed) − L(θ)|`` under the squared-error loss.

    Args:
        net: The network; a fresh :func:`tiny_network` by default.
        inputs: One input vector.
        targets: Its target vector.

    Returns:
        One row per weight: ``module``, ``index`` (position in the weight), ``weight``,
        ``snip`` and ``loss_change``, sorted by ``snip`` (largest first).

    Example:
        >>> table = removal_effects()
        >>> len(table), bool(table.snip.is_monotonic_decreasing)
        (9, True)
    """
    net = tiny_network() if net is None else net
    params = list(masked_parameters(net))
    snip = [
        s.detach().double()
        for s in get_scorer("snip")(
            net, params, [(torch.tensor([list(inputs)]), torch.tensor([list(targets)]))], F.mse_loss
        )
    ]
    x, t = torch.tensor([list(inputs)]), torch.tensor([list(targets)])
    with torch.no_grad():
        base = float(F.mse_loss(net(x), t))
        rows = []
        for p, score in zip(params, snip):
            for index in np.ndindex(*p.mask.shape):
                saved = float(p.mask[index])
                p.mask[index] = 0.0
                changed = float(F.mse_loss(net(x), t))
                p.mask[index] = saved
                rows.append(
                    {
                        "module": p.module_name,
                        "index": index,
                        "weight": float(p.param[index]),
                        "snip": float(score[index]),
                        "loss_change": abs(changed - base),
                    }
                )
    table = pd.DataFrame(rows, columns=["module", "index", "weight", "snip", "loss_change"])
    return table.sort_values("snip", ascending=False, kind="stable").reset_index(drop=True)


def gradient_norm(
    model: nn.Module,
    data: Batches,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    temperature: float = 1.0,
) -> float:
    """The squared norm ``‖g‖²`` of the loss gradient over the (masked) weights: what GraSP preserves.

    The gradients of each batch are summed (as GraSP sums them), then squared and
    added over every prunable weight; pruned weights count as zero.

    Args:
        model: A model of masked layers (its ``.grad`` is left untouched).
        data: ``(inputs, targets)`` batches.
        loss_fn: The loss; cross-entropy by default.
        temperature: Logits are divided by this first (GraSP uses 200).

    Returns:
        ``‖g‖²`` as a float.

    Raises:
        ValueError: If ``data`` yields no batch.

    Example:
        >>> batch = [(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0]]))]
        >>> round(gradient_norm(tiny_network(), batch, loss_fn=F.mse_loss), 2)
        1058.75
    """
    loss_fn = loss_fn or F.cross_entropy
    params = list(masked_parameters(model))
    weights = [p.param for p in params]
    totals = [torch.zeros_like(w) for w in weights]
    device = weights[0].device
    count = 0
    for inputs, targets in data:
        count += 1
        loss = loss_fn(model(inputs.to(device)) / temperature, targets.to(device))
        for total, grad, p in zip(totals, torch.autograd.grad(loss, weights), params):
            total.add_(grad * p.mask)
    if count == 0:
        raise ValueError("gradient_norm needs at least one (inputs, targets) batch")
    return float(sum(total.double().pow(2).sum() for total in totals))


def gradient_norms(models: Mapping[str, nn.Module], data: Batches, **options: Any) -> pd.DataFrame:
    """:func:`gradient_norm` of several models on the same batches, relative to the first.

    Args:
        models: Label → model, e.g. ``{"dense": net, "grasp": pruned}``.
        data: ``(inputs, targets)`` batches (read once per model).
        **options: ``loss_fn`` and ``temperature`` for :func:`gradient_norm`.

    Returns:
        Columns ``model``, ``gradient_norm_sq`` (``‖g‖²``) and ``relative`` (to the first row).

    Raises:
        ValueError: If ``models`` is empty.

    Example:
        >>> batch = [(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0]]))]
        >>> gradient_norms({"a": tiny_network(), "b": tiny_network()}, batch, loss_fn=F.mse_loss).relative.tolist()
        [1.0, 1.0]
    """
    if not models:
        raise ValueError("gradient_norms needs at least one labelled model")
    batches = list(data)
    values = [gradient_norm(model, batches, **options) for model in models.values()]
    return pd.DataFrame(
        {"model": list(models), "gradient_norm_sq": values, "relative": [v / values[0] for v in values]}
    )


# --------------------------------------------------------------------------- scores per layer


def score_frame(
    model: nn.Module,
    pruner: str,
    data: Batches | None = None,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    max_per_layer: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The pruner's score of every prunable weight, one row per weight, without pruning.

    Args:
        model: A model of masked layers (left unchanged; ``rand`` draws from torch's global generator).
        pruner: ``rand``, ``mag``, ``snip``, ``grasp`` or ``synflow``.
        data: ``(inputs, targets)`` batches, needed by ``snip`` and ``grasp``.
        loss_fn: The loss for data-driven scorers (cross-entropy by default).
        max_per_layer: Keep at most this many scores per layer, a seeded uniform
            sample (for plots of large models); None keeps all.
        seed: Seeds that sample.

    Returns:
        A DataFrame with columns ``module``, ``layer`` (0, 1, … in model order),
        ``size`` (the layer's weight count) and ``score``.

    Raises:
        ValueError: For an unknown pruner, missing data, or ``max_per_layer < 1``.

    Example:
        >>> frame = score_frame(tiny_network(), "mag")
        >>> frame.groupby("module").score.sum().round(2).tolist()
        [6.25, 3.5]
    """
    if max_per_layer is not None and max_per_layer < 1:
        raise ValueError(f"max_per_layer must be a positive count or None; got {max_per_layer!r}")
    params = list(masked_parameters(model))
    scores = get_scorer(pruner)(model, params, data, loss_fn)
    generator = torch.Generator().manual_seed(seed)
    frames = []
    for index, (param, score) in enumerate(zip(params, scores)):
        flat = score.detach().reshape(-1).double().cpu()
        if max_per_layer is not None and flat.numel() > max_per_layer:
            flat = flat[torch.randperm(flat.numel(), generator=generator)[:max_per_layer]]
        frames.append(
            pd.DataFrame(
                {"module": param.module_name, "layer": index, "size": param.mask.numel(), "score": flat.numpy()}
            )
        )
    return pd.concat(frames, ignore_index=True)


def score_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-layer statistics of a :func:`score_frame`.

    Args:
        frame: Rows of ``module``, ``layer``, ``size``, ``score``.

    Returns:
        One row per layer: ``module``, ``size``, ``mean``, ``median``, ``min``,
        ``max``, ``sum``, ``negative`` and ``zero`` (the fractions of negative and of zero scores).

    Example:
        >>> score_summary(score_frame(tiny_network(), "mag"))["max"].tolist()
        [2.0, 2.0]
    """
    grouped = frame.groupby(["layer", "module", "size"], sort=True).score
    table = grouped.agg(["mean", "median", "min", "max", "sum"]).reset_index()
    table["negative"] = grouped.apply(lambda s: float((s < 0).mean())).to_numpy()
    table["zero"] = grouped.apply(lambda s: float((s == 0).mean())).to_numpy()
    return table.drop(columns="layer")


def global_threshold(frame: pd.DataFrame, compression: float) -> float:
    """The score a weight needs to survive global pruning at ``compression`` (one round).

    Global pruning keeps the ``round(10^-a · N)`` largest scores of all layers
    together; this is the smallest kept score.

    Args:
        frame: A :func:`score_frame` holding *every* score (no ``max_per_layer``).
        compression: The compression exponent ``a``.

    Returns:
        The threshold score.

    Raises:
        ValueError: If the compression keeps less than one weight.

    Example:
        >>> global_threshold(score_frame(tiny_network(), "mag"), 0.5)  # keeps 3 of 9: |θ| = 2, 2, 1.5
        1.5
    """
    kept = keep_count(density_from_compression(compression), len(frame))
    return float(frame.score.nlargest(kept).min())


# --------------------------------------------------------------------------- kept weights per layer


def layer_kept(model: nn.Module) -> pd.DataFrame:
    """Kept weights of every prunable layer (the per-layer density of a pruned model).

    Args:
        model: A model of masked layers with ``input_shape``.

    Returns:
        One row per prunable weight: ``module``, ``size``, ``kept``, ``density``.

    Example:
        >>> layer_kept(tiny_network())[["module", "size", "kept"]].values.tolist()
        [['0', 6, 6], ['1', 3, 3]]
    """
    table = layer_table(model)
    rows = table[(table.param == "weight") & table.prunable]
    return rows[["module", "size", "kept", "density"]].reset_index(drop=True)


def kept_comparison(models: Mapping[str, nn.Module]) -> pd.DataFrame:
    """:func:`layer_kept` of several models, stacked with a ``label`` column.

    Args:
        models: Label → model, e.g. ``{"1 iteration": a, "100 iterations": b}``.

    Returns:
        Columns ``label``, ``module``, ``size``, ``kept``, ``density``, in the mapping's order.

    Raises:
        ValueError: If ``models`` is empty.

    Example:
        >>> kept_comparison({"dense": tiny_network()}).label.unique().tolist()
        ['dense']
    """
    if not models:
        raise ValueError("kept_comparison needs at least one labelled model")
    frames = [layer_kept(model).assign(label=label) for label, model in models.items()]
    table = pd.concat(frames, ignore_index=True)
    return table[["label", "module", "size", "kept", "density"]]


def prune_copy(
    model: nn.Module, pruner: str, compression: float | None = None, data: Batches | None = None, **options: Any
):
    """Prunes a deep copy of ``model``, leaving the original untouched.

    Args:
        model: The model to copy.
        pruner: Passed to :func:`prunekit.prune`.
        compression: The compression exponent (or give ``density=`` in ``options``).
        data: Pruning batches for ``snip``/``grasp``.
        **options: Any other :func:`prunekit.prune` keyword (``iterations``, ``scope`` …).

    Returns:
        ``(pruned_copy, report)`` where ``report`` is the :class:`PruneReport`.

    Raises:
        ValueError: Whatever :func:`prunekit.prune` raises for bad arguments.

    Example:
        >>> pruned, report = prune_copy(tiny_network(), "mag", density=0.5)
        >>> report.kept, int(tiny_network()[0].weight_mask.sum())
        (4, 6)
    """
    clone = copy.deepcopy(model)
    report = prune(clone, pruner, compression, data, **options)
    return clone, report


def compare_iterations(
    model: nn.Module,
    compression: float,
    iterations: Iterable[int] = (1, 100),
    pruner: str = "synflow",
    data: Batches | None = None,
) -> tuple[pd.DataFrame, dict[str, PruneReport]]:
    """Prunes copies of ``model`` with different numbers of scoring rounds.

    SynFlow's lesson: scored once, the largest layer (smallest per-weight flow)
    can be cut away entirely; scored over 100 rounds, the flow is re-balanced
    after each cut and no layer collapses.

    Args:
        model: The (unpruned) model; copies are pruned.
        compression: The compression exponent.
        iterations: The round counts to compare.
        pruner: The pruner (SynFlow by default).
        data: Pruning batches for data-driven pruners.

    Returns:
        ``(table, reports)``: a :func:`kept_comparison` table labelled
        ``"1 iteration"``, ``"100 iterations"`` …, and the reports by label.
        Layer-collapse warnings are recorded in the reports, not raised.

    Raises:
        ValueError: If ``iterations`` is empty or holds a count below 1.

    Example:
        >>> table, reports = compare_iterations(tiny_network(), 0.3, (1, 2))
        >>> list(reports)
        ['1 iteration', '2 iterations']
    """
    counts = list(iterations)
    if not counts or any(not isinstance(n, int) or n < 1 for n in counts):
        raise ValueError(f"iterations must be whole numbers >= 1; got {counts!r}")
    models, reports = {}, {}
    for count in counts:
        label = f"{count} iteration" + ("" if count == 1 else "s")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)
            models[label], reports[label] = prune_copy(model, pruner, compression, data, iterations=count)
    return kept_comparison(models), reports


# --------------------------------------------------------------------------- magnitude: the fan-in effect


def fan_in_table(model: nn.Module) -> pd.DataFrame:
    """Why magnitude pruning at initialization empties the widest-input layer.

    PyTorch's default initialization of ``nn.Linear``/``nn.Conv2d``
    (Kaiming-uniform with ``a = √5``) draws weights from ``U(-b, b)`` with
    ``b = 1/√fan_in``, so the mean ``|θ|`` of a layer is ``b/2``: a 784-input layer
    has weights 2.8 times smaller than a 100-input one.

    Args:
        model: A model of masked layers (read only).

    Returns:
        One row per prunable weight: ``module``, ``fan_in``, ``bound`` (``1/√fan_in``),
        ``expected_mean_abs`` (``bound/2``), ``mean_abs`` (measured over kept weights)
        and ``max_abs``.

    Example:
        >>> net = nn.Sequential(MaskedLinear(400, 10))
        >>> fan_in_table(net).bound.tolist()
        [0.05]
    """
    rows = []
    for p in masked_parameters(model):
        weight = p.param.detach()
        fan_in = weight[0].numel()
        kept = weight[p.mask.bool()].abs()
        bound = 1.0 / math.sqrt(fan_in)
        rows.append(
            {
                "module": p.module_name,
                "fan_in": fan_in,
                "bound": bound,
                "expected_mean_abs": bound / 2,
                "mean_abs": float(kept.mean()) if kept.numel() else 0.0,
                "max_abs": float(kept.max()) if kept.numel() else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["module", "fan_in", "bound", "expected_mean_abs", "mean_abs", "max_abs"])


def pretrain_copy(lesson: Lesson, epochs: int, *, progress: bool = False) -> nn.Module:
    """Trains a deep copy of the lesson's model for ``epochs`` epochs (the seed's ``--pre-epochs``).

    Uses the lesson's optimizer, learning rate, weight decay and training batch
    size; batches are shuffled with a generator seeded by ``config.seed``, so the
    copy is the same on every run (on CPU).

    Args:
        lesson: From :func:`lesson_setup`.
        epochs: Training epochs (0 returns an untrained copy).
        progress: Show a per-batch progress bar.

    Returns:
        The trained copy (the lesson's model is untouched).

    Raises:
        ValueError: If ``epochs`` is negative.

    Example:
        >>> from prunekit.run.presets import preset_config
        >>> lesson = lesson_setup(preset_config("quick", "mag"), device="cpu")  # doctest: +SKIP
        >>> trained = pretrain_copy(lesson, 1)  # doctest: +SKIP
        >>> fan_in_table(trained).mean_abs.iloc[0] > fan_in_table(lesson.model).mean_abs.iloc[0]  # doctest: +SKIP
        True
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0; got {epochs!r}")
    config = lesson.config
    model = copy.deepcopy(lesson.model)
    loader = DeviceLoader(
        lesson.train, config.train_batch_size, shuffle=True, seed=config.seed, limit=config.train_limit
    )
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)
    torch.manual_seed(config.seed)
    for epoch in range(1, epochs + 1):
        train_epoch(model, loader, optimizer, progress=progress, desc=f"pre-training {epoch}/{epochs}")
    model.eval()
    return model


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


# --------------------------------------------------------------------------- paths and Rand's collapse


@torch.no_grad()
def input_output_paths(model: nn.Module) -> float:
    """The number of input-to-output paths through kept weights (0 = disconnected).

    Every prunable weight is replaced by its 0/1 mask, every other parameter by 0
    (batch-norm scales by 1, running statistics by 0 and 1), and an all-ones input
    goes through the network in float64 (eval mode). For a ReLU MLP the summed
    output is exactly the number of paths; for convolutional nets it is a positive
    path count that is 0 exactly when no path is left. A network can be
    disconnected without any single layer being empty.

    Args:
        model: A model of masked layers with ``input_shape``.

    Returns:
        The count, as a float (``inf`` if it overflows float64).

    Raises:
        ValueError: If ``model.input_shape`` is missing.

    Example:
        >>> input_output_paths(tiny_network())
        6.0
    """
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("input_output_paths needs model.input_shape, e.g. (1, 28, 28)")
    mask_of = {p.name: p.mask for p in masked_parameters(model)}
    norms = {name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    state: dict[str, torch.Tensor] = {}
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if not tensor.is_floating_point():
            continue
        module = name.rsplit(".", 1)[0] if "." in name else ""
        if name in mask_of:
            value = mask_of[name]
        elif name.endswith("_mask") or (module in norms and name.endswith(("weight", "running_var"))):
            value = torch.ones_like(tensor)
        else:
            value = torch.zeros_like(tensor)
        state[name] = value.double()
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        output = functional_call(model, state, (torch.ones((1, *shape), dtype=torch.float64, device=device),))
    finally:
        model.train(was_training)
    return float(output.sum())


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


# --------------------------------------------------------------------------- SynFlow: conservation of flow


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
        >>> table = flow_conservation(tiny_network())
        >>> table.flow.round(4).tolist(), table.attrs["R"]
        ([7.625, 7.625], 7.625)
    """
    bias_free = copy.deepcopy(model)
    with torch.no_grad():
        for name, param in bias_free.named_parameters():
            if name.endswith("bias"):
                param.zero_()
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


# --------------------------------------------------------------------------- finished runs


def _post_history(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = result.get("post_history")
    if rows is None:
        raise ValueError(f"a run result needs 'post_history'; this one has {', '.join(sorted(result))}")
    return [dict(row) for row in rows]


def histories(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The post-training history of each run (epoch 0 = right after pruning), for the training-curve plot.

    Args:
        runs: Label → result dict of :func:`prunekit.run.experiment.run_or_load`.

    Returns:
        Label → list of rows with ``epoch``, ``top1``, ``test_loss`` ….

    Raises:
        ValueError: If a result has no post-training history.

    Example:
        >>> histories({"a": {"post_history": [{"epoch": 0, "top1": 10.0}]}})
        {'a': [{'epoch': 0, 'top1': 10.0}]}
    """
    return {label: _post_history(result) for label, result in runs.items()}


def run_table(runs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per finished run: what was pruned, how, and the final test accuracy.

    Args:
        runs: Label → result dict of :func:`prunekit.run.experiment.run_or_load`.

    Returns:
        Columns ``run``, ``pruner``, ``compression``, ``density`` (kept / prunable),
        ``prune_iterations``, ``pre_epochs``, ``post_epochs``, ``collapsed_layers``
        and ``top1`` (final test accuracy, %).

    Raises:
        ValueError: If a result lacks its config or history.

    Example:
        >>> result = {"config": {"pruner": "rand", "compression": 1.0, "pre_epochs": 0, "post_epochs": 1},
        ...           "params": {"kept": 10, "total": 100}, "prune_iterations": 1, "collapsed_layers": [],
        ...           "post_history": [{"epoch": 0, "top1": 10.0}, {"epoch": 1, "top1": 90.0}]}
        >>> run_table({"r": result}).top1.tolist()
        [90.0]
    """
    rows = []
    for label, result in runs.items():
        config = result.get("config")
        if config is None:
            raise ValueError(f"run {label!r} has no 'config'")
        history = _post_history(result)
        params = result.get("params", {})
        rows.append(
            {
                "run": label,
                "pruner": config["pruner"],
                "compression": config["compression"],
                "density": params["kept"] / params["total"] if params.get("total") else float("nan"),
                "prune_iterations": result.get("prune_iterations"),
                "pre_epochs": config["pre_epochs"],
                "post_epochs": config["post_epochs"],
                "collapsed_layers": ", ".join(result.get("collapsed_layers", [])) or "none",
                "top1": history[-1]["top1"] if history else float("nan"),
            }
        )
    return pd.DataFrame(rows)
