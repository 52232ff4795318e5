"""What the multi-run experiments share: their data, model and loaders, their folder, and its claim.

The pieces come from the single-shot experiment (:mod:`prunekit.run.experiment`), so a multishot
or conservation run reads the same data, builds the same seeded model and trains with the same
loaders as a single-shot run of the same configuration.

Example:
    >>> from prunekit.run.config import ExperimentConfig
    >>> folder_of(ExperimentConfig(experiment="multishot", expid="m1", result_dir="results")).as_posix()
    'results/multishot/m1'
"""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from prunekit.run.config import ExperimentConfig
from prunekit.run.data import check_data_dir
from prunekit.run.datasets import DataOrigin, DeviceDataset
from prunekit.run.device import select_device
from prunekit.run.experiment import load_splits, seeded_model
from prunekit.run.experiments.results import EXPERIMENT_FILE, RUNNING
from prunekit.run.io import read_json
from prunekit.run.loader import DeviceLoader, prune_loader
from prunekit.run.paths import config_differences, config_hash, run_dir
from prunekit.run.run_folder import RunExistsError
from prunekit.run.training import seed_everything

__all__ = ["REPLACED_FILE", "Setup", "claim_folder", "finish_replacing", "folder_of", "now", "prepare"]


def now() -> str:
    """The UTC time as ISO text, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def folder_of(config: ExperimentConfig) -> Path:
    """The run's folder, ``<result_dir>/<experiment>/<expid>`` (:func:`prunekit.run.paths.run_dir`).

    Without an ``expid`` the folder is named after the pruners compared and the configuration's hash.
    """
    if config.expid:
        return run_dir(config)
    pruners = config.pruner_list if config.pruner_list and config.experiment != "multishot" else (config.pruner,)
    return run_dir(config.replace(expid=f"{'-'.join(pruners)}-{config_hash(config)}"))


@dataclass
class Setup:
    """A run's device, data, seeded model and loaders.

    Attributes:
        device: Where everything lives.
        train: The training split.
        test: The test split.
        model: The seeded, unpruned model.
        train_loader: Shuffled, augmented training batches (``train_limit`` applies).
        test_loader: Test batches (``test_limit`` applies).
        prune_data: The pruners' batches (``prune_dataset_ratio`` images per class).
    """

    device: torch.device
    train: DeviceDataset
    test: DeviceDataset
    model: nn.Module
    train_loader: DeviceLoader
    test_loader: DeviceLoader
    prune_data: DeviceLoader

    @property
    def origin(self) -> str:
        """``full``, ``sample`` or ``fallback``: the least real of the two splits."""
        return DataOrigin.least_real([self.train.origin, self.test.origin]).value


def prepare(config: ExperimentConfig, allow_fallback: bool = False) -> Setup:
    """Seeds everything and builds the run's data, model and loaders as a single-shot run would.

    Args:
        config: The run.
        allow_fallback: Use the labelled MNIST stand-in when CIFAR-10 is missing.

    Returns:
        A :class:`Setup`.

    Raises:
        DatasetNotFoundError: If the data is missing and no fallback applies.
    """
    device = select_device(config.device)
    seed_everything(config.seed)
    train, test = load_splits(config, device, allow_fallback)
    model = seeded_model(config, train, device)
    return Setup(
        device, train, test, model,
        DeviceLoader(train, config.train_batch_size, shuffle=True, augment=True, seed=config.seed,
                     limit=config.train_limit),
        DeviceLoader(test, config.test_batch_size, shuffle=False, limit=config.test_limit),
        prune_loader(train, config.prune_dataset_ratio, config.prune_batch_size, config.seed),
    )


REPLACED_FILE = "experiment.replaced.json"
"""A finished result that an ``--overwrite`` run will replace, kept until that run has finished."""


def finish_replacing(folder: Path) -> None:
    """Deletes the result an ``--overwrite`` run replaced (call once the new result is saved as complete)."""
    (folder / REPLACED_FILE).unlink(missing_ok=True)


def claim_folder(config: ExperimentConfig, overwrite: bool) -> tuple[Path, dict | None]:
    """Checks the run's folder before any work and returns what it holds.

    A folder with a finished result of the same configuration is refused unless ``overwrite``;
    one holding another configuration is refused always (choose another ``--expid``). With
    ``overwrite`` the run starts afresh, but nothing is lost if it is interrupted: the finished
    result is kept as :data:`REPLACED_FILE` until the new run has finished
    (:func:`finish_replacing`), and only the old run's checkpoints are deleted. An unfinished
    result of the same configuration is returned, so that the run resumes from it.

    Args:
        config: The run.
        overwrite: Start afresh.

    Returns:
        ``(folder, saved)`` with ``saved`` the unfinished result's JSON, or None.

    Raises:
        RunExistsError: If the folder holds a finished run (without ``overwrite``) or another configuration.
    """
    check_data_dir(config.data_dir)
    folder = folder_of(config)
    file = folder / EXPERIMENT_FILE
    if not file.is_file():
        return folder, None
    if overwrite:
        for stale in folder.iterdir():
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.name not in (EXPERIMENT_FILE, REPLACED_FILE):
                stale.unlink()
        if read_json(file).get("status") != RUNNING:
            file.replace(folder / REPLACED_FILE)
        else:
            file.unlink()
        return folder, None
    saved = read_json(file)
    changed = config_differences(ExperimentConfig.from_dict(saved["config"]), config)
    if changed:
        raise RunExistsError(f"{folder} holds a run of another configuration ({'; '.join(changed)}); "
                             "choose another --expid or use --overwrite")
    if saved.get("status") != RUNNING:
        raise RunExistsError(f"{folder} holds a finished {config.experiment} run; use --overwrite to replace it "
                             "or another --expid")
    return folder, saved
