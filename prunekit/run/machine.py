"""The CPU a run computes on: its cores, the threads torch uses, and how busy the machine already is.

Work that runs side by side (a sweep's workers, batch notebooks) gives each worker its
share of the cores, ``cores // jobs`` torch threads, set in the worker's environment
before its kernel starts torch; a user's own ``OMP_NUM_THREADS`` is left as it is. A run
records the threads it trained with and the machine's load when it started; a run that
starts on a machine already loaded beyond its cores (a load of at least the cores plus one)
says so once per process, because its times then measure the other work as much as its own.

Example:
    >>> thread_share(jobs=cpu_cores()) == 1
    True
"""

from __future__ import annotations

import os
import warnings

import torch

from prunekit.run.records import Machine

__all__ = ["LoadedMachineWarning", "THREAD_VARIABLES", "cpu_cores", "machine_now", "share_threads", "thread_share",
           "warn_if_loaded"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The environment variables that set torch's CPU threads in a process about to start."""

_WARNED: set[str] = set()


class LoadedMachineWarning(UserWarning):
    """The machine was already busy beyond its cores when a run started: its times are not a quiet machine's."""


def cpu_cores() -> int:
    """The CPU cores this process may use (its affinity where the system says, else all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def thread_share(jobs: int) -> int:
    """Torch threads for each of ``jobs`` workers sharing this machine: ``cores // jobs``, at least 1.

    Raises:
        ValueError: If ``jobs`` < 1.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1; got {jobs}")
    return max(1, cpu_cores() // jobs)


def share_threads(threads: int) -> None:
    """In a worker process, before it starts kernels or torch's pool: ``threads`` threads each (a user's
    own ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` win)."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))


def machine_now() -> Machine:
    """This process's cores, torch's CPU threads and the 1-minute load average (None where there is none)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return Machine(cores=cpu_cores(), threads=torch.get_num_threads(), load=None if load is None else round(load, 2))


def warn_if_loaded(machine: Machine) -> None:
    """Warns once per process when ``machine`` was loaded beyond its cores (:attr:`Machine.overloaded`)."""
    if not machine.overloaded or "loaded" in _WARNED:
        return
    _WARNED.add("loaded")
    warnings.warn(machine.notice(), LoadedMachineWarning, stacklevel=2)

