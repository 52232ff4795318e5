"""Where a sweep's runs execute: one run as a papermill notebook, and the pools that run many.

:func:`run_one` executes the template ``prunekit/templates/run.ipynb`` for one
configuration; the executors (:data:`EXECUTORS`) are local worker processes, SLURM jobs
through ``submitit``, or submitit's local executor. Plugins (modules that register
pruners) reach every run through ``PRUNEKIT_PLUGINS``.

Example:
    >>> sorted(EXECUTORS)
    ['local', 'slurm', 'submitit-local']
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import re
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunekit.run.config import ExperimentConfig
from prunekit.run.experiment import RESULT_FILE, run_dir
from prunekit.run.kernels import kernel_config
from prunekit.run.machine import share_threads, thread_share
from prunekit.run.plugins import ENV_VAR, load_plugins
from prunekit.run.sweep_folder import finished_as_wanted

__all__ = ["ATTEMPTS", "ERROR_FILE", "EXECUTORS", "NOTEBOOK", "TEMPLATE", "run_one"]

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "run.ipynb"
"""The notebook every run executes."""

NOTEBOOK = "run.ipynb"
ERROR_FILE = "error.txt"
ATTEMPTS = "attempts.log"
"""One line per time a sweep started computing the run (when, which process on which machine)."""


# --------------------------------------------------------------------------- one run


def _finished(config: ExperimentConfig, base: Path | None = None) -> bool:
    """Whether the run's ``result.json`` (relative paths from ``base``) is there, finished, with these settings."""
    return finished_as_wanted(config, base)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_one(
    config_json: str, kernel_name: str = "python3", allow_fallback: bool = False, cwd: str | None = None,
    plugins: Sequence[str] = (),
    overwrite: bool = False,
) -> str:
    """Runs one configuration through the run notebook; what happened, in one word.

    The executed notebook is saved as ``run.ipynb`` in the run's folder (also when the
    run fails: papermill then adds its error banner), and a failure is described in
    ``error.txt`` there. Each start is logged in ``attempts.log`` there.

    Args:
        config_json: ``json.dumps(config.to_dict())`` (plain text, so any process or SLURM job can take it).
        kernel_name: The Jupyter kernel.
        allow_fallback: See :func:`prunekit.run.experiment.run_singleshot`.
        cwd: The notebook's working directory (relative ``result_dir``/``data_dir`` are read from there);
            None = this process's.
        plugins: Modules that register pruners, imported here and in the notebook's kernel.
        overwrite: The run's folder holds a run of other settings: replace it (the old result stays
            until the new run has finished; see :func:`prunekit.run.experiment.run_singleshot`).

    Returns:
        ``"skipped"`` (already finished), ``"done"`` or ``"failed"`` (see ``error.txt`` in the run's folder).
    """
    import papermill

    load_plugins(plugins)  # before the pruner is looked up; the kernel imports them through PRUNEKIT_PLUGINS
    config = ExperimentConfig.from_dict(json.loads(config_json))
    base = Path(cwd) if cwd is not None else Path.cwd()
    if _finished(config, base):
        return "skipped"
    folder = base / run_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ERROR_FILE).unlink(missing_ok=True)
    with open(folder / ATTEMPTS, "a", encoding="utf-8") as log:
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} started by pid {os.getpid()} on {socket.gethostname()}"
                  f"{' (overwriting a run of other settings)' if overwrite else ''}\n")
    before = os.environ.get(ENV_VAR)
    if plugins:  # the kernel papermill starts inherits this process's environment
        os.environ[ENV_VAR] = ",".join(name for name in dict.fromkeys([*(before or "").split(","), *plugins]) if name)
    try:
        papermill.execute_notebook(
            str(TEMPLATE),
            str(folder / NOTEBOOK),
            parameters={"CONFIG": config_json, "ALLOW_FALLBACK": allow_fallback, "OVERWRITE": overwrite},
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=str(base),
            config=kernel_config(),
        )
    except Exception as error:  # noqa: BLE001 - papermill raises many kinds; every one is recorded
        if hasattr(error, "ename"):  # the notebook raised: its own traceback says more than papermill's
            cause = f"{error.ename}: {error.evalue}"
            details = _ANSI.sub("", "\n".join(getattr(error, "traceback", []) or []))
        else:
            cause, details = f"{type(error).__name__}: {error}", traceback.format_exc()
        (folder / ERROR_FILE).write_text(f"{cause}\n\nexecuted notebook: {folder / NOTEBOOK}\n\n{details}\n")
        return "failed"
    finally:
        if before is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = before
    if _finished(config, base):
        return "done"
    (folder / ERROR_FILE).write_text(f"the notebook ended without a complete {RESULT_FILE}\n")
    return "failed"


# --------------------------------------------------------------------------- executors


@dataclass
class _Pool:
    """Where runs go: ``submit(function, *args)`` returns a future or a submitit job.

    Attributes:
        submit: Submits one call.
        close: Releases the workers (cancel=True: also what has not finished).
        window: Runs in flight at once (None: all).
        same_machine: The runs share this machine's GPUs, so each concurrent run gets its own.
    """

    submit: Callable[..., Any]
    close: Callable[[bool], None]
    window: int | None
    same_machine: bool = False


def _local(folder: Path, jobs: int | None, options: Mapping[str, Any]) -> _Pool:
    """Worker processes; with N at a time, each run's kernel gets 1/N of the CPU threads (no oversubscription)."""
    workers = jobs or 1
    if workers == 1:  # papermill starts its own kernel process; a thread is enough to wait for it
        pool: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    else:
        pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=share_threads,
            initargs=(thread_share(workers),),
        )
    return _Pool(pool.submit, lambda cancel: pool.shutdown(wait=not cancel, cancel_futures=cancel), workers, True)


def _submitit(executor: Any, jobs: int | None) -> _Pool:
    def close(cancel: bool) -> None:
        return None

    return _Pool(executor.submit, close, jobs)


def _slurm(folder: Path, jobs: int | None, options: Mapping[str, Any]) -> _Pool:
    import submitit

    try:
        executor = submitit.AutoExecutor(folder=str(folder / "slurm"), cluster="slurm")
    except RuntimeError as error:  # submitit: "Could not detect srun"
        raise ValueError(f"--executor slurm needs a SLURM cluster ({error}); valid executors: "
                         f"{', '.join(EXECUTORS)}") from None
    parameters = {"slurm_partition": options.get("partition"), "timeout_min": options.get("time_min"),
                  "gpus_per_node": options.get("gpus"), "cpus_per_task": options.get("cpus"),
                  "mem_gb": options.get("mem_gb")}
    executor.update_parameters(name=f"prunekit-{folder.name}",
                               **{key: value for key, value in parameters.items() if value is not None})
    return _submitit(executor, jobs)


def _submitit_local(folder: Path, jobs: int | None, options: Mapping[str, Any]) -> _Pool:
    import submitit

    executor = submitit.LocalExecutor(folder=str(folder / "submitit"))
    executor.update_parameters(timeout_min=int(options.get("time_min") or 60))
    return _submitit(executor, jobs or 1)


EXECUTORS: dict[str, Callable[[Path, int | None, Mapping[str, Any]], _Pool]] = {
    "local": _local,
    "slurm": _slurm,
    "submitit-local": _submitit_local,
}
"""Executor name → ``factory(sweep folder, jobs, options)``: ``local`` worker processes on this machine
(``jobs`` at a time, default 1), ``slurm`` one SLURM job per run through submitit (options ``partition``,
``time_min``, ``gpus``, ``cpus``, ``mem_gb``; all queued at once unless ``jobs``), ``submitit-local``
submitit's local executor (the SLURM code path on this machine, for tests; ``jobs`` at a time, default 1)."""


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _device_slots(count: int) -> list[str | None]:
    """The device of each of ``count`` concurrent runs: ``cuda:(i mod n)`` with n >= 2 GPUs, else unchanged."""
    gpus = _gpu_count()
    return [f"cuda:{index % gpus}" if gpus >= 2 else None for index in range(count)]


def _wait_any(handles: Sequence[Any], poll_s: float) -> list[Any]:
    """The handles that have finished, waiting until there is at least one."""
    if all(isinstance(handle, concurrent.futures.Future) for handle in handles):
        finished, _ = concurrent.futures.wait(handles, return_when=concurrent.futures.FIRST_COMPLETED)
        return [handle for handle in handles if handle in finished]
    while True:
        finished = [handle for handle in handles if handle.done()]
        if finished:
            return finished
        time.sleep(poll_s)
