"""``prunekit reference``: the reference result set, computed and written as compact text.

The parts and their settings are in :mod:`prunekit.run.reference_parts`. Each part writes,
under ``<out>/<part>/`` (``reference/`` at the repository root by default), CSV files and one
``metadata.json``. Every CSV starts with ``#`` lines naming the command, the prunekit, torch and
Python versions and the machine; dates and timings are only in ``metadata.json``, so the CSVs of
two regenerations on the same machine with the same seeds are identical. Read a CSV with
``pandas.read_csv(path, comment="#")``.

The individual training runs go to a work folder (``results/reference/`` by default, git-ignored)
through :func:`~prunekit.run.experiment.run_or_load`, and each VGG16 task's rows to a JSON file there,
so an interrupted ``make reference`` resumes where it stopped. ``--jobs N`` worker processes
(spawned) share the machine's cores, each with one torch thread (:data:`THREADS`): float sums in another
order could flip a near-tie at a pruning threshold, so one thread keeps the files identical whatever ``N``.

Example:
    >>> args = build_parser().parse_args(["--part", "vgg16-init", "--smoke"])
    >>> args.part, args.jobs, args.smoke
    (['vgg16-init'], 2, True)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from prunekit.core.pruning import LayerCollapseWarning
from prunekit.run.config import ExperimentConfig
from prunekit.run.data import notices_as_lines, show_notices_as_lines
from prunekit.run.experiment import RESULT_FILE, run_dir, run_or_load
from prunekit.run.experiments import EXPERIMENT_FILE, run_or_load_experiment
from prunekit.run.experiments.common import folder_of
from prunekit.run.reference_iterative import iterative_configs, iterative_files
from prunekit.run.reference_parts import FULL, PARTS, SMOKE, VGG_SETTINGS, Scale, mnist_configs, vgg16_task
from prunekit.run.reference_tables import PartFiles, mnist_files, vgg_files
from prunekit.run.resources import clone_root, default_data_dir, package_version

__all__ = ["THREADS", "Machine", "build_parser", "main", "run_reference"]


THREADS = 1
"""Torch threads per worker, whatever ``--jobs``: with more, a reduction sums in another order, which can flip a
near-tie at the pruning threshold (measured: SNIP and GraSP on VGG16 moved one weight between layers with 2 threads)."""


@dataclasses.dataclass(frozen=True)
class Machine:
    """Where and how the set was computed (recorded in every file).

    Attributes:
        platform: ``platform.platform()``.
        processor: ``platform.machine()``.
        cpu_count: ``os.cpu_count()``.
        jobs: Worker processes.
        threads: Torch threads per worker.
    """

    platform: str
    processor: str
    cpu_count: int
    jobs: int
    threads: int

    @classmethod
    def here(cls, jobs: int) -> Machine:
        """This machine with ``jobs`` workers of :data:`THREADS` torch thread each."""
        return cls(platform.platform(), platform.machine(), os.cpu_count() or 1, jobs, THREADS)


def _repo_root() -> Path:
    root = clone_root()
    return root if root is not None else Path.cwd()


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)
    warnings.simplefilter("ignore", LayerCollapseWarning)  # recorded in each result
    show_notices_as_lines()  # data notices: one plain line each on stderr


def _mnist_task(config_json: str) -> tuple[bool, str]:
    """Runs (or loads) one training run; whether it computed anything, and one line about it."""
    config = ExperimentConfig.from_dict(json.loads(config_json))
    computed = not (run_dir(config) / RESULT_FILE).is_file()
    result = run_or_load(config, progress=False)
    return computed, f"top1 {result.top1:.2f}"


def _multishot_task(config_json: str) -> tuple[bool, str]:
    """Runs (or resumes, or loads) one multishot run; whether it computed anything, and one line about it."""
    config = ExperimentConfig.from_dict(json.loads(config_json))
    computed = not (folder_of(config) / EXPERIMENT_FILE).is_file()
    result = run_or_load_experiment(config, progress=False)
    return computed, ", ".join(f"a={e.compression:g}: top1 {e.top1:.2f}" for e in result.entries)


def _vgg_task(label: str, seed: int, compressions: tuple[float, ...], data_dir: str, cache: str) -> tuple[bool, str]:
    """Computes (or loads) one VGG16 setting and seed; whether it computed anything, and one line about it."""
    path = Path(cache)
    computed = not path.is_file()
    if computed:
        rows, layers = vgg16_task(label, seed, compressions, data_dir)
        payload = {"rows": [dataclasses.asdict(r) for r in rows], "layers": [dataclasses.asdict(r) for r in layers]}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(payload), encoding="utf-8")
        partial.replace(path)
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return computed, ", ".join(f"a={row['compression']:g}: FLOP ratio {row['flop_ratio']:.4f}" for row in rows[:3])


@dataclasses.dataclass(frozen=True)
class _Task:
    part: str
    name: str
    function: Callable[..., tuple[bool, str]]
    arguments: tuple
    cost: float
    """Roughly, in training epochs of FC on full MNIST (for the time-left estimate)."""


_VGG_TASK_COST = 25.0
"""One VGG16 setting and seed at six compressions costs about 25 FC epochs (measured on 2 busy cores)."""


def _tasks(part: str, scale: Scale, work: Path, data_dir: Path) -> list[_Task]:
    if part == "vgg16-init":
        return [
            _Task(part, f"vgg16-init {s.label} seed {seed}", _vgg_task,
                  (s.label, seed, scale.vgg_compressions, str(data_dir),
                   str(work / part / f"{s.label}-seed{seed}.json")), _VGG_TASK_COST)
            for s in VGG_SETTINGS for seed in scale.seeds
            if scale.vgg_settings is None or s.label in scale.vgg_settings
        ]
    if part == "iterative":
        multi, single = iterative_configs(scale, work, data_dir)
        return [
            *(_Task(part, f"iterative {'imp-reinit' if c.reinitialize else 'imp'} a={c.compression:g} seed {c.seed}",
                    _multishot_task, (json.dumps(c.to_dict()),),
                    c.pre_epochs * sum(c.level_list) + c.post_epochs + 1) for c in multi),
            *(_Task(part, f"iterative {c.pruner} a={c.compression:g} seed {c.seed} (mnist-sweep's run)", _mnist_task,
                    (json.dumps(c.to_dict()),), c.pre_epochs + c.post_epochs + 1) for c in single),
        ]
    return [
        _Task(part, f"{part} {c.pruner} rounds {c.rounds or 1} a={c.compression:g} seed {c.seed}", _mnist_task,
              (json.dumps(c.to_dict()),), c.pre_epochs + c.post_epochs + 1)
        for c in mnist_configs(part, scale, work, data_dir)
    ]


def _shared_tasks(tasks: dict[str, list[_Task]]) -> dict[tuple, list[_Task]]:
    """The tasks grouped by the work they do, in order: a run two parts share (the iterative part's one-shot runs
    are mnist-sweep's) is computed once, by one worker, and counts for both parts."""
    groups: dict[tuple, list[_Task]] = {}
    for part_tasks in tasks.values():
        for task in part_tasks:
            groups.setdefault((task.function.__name__, task.arguments), []).append(task)
    return groups


def _command(parts: Sequence[str], jobs: int, smoke: bool) -> str:
    words = ["prunekit", "reference", *(f"--part {p}" for p in parts), f"--jobs {jobs}"]
    return " ".join(words + (["--smoke"] if smoke else []))


def _header(command: str, machine: Machine, scale: Scale) -> list[str]:
    return [
        f"command: {command}",
        f"prunekit {package_version()}, torch {torch.__version__}, python {platform.python_version()}",
        f"machine: {machine.platform} ({machine.processor}), {machine.cpu_count} CPUs, "
        f"{machine.jobs} jobs x {machine.threads} torch threads",
        f"scale: {scale.name}; date and timings: metadata.json",
    ]


def _write_part(part: str, files: PartFiles, out: Path, header: list[str], meta: dict) -> list[Path]:
    folder = out / part
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (description, text) in files.csvs.items():
        path = folder / name
        path.write_text("".join(f"# {line}\n" for line in [f"{part}: {description}", *header]) + text,
                        encoding="utf-8")
        written.append(path)
    meta = {**meta, "part": part, "files": {name: desc for name, (desc, _) in files.csvs.items()}, **files.meta}
    path = folder / "metadata.json"
    path.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return [*written, path]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run_reference(
    parts: Sequence[str] = PARTS,
    *,
    jobs: int = 2,
    smoke: bool = False,
    scale: Scale | None = None,
    out: str | Path | None = None,
    work: str | Path | None = None,
    data_dir: str | Path | None = None,
    log: Callable[[str], None] = print,
    after_part: Callable[[str, list[Path]], None] | None = None,
) -> dict[str, list[Path]]:
    """Computes the parts (resuming what finished before) and writes their files.

    Args:
        parts: Any of :data:`~prunekit.run.reference_parts.PARTS`, computed in that order.
        jobs: Worker processes (each with :data:`THREADS` torch thread).
        smoke: The tiny :data:`~prunekit.run.reference_parts.SMOKE` scale (1 seed, 2 compressions, 1 epoch,
            1,000 training images); ``out`` and ``work`` then default to a new temporary folder.
        scale: Another scale (e.g. a smaller smoke for tests); it implies ``smoke`` unless it is the full one.
        out: Where the parts' files go; default ``<repo>/reference``.
        work: Where the individual runs go; default ``<repo>/results/reference``.
        data_dir: The folder with ``MNIST/raw/`` (and ``cifar-10-batches-py/`` if present); default the
            repository's ``data/`` (else :func:`~prunekit.run.resources.default_data_dir`).
        log: Where progress lines go.
        after_part: Called with a part and its files as soon as they are written (e.g. to compare them with
            the report's numbers).

    Returns:
        Part → the files written. A part with a failed task writes nothing (its failures are logged).

    Raises:
        ValueError: If a part is unknown (the message lists the valid ones) or ``jobs`` < 1.
        RuntimeError: If any task failed (after every other task has run); the message names them.
    """
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; valid parts: {', '.join(PARTS)}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1; got {jobs}")
    parts = [p for p in PARTS if p in parts]
    scale = scale if scale is not None else SMOKE if smoke else FULL
    smoke = scale != FULL
    if smoke and (out is None or work is None):
        scratch = Path(tempfile.mkdtemp(prefix="prunekit-reference-smoke-"))
        out, work = out or scratch / "reference", work or scratch / "work"
    root = _repo_root()
    out = Path(out) if out is not None else root / "reference"
    work = Path(work) if work is not None else root / "results" / "reference"
    if data_dir is None:
        data_dir = root / "data" if (root / "data" / "MNIST" / "raw").is_dir() else default_data_dir()
    data_dir = Path(data_dir)
    machine = Machine.here(jobs)
    command = _command(parts, jobs, smoke)
    header = _header(command, machine, scale)
    tasks = {part: _tasks(part, scale, work, data_dir) for part in parts}
    shared = _shared_tasks(tasks)
    total = len(shared)
    total_cost, done_cost, computed_cost = sum(group[0].cost for group in shared.values()), 0.0, 0.0
    log(f"reference: {total} tasks ({', '.join(f'{p} {len(t)}' for p, t in tasks.items())}"
        f"{'; each shared run once' if total < sum(len(t) for t in tasks.values()) else ''}), {jobs} jobs x "
        f"{machine.threads} threads; runs in {work}, files in {out}, data from {data_dir}")
    started, clock = _now(), time.monotonic()
    pending = {part: len(t) for part, t in tasks.items()}
    failed: dict[str, list[str]] = {part: [] for part in parts}
    written: dict[str, list[Path]] = {}
    done = 0
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init,
                                                  initargs=(machine.threads,))
    try:
        futures = {pool.submit(group[0].function, *group[0].arguments): group for group in shared.values()}
        for future in concurrent.futures.as_completed(futures):
            group = futures[future]
            task = group[0]
            done += 1
            try:
                computed, outcome = future.result()
            except Exception as error:  # noqa: BLE001 - logged, the others go on; raised at the end
                for member in group:
                    failed[member.part].append(f"{member.name}: {type(error).__name__}: {error}")
                computed, outcome = True, f"FAILED ({type(error).__name__}: {error})"
            elapsed = time.monotonic() - clock
            done_cost += task.cost
            computed_cost += task.cost if computed else 0.0
            left = (f"about {elapsed / computed_cost * (total_cost - done_cost) / 60:.0f} min left"
                    if computed_cost else "loaded")  # from what this call computed, not what it loaded
            also = f" (also {', '.join(m.part for m in group[1:])}'s)" if len(group) > 1 else ""
            log(f"[{done}/{total}] {task.name}{also}: {outcome} (elapsed {elapsed / 60:.1f} min, {left})")
            for member in group:
                pending[member.part] -= 1
                if pending[member.part] > 0:
                    continue
                if failed[member.part]:
                    log(f"{member.part}: {len(failed[member.part])} task(s) failed; its files are not written")
                    continue
                files = _part_files(member.part, scale, work, data_dir, tasks[member.part])
                meta = {
                    "command": command, "scale": scale.name, "prunekit_version": package_version(),
                    "torch_version": torch.__version__, "python_version": platform.python_version(),
                    "machine": dataclasses.asdict(machine), "started_at": started, "finished_at": _now(),
                    "elapsed_s": round(time.monotonic() - clock, 1), "seeds": list(scale.seeds),
                    "work_folder": str(work), "data_dir": str(data_dir),
                }
                written[member.part] = _write_part(member.part, files, out, header, meta)
                log(f"{member.part}: wrote {', '.join(str(p) for p in written[member.part])}")
                if after_part is not None:
                    after_part(member.part, written[member.part])
    except KeyboardInterrupt:
        # A worker catches the interrupt of its own run and would take the next task: cancel them all.
        pool.shutdown(wait=False, cancel_futures=True)
        log(f"reference: interrupted after {done}/{total} tasks; finished runs are kept in {work} "
            "and the same command resumes from them")
        raise
    pool.shutdown()
    errors = [line for lines in failed.values() for line in lines]
    if errors:
        raise RuntimeError(f"{len(errors)} reference task(s) failed (start again to retry them): " + "; ".join(errors))
    return written


def _part_files(part: str, scale: Scale, work: Path, data_dir: Path, tasks: list[_Task]) -> PartFiles:
    if part == "vgg16-init":
        return vgg_files([Path(task.arguments[-1]) for task in tasks], scale)
    if part == "iterative":
        multi, single = iterative_configs(scale, work, data_dir)
        with notices_as_lines():
            return iterative_files([run_or_load_experiment(c) for c in multi], [run_or_load(c) for c in single],
                                   scale)
    with notices_as_lines():
        results = [run_or_load(config) for config in mnist_configs(part, scale, work, data_dir)]
    return mnist_files(part, results, scale)


def build_parser() -> argparse.ArgumentParser:
    """The ``prunekit reference`` parser."""
    parser = argparse.ArgumentParser(
        prog="prunekit reference",
        description="Compute the reference result set (resumable) and write it as CSV + metadata.json per part.",
    )
    parser.add_argument("--part", action="append", choices=PARTS,
                        help="a part to compute (repeatable; default: all, in the order " + ", ".join(PARTS) + ")")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--smoke", action="store_true",
                        help="1 seed, 2 compressions, 1 epoch, 1,000 training images, into a temporary folder")
    parser.add_argument("--out", default=None, help="where the files go (default: <repo>/reference)")
    parser.add_argument("--work", default=None, help="where the runs go (default: <repo>/results/reference)")
    parser.add_argument("--data-dir", default=None, help="the folder with MNIST/raw/ (default: the repo's data/)")
    return parser


def main(argv: Sequence[str] | None = None, after_part: Callable[[str, list[Path]], None] | None = None) -> int:
    """``prunekit reference [--part P ...] [--jobs N] [--smoke] [--out DIR] [--work DIR] [--data-dir DIR]``.

    Args:
        argv: The arguments after ``reference``.
        after_part: See :func:`run_reference`.

    Returns:
        0, or 1 if a task failed.
    """
    args = build_parser().parse_args(argv)
    try:
        run_reference(args.part or PARTS, jobs=args.jobs, smoke=args.smoke, out=args.out, work=args.work,
                      data_dir=args.data_dir, log=lambda line: print(line, flush=True), after_part=after_part)
    except RuntimeError as error:
        print(f"prunekit reference: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
