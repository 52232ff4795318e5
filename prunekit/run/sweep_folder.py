"""A sweep's folder: its manifest (``sweep.json``), the claims on its runs, and the checks before any run starts.

- **Settings**: a run is skipped only when its stored settings equal the wanted ones; a folder holding
  runs of other settings is refused (:class:`SettingsChangedError`, naming each difference) unless
  the sweep overwrites them.
- **Claims**: each run is claimed with a lock file created with ``O_EXCL`` (:class:`RunClaim`) in
  ``claims/``, so two sweeps in one folder (or a SLURM sweep next to a local one) share the work and
  never compute a run twice. A claim of a process that no longer runs on this machine is taken over.
- **Manifest**: ``sweep.json`` lists under ``runs`` only the runs whose results are stored, with the
  settings those results hold; it is updated as runs finish, under a short lock.

Example:
    >>> SCHEMA
    'prunekit-sweep/1'
    >>> differences(ExperimentConfig(post_epochs=1), ExperimentConfig(post_epochs=2))
    ['post_epochs: stored 1, wanted 2']
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from prunekit.run.config import ExperimentConfig
from prunekit.run.experiment import load_result, run_dir
from prunekit.run.io import contained_path, read_json, write_json
from prunekit.run.paths import CHECKPOINTS, CONFIG_FILE, computed_fields
from prunekit.run.result import RESULT_FILE, STATUSES

__all__ = [
    "CLAIMS",
    "MANIFEST",
    "MANIFEST_LOCK",
    "SCHEMA",
    "RunClaim",
    "SettingsChangedError",
    "check_folder",
    "claim_path",
    "differences",
    "finished_as_wanted",
    "manifest_lock",
    "record_runs",
    "stored_config",
    "write_manifest",
]

SCHEMA = "prunekit-sweep/1"
"""The ``schema`` of a sweep folder's ``sweep.json``."""

MANIFEST = "sweep.json"
MANIFEST_LOCK = "sweep.json.lock"
CLAIMS = "claims"
"""The folder of the per-run claims (``<expid>.lock``) in a sweep's folder."""

_UNREADABLE_CLAIM_S = 60.0  # an empty claim file older than this was left by a process that died while writing it


class SettingsChangedError(ValueError):
    """Runs of the folder hold other settings than the sweep wants; the message names each difference."""


# --------------------------------------------------------------------------- stored settings


def stored_config(config: ExperimentConfig, base: Path | None = None) -> ExperimentConfig | None:
    """The settings stored in ``config``'s run folder: its result's, else its resumable state's; None if neither.

    Args:
        config: The run.
        base: Relative result folders are read from here (None: the working directory).

    Raises:
        ValueError: For a ``result.json`` this version cannot read (the message names the file).
    """
    folder = (base or Path.cwd()) / run_dir(config)
    if (folder / RESULT_FILE).is_file():
        return load_result(folder).config
    if (folder / CONFIG_FILE).is_file() and any((folder / name).is_file() for name in CHECKPOINTS):
        try:
            return ExperimentConfig.from_dict(read_json(folder / CONFIG_FILE))
        except (ValueError, TypeError):  # damaged: the run itself starts afresh (prunekit.run.run_folder)
            return None
    return None


def differences(stored: ExperimentConfig, wanted: ExperimentConfig) -> list[str]:
    """``field: stored X, wanted Y`` for each field that changes what a run computes.

    Example:
        >>> differences(ExperimentConfig(seed=1, expid="a"), ExperimentConfig(seed=1, expid="b"))
        []
    """
    before, now = computed_fields(stored), computed_fields(wanted)
    return [f"{key}: stored {before.get(key)!r}, wanted {value!r}" for key, value in now.items()
            if json.dumps(before.get(key)) != json.dumps(value)]


def finished_as_wanted(config: ExperimentConfig, base: Path | None = None) -> bool:
    """Whether the run's folder holds a finished result (complete or diverged) of exactly these settings."""
    file = (base or Path.cwd()) / run_dir(config) / RESULT_FILE
    if not file.is_file():
        return False
    try:
        result = load_result(file)
    except (OSError, ValueError):  # unreadable, or a result of another schema (ResultSchemaError)
        return False
    return result.status in STATUSES and not differences(result.config, config)


def check_folder(folder: Path, configs: Sequence[ExperimentConfig], overwrite: bool = False) -> list[str]:
    """Checks a sweep's folder before any run; the expids whose stored settings differ (to run again).

    Args:
        folder: The sweep's folder.
        configs: Its runs.
        overwrite: Runs of other settings are to be replaced (each once its new run finishes).

    Returns:
        The expids holding a run (finished or under way) of other settings; empty unless ``overwrite``.

    Raises:
        SettingsChangedError: If runs hold other settings and ``overwrite`` is False; the message names each
            differing setting and says to use ``--overwrite`` or another ``--name``.
        ValueError: For a folder written by an incompatible version, or an unreadable ``sweep.json`` or result.
    """
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
    changed = {}
    for config in configs:
        stored = stored_config(config)
        if stored is not None and differences(stored, config):
            changed[config.expid] = differences(stored, config)
    if changed and not overwrite:
        listed = "; ".join(f"{expid} ({', '.join(lines)})" for expid, lines in list(changed.items())[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise SettingsChangedError(
            f"{len(changed)} run(s) in {folder} hold other settings: {listed}{more}; "
            "pass --overwrite to run them again with the new settings (each old result is replaced once its "
            "new run finishes), or use another --name"
        )
    return list(changed)


# --------------------------------------------------------------------------- claims


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class RunClaim:
    """A lock file created with ``O_EXCL``: while it exists, the process it names computes the run.

    A claim whose process no longer runs on this machine is taken over; one of another machine is
    respected (its process cannot be seen from here; delete the file if that sweep no longer runs).

    Args:
        path: The lock file.

    Example:
        >>> import tempfile
        >>> claim = RunClaim(Path(tempfile.mkdtemp()) / "run.lock")
        >>> claim.take(), RunClaim(claim.path).take()
        (True, False)
        >>> claim.release(); RunClaim(claim.path).take()
        True
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.token = {"pid": os.getpid(), "host": socket.gethostname(), "nonce": uuid.uuid4().hex}

    def holder(self) -> dict[str, Any] | None:
        """The claim's content (None: no claim, or one being written right now)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _stale(self, holder: dict[str, Any] | None) -> bool:
        if holder is None:  # empty: being written right now, or its writer died before writing
            try:
                return time.time() - self.path.stat().st_mtime > _UNREADABLE_CLAIM_S
            except OSError:
                return False
        try:
            pid = int(holder.get("pid", 0))
        except (TypeError, ValueError):
            return True
        return holder.get("host") == self.token["host"] and not _alive(pid)

    def _break(self, holder: dict[str, Any] | None) -> None:
        """Removes the stale claim ``holder``, never a live one another process took meanwhile."""
        aside = self.path.with_name(f"{self.path.name}.{self.token['nonce']}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # another process took it over first
        try:
            moved = json.loads(aside.read_text())
        except (OSError, ValueError):
            moved = None
        if moved != holder:  # a fresh claim replaced the stale one meanwhile: put it back
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def take(self) -> bool:
        """Claims the run; False if another live process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = self.holder()
                if not self._stale(holder):
                    return False
                self._break(holder)
                continue
            with os.fdopen(descriptor, "w") as handle:
                json.dump(self.token, handle)
            return True
        return False

    def release(self) -> None:
        """Deletes the claim if it is still this one's."""
        if self.holder() == self.token:
            self.path.unlink(missing_ok=True)

    def describe(self) -> str:
        """Who holds the claim, for a message."""
        holder = self.holder() or {}
        return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} (claim {self.path})"


def claim_path(folder: Path, expid: str) -> Path:
    """The claim file of run ``expid`` in the sweep folder ``folder``."""
    return contained_path(folder / CLAIMS, f"{expid}.lock", "run id")


@contextmanager
def manifest_lock(folder: Path, timeout_s: float = 30.0) -> Iterator[None]:
    """Holds ``sweep.json.lock`` while ``sweep.json`` is read and rewritten (concurrent sweeps take turns).

    Raises:
        ValueError: If another live process holds it for longer than ``timeout_s``.
    """
    claim = RunClaim(folder / MANIFEST_LOCK)
    deadline = time.monotonic() + timeout_s
    while not claim.take():
        if time.monotonic() > deadline:
            raise ValueError(f"{claim.path} has been held by {claim.describe()} for {timeout_s:g} s; "
                             "delete it if no sweep is running there")
        time.sleep(0.05)
    try:
        yield
    finally:
        claim.release()


# --------------------------------------------------------------------------- the manifest


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


def _version() -> str:
    try:
        return version("prunekit")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _stored_entries(configs: Sequence[ExperimentConfig]) -> dict[str, dict[str, Any] | None]:
    """Expid → the settings its stored result holds (None: no result stored)."""
    entries: dict[str, dict[str, Any] | None] = {}
    for config in configs:
        file = run_dir(config) / RESULT_FILE
        try:
            entries[config.expid] = load_result(file).config.to_dict() if file.is_file() else None
        except (OSError, ValueError):  # unreadable: claim nothing about it
            entries[config.expid] = None
    return entries


def _rewrite(folder: Path, configs: Sequence[ExperimentConfig], grid: dict[str, Any] | None) -> None:
    manifest = folder / MANIFEST
    with manifest_lock(folder):
        saved = read_json(manifest) if manifest.is_file() else {}
        saved = saved if isinstance(saved, dict) else {}
        runs = saved.get("runs", {}) if isinstance(saved.get("runs"), dict) else {}
        for expid, entry in _stored_entries(configs).items():
            if entry is None:
                runs.pop(expid, None)
            else:
                runs[expid] = entry
        write_json(manifest, {"schema": SCHEMA, "prunekit_version": _version(),
                              "grid": grid if grid is not None else saved.get("grid", {}), "runs": runs})


def write_manifest(folder: Path, configs: Sequence[ExperimentConfig]) -> None:
    """Writes ``sweep.json``: the grid asked for, and under ``runs`` the settings each stored result holds.

    A run without a stored result is not listed; :func:`record_runs` adds it once it has finished.
    """
    folder.mkdir(parents=True, exist_ok=True)
    _rewrite(folder, configs, _grid_of(configs))


def record_runs(folder: Path, configs: Sequence[ExperimentConfig]) -> None:
    """Updates the ``runs`` of ``sweep.json`` for ``configs`` from what their folders hold now."""
    _rewrite(folder, configs, None)
