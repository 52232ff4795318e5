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

import sys
import warnings
from pathlib import Path

from prunekit.run.config import ExperimentConfig
from prunekit.run.io import read_json, save_checkpoint, write_json
from prunekit.run.paths import CHECKPOINTS, CONFIG_FILE, MODEL_FILE, computed_fields, config_differences, run_dir
from prunekit.run.result import RESULT_FILE, RunResult
from prunekit.run.checkpoints import CorruptCheckpointWarning

__all__ = ["UNFINISHED", "RunExistsError", "claim", "clear_unfinished", "finish", "start"]

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
