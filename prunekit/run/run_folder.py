"""What a run's folder holds between runs, and the only places that change it.

A run's folder (:func:`~prunekit.run.paths.run_dir`) holds a *finished* run (``result.json`` and
``model.pt``) and/or the *unfinished* state of a run under way (``config.json`` and the
checkpoints of :data:`~prunekit.run.paths.CHECKPOINTS`). Three rules keep every run recoverable:

- :func:`claim` runs before any work and refuses what would destroy something: a finished run
  without ``overwrite``, or the resumable state of another configuration. With ``overwrite`` it
  drops only the unfinished state (so a corrupt checkpoint goes too); the finished run stays.
- :func:`start` writes ``config.json`` only when training is about to start, so a run that fails
  earlier (missing data, a model that cannot be built) leaves nothing that blocks its retry.
- :func:`finish` replaces the finished run only once the new one is complete: the old
  ``result.json`` is removed, the new ``model.pt`` and ``result.json`` are written, and only then
  the checkpoints are deleted; an interruption anywhere leaves a run that resumes.

Example:
    >>> import tempfile
    >>> from prunekit.run.config import ExperimentConfig
    >>> config = ExperimentConfig(result_dir=tempfile.mkdtemp(), expid="a")
    >>> claim(run_dir(config), config, overwrite=False)
    >>> run_dir(config).exists()  # nothing is written before training starts
    False
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from prunekit.run.config import ExperimentConfig
from prunekit.run.io import read_json, save_checkpoint, write_json
from prunekit.run.paths import CHECKPOINTS, CONFIG_FILE, MODEL_FILE, computed_fields, config_differences, run_dir
from prunekit.run.result import RESULT_FILE, RunResult
from prunekit.run.checkpoints import CorruptCheckpointWarning
from prunekit.core.scorers import SCORERS
from prunekit.run.data import local_origin
from prunekit.run.datasets import DataOrigin

__all__ = [
    "UNFINISHED", "RunExistsError", "adopt", "claim", "clear_unfinished", "finish", "finished_twin", "run_lock",
    "start", "twin_under_way",
]

UNFINISHED = (CONFIG_FILE, *CHECKPOINTS)
"""The files of a run under way."""


class RunExistsError(FileExistsError):
    """A run folder already holds a finished run (or an unfinished run of another configuration)."""


def clear_unfinished(folder: Path) -> None:
    """Deletes the state of a run under way in ``folder`` (never the finished run)."""
    for name in UNFINISHED:
        (folder / name).unlink(missing_ok=True)


def _saved_config(folder: Path) -> ExperimentConfig | None:
    """The configuration of the run under way in ``folder``; None (and the state dropped) if it cannot resume."""
    saved = folder / CONFIG_FILE
    if not saved.is_file():
        return None
    if not any((folder / name).is_file() for name in CHECKPOINTS):
        saved.unlink()  # it failed before its first checkpoint: nothing to resume, nothing to protect
        return None
    try:
        return ExperimentConfig.from_dict(read_json(saved))
    except (ValueError, TypeError, KeyError) as error:  # truncated or damaged: its checkpoints cannot be trusted
        message = (f"{saved} is corrupt ({type(error).__name__}: {error}); removed it and the checkpoints, "
                   "starting the run from scratch")
        clear_unfinished(folder)
        warnings.warn(message, CorruptCheckpointWarning, stacklevel=3)
        print(f"prunekit: {message}", file=sys.stderr, flush=True)
        return None


def claim(folder: Path, config: ExperimentConfig, overwrite: bool) -> None:
    """Checks that ``config`` may run in ``folder``, before any work; with ``overwrite``, drops the unfinished state.

    Args:
        folder: The run's folder.
        config: The run.
        overwrite: Replace a finished run (when the new one has finished) and start afresh.

    Raises:
        RunExistsError: If the folder holds a finished run and ``overwrite`` is False, or the
            resumable state of a run of another configuration (the message names the differences).
    """
    if overwrite:
        clear_unfinished(folder)  # a fresh start; the finished run, if any, stays until the new one is done
        return
    if (folder / RESULT_FILE).is_file():
        raise RunExistsError(
            f"{folder} already holds a finished run; pass --overwrite (overwrite=True) to replace it, "
            "or choose another --expid"
        )
    saved = _saved_config(folder)
    changed = config_differences(saved, config) if saved is not None else []
    if changed:
        raise RunExistsError(
            f"{folder} holds an unfinished run of another configuration ({'; '.join(changed)}); "
            "pass --overwrite to start it again, or choose another --expid"
        )


def start(folder: Path, config: ExperimentConfig) -> None:
    """Marks ``folder`` as holding ``config``'s run under way (call it right before training)."""
    write_json(folder / CONFIG_FILE, computed_fields(config))


def finish(folder: Path, model_state: dict, result: RunResult) -> None:
    """Makes ``result`` the folder's finished run, replacing any earlier one, then drops the unfinished state.

    Args:
        folder: The run's folder.
        model_state: The model's ``state_dict`` (written to ``model.pt``).
        result: The new run's result (written to ``result.json``).
    """
    (folder / RESULT_FILE).unlink(missing_ok=True)  # from here on the folder holds an unfinished run that resumes
    save_checkpoint(folder / MODEL_FILE, model_state)
    result.save(folder)
    clear_unfinished(folder)


def adopt(twin: RunResult, twin_folder: Path, config: ExperimentConfig) -> RunResult:
    """Makes the finished run ``twin`` (saved in ``twin_folder``) the finished run of ``config``'s folder as well.

    ``twin`` must be the same run as ``config`` (no :func:`~prunekit.run.paths.config_differences`); only
    where it is saved differs. Its ``model.pt`` is copied and its result saved with ``config`` (so the
    result names its new folder); the copy is finished only when ``result.json`` is written.

    Args:
        twin: The finished run.
        twin_folder: Where it is saved.
        config: The same run, placed elsewhere (another ``result_dir``).

    Returns:
        The result as saved in ``config``'s folder.

    Raises:
        ValueError: If ``twin`` is not the same run as ``config`` (the message names the differences).
    """
    changed = config_differences(_spelled_out(twin.config), _spelled_out(config))
    if changed:
        raise ValueError(f"{twin_folder} holds another run ({'; '.join(changed)})")
    folder = run_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{MODEL_FILE}.copy"
    shutil.copyfile(twin_folder / MODEL_FILE, partial)
    partial.replace(folder / MODEL_FILE)
    adopted = dataclasses.replace(twin, config=config)
    adopted.save(folder)
    return adopted


def _spelled_out(config: ExperimentConfig) -> ExperimentConfig:
    """``config`` with ``rounds=None`` replaced by the pruner's default number of rounds (the same run)."""
    if config.rounds is None and config.pruner in SCORERS:
        return config.replace(rounds=SCORERS[config.pruner].default_rounds)
    return config


def _spellings(config: ExperimentConfig) -> list[ExperimentConfig]:
    """``config`` and, when it leaves ``rounds`` to the pruner, the same run with that default spelled out."""
    spelled = _spelled_out(config)
    return [config] if spelled == config else [config, spelled]


def _twin_folder(config: ExperimentConfig, reuse_from: str | Path | None) -> Path | None:
    if reuse_from is None:
        return None
    folder = run_dir(config.replace(result_dir=str(reuse_from)))
    return None if folder == run_dir(config) else folder


def twin_under_way(config: ExperimentConfig, reuse_from: str | Path | None) -> bool:
    """Whether ``config``'s run is under way (started, unfinished) in the result folder ``reuse_from``."""
    for same in _spellings(config):
        folder = _twin_folder(same, reuse_from)
        if folder is not None and (folder / CONFIG_FILE).is_file() and not (folder / RESULT_FILE).is_file():
            return True
    return False


def finished_twin(config: ExperimentConfig, reuse_from: str | Path | None) -> tuple[RunResult, Path] | None:
    """The same run as ``config``, finished in the result folder ``reuse_from``, when :func:`adopt` may copy it.

    None when ``config``'s own folder already holds a finished run, when there is no readable finished
    twin, or when the twin was made on less data than is here now (the shipped sample while full MNIST
    is in place: :func:`~prunekit.run.experiment.run_or_load` would make that run again).

    Args:
        config: The run.
        reuse_from: Another result folder (None: no twin).

    Returns:
        ``(result, folder)`` of the twin, or None.
    """
    if (run_dir(config) / RESULT_FILE).is_file():
        return None
    for same in _spellings(config):
        folder = _twin_folder(same, reuse_from)
        if folder is None or not (folder / MODEL_FILE).is_file() or not (folder / RESULT_FILE).is_file():
            continue
        try:
            twin = RunResult.load(folder)
        except (OSError, ValueError):
            continue  # unreadable: the run is computed instead
        if config_differences(_spelled_out(twin.config), _spelled_out(config)):
            continue
        if local_origin(config.dataset, config.data_dir) is DataOrigin.FULL and twin.data.origin is not DataOrigin.FULL:
            continue  # made on less data than is here now
        return twin, folder
    return None


@contextlib.contextmanager
def run_lock(folder: Path, what: str = "the run") -> Iterator[None]:
    """Holds the run in ``folder`` for this process: another process asking for it waits until it is released.

    Two notebooks (or two kernels of one) asking for the same run then train it once: the second
    waits, with one line saying why, and finds it finished. The lock is the file
    ``<result_dir>/.locks/<experiment>/<run>.lock``, so nothing is added to the run's folder or beside
    it. Where ``fcntl`` is missing (Windows) there is no lock. Do not nest two locks on one run in one
    process: the second would wait forever.

    Args:
        folder: The run's folder (:func:`~prunekit.run.paths.run_dir`), or another file or folder of the
            result folder's, one level down (e.g. a shared pre-training).
        what: What the waiting line says is being made there.

    Example:
        >>> import tempfile
        >>> with run_lock(Path(tempfile.mkdtemp()) / "singleshot" / "run-1"):
        ...     pass
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent runs of one folder are the user's to avoid
        yield
        return
    lock = folder.parent.parent / ".locks" / folder.parent.name / f"{folder.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"prunekit: another process is making {what} in {folder}; waiting for it",
                  file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
