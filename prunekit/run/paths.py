"""Where a run lives and what identifies it: its folder, its files, the hash of what it computes.

A run's folder is ``<result_dir>/<experiment>/<expid>/``. It holds ``result.json``
(:mod:`prunekit.run.result`) and ``model.pt`` once finished, and while under way
``config.json`` and the checkpoints of :data:`CHECKPOINTS`.

Example:
    >>> run_dir(ExperimentConfig(expid="11", result_dir="results")).as_posix()
    'results/singleshot/11'
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prunekit.run.config import ExperimentConfig
from prunekit.run.io import contained_path

__all__ = [
    "CHECKPOINTS",
    "CONFIG_FILE",
    "MODEL_FILE",
    "NOT_HASHED",
    "computed_fields",
    "config_differences",
    "config_hash",
    "expid_of",
    "run_dir",
]

MODEL_FILE = "model.pt"
"""A finished run's masked model (``state_dict``)."""

CONFIG_FILE = "config.json"
"""An unfinished run's configuration (what it computes), to refuse resuming another one."""

CHECKPOINTS = ("checkpoint-pre.pt", "pruned.pt", "checkpoint-post.pt")
"""The files of an unfinished run, deleted when it completes."""

NOT_HASHED = ("expid", "result_dir", "verbose", "device")
"""Fields that name or place a run, or only change what is printed: not part of what is computed."""

LATER_FIELDS = ("compression_list", "level_list", "pruner_list", "prune_epoch_list", "rewind_iteration")
"""Fields added after runs were saved: hashed only when set, so the folders of earlier runs keep their names."""


def computed_fields(config: ExperimentConfig) -> dict[str, Any]:
    """The fields of ``config`` that change what a run computes (all but :data:`NOT_HASHED`), JSON-ready.

    Example:
        >>> "expid" in computed_fields(ExperimentConfig()), "seed" in computed_fields(ExperimentConfig())
        (False, True)
    """
    defaults = ExperimentConfig().to_dict()
    return {key: value for key, value in config.to_dict().items()
            if key not in NOT_HASHED and not (key in LATER_FIELDS and value == defaults[key])}


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
    return hashlib.sha1(json.dumps(computed_fields(config), sort_keys=True).encode()).hexdigest()[:8]


def config_differences(saved: ExperimentConfig, config: ExperimentConfig) -> list[str]:
    """``field: saved X, now Y`` for each field that changes what a run computes.

    Args:
        saved: The configuration a run folder holds.
        config: The one asked for now.

    Returns:
        One line per differing field (empty when both compute the same).

    Example:
        >>> config_differences(ExperimentConfig(seed=1), ExperimentConfig(seed=2, expid="x"))
        ['seed: saved 1, now 2']
    """
    before, now = computed_fields(saved), computed_fields(config)
    return [
        f"{key}: saved {before.get(key)!r}, now {value!r}"
        for key, value in now.items()
        if json.dumps(before.get(key)) != json.dumps(value)
    ]


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
    """``<result_dir>/<experiment>/<expid>``, the folder of a run, which never leaves ``<result_dir>/<experiment>``.

    Args:
        config: The run.

    Returns:
        The folder (not resolved; it need not exist yet).

    Raises:
        prunekit.run.io.UnsafePathError: A ``ValueError``, if the expid is absolute, contains ``..``
            or leads (through a link) outside the result folder: ``--overwrite`` deletes in a run's folder.

    Example:
        >>> run_dir(ExperimentConfig(expid="11", result_dir="results")).as_posix()
        'results/singleshot/11'
        >>> run_dir(ExperimentConfig(expid="../../victim", result_dir="results"))
        Traceback (most recent call last):
        ...
        prunekit.run.io.UnsafePathError: --expid '../../victim' would leave results/singleshot: use a plain name such as 'run-1' (no '..', no leading '/')
    """
    return contained_path(Path(config.result_dir) / config.experiment, expid_of(config), "--expid")
