"""The reference set's CSV text: per-run rows and mean ± std summaries, deterministic to the byte.

Numbers are written with fixed decimals (accuracies 2 in the rows and 3 in the summaries, densities
and FLOP ratios 6), booleans as ``true``/``false``, a missing value as an empty cell; rows come in
the order of the settings, compressions and seeds. Nothing here depends on the clock.

Example:
    >>> mean_std([1.0, 2.0, 3.0])
    (2.0, 1.0)
    >>> mean_std([5.0])
    (5.0, None)
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from prunekit.core.scorers import SCORERS
from prunekit.run.reference_parts import ROW_SETTINGS, SWEEP_SETTINGS, VGG_LAYER_COMPRESSION, VGG_SETTINGS, Scale
from prunekit.run.result import RunResult

__all__ = ["PartFiles", "csv_text", "grouped", "mean_std", "mnist_files", "runs_and_summary", "settings_meta",
           "vgg_files"]

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True)
class PartFiles:
    """A part's files before they are written.

    Attributes:
        csvs: File name → (one-line description, CSV text without the ``#`` header).
        meta: Extra entries of the part's ``metadata.json`` (settings, compressions, data).
    """

    csvs: dict[str, tuple[str, str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def grouped(items: Iterable[T], key: Callable[[T], K]) -> dict[K, list[T]]:
    """The items under each key, keys in order of first appearance and items in their order.

    Example:
        >>> grouped(["ab", "ac", "b"], lambda word: word[0])
        {'a': ['ab', 'ac'], 'b': ['b']}
    """
    groups: dict[K, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value).

    Raises:
        ValueError: If ``values`` is empty.
    """
    if not values:
        raise ValueError("mean_std needs at least one value; got none")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]], digits: Sequence[int] | None = None) -> str:
    """CSV text with a header line; floats get ``digits[i]`` decimals (default 6).

    Example:
        >>> print(csv_text(["a", "b"], [[0.5, True]], [2, 0]), end="")
        a,b
        0.50,true
    """
    places = list(digits) if digits is not None else [6] * len(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(value, places[i]) for i, value in enumerate(row)])
    return buffer.getvalue()


def runs_and_summary(what: str, runs: str, summary: str) -> dict[str, tuple[str, str]]:
    """A training part's ``runs.csv`` and ``summary.csv``: file name → (description, CSV text)."""
    return {"runs.csv": (f"{what}; one row per run (top1/top5: final test accuracy, %)", runs),
            "summary.csv": (f"{what}; mean and sample std over seeds per setting and compression", summary)}


def settings_meta(settings: Sequence[Any]) -> list[dict[str, Any]]:
    """The settings as ``metadata.json`` lists them."""
    return [
        {"label": s.label, "pruner": s.pruner, "rounds": s.rounds, "pre_epochs": s.pre_epochs,
         "post_epochs": s.post_epochs, "note": s.note}
        for s in settings
    ]


_RUN_COLUMNS = (
    "setting", "pruner", "rounds", "compression", "seed", "pre_epochs", "post_epochs", "status", "top1", "top5",
    "density", "kept", "total", "n_collapsed_layers", "collapsed_layers", "disconnected", "data_origin",
    "train_examples", "test_examples",
)
_RUN_DIGITS = (0, 0, 0, 2, 0, 0, 0, 0, 2, 2, 6, 0, 0, 0, 0, 0, 0, 0, 0)
_SUMMARY_COLUMNS = (
    "setting", "pruner", "rounds", "compression", "pre_epochs", "post_epochs", "seeds", "top1_mean", "top1_std",
    "top5_mean", "top5_std", "density_mean", "runs_collapsed", "runs_disconnected", "runs_diverged", "data_origin",
)
_SUMMARY_DIGITS = (0, 0, 0, 2, 0, 0, 0, 3, 3, 3, 3, 6, 0, 0, 0, 0)


def _label(result: RunResult, settings: Sequence[Any]) -> str:
    config = result.config
    for s in settings:
        if s.pruner == config.pruner and (s.rounds is None or s.rounds == config.rounds):
            return s.label
    raise ValueError(f"run {result.expid} ({config.pruner}, rounds {config.rounds}) matches no reference setting; "
                     f"settings: {', '.join(s.label for s in settings)}")


def mnist_files(part: str, results: Sequence[RunResult], scale: Scale) -> PartFiles:
    """``runs.csv`` (one row per run) and ``summary.csv`` (mean ± std over seeds per setting and compression).

    Args:
        part: ``"mnist-row"`` or ``"mnist-sweep"``.
        results: The part's runs, in the order of :func:`~prunekit.run.reference_parts.mnist_configs`.
        scale: The scale they were run at.

    Returns:
        The part's files.
    """
    settings = ROW_SETTINGS if part == "mnist-row" else SWEEP_SETTINGS
    rows = []
    for result in results:
        config, label = result.config, _label(result, settings)
        disconnected = getattr(result, "disconnected", None)
        rows.append([
            label, config.pruner, result.prune.rounds, config.compression, config.seed, config.pre_epochs,
            config.post_epochs, result.status, result.top1, result.top5, result.prune.density, result.params.kept,
            result.params.total, len(result.collapsed_layers), ";".join(result.collapsed_layers), disconnected,
            result.origin.value, result.data.train_examples, result.data.test_examples,
        ])
    summary = []
    groups = grouped(results, lambda result: (_label(result, settings), result.config.compression))
    for (label, compression), members in groups.items():
        first = members[0]
        top1, top1_std = mean_std([r.top1 for r in members])
        top5, top5_std = mean_std([r.top5 for r in members])
        disconnected = [getattr(r, "disconnected", None) for r in members]
        summary.append([
            label, first.config.pruner, first.prune.rounds, compression, first.config.pre_epochs,
            first.config.post_epochs, len(members), top1, top1_std, top5, top5_std,
            statistics.fmean(r.prune.density for r in members), sum(bool(r.collapsed_layers) for r in members),
            None if None in disconnected else sum(bool(d) for d in disconnected), sum(r.diverged for r in members),
            ";".join(sorted({r.origin.value for r in members})),
        ])
    what = ("table 1.1's MNIST row: the report's commands with its epochs, FC, compression 1"
            if part == "mnist-row" else "FC accuracy vs compression, 20 post-training epochs (Mag pre-trained 20)")
    first = results[0]
    return PartFiles(
        csvs=runs_and_summary(what, csv_text(_RUN_COLUMNS, rows, _RUN_DIGITS),
                              csv_text(_SUMMARY_COLUMNS, summary, _SUMMARY_DIGITS)),
        meta={
            "settings": settings_meta(settings),
            "compressions": sorted({r.config.compression for r in results}),
            "model": "default/fc", "dataset": "mnist", "data_origin": first.origin.value,
            "train_source": first.data.train_source, "test_source": first.data.test_source,
            "train_limit": scale.train_limit, "test_limit": scale.test_limit,
            "run_settings": {key: value for key, value in first.config.to_dict().items()
                             if key not in {"pruner", "compression", "rounds", "seed", "pre_epochs", "post_epochs",
                                            "expid", "result_dir", "data_dir"}},
        },
    )


_VGG_COLUMNS = (
    "setting", "pruner", "rounds", "compression", "seed", "kept", "total", "density", "flops", "flops_remaining",
    "flop_ratio", "n_collapsed_layers", "disconnected", "prune_data_origin",
)
_VGG_DIGITS = (0, 0, 0, 2, 0, 0, 0, 6, 0, 0, 6, 0, 0, 0)
_LAYER_COLUMNS = ("setting", "seed", "module", "size", "kept", "density", "flops", "flops_remaining")
_LAYER_DIGITS = (0, 0, 0, 0, 0, 6, 0, 0)


def _prune_data(row: dict[str, Any]) -> str:
    """Where the pruning batches came from, for the pruners that read them; ``unused`` for the others."""
    return row["data_origin"] if SCORERS[row["pruner"]].needs_data else "unused"


def _origin_text(origin: str) -> str:
    if origin == "full":
        return "CIFAR-10"
    if origin == "unused":
        return "none computed"
    return f"origin {origin}: MNIST digits padded to 3x32x32, NOT CIFAR-10"


def vgg_files(paths: Sequence[Path], scale: Scale) -> PartFiles:
    """The vgg16-init files from its tasks' JSON files (written by :func:`prunekit.run.reference._vgg_task`).

    ``flop_ratio_runs.csv`` and ``flop_ratio_summary.csv`` (table 1.2.3), ``layers_runs.csv`` and
    ``layers_summary.csv`` (tables 2.1 and 2.2, at compression 0.5).

    Args:
        paths: One JSON file per (setting, seed), in the order of the settings and seeds.
        scale: The scale they were computed at.

    Returns:
        The part's files.
    """
    rows, layers = [], []
    for path in paths:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        rows.extend(payload["rows"])
        layers.extend(payload["layers"])
    order = {s.label: i for i, s in enumerate(VGG_SETTINGS)}
    rows.sort(key=lambda r: (order[r["setting"]], r["compression"], r["seed"]))
    layers.sort(key=lambda r: (order[r["setting"]], r["seed"]))  # stable: keeps the model's layer order
    run_rows = [[r["setting"], r["pruner"], r["rounds"], r["compression"], r["seed"], r["kept"], r["total"],
                 r["density"], r["flops"], r["flops_remaining"], r["flop_ratio"], len(r["collapsed_layers"]),
                 r["disconnected"], _prune_data(r)] for r in rows]
    summary = []
    for (label, compression), members in grouped(rows, lambda r: (r["setting"], r["compression"])).items():
        ratio, ratio_std = mean_std([m["flop_ratio"] for m in members])
        density, _ = mean_std([m["density"] for m in members])
        summary.append([label, members[0]["pruner"], members[0]["rounds"], compression, len(members), density,
                        ratio, ratio_std, sum(bool(m["collapsed_layers"]) for m in members),
                        sum(m["disconnected"] for m in members), _prune_data(members[0])])
    layer_rows = [[r["setting"], r["seed"], r["module"], r["size"], r["kept"], r["density"], r["flops"],
                   r["flops_remaining"]] for r in layers]
    layer_summary = []
    for (label, module), members in grouped(layers, lambda r: (r["setting"], r["module"])).items():
        density, density_std = mean_std([m["density"] for m in members])
        flops, flops_std = mean_std([float(m["flops_remaining"]) for m in members])
        layer_summary.append([label, module, len(members), members[0]["size"], members[0]["flops"], density,
                              density_std, flops, flops_std])
    a = f"{VGG_LAYER_COMPRESSION:g}"
    origin = ";".join(sorted({r["data_origin"] for r in rows if SCORERS[r["pruner"]].needs_data})) or "unused"
    return PartFiles(
        csvs={
            "flop_ratio_runs.csv": ("VGG16 (lottery) masks at initialization, no training; FLOP ratio = remaining / "
                                    "dense FLOPs (table 1.2.3); one row per mask",
                                    csv_text(_VGG_COLUMNS, run_rows, _VGG_DIGITS)),
            "flop_ratio_summary.csv": ("VGG16 masks at initialization: mean and sample std of the FLOP ratio "
                                       "over seeds",
                                       csv_text(("setting", "pruner", "rounds", "compression", "seeds",
                                                 "density_mean", "flop_ratio_mean", "flop_ratio_std",
                                                 "runs_collapsed", "runs_disconnected", "prune_data_origin"),
                                                summary, (0, 0, 0, 2, 0, 6, 6, 6, 0, 0, 0))),
            "layers_runs.csv": (f"VGG16 masks at initialization, compression {a}: per-layer density (table 2.1) and "
                                "remaining weight FLOPs (table 2.2), one row per layer and mask",
                                csv_text(_LAYER_COLUMNS, layer_rows, _LAYER_DIGITS)),
            "layers_summary.csv": (f"VGG16 masks at initialization, compression {a}: per-layer mean and sample std "
                                   "over seeds",
                                   csv_text(("setting", "module", "seeds", "size", "flops", "density_mean",
                                             "density_std", "flops_remaining_mean", "flops_remaining_std"),
                                            layer_summary, (0, 0, 0, 0, 0, 6, 6, 1, 1))),
        },
        meta={
            "settings": settings_meta([s for s in VGG_SETTINGS if s.label in {r["setting"] for r in rows}]),
            "compressions": list(scale.vgg_compressions),
            "layer_compression": VGG_LAYER_COMPRESSION,
            "model": "lottery/vgg16", "input_shape": [3, 32, 32],
            "prune_data": f"pruning batches (10 images per class, batches of 256, seeded) for SNIP and GraSP "
                          f"(the others read no data): {_origin_text(origin)}",
            "prune_data_origin": origin,
            "mag_note": "mag-init scores the magnitudes at initialization; the report pre-trained 200 epochs",
        },
    )
