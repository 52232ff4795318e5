"""Batch sweeps: a grid of single-shot runs, each executed as a papermill notebook, resumable, parallel, on SLURM.

``prunekit sweep`` expands pruners × compressions × seeds (plus any other run field, a
preset and per-pruner overrides) into runs in ``<result-dir>/<name>/singleshot/<expid>/``.
Each run executes the template ``prunekit/templates/run.ipynb`` with papermill, so
it leaves an executed notebook (``run.ipynb``) to open beside its ``result.json``.

- **Checked first**: unknown pruners, fields, presets, models or datasets, an empty grid, and a
  folder written by an incompatible version or holding runs of other settings fail before any run.
- **Resumable**: a run finished with the wanted settings is skipped; an unfinished one resumes from its
  checkpoints. A run stored with other settings stops the sweep (naming the differences) unless
  ``--overwrite``, which runs it again and replaces the old result once the new one has finished.
- **Shared**: each run is claimed with a lock file before it starts, so two sweeps in one folder (or a
  SLURM sweep next to a local one) share the work; a run another sweep holds is waited for.
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
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from prunekit.run.config import ExperimentConfig
from prunekit.run.executors import (  # noqa: F401 - TEMPLATE and run_one are part of this module's API
    ERROR_FILE,
    EXECUTORS,
    NOTEBOOK,
    TEMPLATE,
    _device_slots,
    _finished,
    _Pool,
    _submitit,
    _wait_any,
    run_one,
)
from prunekit.run.experiment import RESULT_FILE, run_dir
from prunekit.run.flags import add_run_flags, given_fields
from prunekit.run.grid import (  # noqa: F401 - the grid's functions are part of this module's API
    GRID_FIELDS,
    expand_grid,
    parse_override,
    parse_value,
    parse_vary,
)
from prunekit.run.io import contained_path
from prunekit.run.parsing import OneLineParser
from prunekit.run.machine import cpu_cores, thread_share
from prunekit.run.plugins import load_plugins, loaded_plugins
from prunekit.run.sweep_folder import (  # noqa: F401 - SCHEMA and CLAIMS are part of this module's API
    CLAIMS,
    SCHEMA,
    RunClaim,
    SettingsChangedError,
    check_folder,
    claim_path,
    differences,
    record_runs,
    stored_config,
    write_manifest,
)
from prunekit.run.presets import PRESETS, get_preset
from prunekit.core.scorers import pruner_names

__all__ = [
    "EXECUTORS",
    "SCHEMA",
    "SettingsChangedError",
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

# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepSummary:
    """How a sweep went.

    Attributes:
        folder: The sweep's folder.
        done: Expids run to completion now.
        skipped: Expids finished before with the wanted settings (not run again).
        failed: Expid → the first line of its ``error.txt``.
        elsewhere: Expids another sweep in the same folder computed while this one ran.
    """

    folder: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    elsewhere: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Runs in the sweep."""
        return len(self.done) + len(self.skipped) + len(self.failed) + len(self.elsewhere)

    def line(self) -> str:
        """One line: the counts."""
        shared = f", {len(self.elsewhere)} done by another sweep" if self.elsewhere else ""
        return (f"{self.total} runs: {len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed"
                + shared)

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
    plugins: Sequence[str] | None = None,
    overwrite: bool = False,
) -> SweepSummary:
    """Runs every configuration that has not finished with its settings, skipping those that have.

    Everything is checked before the first run starts (the folder's version, runs of other
    settings under the same expids). The sweep's folder is ``config.result_dir`` (one for all
    runs); ``sweep.json`` there records the grid and, as runs finish, the settings each stored
    result holds. Each run is claimed (``claims/<expid>.lock``) before it starts: a run another
    sweep holds is waited for and counted in :attr:`SweepSummary.elsewhere` once it finishes.

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
        plugins: Modules every run imports first (e.g. ones that register pruners); None = those
            imported here by :func:`prunekit.run.plugins.load_plugins` (``--plugin``, ``PRUNEKIT_PLUGINS``).
        overwrite: Run again the runs stored with other settings; each old result is replaced only once its
            new run has finished (a failing new run leaves it as it was).

    Returns:
        A :class:`SweepSummary`.

    Raises:
        SettingsChangedError: A ``ValueError``, if runs are stored with other settings and ``overwrite`` is
            False; the message names each differing setting. Nothing has run then.
        ValueError: For an unknown executor, ``jobs`` < 1, no runs, runs spread over several folders, or a folder
            written by an incompatible version; nothing has run then.

    Example:
        >>> summary = run_sweep(expand_grid(["snip"], [1], result_dir="/tmp/s", post_epochs=1))  # doctest: +SKIP
        >>> summary.line()  # doctest: +SKIP
        '1 runs: 1 done, 0 skipped, 0 failed'
    """
    plugins = tuple(loaded_plugins() if plugins is None else plugins)
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
    rerun = frozenset(check_folder(folder, configs, overwrite))
    pool = EXECUTORS[executor](folder, jobs, options or {}) if isinstance(executor, str) else _submitit(executor, jobs)
    summary = SweepSummary(folder)
    completed = False
    try:
        write_manifest(folder, configs)
        finished = {config.expid for config in configs if config.expid not in rerun and _finished(config)}
        summary.skipped = [config.expid for config in configs if config.expid in finished]
        todo = [config for config in configs if config.expid not in finished]
        if progress and executor == "local" and (jobs or 1) > 1 and todo:
            threads = os.environ.get("OMP_NUM_THREADS") or thread_share(jobs)
            print(f"sweep: {jobs} runs at a time, {threads} torch thread(s) each, on {cpu_cores()} core(s)", flush=True)
        with tqdm(total=len(configs), initial=len(summary.skipped), desc="sweep", unit="run",
                  disable=not progress) as bar:
            _drive(pool, todo, summary, bar, (kernel_name, allow_fallback, str(Path.cwd()), plugins), poll_s,
                   rerun=rerun, say=print if progress else None)
        completed = True
    finally:
        pool.close(not completed)  # interrupted: what has not finished is stopped; its checkpoints stay
    order = {expid: index for index, expid in enumerate(expids)}
    for done in (summary.done, summary.skipped, summary.elsewhere):
        done.sort(key=order.__getitem__)
    summary.failed = dict(sorted(summary.failed.items(), key=lambda item: order[item[0]]))
    if progress:
        print("\n".join(summary.lines()), flush=True)
    return summary


def _drive(
    pool: _Pool, configs: Sequence[ExperimentConfig], summary: SweepSummary, bar: Any, arguments: tuple[Any, ...],
    poll_s: float, rerun: frozenset[str] = frozenset(), say: Callable[[str], None] | None = None,
) -> None:
    """Submits ``configs`` to ``pool`` (``pool.window`` at a time) and records each outcome in ``summary``.

    Each run is claimed (:class:`~prunekit.run.sweep_folder.RunClaim`) before it is submitted and released
    when it ends; a run another sweep has claimed is looked at again every ``poll_s`` seconds until it has
    finished there (:attr:`SweepSummary.elsewhere`) or its claim is free. Runs in ``rerun`` replace a stored
    run of other settings. With several GPUs on this machine, each run in flight holds a device slot
    ``cuda:(slot mod n)``, so concurrent runs never share a GPU while another one idles.
    """
    todo = collections.deque(configs)
    waiting: list[ExperimentConfig] = []
    announced: set[str] = set()
    slots = _device_slots(pool.window) if pool.same_machine and pool.window else []
    free = list(range(len(slots)))
    in_flight: dict[Any, tuple[ExperimentConfig, int | None, RunClaim]] = {}

    def record(config: ExperimentConfig, status: str) -> None:
        if status == "failed":
            summary.failed[config.expid] = _first_error_line(config)
        elif status == "skipped":  # finished meanwhile (e.g. by a job SLURM restarted)
            summary.skipped.append(config.expid)
        elif status == "elsewhere":
            summary.elsewhere.append(config.expid)
        else:
            summary.done.append(config.expid)
        record_runs(summary.folder, [config])  # sweep.json lists what the stored result holds, nothing else
        bar.update(1)
        bar.set_postfix(done=len(summary.done), failed=len(summary.failed))

    def start(config: ExperimentConfig) -> None:
        nonlocal free
        claim = RunClaim(claim_path(summary.folder, config.expid))
        if not claim.take():
            if _finished(config):
                record(config, "elsewhere")
                return
            waiting.append(config)
            if say is not None and config.expid not in announced:
                announced.add(config.expid)
                say(f"{config.expid}: computed by another sweep, {claim.describe()}; waiting for it")
            return
        if config.expid not in rerun and _finished(config):  # finished by another sweep just before
            claim.release()
            record(config, "elsewhere")
            return
        slot = free.pop(0) if free else None
        if slot is not None and slots[slot] is not None and config.device in ("auto", "cuda"):
            config = config.replace(device=slots[slot])
        try:
            handle = pool.submit(run_one, json.dumps(config.to_dict()), *arguments, config.expid in rerun)
        except Exception as error:  # noqa: BLE001 - e.g. sbatch refused the job: that run fails
            _record_failure(config, error)
            claim.release()
            free = sorted([*free, slot]) if slot is not None else free
            record(config, "failed")
            return
        in_flight[handle] = (config, slot, claim)

    try:
        while todo or in_flight or waiting:
            while todo and (pool.window is None or len(in_flight) < pool.window):
                start(todo.popleft())
            if in_flight:
                for handle in _wait_any(list(in_flight), poll_s):
                    config, slot, claim = in_flight.pop(handle)
                    free = sorted([*free, slot]) if slot is not None else free
                    try:
                        status = handle.result()
                    except Exception as error:  # noqa: BLE001 - a worker or job that died counts as a failed run
                        _record_failure(config, error)
                        status = "failed"
                    claim.release()
                    record(config, status)
            elif waiting:
                time.sleep(poll_s)
            todo.extend(waiting)  # held by another sweep: look again (finished there, or its claim freed)
            waiting.clear()
    except BaseException:  # interrupted: stop the runs in flight (SLURM jobs too); their checkpoints stay
        for handle, (_, _, claim) in in_flight.items():
            try:
                handle.cancel()
            except Exception:  # noqa: BLE001, S110 - a job that ended meanwhile cannot be cancelled
                pass
            claim.release()
        raise


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """The sweep's own options; every other option is a run flag of ``prunekit`` (see ``prunekit -h``)."""
    parser = OneLineParser(
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
    grid.add_argument("--pruners", nargs="+", required=True, choices=list(pruner_names()), help="pruners of the grid")
    grid.add_argument("--compressions", nargs="+", type=float, default=None,
                      help="compression exponents a (density 10^-a); default: the --preset's")
    grid.add_argument("--seeds", nargs="+", type=int, default=[1], help="seeds; each grid point runs once per seed")
    grid.add_argument("--preset", choices=list(PRESETS), default=None,
                      help="start every run from a preset's settings, per-pruner ones included (e.g. report-sweep)")
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
    running.add_argument("--overwrite", action="store_true",
                         help="run again the runs stored with other settings (each old result is replaced only "
                         "once its new run has finished); without it such a folder is refused")
    running.add_argument("--quiet", action="store_true", help="no progress bar")
    running.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                         help="import MODULE here and in every run (e.g. one that registers a pruner); repeatable")
    slurm = parser.add_argument_group("SLURM (--executor slurm)")
    slurm.add_argument("--partition", default=None, help="partition")
    slurm.add_argument("--time-min", type=int, default=None, help="time limit per run, minutes")
    slurm.add_argument("--gpus", type=int, default=None, help="GPUs per run")
    slurm.add_argument("--cpus", type=int, default=None, help="CPUs per run")
    slurm.add_argument("--mem-gb", type=int, default=None, help="memory per run, GB")
    return parser


def _run_fields(arguments: Sequence[str]) -> dict[str, Any]:
    """The run flags given on the command line, as ExperimentConfig fields (only those given).

    Raises:
        ValueError: For a flag the grid sets itself (``--pruner``: use ``--pruners``) or one a sweep cannot honour.
    """
    parser = OneLineParser(prog="prunekit sweep", allow_abbrev=False)
    add_run_flags(parser)
    given = vars(parser.parse_args(list(arguments)))
    if "workers" in given:
        print("prunekit sweep: --workers is not needed (batches are built on the device); ignoring it",
              file=sys.stderr)
    fields = given_fields(argparse.Namespace(**given))
    grid_set = sorted(set(fields) & set(GRID_FIELDS))
    if grid_set:
        raise ValueError(f"the grid sets {', '.join(grid_set)} itself; use "
                         f"{', '.join(GRID_FIELDS[name] for name in grid_set)}")
    return fields


def grid_from_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[ExperimentConfig]]:
    """The sweep's options and its runs, from the arguments of ``prunekit sweep``.

    Args:
        argv: The arguments after ``sweep``.

    Returns:
        ``(options, configs)``.

    Raises:
        ValueError: For a bad grid (see :func:`expand_grid`), override or axis.
        prunekit.run.io.UnsafePathError: A ``ValueError``, if ``--name`` would leave ``--result-dir``
            (absolute, or with ``..``).
        SystemExit: For an unknown option (argparse's message and exit code 2).

    Example:
        >>> argv = "--pruners snip grasp --compressions 1 --override grasp:post_epochs=40".split()
        >>> args, configs = grid_from_args(argv)
        >>> [(c.expid, c.post_epochs) for c in configs]
        [('snip-c1-s1', 10), ('grasp-c1-s1', 40)]
    """
    args, rest = build_parser().parse_known_args(list(argv))
    folder = contained_path(args.result_dir, args.name, "sweep name (--name)")
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
                          per_pruner=per_pruner, vary=args.vary, result_dir=folder, **fields)
    return args, configs


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit sweep ...``.

    Bad input raises before any run (``ValueError`` and its kinds, :class:`~prunekit.run.plugins.PluginError`);
    :func:`prunekit.cli.main` turns every error into one line and an exit code (2 for bad input, 130 when
    interrupted).

    Returns:
        0 when every run finished, 1 when some failed.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    early = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    early.add_argument("--plugin", action="append", default=[])
    load_plugins(early.parse_known_args(arguments)[0].plugin)  # before --pruners lists the registry
    args, configs = grid_from_args(arguments)
    folder = Path(configs[0].result_dir)
    axes = [f"{len(args.pruners)} pruners", f"{len(args.compressions)} compressions", f"{len(args.seeds)} seeds",
            *(f"{len(values)} {name}" for name, values in args.vary.items())]
    print(f"sweep {folder}: {len(configs)} runs ({' × '.join(axes)}), executor {args.executor}"
          + (f", {args.jobs} at a time" if args.jobs else ""), flush=True)
    if args.dry_run:
        rerun = set(check_folder(folder, configs, overwrite=True))
        for config in configs:
            if config.expid in rerun:
                stored = stored_config(config)
                changed = ", ".join(differences(stored, config)) if stored is not None else ""
                state = f"stored with other settings ({changed}): runs again with --overwrite"
            else:
                state = "finished" if _finished(config) else "to run"
            print(f"  {config.expid}: {state}")
        return 0
    options = {"partition": args.partition, "time_min": args.time_min, "gpus": args.gpus, "cpus": args.cpus,
               "mem_gb": args.mem_gb}
    summary = run_sweep(configs, jobs=args.jobs, executor=args.executor, options=options, kernel_name=args.kernel,
                        allow_fallback=args.allow_fallback, progress=not args.quiet, overwrite=args.overwrite)
    if args.quiet:
        print("\n".join(summary.lines()))
    print(f"tables and figures: prunekit report {folder}")
    return 1 if summary.failed else 0
