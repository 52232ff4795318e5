"""Batch sweeps: a grid of single-shot runs, each executed as a papermill notebook, resumable, parallel, on SLURM.

``prunekit sweep`` expands pruners × compressions × seeds (plus any run flag, a
preset and per-pruner overrides) into runs in ``<result-dir>/<name>/singleshot/<expid>/``.
Each run executes the template ``prunekit/templates/run.ipynb`` with papermill, so
it leaves an executed notebook (``run.ipynb``) to open beside its ``result.json``.

- **Resumable**: a finished run is skipped; an unfinished one resumes from its checkpoints.
- **Failures are contained**: a failing run writes ``error.txt`` (and papermill's error
  banner in its notebook); the others go on; the sweep exits non-zero.
- **Parallel**: ``--jobs N`` worker processes; with several GPUs, run *i* gets ``cuda:(i mod n)``.
- **Beyond one machine**: ``--executor slurm`` submits every run through ``submitit``.

Example:
    >>> configs = expand_grid(["rand", "snip"], [0.5, 1], result_dir="/tmp/sweep", post_epochs=1)
    >>> [config.expid for config in configs]
    ['rand-c0.5-s1', 'rand-c1-s1', 'snip-c0.5-s1', 'snip-c1-s1']
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from prunekit.config import ExperimentConfig
from prunekit.experiment import RESULT_FILE, load_result, run_dir
from prunekit.io import read_json, write_json
from prunekit.presets import PRESETS, preset_config
from prunekit.scorers import SCORERS

__all__ = ["EXECUTORS", "SCHEMA", "SweepSummary", "expand_grid", "main", "parse_override", "run_one", "run_sweep"]

SCHEMA = "prunekit-sweep/1"
"""The ``schema`` of a sweep folder's ``sweep.json``."""

TEMPLATE = Path(__file__).resolve().parent / "templates" / "run.ipynb"

_NOT_OVERRIDABLE = ("pruner", "compression", "seed", "expid", "result_dir")


def expand_grid(
    pruners: Sequence[str],
    compressions: Sequence[float],
    *,
    result_dir: str | Path,
    seeds: Sequence[int] = (1,),
    preset: str | None = None,
    per_pruner: Mapping[str, Mapping[str, Any]] | None = None,
    **fields: Any,
) -> list[ExperimentConfig]:
    """Every run of a grid, validated before anything runs.

    Args:
        pruners: Pruner names.
        compressions: Compression exponents.
        result_dir: The sweep's folder (runs go to ``<result_dir>/singleshot/<expid>``).
        seeds: Seeds; each grid point runs once per seed.
        preset: A preset whose base and per-pruner settings come first (e.g. ``seed-sweep``).
        per_pruner: Pruner → fields set on that pruner's runs only (e.g. ``{"grasp": {"post_epochs": 300}}``).
        **fields: Fields set on every run (e.g. ``post_epochs=1``).

    Returns:
        The configurations, with expids ``<pruner>-c<compression>-s<seed>``.

    Raises:
        ValueError: For an empty grid, an unknown pruner, preset or field, or a value a configuration rejects.
    """
    if not pruners or not compressions or not seeds:
        raise ValueError(
            f"an empty grid: pruners {list(pruners)}, compressions {list(compressions)}, seeds {list(seeds)}"
        )
    unknown = [p for p in pruners if p not in SCORERS]
    if unknown:
        raise ValueError(f"unknown pruner(s) {', '.join(unknown)}; valid pruners: {', '.join(SCORERS)}")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    extra = dict(per_pruner or {})
    strangers = [p for p in extra if p not in pruners]
    if strangers:
        raise ValueError(f"overrides for pruner(s) {', '.join(strangers)} that the grid does not run: {', '.join(pruners)}")
    blocked = sorted({*fields, *(k for v in extra.values() for k in v)} & set(_NOT_OVERRIDABLE))
    if blocked:
        raise ValueError(f"the grid sets {', '.join(blocked)} itself; use --pruners, --compressions and --seeds")
    configs = []
    for pruner in pruners:
        for compression in compressions:
            for seed in seeds:
                settings = {**fields, **extra.get(pruner, {}), "compression": float(compression), "seed": int(seed),
                            "expid": f"{pruner}-c{float(compression):g}-s{int(seed)}", "result_dir": str(result_dir)}
                if preset is not None:
                    configs.append(preset_config(preset, pruner, **settings))
                else:
                    configs.append(ExperimentConfig(pruner=pruner).replace(**settings))
    expids = [config.expid for config in configs]
    if len(set(expids)) != len(expids):
        raise ValueError("two grid points share an expid: give each pruner, compression and seed once")
    return configs


def parse_override(text: str) -> tuple[str, str, Any]:
    """``PRUNER:FIELD=VALUE`` (e.g. ``grasp:post_epochs=300``) as ``(pruner, field, value)``.

    Raises:
        ValueError: If the text is not of that form, or the field is unknown.

    Example:
        >>> parse_override("mag:pre_epochs=200")
        ('mag', 'pre_epochs', 200)
    """
    pruner, colon, rest = text.partition(":")
    name, equals, raw = rest.partition("=")
    if not colon or not equals or not pruner or not name:
        raise ValueError(f"an override is PRUNER:FIELD=VALUE, e.g. grasp:post_epochs=300; got {text!r}")
    if name not in ExperimentConfig.field_names():
        raise ValueError(f"unknown field {name!r} in {text!r}; valid fields: {', '.join(ExperimentConfig.field_names())}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return pruner, name, value


def run_one(config_json: str, kernel_name: str = "python3", allow_fallback: bool = False) -> str:
    """Runs one configuration through the run notebook; what happened, in one word.

    Args:
        config_json: ``json.dumps(config.to_dict())`` (plain text, so any process or SLURM job can take it).
        kernel_name: The Jupyter kernel.
        allow_fallback: See :func:`prunekit.experiment.run_singleshot`.

    Returns:
        ``"skipped"`` (already finished), ``"done"`` or ``"failed"`` (see ``error.txt`` in the run's folder).
    """
    import papermill

    config = ExperimentConfig.from_dict(json.loads(config_json))
    folder = run_dir(config)
    if (folder / RESULT_FILE).is_file():
        return "skipped"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "error.txt").unlink(missing_ok=True)
    try:
        papermill.execute_notebook(
            str(TEMPLATE),
            str(folder / "run.ipynb"),
            parameters={"CONFIG": config_json, "ALLOW_FALLBACK": allow_fallback},
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=str(Path.cwd()),
        )
    except Exception as error:  # noqa: BLE001 - papermill raises many kinds; every one is recorded
        cause = f"{error.ename}: {error.evalue}" if hasattr(error, "ename") else f"{type(error).__name__}: {error}"
        (folder / "error.txt").write_text(f"{cause}\n\n{traceback.format_exc()}")
        return "failed"
    return "done" if (folder / RESULT_FILE).is_file() else "failed"


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

    def line(self) -> str:
        """One line: the counts."""
        total = len(self.done) + len(self.skipped) + len(self.failed)
        return f"{total} runs: {len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed"


def _prepare(folder: Path, configs: Sequence[ExperimentConfig]) -> None:
    """Checks the folder before any run starts, then records the grid in ``sweep.json``."""
    from prunekit import __version__

    manifest = folder / "sweep.json"
    if manifest.is_file():
        schema = read_json(manifest).get("schema")
        if schema != SCHEMA:
            raise ValueError(f"{folder} was written by an incompatible prunekit (schema {schema!r}, this one {SCHEMA!r})")
    for config in configs:
        if (run_dir(config) / RESULT_FILE).is_file():
            load_result(run_dir(config))  # raises ValueError for a result of another schema
    folder.mkdir(parents=True, exist_ok=True)
    write_json(manifest, {"schema": SCHEMA, "prunekit_version": __version__,
                          "runs": {config.expid: config.to_dict() for config in configs}})


def _with_devices(configs: Sequence[ExperimentConfig]) -> list[ExperimentConfig]:
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < 2:
        return list(configs)
    return [c.replace(device=f"cuda:{i % count}") if c.device in ("auto", "cuda") else c for i, c in enumerate(configs)]


def _local(jobs: int) -> concurrent.futures.Executor:
    return concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


class _Submitit:
    """submitit's executors behind the ``concurrent.futures`` calls the sweep uses."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor

    def submit(self, function: Callable[..., str], *args: Any) -> Any:
        return self.executor.submit(function, *args)

    def __enter__(self) -> _Submitit:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _slurm(folder: Path, options: Mapping[str, Any]) -> _Submitit:
    import submitit

    executor = submitit.AutoExecutor(folder=str(folder / "slurm"), cluster="slurm")
    executor.update_parameters(**{key: value for key, value in options.items() if value is not None})
    return _Submitit(executor)


def _submitit_local(folder: Path, options: Mapping[str, Any]) -> _Submitit:
    import submitit

    executor = submitit.LocalExecutor(folder=str(folder / "submitit"))
    executor.update_parameters(timeout_min=int(options.get("timeout_min") or 60))
    return _Submitit(executor)


EXECUTORS: dict[str, str] = {
    "local": "worker processes on this machine (--jobs N)",
    "slurm": "one SLURM job per run through submitit (--partition, --time-min, --gpus, --cpus)",
    "submitit-local": "submitit's local executor: the SLURM code path on this machine (for tests)",
}
"""Executor name → what it does."""


def _result_of(future: Any) -> str:
    return future.result() if hasattr(future, "result") else str(future)


def run_sweep(
    configs: Sequence[ExperimentConfig],
    *,
    jobs: int = 1,
    executor: str = "local",
    slurm: Mapping[str, Any] | None = None,
    kernel_name: str = "python3",
    allow_fallback: bool = False,
    progress: bool = True,
) -> SweepSummary:
    """Runs every configuration that has not finished, skipping those that have.

    Args:
        configs: The runs (all in one sweep folder, e.g. from :func:`expand_grid`).
        jobs: Runs at a time on this machine (``local``).
        executor: A name from :data:`EXECUTORS`.
        slurm: submitit parameters for ``slurm`` (``slurm_partition``, ``timeout_min``, ``gpus_per_node``,
            ``cpus_per_task``).
        kernel_name: The Jupyter kernel of the run notebooks.
        allow_fallback: See :func:`prunekit.experiment.run_singleshot`.
        progress: A bar over runs (done / total, time left).

    Returns:
        A :class:`SweepSummary`.

    Raises:
        ValueError: For an unknown executor, ``jobs`` < 1, configurations spread over several folders,
            or a folder written by an incompatible version; nothing has run then.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid executors: {', '.join(EXECUTORS)}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1; got {jobs}")
    folders = {config.result_dir for config in configs}
    if len(folders) != 1:
        raise ValueError(f"a sweep writes to one folder; these runs name {len(folders)}: {', '.join(sorted(folders))}")
    folder = Path(folders.pop())
    _prepare(folder, configs)
    summary = SweepSummary(folder)
    todo = []
    for config in _with_devices(configs):
        if (run_dir(config) / RESULT_FILE).is_file():
            summary.skipped.append(config.expid)
        else:
            todo.append(config)
    bar = tqdm(total=len(configs), initial=len(summary.skipped), desc="sweep", unit="run", disable=not progress)
    if executor == "local" and jobs == 1:
        pool: Any = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    elif executor == "local":
        pool = _local(jobs)
    elif executor == "slurm":
        pool = _slurm(folder, slurm or {})
    else:
        pool = _submitit_local(folder, slurm or {})
    with pool:
        futures = {pool.submit(run_one, json.dumps(c.to_dict()), kernel_name, allow_fallback): c for c in todo}
        pending = list(futures)
        while pending:
            if executor == "local":
                finished, still = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                finished, pending = list(finished), list(still)
            else:
                finished, pending = [pending[0]], pending[1:]
            for future in finished:
                config = futures[future]
                try:
                    status = _result_of(future)
                except Exception as error:  # noqa: BLE001 - a worker or job that died counts as a failed run
                    status = "failed"
                    (run_dir(config) / "error.txt").write_text(f"{type(error).__name__}: {error}\n")
                if status == "failed":
                    error_file = run_dir(config) / "error.txt"
                    first = error_file.read_text().splitlines()[0] if error_file.is_file() else "no result.json written"
                    summary.failed[config.expid] = first
                elif status == "skipped":
                    summary.skipped.append(config.expid)
                else:
                    summary.done.append(config.expid)
                bar.update(1)
                bar.set_postfix(done=len(summary.done), failed=len(summary.failed))
    bar.close()
    return summary


def build_parser() -> argparse.ArgumentParser:
    """The sweep's own options; every other flag is a run flag of ``prunekit`` (see ``prunekit -h``)."""
    parser = argparse.ArgumentParser(
        prog="prunekit sweep",
        allow_abbrev=False,
        description="Run pruners × compressions × seeds as papermill notebooks. Any other option is a run flag "
        "of `prunekit` (e.g. --model vgg16 --post-epochs 100) applied to every run.",
        epilog="example: prunekit sweep --name cifar-vgg16 --pruners rand mag snip grasp synflow --compressions "
        "0.05 0.1 0.2 0.5 1 2 --model-class lottery --model vgg16 --dataset cifar10 --post-epochs 100 "
        "--override grasp:post_epochs=300 --override mag:pre_epochs=200 --jobs 2",
    )
    parser.add_argument("--name", default="sweep", help="the sweep's folder under --result-dir")
    parser.add_argument("--result-dir", default="results/sweeps", help="where sweep folders go")
    parser.add_argument("--pruners", nargs="+", required=True, choices=list(SCORERS))
    parser.add_argument("--compressions", nargs="+", type=float, required=True, help="compression exponents a")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--preset", choices=list(PRESETS), default=None, help="start from a preset's settings")
    parser.add_argument("--override", action="append", default=[], metavar="PRUNER:FIELD=VALUE",
                        help="a setting for one pruner's runs, e.g. grasp:post_epochs=300 (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time on this machine")
    parser.add_argument("--executor", choices=list(EXECUTORS), default="local")
    parser.add_argument("--partition", default=None, help="SLURM partition")
    parser.add_argument("--time-min", type=int, default=None, help="SLURM time limit per run, minutes")
    parser.add_argument("--gpus", type=int, default=None, help="SLURM GPUs per run")
    parser.add_argument("--cpus", type=int, default=None, help="SLURM CPUs per run")
    parser.add_argument("--allow-fallback", action="store_true", help="labelled MNIST stand-ins when CIFAR-10 is missing")
    return parser


def _run_fields(arguments: Sequence[str]) -> dict[str, Any]:
    """The run flags given explicitly, as ExperimentConfig fields (a flag left at its default sets nothing)."""
    from prunekit import cli

    config = cli.config_from_args(cli.build_parser().parse_args(list(arguments)))
    defaults = ExperimentConfig().to_dict()
    return {key: value for key, value in config.to_dict().items()
            if value != defaults[key] and key not in _NOT_OVERRIDABLE}


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit sweep ...``.

    Returns:
        0 when every run finished, 1 when some failed, 2 for bad input (nothing ran).
    """
    parser = build_parser()
    args, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    try:
        fields = _run_fields(rest)
        per_pruner: dict[str, dict[str, Any]] = {}
        for text in args.override:
            pruner, name, value = parse_override(text)
            per_pruner.setdefault(pruner, {})[name] = value
        folder = Path(args.result_dir) / args.name
        configs = expand_grid(args.pruners, args.compressions, seeds=args.seeds, preset=args.preset,
                              per_pruner=per_pruner, result_dir=folder, **fields)
        slurm = {"slurm_partition": args.partition, "timeout_min": args.time_min, "gpus_per_node": args.gpus,
                 "cpus_per_task": args.cpus}
        print(f"sweep {folder}: {len(configs)} runs ({len(args.pruners)} pruners × {len(args.compressions)} "
              f"compressions × {len(args.seeds)} seeds), executor {args.executor}, {args.jobs} at a time")
        summary = run_sweep(configs, jobs=args.jobs, executor=args.executor, slurm=slurm,
                            allow_fallback=args.allow_fallback)
    except ValueError as error:
        print(f"prunekit sweep: {error}", file=sys.stderr)
        return 2
    print(summary.line())
    for expid, first in summary.failed.items():
        print(f"prunekit sweep: {expid} failed: {first} (see {folder / 'singleshot' / expid / 'run.ipynb'})",
              file=sys.stderr)
    print(f"tables and figures: prunekit report {folder}")
    return 1 if summary.failed else 0
