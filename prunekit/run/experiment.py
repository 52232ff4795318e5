"""The single-shot experiment: train, prune once, train again, evaluate, and save it all.

This is Synaptic-Flow's ``Experiments/singleshot.py`` with its flaws removed. One
run is one :class:`~prunekit.run.config.ExperimentConfig`; its folder is
``<result_dir>/<experiment>/<expid>/`` and holds:

- ``result.json``: everything the seed's tables and figures need (see :data:`RESULT_KEYS`);
- ``model.pt``: the masked model's ``state_dict`` (load it with :func:`load_model`);
- while the run is under way, ``config.json`` and checkpoints after every epoch
  (``checkpoint-pre.pt``, ``pruned.pt``, ``checkpoint-post.pt``), so the same command
  started again resumes where it stopped. They are deleted once ``result.json`` is written.

A finished run is never overwritten silently (:class:`RunExistsError`), and nothing
waits on standard input.

Example:
    >>> from prunekit.run.presets import preset_config
    >>> config = preset_config("quick", "snip", post_epochs=1, result_dir="/tmp/prunekit-doc")
    >>> result = run_or_load(config)  # doctest: +SKIP
    >>> print("\\n".join(summary_lines(result)))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DatasetNotFoundError, DataWarning, DeviceDataset, DeviceLoader, cifar_fallback, load_dataset, prune_loader
from prunekit.run.device import select_device
from prunekit.run.io import load_checkpoint, read_json, save_checkpoint, write_json
from prunekit.core.metrics import flop_summary, layer_table, weight_histograms
from prunekit.core.models import create_model
from prunekit.core.pruning import LayerCollapseWarning, collapsed_layers, prune
from prunekit.run.training import fit, make_optimizer, make_scheduler, measure_inference_time, seed_everything

__all__ = [
    "CHECKPOINTS",
    "RESULT_KEYS",
    "SCHEMA",
    "RunExistsError",
    "config_hash",
    "expid_of",
    "load_model",
    "load_result",
    "load_splits",
    "run_dir",
    "run_many",
    "run_or_load",
    "run_singleshot",
    "seeded_model",
    "summary_lines",
]

SCHEMA = "prunekit-result/1"
"""The ``schema`` of every ``result.json`` this version writes and reads."""

RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
CHECKPOINTS = ("checkpoint-pre.pt", "pruned.pt", "checkpoint-post.pt")
"""The files of an unfinished run, deleted when it completes."""

RESULT_KEYS = (
    "schema",
    "prunekit_version",
    "status",
    "config",
    "expid",
    "data",
    "pre_history",
    "post_history",
    "top1_accuracy",
    "top5_accuracy",
    "pre_prune_top1",
    "test_time_s",
    "test_time",
    "params",
    "flops",
    "layers",
    "collapsed_layers",
    "prune_iterations",
    "prune",
    "prune_time_s",
    "train_time_s",
    "device",
    "versions",
    "started_at",
    "finished_at",
    "histograms",
)
"""The keys of ``result.json``."""

# Fields that name or place a run, or only change what is printed: not part of what is computed.
_NOT_HASHED = ("expid", "result_dir", "verbose", "device")


class RunExistsError(FileExistsError):
    """A run folder already holds a finished run (or an unfinished run of another configuration)."""


def config_hash(config: ExperimentConfig) -> str:
    """Eight hex digits that identify what a configuration computes.

    Fields that only name, place or print a run (``expid``, ``result_dir``,
    ``verbose``, ``device``) are left out.

    Args:
        config: The run.

    Returns:
        A short SHA-1 digest.

    Example:
        >>> a = ExperimentConfig(pruner="snip", compression=1.0)
        >>> config_hash(a) == config_hash(a.replace(expid="11")), config_hash(a) == config_hash(a.replace(seed=2))
        (True, False)
    """
    fields = {key: value for key, value in config.to_dict().items() if key not in _NOT_HASHED}
    return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]


def expid_of(config: ExperimentConfig) -> str:
    """The run's folder name: ``config.expid``, or one derived from the configuration when it is empty.

    Example:
        >>> expid_of(ExperimentConfig(expid="11"))
        '11'
        >>> expid_of(ExperimentConfig(pruner="snip", compression=1.0)).startswith("snip-c1-")
        True
    """
    if config.expid:
        return config.expid
    return f"{config.pruner}-c{config.compression:g}-{config_hash(config)}"


def run_dir(config: ExperimentConfig) -> Path:
    """``<result_dir>/<experiment>/<expid>``, the folder of a run.

    Example:
        >>> run_dir(ExperimentConfig(expid="11", result_dir="results")).as_posix()
        'results/singleshot/11'
    """
    return Path(config.result_dir) / config.experiment / expid_of(config)


def _versions() -> dict[str, str]:
    import torchvision

    from prunekit import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "prunekit": __version__,
    }


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _computed(config: ExperimentConfig) -> dict[str, Any]:
    return {key: value for key, value in config.to_dict().items() if key not in _NOT_HASHED}


def _differences(saved: Mapping[str, Any], config: ExperimentConfig) -> list[str]:
    wanted = _computed(config)
    return [
        f"{key}: saved {saved.get(key)!r}, now {value!r}"
        for key, value in wanted.items()
        if json.dumps(saved.get(key)) != json.dumps(value)
    ]


def load_splits(
    config: ExperimentConfig, device: torch.device, allow_fallback: bool = False
) -> tuple[DeviceDataset, DeviceDataset]:
    """The training and test splits of ``config.dataset`` on ``device``.

    Args:
        config: The run (``dataset`` and ``data_dir``).
        device: Where the tensors go.
        allow_fallback: When CIFAR-10 is missing, labelled MNIST stand-ins (:func:`prunekit.run.data.cifar_fallback`).

    Returns:
        ``(train, test)``.

    Raises:
        DatasetNotFoundError: If the data is missing and no fallback applies.
    """
    try:
        train = load_dataset(config.dataset, train=True, data_dir=config.data_dir, device=device)
        test = load_dataset(config.dataset, train=False, data_dir=config.data_dir, device=device, download=False)
    except DatasetNotFoundError:
        if config.dataset != "cifar10" or not allow_fallback:
            raise
        train = cifar_fallback(train=True, data_dir=config.data_dir, device=device)
        test = cifar_fallback(train=False, data_dir=config.data_dir, device=device)
    return train, test


def seeded_model(config: ExperimentConfig, data: DeviceDataset, device: torch.device) -> nn.Module:
    """The run's unpruned model, initialized right after ``torch.manual_seed(config.seed)``.

    Example:
        >>> from prunekit.run.data import DATASETS
        >>> spec = DATASETS["mnist"]
        >>> blank = DeviceDataset("mnist", True, torch.zeros(1, 1, 28, 28, dtype=torch.uint8), torch.zeros(1), spec, "-")
        >>> a, b = (seeded_model(ExperimentConfig(), blank, torch.device("cpu")) for _ in range(2))
        >>> torch.equal(a.fc.weight, b.fc.weight)
        True
    """
    torch.manual_seed(config.seed)
    return create_model(
        config.model_class,
        config.model,
        data.spec.input_shape,
        data.spec.num_classes,
        dense_classifier=config.dense_classifier,
        device=device,
    )


def _prepare_folder(config: ExperimentConfig, overwrite: bool) -> Path:
    folder = run_dir(config)
    if (folder / RESULT_FILE).is_file():
        if not overwrite:
            raise RunExistsError(
                f"{folder} already holds a finished run; pass --overwrite (overwrite=True) to replace it, "
                "or choose another --expid"
            )
        _clear(folder)
    saved_path = folder / CONFIG_FILE
    if saved_path.is_file():
        saved = read_json(saved_path)
        changed = _differences(saved, config)
        if changed and not overwrite:
            raise RunExistsError(
                f"{folder} holds an unfinished run of another configuration ({'; '.join(changed)}); "
                "pass --overwrite to start it again, or choose another --expid"
            )
        if changed:
            _clear(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(saved_path, _computed(config))
    return folder


def _clear(folder: Path) -> None:
    for name in (RESULT_FILE, MODEL_FILE, CONFIG_FILE, *CHECKPOINTS):
        (folder / name).unlink(missing_ok=True)


def _layers_json(table: Any) -> list[dict[str, Any]]:
    rows = []
    for row in table.to_dict(orient="records"):
        row["shape"] = list(row["shape"])
        rows.append({key: value.item() if hasattr(value, "item") else value for key, value in row.items()})
    return rows


def run_singleshot(
    config: ExperimentConfig,
    *,
    progress: bool = True,
    overwrite: bool = False,
    allow_fallback: bool = False,
) -> dict[str, Any]:
    """Runs one single-shot experiment: ``pre_epochs`` of training, pruning, ``post_epochs`` of training.

    Like the seed, one optimizer and one learning-rate schedule serve both
    training phases. After every epoch, and after pruning, a checkpoint is written;
    started again with the same configuration, the run resumes from the last one
    and ends with the result an uninterrupted run would have had.

    Args:
        config: The run.
        progress: Show progress bars and phase lines.
        overwrite: Replace a finished run (or an unfinished run of another configuration) in the run's folder.
        allow_fallback: When CIFAR-10 is missing, train on MNIST digits padded to 3×32×32 instead,
            labelled as a FALLBACK in the result (``data.fallback``) and in every summary.

    Returns:
        The result dict, also written to ``<run dir>/result.json`` (keys: :data:`RESULT_KEYS`).

    Raises:
        RunExistsError: If the run's folder holds a finished run and ``overwrite`` is False.
        DatasetNotFoundError: If the data is missing (the message says where it goes and how to get it).
        ValueError: For an unknown model, pruner, optimizer or device.

    Example:
        >>> result = run_singleshot(ExperimentConfig(post_epochs=1, compression=1, result_dir="/tmp/pk"))  # doctest: +SKIP
        >>> result["params"]["kept"]  # doctest: +SKIP
        11940
    """
    started_at = _now()
    folder = _prepare_folder(config, overwrite)
    device = select_device(config.device)

    def say(text: str) -> None:
        if progress:
            print(text, flush=True)

    seed_everything(config.seed)
    train, test = load_splits(config, device, allow_fallback)
    say(f"data: {train.source}")
    model = seeded_model(config, train, device)
    train_loader = DeviceLoader(
        train, config.train_batch_size, shuffle=True, augment=True, seed=config.seed, limit=config.train_limit
    )
    test_loader = DeviceLoader(test, config.test_batch_size, shuffle=False, limit=config.test_limit)
    prune_data = prune_loader(train, config.prune_dataset_ratio, config.prune_batch_size, config.seed)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)
    scheduler = make_scheduler(optimizer, config.lr_drops, config.lr_drop_rate)

    def train_phase(phase: str, epochs: int, checkpoint: str) -> list[dict[str, Any]]:
        say(f"{phase}-training: {epochs} epoch(s)")
        return fit(model, train_loader, test_loader, optimizer, scheduler, epochs,
                   checkpoint_path=folder / checkpoint, phase=phase, progress=progress)

    pruned_path = folder / "pruned.pt"
    train_start = time.perf_counter()
    if pruned_path.is_file():
        state = load_checkpoint(pruned_path, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        pre_history, prune_info = list(state["pre_history"]), dict(state["prune"])
        torch.set_rng_state(state["torch_rng"])
        train_loader.load_state_dict(state["train_loader"])
        say(f"resuming after pruning ({pruned_path})")
        pre_seconds = float(state["pre_seconds"])
    else:
        pre_history = train_phase("pre", config.pre_epochs, CHECKPOINTS[0])
        pre_seconds = time.perf_counter() - train_start
        say(f"pruning with {config.pruner} to density {config.density:.4g} (compression exponent {config.compression:g})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)  # reported below and in every summary
            report = prune(
                model,
                config.pruner,
                config.compression,
                prune_data,
                scope=config.mask_scope,
                iterations=config.prune_iterations,
                schedule=config.compression_schedule,
                prune_bias=config.prune_bias,
                prune_batchnorm=config.prune_batchnorm,
                train_mode=config.prune_train_mode,
                reinitialize=config.reinitialize,
                shuffle=config.shuffle,
                invert=config.invert,
                progress=progress,
            )
        prune_info = {
            "score_time_s": report.score_time_s,
            "select_time_s": report.select_time_s,
            "time_s": report.score_time_s + report.select_time_s,
            "density": report.density,
            "kept": report.kept,
            "total": report.total,
            "iterations": report.iterations,
            "schedule": report.schedule,
            "scope": report.scope,
        }
        say(report.summary())
        save_checkpoint(
            pruned_path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "pre_history": pre_history,
                "prune": prune_info,
                "pre_seconds": pre_seconds,
                "torch_rng": torch.get_rng_state(),
                "train_loader": train_loader.state_dict(),
            },
        )
        (folder / CHECKPOINTS[0]).unlink(missing_ok=True)
    post_start = time.perf_counter()
    post_history = train_phase("post", config.post_epochs, CHECKPOINTS[2])
    post_seconds = time.perf_counter() - post_start
    say(f"timing inference over the test set ({config.timing_repeats} passes after a warm-up)")
    timing = measure_inference_time(model, test_loader, repeats=config.timing_repeats)

    table = layer_table(model, train.spec.input_shape)
    totals = flop_summary(table)
    histograms = weight_histograms(model, bins=50)
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "prunekit_version": _versions()["prunekit"],
        "status": "complete",
        "config": config.to_dict(),
        "expid": expid_of(config),
        "data": {
            "dataset": config.dataset,
            "train_source": train.source,
            "test_source": test.source,
            "fallback": train.source.startswith("FALLBACK"),
            "sample": bool(train.is_sample) and not train.source.startswith("FALLBACK"),
            "train_examples": train_loader.num_examples,
            "test_examples": test_loader.num_examples,
        },
        "pre_history": pre_history,
        "post_history": post_history,
        "top1_accuracy": post_history[-1]["top1"],
        "top5_accuracy": post_history[-1]["top5"],
        "pre_prune_top1": pre_history[-1]["top1"],
        "test_time_s": timing["median_s"],
        "test_time": timing,
        "params": {"total": totals["params"], "kept": totals["kept"], "ratio": totals["density"]},
        "flops": {"total": totals["flops"], "remaining": totals["flops_remaining"], "ratio": totals["flop_ratio"]},
        "layers": _layers_json(table),
        "collapsed_layers": collapsed_layers(model),
        "prune_iterations": prune_info["iterations"],
        "prune": prune_info,
        "prune_time_s": prune_info["time_s"],
        "train_time_s": pre_seconds + post_seconds,
        "device": str(device),
        "versions": _versions(),
        "started_at": started_at,
        "finished_at": _now(),
        "histograms": histograms.to_dict(orient="list"),
    }
    save_checkpoint(folder / MODEL_FILE, model.state_dict())
    write_json(folder / RESULT_FILE, result)
    for name in (CONFIG_FILE, *CHECKPOINTS):
        (folder / name).unlink(missing_ok=True)
    say(f"saved {folder / RESULT_FILE}")
    return result


def load_result(path: str | Path) -> dict[str, Any]:
    """Reads a finished run's ``result.json``.

    Args:
        path: The run's folder or its ``result.json``.

    Returns:
        The result dict.

    Raises:
        FileNotFoundError: If there is no finished run there.
        ValueError: If the file was written by an incompatible version (another ``schema``).
    """
    path = Path(path)
    file = path / RESULT_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no finished run at {path} ({RESULT_FILE} is missing)")
    result = read_json(file)
    if result.get("schema") != SCHEMA:
        raise ValueError(
            f"{file} has schema {result.get('schema')!r}; this prunekit reads {SCHEMA!r}. Re-run it with this version."
        )
    return result


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuilds a finished run's masked model from its ``result.json`` and ``model.pt``.

    Args:
        path: The run's folder.
        device: Where the model goes.

    Returns:
        The model, with its trained weights and masks, in eval mode.

    Raises:
        FileNotFoundError: If the run is unfinished or its model file is missing.
    """
    folder = Path(path)
    result = load_result(folder)
    config = ExperimentConfig.from_dict(result["config"])
    shape = (3, 32, 32) if result["data"].get("fallback") else None
    from prunekit.run.data import dataset_spec

    spec = dataset_spec(config.dataset)
    model = create_model(
        config.model_class,
        config.model,
        shape or spec.input_shape,
        spec.num_classes,
        dense_classifier=config.dense_classifier,
        device=device,
    )
    model_file = folder / MODEL_FILE
    if not model_file.is_file():
        raise FileNotFoundError(f"{model_file} is missing")
    model.load_state_dict(torch.load(model_file, map_location=device, weights_only=True))
    return model.eval()


def run_or_load(config: ExperimentConfig, *, progress: bool = False, allow_fallback: bool = False) -> dict[str, Any]:
    """The result of ``config``: loaded if an identical run finished before, else computed (or resumed).

    Notebooks call this, so running a cell twice costs nothing the second time.

    Args:
        config: The run (an empty ``expid`` is derived from the configuration).
        progress: Show progress while running.
        allow_fallback: See :func:`run_singleshot`.

    Returns:
        The result dict.

    Raises:
        RunExistsError: If the run's folder holds a finished run of another configuration.
    """
    folder = run_dir(config)
    if (folder / RESULT_FILE).is_file():
        result = load_result(folder)
        changed = _differences(result["config"], config)
        if changed:
            raise RunExistsError(f"{folder} holds a run of another configuration ({'; '.join(changed)})")
        return result
    return run_singleshot(config, progress=progress, allow_fallback=allow_fallback)


def run_many(
    configs: Sequence[ExperimentConfig], *, progress: bool = True, allow_fallback: bool = False
) -> list[dict[str, Any]]:
    """:func:`run_or_load` for several runs in turn, with one progress bar over the runs.

    Finished runs are loaded, so an interrupted batch started again only computes what is missing.

    Args:
        configs: The runs.
        progress: Show the bar (runs done / total, time left, the current run).
        allow_fallback: See :func:`run_singleshot`.

    Returns:
        The results, in the order of ``configs``.
    """
    results = []
    bar = tqdm(configs, desc="runs", unit="run", disable=not progress)
    for config in bar:
        bar.set_postfix_str(f"{config.pruner}, compression {config.compression:g}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerCollapseWarning)  # collapse is in each result and its summary
            warnings.simplefilter("ignore", DataWarning)  # the data module prints each data notice once on stderr
            results.append(run_or_load(config, progress=False, allow_fallback=allow_fallback))
    return results


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """The end-of-run summary, as the seed printed it: accuracies, parameter and FLOP ratios, test time, collapse.

    Args:
        result: A result dict.

    Returns:
        Lines to print.

    Example:
        >>> lines = summary_lines({"config": ExperimentConfig(compression=1.0).to_dict(), "expid": "x",
        ...     "data": {"train_source": "full MNIST", "fallback": False, "sample": False},
        ...     "pre_prune_top1": 11.0, "post_history": [{"top1": 9.8}, {"top1": 97.0}],
        ...     "top1_accuracy": 97.0, "top5_accuracy": 99.9, "params": {"total": 10, "kept": 1, "ratio": 0.1},
        ...     "flops": {"total": 20, "remaining": 3, "ratio": 0.15}, "test_time": {"median_s": 0.1, "iqr_s": 0.01,
        ...     "repeats": 5}, "prune_iterations": 1, "prune_time_s": 0.5, "train_time_s": 9.0, "collapsed_layers": []})
        >>> lines[2]
        'top-1 accuracy: 11.00 % before pruning, 9.80 % right after, 97.00 % final (top-5 99.90 %)'
    """
    config = result["config"]
    data = result.get("data", {})
    params, flops, timing = result["params"], result["flops"], result["test_time"]
    density = params["ratio"]
    lines = [
        f"run {result.get('expid', '?')}: {config['pruner']} on {config['model']}/{config['dataset']}, "
        f"compression exponent {config['compression']:g} (target density {10 ** -config['compression']:.4g})",
        f"data: {data.get('train_source', '?')}",
        f"top-1 accuracy: {result['pre_prune_top1']:.2f} % before pruning, {result['post_history'][0]['top1']:.2f} % "
        f"right after, {result['top1_accuracy']:.2f} % final (top-5 {result['top5_accuracy']:.2f} %)",
        f"parameters: {params['kept']:,} of {params['total']:,} prunable weights kept "
        f"(density {density:.4f}, sparsity {1 - density:.4f}, compression ratio "
        f"{params['total'] / params['kept'] if params['kept'] else float('inf'):.3g})",
        f"FLOPs: {flops['remaining']:,} of {flops['total']:,} remain (FLOP ratio {flops['ratio']:.4f})",
        f"test time: {timing['median_s']:.4f} s median over {timing['repeats']} passes "
        f"(interquartile range {timing['iqr_s']:.4f} s)",
        f"pruning: {result['prune_iterations']} iteration(s) in {result['prune_time_s']:.2f} s; "
        f"training {result['train_time_s']:.1f} s",
    ]
    if result["collapsed_layers"]:
        lines.append(
            f"LAYER COLLAPSE: {', '.join(result['collapsed_layers'])} kept no weights, so no signal reaches the "
            "output and the network can only guess the most frequent class"
        )
    else:
        lines.append("layer collapse: none (every layer kept some weights)")
    if data.get("fallback"):
        lines.insert(0, "FALLBACK DATA: MNIST digits stood in for CIFAR-10; these numbers are NOT CIFAR-10 results")
    if data.get("sample"):
        lines.insert(0, "SHIPPED MNIST SAMPLE (10,000/2,000 images): not comparable with the full 60,000/10,000 set")
    return lines
