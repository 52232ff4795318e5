"""Batch sweeps: a grid of single-shot runs, each executed as a papermill notebook, resumable, parallel, on SLURM.

``prunekit sweep`` expands pruners × compressions × seeds (plus any other run field, a
preset and per-pruner overrides) into runs in ``<result-dir>/<name>/singleshot/<expid>/``.
Each run executes the template ``prunekit/templates/run.ipynb`` with papermill, so
it leaves an executed notebook (``run.ipynb``) to open beside its ``result.json``.

- **Checked first**: unknown pruners, fields, presets, models or datasets, an empty grid, and a
  folder written by an incompatible version or holding runs of other settings fail before any run.
- **Resumable**: a finished run is skipped; an unfinished one resumes from its checkpoints.
- **Failures are contained**: a failing run writes ``error.txt`` (and papermill's error
  banner in its notebook); the others go on; the sweep exits non-zero.
- **Parallel**: ``--jobs N`` runs at a time; with several GPUs, each concurrent run gets its own device.
- **Beyond one machine**: ``--executor slurm`` submits every run through ``submitit``.

Example:
    >>> configs = expand_grid(["rand", "snip"], [0.5, 1], result_dir="/tmp/sweep", post_epochs=1)
    >>> [config.expid for config in configs]
    ['rand-c0.5-s1', 'rand-c1-s1', 'snip-c0.5-s1', 'snip-c1-s1']
    >>> [c.expid for c in expand_grid(["mag"], [1], result_dir="/tmp/sweep", vary={"model": ["fc", "conv"]})]
    ['mag-c1-s1-model=fc', 'mag-c1-s1-model=conv']
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import itertools
import json
import multiprocessing
import os
import re
import socket
import sys
import time
import traceback
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from prunekit.run.config import EXPERIMENTS, ExperimentConfig
from prunekit.run.data import DATASETS
from prunekit.run.experiment import RESULT_FILE, config_hash, load_result, run_dir
from prunekit.run.io import read_json, write_json
from prunekit.core.models import MODELS
from prunekit.run.presets import PRESETS, get_preset, preset_config
from prunekit.core.pruning import SCHEDULES, SCOPES
from prunekit.core.scorers import SCORERS
from prunekit.run.training import OPTIMIZERS

__all__ = [
    "EXECUTORS",
    "SCHEMA",
    "SweepSummary",
    "build_parser",
    "expand_grid",
    "grid_from_args",
    "main",
    "parse_override",
    "parse_value",
    "parse_vary",
    "run_one",
    "run_sweep",
]

SCHEMA = "prunekit-sweep/1"
"""The ``schema`` of a sweep folder's ``sweep.json``."""

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "run.ipynb"
"""The notebook every run executes."""

MANIFEST = "sweep.json"
NOTEBOOK = "run.ipynb"
ERROR_FILE = "error.txt"
LOCK_FILE = "sweep.lock"
_CONFIG_FILE = "config.json"  # an unfinished run's settings (written by prunekit.run.experiment)

_GRID_FIELDS = {
    "pruner": "--pruners",
    "compression": "--compressions",
    "seed": "--seeds",
    "expid": "the grid (expids are derived)",
    "result_dir": "--result-dir and --name",
}
"""Fields the grid sets itself → the option that sets them."""

# Fields that only name, place or print a run: a saved run with other values is still the same run.
_NOT_COMPARED = ("expid", "result_dir", "verbose", "device")

_NAMED: dict[str, Callable[[ExperimentConfig], Iterable[str]]] = {
    "dataset": lambda config: DATASETS,
    "model_class": lambda config: MODELS,
    "model": lambda config: MODELS.get(config.model_class, {}),
    "optimizer": lambda config: OPTIMIZERS,
    "compression_schedule": lambda config: SCHEDULES,
    "mask_scope": lambda config: SCOPES,
    "experiment": lambda config: EXPERIMENTS,
}
"""Fields whose value must be a name from a registry → that registry (checked before any run)."""


# --------------------------------------------------------------------------- values of run fields


def _field_type(name: str) -> tuple[Any, bool]:
    """The field's base type and whether it may be None."""
    fields = ExperimentConfig.field_names()
    if name not in fields:
        raise ValueError(f"unknown field {name!r}; valid fields: {', '.join(fields)}")
    hint = typing.get_type_hints(ExperimentConfig)[name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        return tuple, False
    if type(None) in args:
        return next(arg for arg in args if arg is not type(None)), True
    return hint, False


def parse_value(name: str, text: str) -> Any:
    """The value of run field ``name`` written as text, with the field's type.

    Booleans are ``true``/``false``; fields that may be None take ``none``; ``lr_drops``
    is written ``30+60`` (an empty text is no drops).

    Args:
        name: An ExperimentConfig field (dashes are read as underscores: ``post-epochs``).
        text: The value.

    Returns:
        The typed value.

    Raises:
        ValueError: For an unknown field (the message lists the valid ones) or a value of the wrong kind.

    Example:
        >>> parse_value("post-epochs", "300"), parse_value("train_limit", "none"), parse_value("lr_drops", "30+60")
        (300, None, (30, 60))
    """
    name = name.replace("-", "_")
    kind, optional = _field_type(name)
    if optional and text.lower() in ("none", "null"):
        return None
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    try:
        if kind is bool:
            if text.lower() not in words:
                raise ValueError(text)
            return words[text.lower()]
        if kind is tuple:
            return tuple(int(part) for part in text.split("+") if part.strip())
        return kind(text)
    except ValueError:
        expected = {bool: "true or false", tuple: "whole numbers joined by + (e.g. 30+60)", int: "a whole number",
                    float: "a number"}.get(kind, "text")
        raise ValueError(f"{name} takes {expected}{' or none' if optional else ''}; got {text!r}") from None


def parse_override(text: str) -> tuple[str, str, Any]:
    """``PRUNER:FIELD=VALUE`` (e.g. ``grasp:post_epochs=300``) as ``(pruner, field, value)``.

    Raises:
        ValueError: If the text is not of that form, or the pruner, field or value is bad.

    Example:
        >>> parse_override("mag:pre_epochs=200")
        ('mag', 'pre_epochs', 200)
    """
    pruner, colon, rest = text.partition(":")
    name, equals, raw = rest.partition("=")
    if not colon or not equals or not pruner or not name:
        raise ValueError(f"an override is PRUNER:FIELD=VALUE, e.g. grasp:post_epochs=300; got {text!r}")
    if pruner not in SCORERS:
        raise ValueError(f"unknown pruner {pruner!r} in {text!r}; valid pruners: {', '.join(SCORERS)}")
    name = name.replace("-", "_")
    return pruner, name, parse_value(name, raw)


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``FIELD=V1,V2,...`` (e.g. ``model=fc,conv``) as ``(field, [values])``: one grid axis.

    Raises:
        ValueError: If the text is not of that form, or the field or a value is bad.

    Example:
        >>> parse_vary("post-epochs=1,5")
        ('post_epochs', [1, 5])
    """
    name, equals, raw = text.partition("=")
    if not equals or not name or not raw:
        raise ValueError(f"a grid axis is FIELD=V1,V2,..., e.g. model=fc,conv; got {text!r}")
    name = name.replace("-", "_")
    return name, [parse_value(name, part) for part in raw.split(",")]


# --------------------------------------------------------------------------- the grid


def _token(value: Any) -> str:
    """A value as it appears in an expid."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "+".join(str(part) for part in value) or "none"
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", str(value))


def _check_names(config: ExperimentConfig) -> None:
    for name, registry in _NAMED.items():
        valid = list(registry(config))
        if getattr(config, name) not in valid:
            of = f" of model_class {config.model_class!r}" if name == "model" else ""
            raise ValueError(
                f"unknown {name} {getattr(config, name)!r}{of} (run {config.expid}); valid: {', '.join(valid)}"
            )


def expand_grid(
    pruners: Sequence[str],
    compressions: Sequence[float],
    *,
    result_dir: str | Path,
    seeds: Sequence[int] = (1,),
    preset: str | None = None,
    per_pruner: Mapping[str, Mapping[str, Any]] | None = None,
    vary: Mapping[str, Sequence[Any]] | None = None,
    **fields: Any,
) -> list[ExperimentConfig]:
    """Every run of a grid, validated before anything runs.

    Settings apply in this order, later ones winning: the preset's base, the preset's
    per-pruner settings, ``fields``, ``per_pruner``, the grid's own axes.

    Args:
        pruners: Pruner names.
        compressions: Compression exponents.
        result_dir: The sweep's folder (runs go to ``<result_dir>/singleshot/<expid>``).
        seeds: Seeds; each grid point runs once per seed.
        preset: A preset whose base and per-pruner settings come first (e.g. ``seed-sweep``).
        per_pruner: Pruner → fields set on that pruner's runs only (e.g. ``{"grasp": {"post_epochs": 300}}``).
        vary: More grid axes: field → its values (e.g. ``{"model": ["fc", "conv"]}``).
        **fields: Fields set on every run (e.g. ``post_epochs=1``).

    Returns:
        The configurations, pruner-major, with expids ``<pruner>-c<compression>-s<seed>``
        followed by ``-<field>=<value>`` for each ``vary`` axis.

    Raises:
        ValueError: For an empty grid, an unknown pruner, preset, field, model, dataset or optimizer,
            a field set twice, or a value a configuration rejects; the message names the valid choices.

    Example:
        >>> configs = expand_grid(["mag", "grasp"], [1], result_dir="s", preset="seed-sweep")
        >>> [(c.pruner, c.pre_epochs, c.post_epochs) for c in configs]
        [('mag', 200, 100), ('grasp', 0, 300)]
    """
    axes = {name.replace("-", "_"): list(values) for name, values in (vary or {}).items()}
    empty = [name for name, values in {"pruners": pruners, "compressions": compressions, "seeds": seeds,
                                       **axes}.items() if not len(values)]
    if empty:
        raise ValueError(f"an empty grid: no values for {', '.join(empty)}")
    unknown = [p for p in pruners if p not in SCORERS]
    if unknown:
        raise ValueError(f"unknown pruner(s) {', '.join(map(repr, unknown))}; valid pruners: {', '.join(SCORERS)}")
    if preset is not None:
        get_preset(preset)
    extra = {pruner: dict(settings) for pruner, settings in (per_pruner or {}).items()}
    strangers = [p for p in extra if p not in pruners]
    if strangers:
        raise ValueError(
            f"overrides for pruner(s) {', '.join(strangers)} that the grid does not run: {', '.join(pruners)}"
        )
    named = {"fields": list(fields), "vary": list(axes), **{f"{p} overrides": list(s) for p, s in extra.items()}}
    valid = ExperimentConfig.field_names()
    for where, names in named.items():
        bad = [name for name in names if name not in valid]
        if bad:
            raise ValueError(f"unknown config field(s) {', '.join(bad)} in {where}; valid fields: {', '.join(valid)}")
        grid_set = [name for name in names if name in _GRID_FIELDS]
        if grid_set:
            raise ValueError(
                f"the grid sets {', '.join(grid_set)} itself; use {', '.join(_GRID_FIELDS[n] for n in grid_set)}"
            )
    twice = sorted(set(axes) & ({*fields} | {name for settings in extra.values() for name in settings}))
    if twice:
        raise ValueError(f"{', '.join(twice)} is both a grid axis (vary) and a fixed setting; give it once")
    configs = []
    for pruner, compression, seed, combination in itertools.product(
        pruners, compressions, seeds, itertools.product(*axes.values())
    ):
        point = dict(zip(axes, combination))
        expid = f"{pruner}-c{float(compression):g}-s{int(seed)}" + "".join(
            f"-{name}={_token(value)}" for name, value in point.items()
        )
        settings = {**fields, **extra.get(pruner, {}), **point, "compression": float(compression),
                    "seed": int(seed), "expid": expid, "result_dir": str(result_dir)}
        try:
            if preset is not None:
                config = preset_config(preset, pruner, **settings)
            else:
                config = ExperimentConfig(pruner=pruner).replace(**settings)
        except TypeError as error:  # a value of the wrong type compared in the config's checks
            raise ValueError(f"a value of the wrong type for run {expid}: {error}") from None
        _check_names(config)
        configs.append(config)
    expids = [config.expid for config in configs]
    repeated = sorted({expid for expid in expids if expids.count(expid) > 1})
    if repeated:
        raise ValueError(f"grid points given twice ({', '.join(repeated)}): give each value once")
    return configs


# --------------------------------------------------------------------------- one run


def _finished(config: ExperimentConfig, base: Path | None = None) -> bool:
    """Whether the run's ``result.json`` (relative paths from ``base``) is there and says ``complete``."""
    file = (base or Path.cwd()) / run_dir(config) / RESULT_FILE
    if not file.is_file():
        return False
    try:
        return read_json(file).get("status") == "complete"
    except (OSError, ValueError):
        return False


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_one(
    config_json: str, kernel_name: str = "python3", allow_fallback: bool = False, cwd: str | None = None
) -> str:
    """Runs one configuration through the run notebook; what happened, in one word.

    The executed notebook is saved as ``run.ipynb`` in the run's folder (also when the
    run fails: papermill then adds its error banner), and a failure is described in
    ``error.txt`` there.

    Args:
        config_json: ``json.dumps(config.to_dict())`` (plain text, so any process or SLURM job can take it).
        kernel_name: The Jupyter kernel.
        allow_fallback: See :func:`prunekit.run.experiment.run_singleshot`.
        cwd: The notebook's working directory (relative ``result_dir``/``data_dir`` are read from there);
            None = this process's.

    Returns:
        ``"skipped"`` (already finished), ``"done"`` or ``"failed"`` (see ``error.txt`` in the run's folder).
    """
    import papermill

    config = ExperimentConfig.from_dict(json.loads(config_json))
    base = Path(cwd) if cwd is not None else Path.cwd()
    if _finished(config, base):
        return "skipped"
    folder = base / run_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ERROR_FILE).unlink(missing_ok=True)
    try:
        papermill.execute_notebook(
            str(TEMPLATE),
            str(folder / NOTEBOOK),
            parameters={"CONFIG": config_json, "ALLOW_FALLBACK": allow_fallback},
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=str(base),
        )
    except Exception as error:  # noqa: BLE001 - papermill raises many kinds; every one is recorded
        if hasattr(error, "ename"):  # the notebook raised: its own traceback says more than papermill's
            cause = f"{error.ename}: {error.evalue}"
            details = _ANSI.sub("", "\n".join(getattr(error, "traceback", []) or []))
        else:
            cause, details = f"{type(error).__name__}: {error}", traceback.format_exc()
        (folder / ERROR_FILE).write_text(f"{cause}\n\nexecuted notebook: {folder / NOTEBOOK}\n\n{details}\n")
        return "failed"
    if _finished(config, base):
        return "done"
    (folder / ERROR_FILE).write_text(f"the notebook ended without a complete {RESULT_FILE}\n")
    return "failed"


# --------------------------------------------------------------------------- the sweep folder


def _differences(saved: Mapping[str, Any], config: ExperimentConfig) -> list[str]:
    """``field: saved X, now Y`` for each field that changes what a run computes."""
    defaults = ExperimentConfig().to_dict()
    changed = []
    for key, value in config.to_dict().items():
        before = saved.get(key, defaults[key])
        if key not in _NOT_COMPARED and json.dumps(before) != json.dumps(value):
            changed.append(f"{key}: saved {before!r}, now {value!r}")
    return changed


def _check_folder(folder: Path, configs: Sequence[ExperimentConfig]) -> None:
    """Refuses a folder of another version, or one holding runs of other settings under the same expids."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            saved = read_json(manifest)
        except ValueError as error:
            raise ValueError(f"{manifest} is not readable JSON ({error}); move the folder aside") from None
        saved = saved if isinstance(saved, dict) else {}
        if saved.get("schema") != SCHEMA:
            raise ValueError(
                f"{folder} was written by an incompatible prunekit (schema {saved.get('schema')!r}, version "
                f"{saved.get('prunekit_version', '?')}; this one reads {SCHEMA!r}); "
                "use another --name or move the folder aside"
            )
    for config in configs:
        folder_of_run = run_dir(config)
        if (folder_of_run / RESULT_FILE).is_file():
            saved_config = load_result(folder_of_run)["config"]  # ValueError for a result of another schema
        elif (folder_of_run / _CONFIG_FILE).is_file():
            saved_config = read_json(folder_of_run / _CONFIG_FILE)  # an unfinished run
        else:
            continue
        if config_hash(ExperimentConfig.from_dict(saved_config)) != config_hash(config):
            raise ValueError(
                f"{folder_of_run} holds a run of other settings ({'; '.join(_differences(saved_config, config))}); "
                "use another --name, or delete that run's folder to run it with the new settings"
            )


def _grid_of(configs: Sequence[ExperimentConfig]) -> dict[str, Any]:
    """The grid as a dict: its pruners, compressions and seeds, and every other field that varies."""

    def unique(name: str) -> list[Any]:
        values = []
        for config in configs:
            value = config.to_dict()[name]
            if value not in values:
                values.append(value)
        return values

    varied = {name: unique(name) for name in ExperimentConfig.field_names()
              if name not in ("pruner", "compression", "seed", "expid") and len(unique(name)) > 1}
    return {"pruners": unique("pruner"), "compressions": unique("compression"), "seeds": unique("seed"),
            "varied": varied, "runs": len(configs)}


def _write_manifest(folder: Path, configs: Sequence[ExperimentConfig]) -> None:
    from prunekit import __version__

    manifest = folder / MANIFEST
    runs = read_json(manifest).get("runs", {}) if manifest.is_file() else {}
    runs.update({config.expid: config.to_dict() for config in configs})
    folder.mkdir(parents=True, exist_ok=True)
    write_json(manifest, {"schema": SCHEMA, "prunekit_version": __version__, "grid": _grid_of(configs),
                          "runs": runs})


class _Lock:
    """``sweep.lock``: one sweep at a time in a folder (two would write the same checkpoints)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self.mine = {"pid": os.getpid(), "host": socket.gethostname()}

    def __enter__(self) -> _Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                with open(self.path, "x") as handle:
                    json.dump(self.mine, handle)
                return self
            except FileExistsError:
                try:
                    other = json.loads(self.path.read_text())
                except (OSError, ValueError):
                    other = {}
                if other.get("host") != self.mine["host"] or _alive(int(other.get("pid", 0))):
                    raise ValueError(
                        f"another sweep (pid {other.get('pid', '?')} on {other.get('host', '?')}) is running in "
                        f"{self.path.parent}; wait for it, or delete {self.path} if it is not running"
                    ) from None
                self.path.unlink(missing_ok=True)  # left by a sweep on this machine that no longer runs
        raise ValueError(f"cannot take {self.path}; delete it if no sweep is running there")

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def _share_cpus(threads: int) -> None:
    """In a worker: the notebook kernels it starts use ``threads`` CPU threads (unless the user chose)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))


def _local(folder: Path, jobs: int | None, options: Mapping[str, Any]) -> _Pool:
    """Worker processes; with N at a time, each run's kernel gets 1/N of the CPU threads (no oversubscription)."""
    workers = jobs or 1
    if workers == 1:  # papermill starts its own kernel process; a thread is enough to wait for it
        pool: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_share_cpus, initargs=(threads,)
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


# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepSummary:
    """How a sweep went.

    Attributes:
        folder: The sweep's folder.
        done: Expids run to completion now.
        skipped: Expids finished before (not run again).
        failed: Expid → the first line of its ``error.txt``.
    """

    folder: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Runs in the sweep."""
        return len(self.done) + len(self.skipped) + len(self.failed)

    def line(self) -> str:
        """One line: the counts."""
        return f"{self.total} runs: {len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed"

    def lines(self) -> list[str]:
        """The counts, then one line per failed run with where to look."""
        runs = self.folder / "singleshot"
        return [self.line()] + [
            f"failed: {expid}: {first} (see {runs / expid / ERROR_FILE} and {runs / expid / NOTEBOOK})"
            for expid, first in self.failed.items()
        ]


def _record_failure(config: ExperimentConfig, error: BaseException) -> None:
    folder = run_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    (folder / ERROR_FILE).write_text(f"{type(error).__name__}: {error}\n\n{text}")


def _first_error_line(config: ExperimentConfig) -> str:
    file = run_dir(config) / ERROR_FILE
    lines = file.read_text().splitlines() if file.is_file() else []
    return lines[0] if lines else f"no complete {RESULT_FILE} written"


def run_sweep(
    configs: Sequence[ExperimentConfig],
    *,
    jobs: int | None = None,
    executor: str | Any = "local",
    options: Mapping[str, Any] | None = None,
    kernel_name: str = "python3",
    allow_fallback: bool = False,
    progress: bool = True,
    poll_s: float = 2.0,
) -> SweepSummary:
    """Runs every configuration that has not finished, skipping those that have.

    Everything is checked before the first run starts (the folder's version, runs of other
    settings under the same expids, another sweep running there). The sweep's folder is
    ``config.result_dir`` (one for all runs); ``sweep.json`` there records the grid.

    Args:
        configs: The runs (e.g. from :func:`expand_grid`).
        jobs: Runs at a time (``local`` and ``submitit-local``: default 1; ``slurm``: default all).
        executor: A name from :data:`EXECUTORS`, or a submitit executor (anything with
            ``submit(function, *args)`` returning a job with ``done()`` and ``result()``).
        options: Executor options (``slurm``: ``partition``, ``time_min``, ``gpus``, ``cpus``, ``mem_gb``).
        kernel_name: The Jupyter kernel of the run notebooks.
        allow_fallback: See :func:`prunekit.run.experiment.run_singleshot`.
        progress: A bar over runs (done / total, time left) and the counts at the end.
        poll_s: Seconds between looks at submitit jobs.

    Returns:
        A :class:`SweepSummary`.

    Raises:
        ValueError: For an unknown executor, ``jobs`` < 1, no runs, runs spread over several folders, a folder
            written by an incompatible version or holding runs of other settings, or another sweep running
            there; nothing has run then.

    Example:
        >>> summary = run_sweep(expand_grid(["snip"], [1], result_dir="/tmp/s", post_epochs=1))  # doctest: +SKIP
        >>> summary.line()  # doctest: +SKIP
        '1 runs: 1 done, 0 skipped, 0 failed'
    """
    if isinstance(executor, str) and executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid executors: {', '.join(EXECUTORS)}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be at least 1; got {jobs}")
    if not configs:
        raise ValueError("an empty grid: no runs to do")
    folders = sorted({config.result_dir for config in configs})
    if len(folders) != 1:
        raise ValueError(f"a sweep writes to one folder; these runs name {len(folders)}: {', '.join(folders)}")
    expids = [config.expid for config in configs]
    if "" in expids or len(set(expids)) != len(expids):
        raise ValueError("every run of a sweep needs its own expid (expand_grid gives them)")
    folder = Path(folders[0])
    _check_folder(folder, configs)
    pool = EXECUTORS[executor](folder, jobs, options or {}) if isinstance(executor, str) else _submitit(executor, jobs)
    summary = SweepSummary(folder)
    completed = False
    try:
        with _Lock(folder):
            _write_manifest(folder, configs)
            finished = {config.expid for config in configs if _finished(config)}
            summary.skipped = [config.expid for config in configs if config.expid in finished]
            todo = [config for config in configs if config.expid not in finished]
            with tqdm(total=len(configs), initial=len(summary.skipped), desc="sweep", unit="run",
                      disable=not progress) as bar:
                _drive(pool, todo, summary, bar, (kernel_name, allow_fallback, str(Path.cwd())), poll_s)
        completed = True
    finally:
        pool.close(not completed)  # interrupted: what has not finished is stopped; its checkpoints stay
    order = {expid: index for index, expid in enumerate(expids)}
    summary.done.sort(key=order.__getitem__)
    summary.skipped.sort(key=order.__getitem__)
    summary.failed = dict(sorted(summary.failed.items(), key=lambda item: order[item[0]]))
    if progress:
        print("\n".join(summary.lines()), flush=True)
    return summary


def _drive(
    pool: _Pool, configs: Sequence[ExperimentConfig], summary: SweepSummary, bar: Any, arguments: tuple[Any, ...],
    poll_s: float,
) -> None:
    """Submits ``configs`` to ``pool`` (``pool.window`` at a time) and records each outcome in ``summary``.

    With several GPUs on this machine, each run in flight holds a device slot ``cuda:(slot mod n)``,
    so concurrent runs never share a GPU while another one idles.
    """
    todo = collections.deque(configs)
    slots = _device_slots(pool.window) if pool.same_machine and pool.window else []
    free = list(range(len(slots)))
    in_flight: dict[Any, tuple[ExperimentConfig, int | None]] = {}

    def record(config: ExperimentConfig, status: str) -> None:
        if status == "failed":
            summary.failed[config.expid] = _first_error_line(config)
        elif status == "skipped":  # finished meanwhile (e.g. by a job SLURM restarted)
            summary.skipped.append(config.expid)
        else:
            summary.done.append(config.expid)
        bar.update(1)
        bar.set_postfix(done=len(summary.done), failed=len(summary.failed))

    try:
        while todo or in_flight:
            while todo and (pool.window is None or len(in_flight) < pool.window):
                config = todo.popleft()
                slot = free.pop(0) if free else None
                if slot is not None and slots[slot] is not None and config.device in ("auto", "cuda"):
                    config = config.replace(device=slots[slot])
                try:
                    in_flight[pool.submit(run_one, json.dumps(config.to_dict()), *arguments)] = (config, slot)
                except Exception as error:  # noqa: BLE001 - e.g. sbatch refused the job: that run fails
                    _record_failure(config, error)
                    free = sorted([*free, slot]) if slot is not None else free
                    record(config, "failed")
            if not in_flight:
                continue
            for handle in _wait_any(list(in_flight), poll_s):
                config, slot = in_flight.pop(handle)
                free = sorted([*free, slot]) if slot is not None else free
                try:
                    status = handle.result()
                except Exception as error:  # noqa: BLE001 - a worker or job that died counts as a failed run
                    _record_failure(config, error)
                    status = "failed"
                record(config, status)
    except BaseException:  # interrupted: stop the runs in flight (SLURM jobs too); their checkpoints stay
        for handle in in_flight:
            try:
                handle.cancel()
            except Exception:  # noqa: BLE001, S110 - a job that ended meanwhile cannot be cancelled
                pass
        raise


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """The sweep's own options; every other option is a run flag of ``prunekit`` (see ``prunekit -h``)."""
    parser = argparse.ArgumentParser(
        prog="prunekit sweep",
        allow_abbrev=False,
        description="Run pruners × compressions × seeds (× any --vary axis) as papermill notebooks, resumably. "
        "Any other option is a run flag of `prunekit` (e.g. --model vgg16 --post-epochs 100; see prunekit -h) "
        "applied to every run.",
        epilog="example: prunekit sweep --name cifar-vgg16 --pruners rand mag snip grasp synflow --compressions "
        "0.05 0.1 0.2 0.5 1 2 --model-class lottery --model vgg16 --dataset cifar10 --post-epochs 100 "
        "--override grasp:post_epochs=300 --override mag:pre_epochs=200 --jobs 2",
    )
    grid = parser.add_argument_group("the grid")
    grid.add_argument("--name", default="sweep", help="the sweep's folder under --result-dir (default: sweep)")
    grid.add_argument("--result-dir", default="results/sweeps", help="where sweep folders go (default: results/sweeps)")
    grid.add_argument("--pruners", nargs="+", required=True, choices=list(SCORERS), help="pruners of the grid")
    grid.add_argument("--compressions", nargs="+", type=float, default=None,
                      help="compression exponents a (density 10^-a); default: the --preset's")
    grid.add_argument("--seeds", nargs="+", type=int, default=[1], help="seeds; each grid point runs once per seed")
    grid.add_argument("--preset", choices=list(PRESETS), default=None,
                      help="start every run from a preset's settings, per-pruner ones included (e.g. seed-sweep)")
    grid.add_argument("--override", action="append", default=[], metavar="PRUNER:FIELD=VALUE",
                      help="a setting for one pruner's runs, e.g. grasp:post_epochs=300 (repeatable)")
    grid.add_argument("--vary", action="append", default=[], metavar="FIELD=V1,V2",
                      help="one more grid axis, e.g. model=fc,conv or post_epochs=1,5 (repeatable)")
    running = parser.add_argument_group("running")
    running.add_argument("--jobs", type=int, default=None,
                         help="runs at a time (default: 1 on this machine, all at once on SLURM)")
    running.add_argument("--executor", choices=list(EXECUTORS), default="local",
                         help="local: processes here; slurm: one SLURM job per run (submitit); "
                         "submitit-local: the SLURM code path on this machine")
    running.add_argument("--kernel", default="python3", help="Jupyter kernel of the run notebooks")
    running.add_argument("--allow-fallback", action="store_true",
                         help="labelled MNIST stand-ins when CIFAR-10 is missing")
    running.add_argument("--dry-run", action="store_true", help="list the runs and whether they finished; run nothing")
    running.add_argument("--quiet", action="store_true", help="no progress bar")
    slurm = parser.add_argument_group("SLURM (--executor slurm)")
    slurm.add_argument("--partition", default=None, help="partition")
    slurm.add_argument("--time-min", type=int, default=None, help="time limit per run, minutes")
    slurm.add_argument("--gpus", type=int, default=None, help="GPUs per run")
    slurm.add_argument("--cpus", type=int, default=None, help="CPUs per run")
    slurm.add_argument("--mem-gb", type=int, default=None, help="memory per run, GB")
    return parser


_FLAG_FIELDS = {"prune_epochs": "prune_iterations", "gpu": "device", "no_cuda": "device"}
"""Run-flag destinations whose config field has another name."""


def _run_fields(arguments: Sequence[str]) -> dict[str, Any]:
    """The run flags given on the command line, as ExperimentConfig fields (only those given).

    Raises:
        ValueError: For a flag the grid sets itself (``--pruner``: use ``--pruners``) or one a sweep cannot honour.
    """
    from prunekit import cli

    parser = cli.build_parser()
    parser.prog = "prunekit sweep"
    full = parser.parse_args(list(arguments))
    unset = object()  # argparse fills in a default only where the namespace has no value yet
    blank = argparse.Namespace(**{dest: unset for dest in vars(parser.parse_args([]))})
    given = {dest: value for dest, value in vars(parser.parse_args(list(arguments), blank)).items()
             if value is not unset}
    if "overwrite" in given:
        raise ValueError("a sweep never overwrites finished runs; delete a run's folder to run it again")
    if "workers" in given:
        print("prunekit sweep: --workers is not needed (batches are built on the device); ignoring it",
              file=sys.stderr)
    names = {_FLAG_FIELDS.get(dest, dest) for dest in given}
    grid_set = sorted(names & set(_GRID_FIELDS))
    if grid_set:
        raise ValueError(f"the grid sets {', '.join(grid_set)} itself; use "
                         f"{', '.join(_GRID_FIELDS[name] for name in grid_set)}")
    config = cli.config_from_args(full).to_dict()
    return {name: config[name] for name in names if name in config}


def grid_from_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[ExperimentConfig]]:
    """The sweep's options and its runs, from the arguments of ``prunekit sweep``.

    Args:
        argv: The arguments after ``sweep``.

    Returns:
        ``(options, configs)``.

    Raises:
        ValueError: For a bad grid (see :func:`expand_grid`), override or axis.
        SystemExit: For an unknown option (argparse's message and exit code 2).

    Example:
        >>> argv = "--pruners snip grasp --compressions 1 --override grasp:post_epochs=40".split()
        >>> args, configs = grid_from_args(argv)
        >>> [(c.expid, c.post_epochs) for c in configs]
        [('snip-c1-s1', 10), ('grasp-c1-s1', 40)]
    """
    args, rest = build_parser().parse_known_args(list(argv))
    fields = _run_fields(rest)
    per_pruner: dict[str, dict[str, Any]] = {}
    for text in args.override:
        pruner, name, value = parse_override(text)
        per_pruner.setdefault(pruner, {})[name] = value
    args.vary = dict(parse_vary(text) for text in args.vary)
    if args.compressions is None:
        if args.preset is None:
            raise ValueError("give --compressions (or a --preset, whose compressions are used)")
        args.compressions = list(get_preset(args.preset).compressions)
    configs = expand_grid(args.pruners, args.compressions, seeds=args.seeds, preset=args.preset,
                          per_pruner=per_pruner, vary=args.vary, result_dir=Path(args.result_dir) / args.name, **fields)
    return args, configs


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit sweep ...``.

    Returns:
        0 when every run finished, 1 when some failed, 2 for bad input (nothing ran), 130 when interrupted.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    folder = Path("?")
    try:
        args, configs = grid_from_args(arguments)
        folder = Path(args.result_dir) / args.name
        axes = [f"{len(args.pruners)} pruners", f"{len(args.compressions)} compressions", f"{len(args.seeds)} seeds",
                *(f"{len(values)} {name}" for name, values in args.vary.items())]
        print(f"sweep {folder}: {len(configs)} runs ({' × '.join(axes)}), executor {args.executor}"
              + (f", {args.jobs} at a time" if args.jobs else ""), flush=True)
        if args.dry_run:
            _check_folder(folder, configs)
            for config in configs:
                print(f"  {config.expid}: {'finished' if _finished(config) else 'to run'}")
            return 0
        options = {"partition": args.partition, "time_min": args.time_min, "gpus": args.gpus, "cpus": args.cpus,
                   "mem_gb": args.mem_gb}
        summary = run_sweep(configs, jobs=args.jobs, executor=args.executor, options=options,
                            kernel_name=args.kernel, allow_fallback=args.allow_fallback, progress=not args.quiet)
    except ValueError as error:
        print(f"prunekit sweep: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prunekit sweep: interrupted; the same command resumes {folder}", file=sys.stderr)
        return 130
    if args.quiet:
        print("\n".join(summary.lines()))
    print(f"tables and figures: prunekit report {folder}")
    return 1 if summary.failed else 0
