"""Synaptic-Flow's four conservation experiments, each a :class:`~prunekit.run.experiments.results.ConservationResult`.

- ``unit-conservation``: for every hidden unit (a neuron, or a channel of a convolution) the
  sum of the scores of its incoming weights (its bias, and the shift of a batch norm right after
  it, included) against the sum of the scores of its outgoing weights. SynFlow conserves them:
  the two agree (neuron-wise conservation; exactly, up to rounding, at initialization).
  One :class:`Curve` per pruner and layer: ``x`` = in-scores, ``y`` = out-scores.
- ``layer-conservation``: each layer's average score against its size. For SynFlow every
  layer's scores add up to the same flow ``R``, so the average falls as 1/size; GraSP's nearly
  so, SNIP's less steeply (layer-wise conservation, the paper's explanation of layer collapse:
  one threshold cuts the largest layers first). One curve per
  pruner (``x`` = sizes, ``y`` = average scores); ``slopes`` holds the log-log slope. With SNIP
  among the pruners, one more curve, ``snip-signed``: SNIP's score before its absolute value,
  θ·∂L/∂θ, which the law conserves exactly (slope −1 with zero biases); SNIP's own slope is
  flatter (about −0.5 on VGG16, −0.7 on the FC net), because the absolute value adds up terms
  of both signs.
- ``imp-conservation``: the dense model trained for ``--post-epochs``, with each layer's average
  squared weight after every epoch. Gradient flow keeps ``‖W_{l+1}‖² − ‖W_l‖²`` constant, so all
  layers gain the same *total*, and large layers the least *per weight*: why magnitude pruning
  after training prunes the large layers most, like a conservation law. One curve per layer
  (``x`` = epochs, ``y`` = mean squared weight), and one ``sizes`` curve.
- ``schedule-conservation``: for each number of pruning rounds in ``--prune-epoch-list``, two
  curves per pruner against compression (``names`` marks points with layer collapse):
  the fraction of the synaptic flow ``R`` that the kept weights still carry (label ``rounds=N``),
  and Synaptic-Flow's own measure, the largest *cut / flow* ratio over the rounds (label
  ``rounds=N`` + :data:`CUT_FLOW`): the SynFlow scores of the weights a round removes, summed,
  over the flow ``R`` of the network that round cuts. With zero biases each layer's weights
  carry all of ``R``, so only a round whose cut reaches ``R`` can remove a whole layer (with
  non-zero biases a smaller cut can); many rounds keep every cut far below ``R``.

Scores are taken at initialization (or after pruning to ``--compression`` when it is above 0);
only SNIP and GraSP read data (``--prune-dataset-ratio`` images per class).

Example:
    >>> from prunekit import create_model
    >>> net = create_model("default", "fc", (1, 28, 28), 10)
    >>> units = unit_scores(net, "synflow")
    >>> name, into, out = units[0]
    >>> name, bool(torch.allclose(into, out, rtol=1e-6))
    ('layers.0', True)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prunekit.core.layers import MaskedParameter, masked_parameters
from prunekit.core.models import create_model
from prunekit.core.models.resnet import Block
from prunekit.core.pruning import LayerCollapseWarning, prune
from prunekit.core.scorers import resolve
from prunekit.core.scorers.base import Batches, batches_on
from prunekit.core.scorers.synflow import synaptic_flow, synflow_scores
from prunekit.run.config import ExperimentConfig
from prunekit.run.data import dataset_spec
from prunekit.run.device import select_device
from prunekit.run.experiments.common import claim_folder, finish_replacing, now, prepare
from prunekit.run.experiments.results import ConservationResult, Curve
from prunekit.run.run_folder import run_lock
from prunekit.run.training import make_optimizer, make_scheduler, seed_everything, train_epoch

__all__ = ["CONSERVATION_EXPERIMENTS", "SIGNED_SALIENCY", "layer_average_scores", "loglog_slope", "run_conservation",
           "signed_layer_saliency", "unit_scores"]

CONSERVATION_EXPERIMENTS = ("unit-conservation", "layer-conservation", "imp-conservation", "schedule-conservation")

_WEIGHTED = (nn.Linear, nn.Conv2d)

CUT_FLOW = " max cut/flow"
"""The label suffix of schedule-conservation's cut / flow curves (Synaptic-Flow's measure)."""

SIGNED_SALIENCY = "snip-signed"
"""The layer-conservation curve of SNIP's score before its absolute value, θ·∂L/∂θ: the quantity the law conserves."""


def _scores(model: nn.Module, pruner: str, params: list[MaskedParameter], data: Batches | None,
            dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    scorer = resolve(pruner)
    if scorer.name == "synflow":
        scores = synflow_scores(model, params, dtype=dtype)
    else:
        scores = scorer(model, params, data, None)
    return {p.name: score.detach() for p, score in zip(params, scores)}


def unit_scores(model: nn.Module, pruner: str, data: Batches | None = None,
                dtype: torch.dtype | None = torch.float64) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """In-score and out-score of every hidden unit, layer by layer (a chain of linear and conv layers).

    The in-score of unit ``j`` of layer ``l`` is the sum of the scores of its incoming weights, its
    bias and, when a batch norm follows, that norm's shift; its out-score is the sum of the scores
    of the weights of layer ``l + 1`` that leave it (for a convolution followed by a linear layer,
    every position of the channel).

    Args:
        model: A model of masked layers in a chain (FC, Conv, VGG; not ResNet's skips).
        pruner: A registered pruner name.
        data: The batches SNIP and GraSP score with.
        dtype: SynFlow's dtype (float64 by default, to check conservation); None = its default.

    Returns:
        ``(layer name, in-scores, out-scores)`` for every layer but the last, each one value per unit.

    Raises:
        ValueError: For an unknown pruner, missing data for a data-driven one, or a model with skip
            connections (a ResNet: a unit's flow also leaves through the shortcut, so in- and out-scores of
            the chain of layers need not agree).
    """
    if any(isinstance(module, Block) for module in model.modules()):
        raise ValueError("unit conservation compares a unit's incoming and outgoing weights along a chain of layers; "
                         f"{type(model).__name__} has skip connections (residual blocks), whose flow bypasses the "
                         "chain: use fc, conv or a vgg model")
    params = list(masked_parameters(model, bias=True, batchnorm=True))
    scores = _scores(model, pruner, params, data, dtype)
    modules = list(model.named_modules())
    chain = [(index, name, module) for index, (name, module) in enumerate(modules) if isinstance(module, _WEIGHTED)]
    units = []
    for (index, name, module), (next_index, next_name, following) in zip(chain, chain[1:]):
        weight = scores[f"{name}.weight"]
        into = weight.sum(dim=tuple(range(1, weight.dim())))
        if f"{name}.bias" in scores:
            into = into + scores[f"{name}.bias"]
        for norm_name, norm in modules[index + 1: next_index]:
            if isinstance(norm, nn.modules.batchnorm._BatchNorm) and f"{norm_name}.bias" in scores:
                into = into + scores[f"{norm_name}.bias"]
        outgoing = scores[f"{next_name}.weight"]
        out = outgoing.sum(dim=0)
        out = out.reshape(into.numel(), -1).sum(dim=1)  # a conv's input channel, or a linear's input block
        units.append((name, into, out))
    return units


def layer_average_scores(model: nn.Module, pruner: str, data: Batches | None = None) -> list[tuple[str, int, float]]:
    """Each prunable weight layer's size and average score (over its kept weights).

    Example:
        >>> from prunekit import create_model
        >>> rows = layer_average_scores(create_model("default", "fc", (1, 28, 28), 10), "synflow")
        >>> [size for _, size, _ in rows]
        [78400, 10000, 10000, 10000, 10000, 1000]
    """
    params = list(masked_parameters(model))
    scores = _scores(model, pruner, params, data, None)
    rows = []
    for p in params:
        kept = p.mask.bool()
        rows.append((p.module_name, int(kept.sum()), float(scores[p.name][kept].double().mean())))
    return rows


def signed_layer_saliency(model: nn.Module, data: Batches) -> list[tuple[str, int, float]]:
    """Each prunable weight layer's size and the magnitude of its average *signed* saliency θ·∂L/∂θ.

    SNIP's score is the absolute value of this product, summed over the batches. The conservation
    law holds for the signed product: in a network of ReLUs (and max-pools) with zero biases, every
    layer's sum is the same, so the average falls exactly as 1/size. Its terms have both signs, and
    SNIP's absolute value adds them up instead of letting them cancel, which flattens the slope.

    Args:
        model: A model of masked layers.
        data: The batches (SNIP's).

    Returns:
        ``(module name, kept weights, |mean of θ·∂L/∂θ over the kept weights|)`` per layer.

    Raises:
        ValueError: If ``data`` yields no batch.
    """
    params = list(masked_parameters(model))
    totals = [torch.zeros_like(p.param) for p in params]
    batches = 0
    for inputs, targets in batches_on(data, params[0].param.device):
        loss = F.cross_entropy(model(inputs), targets)
        for total, grad, p in zip(totals, torch.autograd.grad(loss, [p.param for p in params]), params):
            total.add_(grad * p.param.detach())
        batches += 1
    if not batches:
        raise ValueError("signed_layer_saliency needs at least one batch of data; got none")
    rows = []
    for p, total in zip(params, totals):
        kept = p.mask.bool()
        rows.append((p.module_name, int(kept.sum()), abs(float(total[kept].double().mean()))))
    return rows


def loglog_slope(sizes: list[float], values: list[float]) -> float:
    """The least-squares slope of ``log10(values)`` against ``log10(sizes)``.

    Example:
        >>> loglog_slope([10, 100, 1000], [1.0, 0.1, 0.01])
        -1.0
    """
    slope = float(np.polyfit(np.log10(np.asarray(sizes, float)), np.log10(np.asarray(values, float)), 1)[0])
    return round(slope, 12)


def _model(config: ExperimentConfig, needs_data: bool, allow_fallback: bool) -> tuple[nn.Module, Batches | None, str, Any]:
    if needs_data:
        setup = prepare(config, allow_fallback)
        return setup.model, setup.prune_data, setup.origin, setup
    device = select_device(config.device)
    seed_everything(config.seed)
    spec = dataset_spec(config.dataset)
    torch.manual_seed(config.seed)  # as prunekit.run.experiment.seeded_model: the same initialization
    model = create_model(config.model_class, config.model, spec.input_shape, spec.num_classes,
                         dense_classifier=config.dense_classifier, device=device)
    return model, None, "none", None


def _prune_to(model: nn.Module, config: ExperimentConfig, pruner: str, compression: float, data: Batches | None,
              rounds: int | None = None, before_selection: Callable[[int, list[torch.Tensor]], None] | None = None,
              ) -> tuple[str, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayerCollapseWarning)
        report = prune(model, pruner, compression, data, scope=config.scope,
                       rounds=config.rounds if rounds is None else rounds, schedule=config.schedule,
                       prune_bias=config.prune_bias, prune_batchnorm=config.prune_batchnorm,
                       train_mode=config.prune_train_mode, invert=config.invert, before_selection=before_selection)
    return report.collapsed_layers


def _reset(model: nn.Module, initial: dict[str, torch.Tensor]) -> None:
    model.load_state_dict(initial)


def _unit(config, model, data, pruners, initial) -> tuple[list[Curve], dict[str, float]]:
    curves = []
    for pruner in pruners:
        _reset(model, initial)
        if config.compression > 0:
            _prune_to(model, config, pruner, config.compression, data)
        for name, into, out in unit_scores(model, pruner, data):
            curves.append(Curve(pruner, name, tuple(into.double().tolist()), tuple(out.double().tolist())))
    return curves, {}


def _layer(config, model, data, pruners, initial) -> tuple[list[Curve], dict[str, float]]:
    curves, slopes = [], {}
    for pruner in pruners:
        _reset(model, initial)
        if config.compression > 0:
            _prune_to(model, config, pruner, config.compression, data)
        rows = layer_average_scores(model, pruner, data)
        names, sizes, averages = zip(*rows)
        curves.append(Curve(pruner, "layers", tuple(float(s) for s in sizes), averages, names))
        usable = [(s, a) for s, a in zip(sizes, averages) if a > 0]
        slopes[pruner] = loglog_slope(*zip(*usable)) if len(usable) > 1 else float("nan")
    if "snip" in pruners and data is not None:  # the law's own quantity, beside SNIP's absolute value of it
        _reset(model, initial)
        if config.compression > 0:
            _prune_to(model, config, "snip", config.compression, data)
        names, sizes, averages = zip(*signed_layer_saliency(model, data))
        curves.append(Curve(SIGNED_SALIENCY, "layers", tuple(float(s) for s in sizes), averages, names))
        slopes[SIGNED_SALIENCY] = loglog_slope(sizes, averages)
    return curves, slopes


def _imp(config, model, data, pruners, initial, setup) -> tuple[list[Curve], dict[str, float]]:
    params = list(masked_parameters(model))
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)
    scheduler = make_scheduler(optimizer, config.lr_drops, config.lr_drop_rate)
    means = [[float(p.param.detach().double().pow(2).mean())] for p in params]
    for _ in range(config.post_epochs):
        train_epoch(model, setup.train_loader, optimizer)
        scheduler.step()
        for row, p in zip(means, params):
            row.append(float(p.param.detach().double().pow(2).mean()))
    epochs = tuple(float(e) for e in range(config.post_epochs + 1))
    curves = [Curve("dense", p.module_name, epochs, tuple(row)) for p, row in zip(params, means)]
    curves.append(Curve("dense", "sizes", tuple(float(i) for i in range(len(params))),
                        tuple(float(p.param.numel()) for p in params), tuple(p.module_name for p in params)))
    return curves, {}


class _CutMeter:
    """Synaptic-Flow's cut / flow ratio of each pruning round, observed through ``prune``'s ``before_selection``.

    Before a round changes the masks it notes the network's flow ``R``, the SynFlow scores of its
    weights (the round's own scores when the pruner is SynFlow) and the masks; the round's cut is
    the sum of the noted scores of the weights alive then and pruned after it.
    """

    def __init__(self, model: nn.Module, params: list[MaskedParameter], synflow: bool) -> None:
        self.model, self.params, self.synflow = model, params, synflow
        self.ratios: list[float] = []
        self._noted: tuple[list[torch.Tensor], list[torch.Tensor], float] | None = None

    def _close(self) -> None:
        if self._noted is not None:
            scores, before, flow = self._noted
            cut = sum(float(score.double()[alive & ~p.mask.bool()].sum()) for score, alive, p in
                      zip(scores, before, self.params))
            self.ratios.append(cut / flow if flow > 0 else math.inf)
            self._noted = None

    def __call__(self, step: int, scores: list[torch.Tensor]) -> None:
        self._close()
        own = scores if self.synflow else synflow_scores(self.model, self.params, dtype=torch.float64)
        self._noted = ([score.detach().clone() for score in own], [p.mask.bool().clone() for p in self.params],
                       synaptic_flow(self.model, self.params))

    def largest(self) -> float:
        """The largest ratio over the rounds (call once pruning has ended)."""
        self._close()
        return max(self.ratios)


def _schedule(config, model, data, pruners, initial) -> tuple[list[Curve], dict[str, float]]:
    params = list(masked_parameters(model))
    dense = synaptic_flow(model, params)
    compressions = config.compression_list or (config.compression,)
    curves = []
    for pruner in pruners:
        for rounds in config.prune_epoch_list or (config.rounds or resolve(pruner).default_rounds,):
            kept, cuts, collapse = [], [], []
            for compression in compressions:
                _reset(model, initial)
                meter = _CutMeter(model, params, resolve(pruner).name == "synflow")
                collapsed = _prune_to(model, config, pruner, compression, data, rounds, meter)
                kept.append(synaptic_flow(model, params) / dense)
                cuts.append(meter.largest())
                collapse.append("collapse" if collapsed else "")
            x = tuple(float(c) for c in compressions)
            curves.append(Curve(pruner, f"rounds={rounds}", x, tuple(kept), tuple(collapse)))
            curves.append(Curve(pruner, f"rounds={rounds}{CUT_FLOW}", x, tuple(cuts), tuple(collapse)))
    return curves, {}


_RUNNERS: dict[str, Callable[..., tuple[list[Curve], dict[str, float]]]] = {
    "unit-conservation": _unit, "layer-conservation": _layer, "schedule-conservation": _schedule,
}


def run_conservation(config: ExperimentConfig, *, progress: bool = True, overwrite: bool = False,
                     allow_fallback: bool = False) -> ConservationResult:
    """Runs one conservation experiment (``config.experiment``) and writes its ``experiment.json``.

    The pruners are ``--pruner-list`` (default: ``--pruner``). Only ``imp-conservation`` (which
    trains) and SNIP or GraSP (which score with data) read data.

    Args:
        config: The run.
        progress: Print one line when done.
        overwrite: Replace a finished run in the folder (kept until this one has finished).
        allow_fallback: Use the labelled MNIST stand-in when CIFAR-10 is missing.

    Returns:
        The :class:`ConservationResult`.

    Raises:
        ValueError: If ``config.experiment`` is not a conservation experiment (the message lists them).
        RunExistsError: If the folder holds a finished run (without ``overwrite``) or another configuration.

    Example:
        >>> config = ExperimentConfig(experiment="layer-conservation", pruner_list=("synflow",))
        >>> run_conservation(config.replace(result_dir="/tmp/pk-doc"), overwrite=True).slopes["synflow"]  # doctest: +SKIP
        -1.0
    """
    if config.experiment not in CONSERVATION_EXPERIMENTS:
        raise ValueError(f"unknown conservation experiment {config.experiment!r}; valid: "
                         f"{', '.join(CONSERVATION_EXPERIMENTS)}")
    config.validate()
    if config.experiment == "unit-conservation" and config.model.startswith("resnet"):
        raise ValueError(f"unit-conservation needs a chain of layers; {config.model!r} has skip connections: "
                         "use fc, conv or a vgg model")
    started = now()
    folder, _ = claim_folder(config, overwrite)
    pruners = config.pruner_list or (config.pruner,)
    imp = config.experiment == "imp-conservation"
    needs_data = imp or any(resolve(p).needs_data for p in pruners)
    with run_lock(folder):
        model, data, origin, setup = _model(config, needs_data, allow_fallback)
        initial = {key: value.detach().clone() for key, value in model.state_dict().items()}
        if imp:
            curves, slopes = _imp(config, model, data, pruners, initial, setup)
        else:
            curves, slopes = _RUNNERS[config.experiment](config, model, data, pruners, initial)
        result = ConservationResult(config, config.experiment, tuple(curves), slopes, origin, "complete", started, now())
        folder.mkdir(parents=True, exist_ok=True)
        path = result.save(folder)
        finish_replacing(folder)
    if progress:
        print(f"saved {path}", flush=True)
    return result
