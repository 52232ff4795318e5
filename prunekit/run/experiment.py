"""The single-shot experiment: train, prune once, train again, evaluate, and save it all.

This is Synaptic-Flow's ``Experiments/singleshot.py`` with its flaws removed. One
run is one :class:`~prunekit.run.config.ExperimentConfig`; its folder
(:func:`~prunekit.run.paths.run_dir`) is ``<result_dir>/<experiment>/<expid>/`` and holds:

- ``result.json``: the run's :class:`~prunekit.run.result.RunResult` (read it with :func:`load_result`);
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

import contextlib
import dataclasses
import datetime
import platform
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from prunekit.core.metrics import flop_summary, layer_table, weight_histograms
from prunekit.core.models import create_model
from prunekit.core.connectivity import is_disconnected
from prunekit.core.pruning import LayerCollapseWarning, collapsed_layers, prune
from prunekit.run.checkpoints import load_checkpoint_or_discard
from prunekit.run.config import ExperimentConfig
from prunekit.run.data import (
    DatasetNotFoundError,
    check_data_dir,
    cifar_fallback,
    dataset_spec,
    load_dataset,
    local_origin,
    notices_as_lines,
)
from prunekit.run.datasets import DataOrigin, DeviceDataset
from prunekit.run.device import select_device
from prunekit.run.io import save_checkpoint
from prunekit.run.loader import DeviceLoader, prune_loader
from prunekit.run.paths import CHECKPOINTS, MODEL_FILE, config_differences, config_hash, expid_of, run_dir
from prunekit.run.pretrained import load_pretrained, pretrained_path, save_pretrained
from prunekit.run.resources import package_version
from prunekit.run.machine import machine_now, warn_if_loaded
from prunekit.run.records import epoch_rows, layer_rows
from prunekit.run.result import (
    COMPLETE,
    DIVERGED,
    RESULT_FILE,
    SCHEMA,
    DataInfo,
    Divergence,
    FlopCount,
    ParamCount,
    PruneInfo,
    RunResult,
    Timing,
    Versions,
    WeightHistograms,
)
from prunekit.run.run_folder import RunExistsError, adopt, claim, finish, finished_twin, run_lock, start, twin_under_way
from prunekit.run.summary import divergence_line, summary_lines
from prunekit.run.timing import measure_inference_time
from prunekit.run.training import (
    TrainingDiverged,
    fit,
    make_optimizer,
    make_scheduler,
    seed_everything,
)

__all__ = [
    "CHECKPOINTS",
    "RESULT_FILE",
    "SCHEMA",
    "RunExistsError",
    "RunResult",
    "config_hash",
    "divergence_line",
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


def _versions() -> Versions:
    import torchvision  # noqa: PLC0415 - slow import, needed only here

    return Versions(platform.python_version(), torch.__version__, torchvision.__version__, package_version())


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


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
        >>> from prunekit.run.data import DATASETS, DeviceDataset
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


def _prune(model: nn.Module, config: ExperimentConfig, prune_data: DeviceLoader, progress: bool) -> PruneInfo:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayerCollapseWarning)  # reported in the result and every summary
        report = prune(
            model, config.pruner, config.compression, prune_data, scope=config.scope, rounds=config.rounds,
            schedule=config.schedule, prune_bias=config.prune_bias, prune_batchnorm=config.prune_batchnorm,
            train_mode=config.prune_train_mode, reinitialize=config.reinitialize, shuffle=config.shuffle,
            invert=config.invert, progress=progress,
        )
    if progress:
        print(report.summary(), flush=True)
    return PruneInfo(
        rounds=report.rounds, schedule=report.schedule, scope=report.scope, density=report.density,
        kept=report.kept, total=report.total, score_time_s=report.score_time_s, select_time_s=report.select_time_s,
    )


def _finite_weights(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(param).all()) for param in model.parameters())


_PRUNED_KEYS = ("model", "optimizer", "scheduler", "pre_history", "prune", "torch_rng", "train_loader")


def run_singleshot(
    config: ExperimentConfig,
    *,
    progress: bool = True,
    overwrite: bool = False,
    allow_fallback: bool = False,
) -> RunResult:
    """Runs one single-shot experiment: ``pre_epochs`` of training, pruning, ``post_epochs`` of training.

    Like the report's code, one optimizer and one learning-rate schedule serve both
    training phases. After every epoch, and after pruning, a checkpoint is written;
    started again with the same configuration, the run resumes from the last one
    and ends with the result an uninterrupted run would have had. A corrupt checkpoint
    is removed with a warning naming it, and the run goes on from the state before it.

    Training that reaches a non-finite loss or weight stops there: the result is then saved
    with status ``"diverged"`` (its :class:`~prunekit.run.result.Divergence` says where;
    the accuracies are those measured), and :func:`divergence_line` describes it.

    Nothing is written before training starts, and a finished run is replaced only once the
    new one has finished (:mod:`prunekit.run.run_folder`).

    Args:
        config: The run.
        progress: Show progress bars and phase lines.
        overwrite: Start afresh, and replace a finished run in the run's folder once this one has finished.
        allow_fallback: When CIFAR-10 is missing, train on MNIST digits padded to 3×32×32 instead;
            the result's ``data.origin`` is then :attr:`DataOrigin.FALLBACK`, and every summary says so.

    Returns:
        The :class:`RunResult`, also written to ``<run dir>/result.json``.

    Raises:
        RunExistsError: If the run's folder holds a finished run and ``overwrite`` is False.
        prunekit.run.io.UnsafePathError: A ``ValueError``, if the expid would leave the result folder.
        DatasetNotFoundError: If the data is missing (the message says where it goes and how to get it),
            or the named ``data_dir`` does not exist (:class:`~prunekit.run.data.DataDirNotFoundError`).
        ValueError: If the device is not available here, or a data file is damaged
            (:class:`~prunekit.run.datasets.DataFileError`).

    Example:
        >>> result = run_singleshot(ExperimentConfig(post_epochs=1, compression=1, result_dir="/tmp/pk"))  # doctest: +SKIP
        >>> result.params.kept  # doctest: +SKIP
        11940
    """
    config.validate()
    check_data_dir(config.data_dir)
    folder = run_dir(config)
    claim(folder, config, overwrite)  # before any work; writes nothing but may drop a stale unfinished state
    started_at = _now()
    device = select_device(config.device)

    def say(text: str) -> None:
        if progress:
            print(text, flush=True)

    machine = machine_now()
    warn_if_loaded(machine)
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
    start(folder, config)  # from here on the folder holds this run under way

    def train_phase(phase: str, epochs: int, checkpoint: str) -> tuple[list[dict[str, Any]], Divergence | None]:
        say(f"{phase}-training: {epochs} epoch(s)")
        try:
            return fit(model, train_loader, test_loader, optimizer, scheduler, epochs,
                       checkpoint_path=folder / checkpoint, phase=phase, progress=progress), None
        except TrainingDiverged as stop:
            say(f"{phase}-training diverged in epoch {stop.epoch} ({stop.reason}); stopping")
            return stop.history, Divergence(phase, stop.epoch, stop.reason)

    pruned_path = folder / "pruned.pt"
    state = load_checkpoint_or_discard(pruned_path, _PRUNED_KEYS, "starting the run from its beginning", device)
    post_history: list[dict[str, Any]] = []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        pre_history, prune_info, diverged = list(state["pre_history"]), PruneInfo(**state["prune"]), None
        torch.set_rng_state(state["torch_rng"].cpu())  # loaded onto the run's device
        train_loader.load_state_dict(state["train_loader"])
        say(f"resuming after pruning ({pruned_path})")
    else:
        shared = pretrained_path(config)
        # runs of one setting started together: one pre-trains, the others wait and load its state
        with run_lock(shared, "the pre-training") if config.pre_epochs > 0 else contextlib.nullcontext():
            pre_history, diverged = load_pretrained(config, model, optimizer, scheduler, train_loader, device), None
            if pre_history is not None:
                say(f"pre-training: {config.pre_epochs} epoch(s) loaded from {shared} "
                    "(another run of this setting trained them)")
            else:
                pre_history, diverged = train_phase("pre", config.pre_epochs, CHECKPOINTS[0])
                if diverged is None and config.pre_epochs > 0:
                    save_pretrained(config, model, optimizer, scheduler, train_loader, pre_history, device)
        if diverged is None:
            say(f"pruning with {config.pruner} to density {config.density:.4g} "
                f"(compression exponent {config.compression:g})")
            prune_info = _prune(model, config, prune_data, progress)
            save_checkpoint(pruned_path, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "pre_history": pre_history, "prune": dataclasses.asdict(prune_info),
                "torch_rng": torch.get_rng_state(), "train_loader": train_loader.state_dict(),
            })
            (folder / CHECKPOINTS[0]).unlink(missing_ok=True)
        else:  # a diverged model is not pruned: its scores would not be finite
            total = int(flop_summary(layer_table(model, train.spec.input_shape))["params"])
            prune_info = PruneInfo(rounds=0, schedule=config.schedule, scope=config.scope, density=1.0,
                                   kept=total, total=total, score_time_s=0.0, select_time_s=0.0)
    if diverged is None:
        post_history, diverged = train_phase("post", config.post_epochs, CHECKPOINTS[2])
    say(f"timing inference over the test set ({config.timing_repeats} passes after a warm-up)")
    timing = measure_inference_time(model, test_loader, repeats=config.timing_repeats)

    table = layer_table(model, train.spec.input_shape)
    totals = flop_summary(table)
    histograms = WeightHistograms()
    if _finite_weights(model):  # torch.histc cannot bin non-finite weights
        frame = weight_histograms(model, bins=50)
        histograms = WeightHistograms(**{key: tuple(values) for key, values in frame.to_dict(orient="list").items()})
    result = RunResult(
        config=config,
        expid=expid_of(config),
        status=COMPLETE if diverged is None else DIVERGED,
        prunekit_version=package_version(),
        data=DataInfo(
            dataset=config.dataset,
            origin=DataOrigin.least_real([train.origin, test.origin]),
            train_source=train.source,
            test_source=test.source,
            train_examples=train_loader.num_examples,
            test_examples=test_loader.num_examples,
        ),
        pre_history=epoch_rows(pre_history),
        post_history=epoch_rows(post_history),
        timing=Timing(
            median_s=timing["median_s"], min_s=timing["min_s"], max_s=timing["max_s"], iqr_s=timing["iqr_s"],
            repeats=timing["repeats"], times_s=tuple(timing["times_s"]), threads=timing["threads"], load=timing["load"],
        ),
        params=ParamCount(total=int(totals["params"]), kept=int(totals["kept"])),
        flops=FlopCount(total=int(totals["flops"]), remaining=int(totals["flops_remaining"])),
        layers=layer_rows(table),
        collapsed_layers=tuple(collapsed_layers(model)),
        prune=prune_info,
        # the epochs' training times, kept in the checkpoints: an interrupted run counts the time before it too
        train_time_s=float(sum(row["epoch_time_s"] for row in (*pre_history, *post_history))),
        device=str(device),
        versions=_versions(),
        started_at=started_at,
        finished_at=_now(),
        histograms=histograms,
        divergence=diverged,
        disconnected=is_disconnected(model, input_shape=train.spec.input_shape),
        machine=machine,
    )
    finish(folder, model.state_dict(), result)
    say(f"saved {folder / RESULT_FILE}" + (f"; {divergence_line(result)}" if result.diverged else ""))
    return result


def load_result(path: str | Path) -> RunResult:
    """Reads a finished run's ``result.json`` (:meth:`RunResult.load`; results of schema 1 are upgraded).

    Args:
        path: The run's folder or its ``result.json``.

    Returns:
        The :class:`RunResult`.

    Raises:
        FileNotFoundError: If there is no finished run there.
        ResultSchemaError: A ``ValueError`` naming the file and its schema, if this version cannot read it.

    Example:
        >>> load_result("/nonexistent/run")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no finished run at /nonexistent/run (result.json is missing)
    """
    return RunResult.load(path)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuilds a finished run's masked model from its ``result.json`` and ``model.pt``.

    Args:
        path: The run's folder.
        device: Where the model goes.

    Returns:
        The model, with its trained weights and masks, in eval mode.

    Raises:
        FileNotFoundError: If the run is unfinished or its model file is missing.

    Example:
        >>> model = load_model("results/notebooks/singleshot/snip-c1-0123abcd")  # doctest: +SKIP
    """
    folder = Path(path)
    config = load_result(folder).config
    spec = dataset_spec(config.dataset)  # a CIFAR-10 fallback has CIFAR-10's shape and classes too
    model = create_model(
        config.model_class, config.model, spec.input_shape, spec.num_classes,
        dense_classifier=config.dense_classifier, device=device,
    )
    model_file = folder / MODEL_FILE
    if not model_file.is_file():
        raise FileNotFoundError(f"{model_file} is missing")
    model.load_state_dict(torch.load(model_file, map_location=device, weights_only=True))
    return model.eval()


def run_or_load(config: ExperimentConfig, *, progress: bool = False, allow_fallback: bool = False) -> RunResult:
    """The result of ``config``: loaded if an identical run finished before, else computed (or resumed).

    Notebooks call this, so running a cell twice costs nothing the second time. A saved run
    made on the shipped MNIST sample (or a CIFAR run on the FALLBACK stand-in) is made again,
    replacing it, once the full dataset is in place; a full-data run is never replaced.

    Args:
        config: The run (an empty ``expid`` is derived from the configuration).
        progress: Show progress while running.
        allow_fallback: See :func:`run_singleshot`.

    Returns:
        The :class:`RunResult`.

    Raises:
        RunExistsError: If the run's folder holds a finished run of another configuration.

    Example:
        >>> result = run_or_load(ExperimentConfig(post_epochs=1, compression=1, result_dir="/tmp/pk"))  # doctest: +SKIP
    """
    config.validate()
    check_data_dir(config.data_dir)  # both before the lock, which is the first thing written
    folder = run_dir(config)
    with run_lock(folder):
        return _run_or_load(config, folder, progress, allow_fallback)


def _run_or_load(config: ExperimentConfig, folder: Path, progress: bool, allow_fallback: bool) -> RunResult:
    if (folder / RESULT_FILE).is_file():
        result = load_result(folder)
        changed = config_differences(result.config, config)
        if changed:
            raise RunExistsError(f"{folder} holds a run of another configuration ({'; '.join(changed)})")
        now = local_origin(config.dataset, config.data_dir)
        if now is not DataOrigin.FULL or result.data.origin is DataOrigin.FULL:
            return result  # a full-data run is never replaced by one on less
        print(f"prunekit: {folder} was run on {result.data.origin.value} data; {now.value} data is here now, "
              "so it runs again", file=sys.stderr, flush=True)
        return run_singleshot(config, progress=progress, overwrite=True, allow_fallback=allow_fallback)
    return run_singleshot(config, progress=progress, allow_fallback=allow_fallback)


def run_many(
    configs: Sequence[ExperimentConfig], *, progress: bool = True, allow_fallback: bool = False,
    reuse_from: str | Path | None = None,
) -> list[RunResult]:
    """:func:`run_or_load` for several runs in turn, with one progress bar over the runs.

    Finished runs are loaded, so an interrupted batch started again only computes what is missing.
    With ``reuse_from``, a run already finished there (the same configuration in another result
    folder, e.g. a notebook's single runs that a sweep repeats) is copied instead of trained again
    (:func:`~prunekit.run.run_folder.finished_twin`); one that another process is training there is left
    until last, so that in a batch of notebooks it is usually finished by then.

    Args:
        configs: The runs.
        progress: Show the bar (runs done / total, time left, the current run).
        allow_fallback: See :func:`run_singleshot`.
        reuse_from: Another result folder whose finished runs may be copied.

    Returns:
        The results, in the order of ``configs``.

    Example:
        >>> results = run_many([ExperimentConfig(post_epochs=1, result_dir="/tmp/pk")])  # doctest: +SKIP
    """
    results: dict[int, RunResult] = {}
    pending, deferred = list(range(len(configs))), set()
    with tqdm(total=len(configs), desc="runs", unit="run", disable=not progress) as bar:
        while pending:
            index = pending.pop(0)
            config = configs[index]
            if index not in deferred and pending and twin_under_way(config, reuse_from):
                deferred.add(index)  # another process is making it: done last, it is probably finished by then
                pending.append(index)
                continue
            bar.set_postfix_str(f"{config.pruner}, compression {config.compression:g}")
            with warnings.catch_warnings(), notices_as_lines():  # data notices: one plain line each on stderr
                warnings.simplefilter("ignore", LayerCollapseWarning)  # collapse is in each result and its summary
                with run_lock(run_dir(config)):
                    twin = finished_twin(config, reuse_from)
                    if twin is not None:
                        results[index] = adopt(*twin, config)
                if index not in results:
                    results[index] = run_or_load(config, progress=False, allow_fallback=allow_fallback)
            bar.update()
    return [results[index] for index in range(len(configs))]
