"""What pruning buys at inference (notebook 09 and ``benchmarks/bench_inference.py``).

Each function measures one table: masked dense against CSR layers over densities (and where they
cross), structured pruning's compact networks (channels, FLOPs, time, outputs against the masked
model), accuracy against the fraction of neurons kept, model size on disk, and the report's table
1.2.2 redone with spreads. Times come from :func:`prunekit.run.timing.time_alternating` (warm-up,
fixed threads, the compared calls alternated, median and IQR) and every time column has its IQR beside it.

Example:
    >>> table = layer_speed([(20, 30)], [0.1], batch=8, repeats=3, warmup=1)
    >>> list(table.columns[:3]), bool(table.max_abs_diff.iloc[0] < 1e-5)
    (['layer', 'density', 'kept'], True)
"""

from __future__ import annotations

import copy
import io
import math

import numpy as np
import pandas as pd
import torch
from torch import nn

from prunekit.core.export import to_dense
from prunekit.core.layers import MaskedLinear, set_mask_
from prunekit.core.metrics import layer_table
from prunekit.core.models.registry import create_model
from prunekit.core.pruning import prune
from prunekit.core.sparse import SparseLinear, sparse_state_dict, to_sparse
from prunekit.core.structured import compact_model, prune_channels
from prunekit.run.data import DeviceDataset, DeviceLoader
from prunekit.run.timing import compare, time_alternating
from prunekit.run.training import evaluate, make_optimizer, train_epoch

__all__ = [
    "DENSITIES",
    "LAYER_SIZES",
    "compact_summary",
    "crossovers",
    "disk_sizes",
    "keep_accuracy",
    "layer_speed",
    "plot_layer_speed",
    "plot_structured",
    "structured_speed",
    "report_test_time",
]

DENSITIES = tuple(float(10 ** -e) for e in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0))
"""The densities 10^-0.5 … 10^-3 of the layer measurements."""

LAYER_SIZES = ((100, 784), (1024, 1024), (4096, 4096))
"""(out, in) of the three layers: the MNIST FC's first layer, a middle and a large one."""


def _label(out_features: int, in_features: int) -> str:
    return f"{in_features}×{out_features}"


def _exact_mask(shape: tuple[int, int], density: float, generator: torch.Generator) -> torch.Tensor:
    total = shape[0] * shape[1]
    kept = max(1, round(density * total))
    mask = torch.zeros(total)
    mask[torch.randperm(total, generator=generator)[:kept]] = 1
    return mask.reshape(shape)


def layer_speed(
    sizes=LAYER_SIZES,
    densities=DENSITIES,
    batch: int = 1000,
    repeats: int = 20,
    warmup: int = 3,
    threads: int = 1,
    seed: int = 0,
    large_repeats: int | None = None,
) -> pd.DataFrame:
    """Masked dense against CSR: one linear layer per size and density, on ``batch`` inputs.

    The masked layer is prunekit's :class:`~prunekit.core.layers.MaskedLinear` (``weight * mask``,
    then a dense product); the sparse one is :class:`~prunekit.core.sparse.SparseLinear` built from
    it. Both are timed on the same input; their outputs are compared.

    Args:
        sizes: ``(out, in)`` of each layer.
        densities: Fractions of weights kept (exactly ``round(density × N)``, at random).
        batch: Inputs per product (the columns the sparse matrix multiplies).
        repeats: Timed calls each.
        warmup: Untimed calls first.
        threads: Torch threads.
        seed: Seeds the weights, masks and inputs.
        large_repeats: Repeats for layers of more than 4 M weights (None: ``repeats``).

    Returns:
        One row per layer and density: times (median, IQR) of both, the speed-up, whether it is
        resolved from the spread, the verdict and the largest output difference.
    """
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for out_features, in_features in sizes:
        torch.manual_seed(seed)
        layer = MaskedLinear(in_features, out_features)
        inputs = torch.randn(batch, in_features, generator=generator)
        count = repeats if large_repeats is None or out_features * in_features <= 4_000_000 else large_repeats
        for density in densities:
            set_mask_(layer, "weight", _exact_mask((out_features, in_features), density, generator))
            sparse = SparseLinear.from_dense(to_dense(layer))
            with torch.inference_mode():
                difference = float((layer(inputs) - sparse(inputs)).abs().max())
                stats = time_alternating({"masked": lambda: layer(inputs), "csr": lambda: sparse(inputs)},
                                         count, warmup if count == repeats else 1, threads)
            masked, csr = stats["masked"], stats["csr"]
            verdict = compare(masked, csr)
            rows.append({
                "layer": _label(out_features, in_features), "density": density,
                "kept": int(layer.weight_mask.sum()),
                "masked_ms": masked.median_s * 1e3, "masked_iqr_ms": masked.iqr_s * 1e3,
                "sparse_ms": csr.median_s * 1e3, "sparse_iqr_ms": csr.iqr_s * 1e3,
                "speedup": verdict.speedup, "resolved": verdict.resolved, "verdict": str(verdict),
                "repeats": count, "threads": threads, "max_abs_diff": difference,
            })
    return pd.DataFrame(rows)


def crossovers(table: pd.DataFrame) -> pd.DataFrame:
    """Where CSR becomes faster than masked dense, per layer, from the measurements that stand out of their spread.

    Only resolved comparisons count (``resolved``: the two IQRs do not overlap; a table without that
    column counts every row). Between the lowest density where CSR was measurably slower and the highest
    where it was measurably faster: when the two are neighbours on the grid, the crossover is interpolated
    (log density against log speed-up); when densities within the spread lie between them, no number is
    given, only the interval.

    Args:
        table: :func:`layer_speed`'s table.

    Returns:
        One row per layer: ``crossover`` (NaN when not resolved to one number), ``low`` and ``high``
        (the interval it lies in, NaN when open) and ``note`` saying which case it is.

    Example:
        >>> table = pd.DataFrame({"layer": ["a", "a"], "density": [0.1, 0.01], "speedup": [0.5, 2.0]})
        >>> round(float(crossovers(table).crossover.iloc[0]), 4)
        0.0316
    """
    rows = []
    for layer, group in table.groupby("layer", sort=False):
        group = group.sort_values("density", ascending=False).reset_index(drop=True)
        resolved = group["resolved"] if "resolved" in group else pd.Series(True, index=group.index)
        slower = group.index[resolved & (group.speedup < 1)]
        faster = group.index[resolved & (group.speedup > 1)]
        crossover, low, high = math.nan, math.nan, math.nan
        if len(faster) == 0:
            note = f"CSR never measurably faster (densities {group.density.iloc[0]:.3g} to {group.density.iloc[-1]:.3g})"
        elif len(slower) == 0:
            high = float(group.density.iloc[faster[0]])
            note = f"CSR never measurably slower; measurably faster from density {high:.3g} down"
        elif slower.max() > faster.min():
            note = "CSR measurably faster at a higher density than one where it is measurably slower: no single crossover"
        else:
            i, j = int(slower.max()), int(faster.min())
            high, low = float(group.density[i]), float(group.density[j])
            if j == i + 1:
                a, b = np.log10(high), np.log10(low)
                s_a, s_b = np.log(group.speedup[i]), np.log(group.speedup[j])
                crossover = float(10 ** (a + (0 - s_a) * (b - a) / (s_b - s_a)))
                note = f"CSR faster below density {crossover:.3g}"
            else:
                note = (f"between densities {low:.3g} and {high:.3g} (CSR measurably faster below, slower above; "
                        f"the densities between are within the spread)")
        rows.append({"layer": layer, "crossover": crossover, "low": low, "high": high, "note": note})
    return pd.DataFrame(rows)


def _flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    table = layer_table(model, input_shape)
    return int(table.flops_remaining.sum())


def structured_speed(
    model_class: str,
    name: str,
    input_shape: tuple[int, ...],
    keeps=(1.0, 0.5, 0.25),
    batch: int = 256,
    repeats: int = 10,
    warmup: int = 2,
    threads: int = 1,
    method: str = "l1",
    seed: int = 0,
    num_classes: int = 10,
) -> pd.DataFrame:
    """Dense, masked-structured and compact networks: channels, parameters, FLOPs, time, outputs.

    For each fraction in ``keeps`` a copy of the same seeded model loses all but that fraction of
    each hidden layer's channels (:func:`~prunekit.core.structured.prune_channels`), is timed as the
    masked model (same size as the dense one) and rebuilt with
    :func:`~prunekit.core.structured.compact_model`, which is timed as well. The dense model is the
    masked one with nothing removed, exported to plain layers.

    Args:
        model_class: ``"default"`` or ``"lottery"``.
        name: The model, e.g. ``"fc"`` or ``"vgg16"``.
        input_shape: One input's shape.
        keeps: Fractions of channels kept, in (0, 1].
        batch: Inputs per timed forward.
        repeats: Timed forwards each.
        warmup: Untimed ones first.
        threads: Torch threads.
        method: The channel score (see :func:`~prunekit.core.structured.channel_scores`).
        seed: Seeds the model and the inputs.
        num_classes: Outputs.

    Returns:
        One row per fraction kept.
    """
    torch.manual_seed(seed)
    base = create_model(model_class, name, input_shape, num_classes)
    dense = to_dense(base).eval()
    inputs = torch.randn(batch, *input_shape, generator=torch.Generator().manual_seed(seed))
    dense_flops = _flops(dense, input_shape)
    rows = []
    for keep in keeps:
        masked = copy.deepcopy(base)
        kept = prune_channels(masked, keep, method) if keep < 1 else {}
        masked.eval()
        small = compact_model(masked)
        with torch.inference_mode():
            difference = float((small(inputs) - masked(inputs)).abs().max())
            stats = time_alternating({"dense": lambda: dense(inputs), "masked": lambda: masked(inputs),
                                      "compact": lambda: small(inputs)}, repeats, warmup, threads)
        dense_time, masked_time, compact_time = stats["dense"], stats["masked"], stats["compact"]
        verdict = compare(dense_time, compact_time)
        flops = _flops(small, input_shape)
        rows.append({
            "keep": keep, "channels": sum(kept.values()) if kept else None,
            "params": sum(p.numel() for p in small.parameters()), "flops": flops, "flop_ratio": flops / dense_flops,
            "dense_ms": dense_time.median_s * 1e3, "dense_iqr_ms": dense_time.iqr_s * 1e3,
            "masked_ms": masked_time.median_s * 1e3, "masked_iqr_ms": masked_time.iqr_s * 1e3,
            "compact_ms": compact_time.median_s * 1e3, "compact_iqr_ms": compact_time.iqr_s * 1e3,
            "speedup": verdict.speedup, "resolved": verdict.resolved, "verdict": str(verdict),
            "masked_verdict": str(compare(dense_time, masked_time)), "max_abs_diff": difference,
            "batch": batch, "threads": threads,
        })
    return pd.DataFrame(rows)


def keep_accuracy(
    model_class: str,
    name: str,
    train: DeviceDataset,
    test: DeviceDataset,
    keeps=(1.0, 0.5, 0.25, 0.1),
    methods=("l1",),
    epochs: int = 1,
    train_limit: int | None = None,
    test_limit: int | None = None,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    prune_batches: int = 1,
) -> pd.DataFrame:
    """Top-1 accuracy against the fraction of channels kept: pruned at initialization, then trained.

    Each model is the same seeded initialization; channels are removed by ``method`` before training
    and the compact network is trained (training it is training the masked one: the removed channels
    output zero and get no gradient). Adam, ``epochs`` passes over ``train_limit`` images.

    Args:
        model_class: ``"default"`` or ``"lottery"``.
        name: The model.
        train: Training split.
        test: Test split.
        keeps: Fractions of channels kept.
        methods: Channel scores to compare (``"l1"`` or pruner names); 1.0 is trained once.
        epochs: Training passes.
        train_limit: Training images (None: all).
        test_limit: Test images (None: all).
        batch_size: Training batch size.
        lr: Adam's learning rate.
        seed: Seeds model, batches and pruning data.
        prune_batches: Batches of ``batch_size`` training images given to data-driven scorers.

    Returns:
        One row per method and fraction: ``method``, ``keep``, ``params``, ``flops``, ``top1``.
    """
    shape = tuple(train.spec.input_shape)
    test_loader = DeviceLoader(test, batch_size=1000, limit=test_limit)
    rows = []
    for method in methods:
        for keep in keeps:
            if keep >= 1 and any(r["keep"] >= 1 for r in rows):
                continue
            torch.manual_seed(seed)
            model = create_model(model_class, name, shape, train.spec.num_classes).to(train.device)
            if keep < 1:
                data = list(DeviceLoader(train, batch_size, shuffle=True, seed=seed, limit=batch_size * prune_batches))
                prune_channels(model, keep, method, data=data)
            small = compact_model(model)
            optimizer = make_optimizer("adam", small.parameters(), lr=lr)
            loader = DeviceLoader(train, batch_size, shuffle=True, seed=seed, limit=train_limit)
            for _ in range(epochs):
                train_epoch(small, loader, optimizer)
            result = evaluate(small, test_loader)
            rows.append({"method": method if keep < 1 else "dense", "keep": keep,
                         "params": sum(p.numel() for p in small.parameters()),
                         "flops": _flops(small, shape), "top1": result["top1"]})
    return pd.DataFrame(rows)


def _saved_bytes(obj) -> int:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getbuffer().nbytes


def disk_sizes(model: nn.Module) -> dict[str, int]:
    """Bytes ``torch.save`` writes for one pruned model stored four ways.

    Args:
        model: A pruned model of prunekit's masked layers.

    Returns:
        ``{"dense", "masked", "sparse", "compact"}``: the plain weights with zeros; the masked
        ``state_dict`` (weights and masks); :func:`~prunekit.core.sparse.sparse_state_dict`; and
        :func:`~prunekit.core.structured.compact_model`'s ``state_dict``.
    """
    return {
        "dense": _saved_bytes(to_dense(model).state_dict()),
        "masked": _saved_bytes(model.state_dict()),
        "sparse": _saved_bytes(sparse_state_dict(model)),
        "compact": _saved_bytes(compact_model(model).state_dict()),
    }


def report_test_time(
    model_class: str,
    name: str,
    test: DeviceDataset,
    compressions=(0.0, 1.0, 2.0, 3.0),
    pruner: str = "rand",
    repeats: int = 10,
    threads: int = 1,
    test_limit: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The report's table 1.2.2 redone: test-set passes of masked, CSR and compact models per compression.

    Each compression prunes a copy of the same seeded model (unstructured, ``pruner``, at
    initialization); one pass is the whole test set in batches of 1,000. All the passes are timed in
    alternation (:func:`~prunekit.run.timing.time_alternating`), so a change of the machine's load is
    shared by every cell of the table. Every time has its IQR; ``verdict`` compares each model with the
    first compression's masked one and says when the spread is larger than the effect.

    Args:
        model_class: ``"default"`` or ``"lottery"``.
        name: The model.
        test: The test split.
        compressions: Compression exponents ``a`` (density 10^-a; 0 = unpruned).
        pruner: The pruner.
        repeats: Timed passes.
        threads: Torch threads.
        test_limit: Test images (None: all).
        seed: Seeds the model.

    Returns:
        One row per compression and storage (``masked``, ``sparse``, ``compact``).
    """
    shape = tuple(test.spec.input_shape)
    loader = list(DeviceLoader(test, batch_size=1000, limit=test_limit))
    models = {}
    for compression in compressions:
        torch.manual_seed(seed)
        model = create_model(model_class, name, shape, test.spec.num_classes).to(test.device).eval()
        if compression > 0:
            prune(model, pruner, compression=compression, data=loader[:1])
        for storage, runnable in (("masked", model), ("sparse", to_sparse(model)), ("compact", compact_model(model))):
            models[(compression, storage)] = runnable

    def one_pass(runnable: nn.Module) -> None:
        for inputs, _ in loader:
            runnable(inputs)

    with torch.inference_mode():
        stats = time_alternating({key: (lambda m=m: one_pass(m)) for key, m in models.items()}, repeats, 1, threads,
                                 test.device)
    baseline = stats[(compressions[0], "masked")]
    rows = []
    for (compression, storage), timing in stats.items():
        rows.append({"compression": compression, "density": 10 ** -compression, "storage": storage,
                     "median_ms": timing.median_s * 1e3, "iqr_ms": timing.iqr_s * 1e3,
                     "verdict": str(compare(baseline, timing)), "threads": threads})
    return pd.DataFrame(rows)


def compact_summary(name: str = "vgg16", keep: float = 0.5, method: str = "l1", seed: int = 0) -> pd.DataFrame:
    """Per hidden layer of a model at initialization: channels, weights and FLOPs before and after compaction.

    No timing and no data (``method`` must need none), so the table is the same on every machine.

    Args:
        name: ``"fc"``, ``"conv"`` or a VGG (``"vgg16"`` …).
        keep: Fraction of each hidden layer's channels kept.
        method: The channel score.
        seed: Seeds the model.

    Returns:
        One row per linear/conv layer (and a ``total`` row): ``channels``, ``kept``, ``weights``,
        ``weights kept``, ``FLOPs``, ``FLOPs kept``.

    Example:
        >>> int(compact_summary("fc", 0.5).loc["total", "weights kept"])
        49700
    """
    model_class, shape = ("default", (1, 28, 28)) if name in ("fc", "conv") else ("lottery", (3, 32, 32))
    torch.manual_seed(seed)
    model = create_model(model_class, name, shape, 10)
    dense = layer_table(to_dense(model), shape)
    prune_channels(model, keep, method)
    small = layer_table(compact_model(model), shape)
    dense, small = dense[dense.param == "weight"], small[small.param == "weight"]
    frame = pd.DataFrame({
        "channels": [s[0] for s in dense["shape"]], "kept": [s[0] for s in small["shape"]],
        "weights": dense["size"].to_numpy(), "weights kept": small["size"].to_numpy(),
        "FLOPs": dense["flops"].to_numpy(), "FLOPs kept": small["flops"].to_numpy(),
    }, index=dense["module"].to_numpy())
    frame.loc["total"] = frame.sum()
    return frame


def plot_layer_speed(table: pd.DataFrame, title: str = ""):
    """Time against density per layer size: masked dense and CSR, medians with IQR bars (log-log).

    Args:
        table: :func:`layer_speed`'s table.
        title: The figure title.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 - plotting only when asked

    layers = list(dict.fromkeys(table.layer))
    fig, axes = plt.subplots(1, len(layers), figsize=(4.2 * len(layers), 3.6), squeeze=False)
    for ax, layer in zip(axes[0], layers):
        rows = table[table.layer == layer]
        for kind, style in (("masked", "o-"), ("sparse", "s--")):
            ax.errorbar(rows.density, rows[f"{kind}_ms"], yerr=rows[f"{kind}_iqr_ms"] / 2, fmt=style, capsize=3,
                        label="masked dense" if kind == "masked" else "CSR")
        ax.set(xscale="log", yscale="log", xlabel="density (fraction kept)", ylabel="ms per product", title=layer)
        ax.invert_xaxis()
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_structured(speed: dict[str, pd.DataFrame], accuracy: dict[str, pd.DataFrame], title: str = ""):
    """Against the fraction of channels kept: the compact model's speed-up and FLOP ratio, and top-1 accuracy.

    Args:
        speed: Model label → :func:`structured_speed`'s table.
        accuracy: Model label → :func:`keep_accuracy`'s table (rows of method ``l1`` and ``dense``).
        title: The figure title.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 - plotting only when asked

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, frame in speed.items():
        left.plot(frame.keep, frame.speedup, "o-", label=f"{label}: measured speed-up")
        left.plot(frame.keep, 1 / frame.flop_ratio, "x:", label=f"{label}: 1 / FLOP ratio")
    left.set(xlabel="fraction of channels kept", ylabel="× faster than dense", yscale="log")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    for label, frame in accuracy.items():
        rows = frame[frame.method.isin(["l1", "dense"])].sort_values("keep")
        right.plot(rows.keep, rows.top1, "o-", label=label)
    right.set(xlabel="fraction of channels kept", ylabel="top-1 accuracy (%)")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
