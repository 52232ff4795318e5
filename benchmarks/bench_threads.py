"""A sweep with --jobs 2: each worker with its share of the cores against every worker with all of them.

Runs the same `prunekit sweep` twice into fresh folders, one after the other: four one-epoch
MNIST-FC runs (rand, mag, snip, grasp at compression 1, full MNIST shipped in data/) with
`--jobs 2`, first as the kit runs it now (cores // 2 torch threads per worker), then with
OMP_NUM_THREADS set to all the cores (as before: on 2 cores, two workers of 2 threads each).
Prints each sweep's wall time, the threads its runs recorded, and the ratio.

    python benchmarks/bench_threads.py [--jobs 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prunekit.run.machine import cpu_cores, thread_share

REPO = Path(__file__).resolve().parents[1]
GRID = ["--pruners", "rand", "mag", "snip", "grasp", "--compressions", "1", "--post-epochs", "1",
        "--timing-repeats", "1", "--device", "cpu"]


def _sweep(folder: Path, jobs: int, threads: int | None) -> tuple[float, list[int]]:
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "prunekit", "sweep", "--name", "bench", "--result-dir", str(folder),
                    "--jobs", str(jobs), "--data-dir", str(REPO / "data"), *GRID], check=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - start
    recorded = [json.loads(path.read_text())["machine"]["threads"] for path in sorted(folder.rglob("result.json"))]
    return seconds, recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="pairs of sweeps, alternating")
    args = parser.parse_args()
    cores = cpu_cores()
    print(f"{cores} cores; sweeps of 4 one-epoch MNIST-FC runs with --jobs {args.jobs}")
    shared, full = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            seconds, threads = _sweep(Path(a), args.jobs, None)
            shared.append(seconds)
            share = thread_share(args.jobs)
            print(f"share ({share} thread(s) per worker): {seconds:6.1f} s; recorded threads {threads}")
            seconds, threads = _sweep(Path(b), args.jobs, cores)
            full.append(seconds)
            print(f"all {cores} threads per worker:         {seconds:6.1f} s; recorded threads {threads}")
    print(f"ratio (all cores per worker / share): {min(full) / min(shared):.2f} (best of {args.repeats})")


if __name__ == "__main__":
    main()
