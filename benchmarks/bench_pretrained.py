"""A Mag compression sweep with its pre-training shared, against the same sweep training every run.

Both sweeps run the same configurations on FC with the shipped MNIST sample, one after
the other in this process: first each run in a result folder of its own (so each one
pre-trains), then all runs in one folder (the first pre-trains, the others load its
state). Prints both wall times, their ratio, and whether every run's top-1 is the same.

    python benchmarks/bench_pretrained.py [--compressions 0.5 1 2 3] [--pre-epochs 2] [--post-epochs 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DataWarning
from prunekit.run.experiment import run_singleshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compressions", type=float, nargs="+", default=[0.5, 1.0, 2.0, 3.0])
    parser.add_argument("--pre-epochs", type=int, default=2)
    parser.add_argument("--post-epochs", type=int, default=1)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-pretrained-"))
    (root / "no-data").mkdir()  # no MNIST here: the shipped sample is read
    base = ExperimentConfig(pruner="mag", pre_epochs=args.pre_epochs, post_epochs=args.post_epochs,
                            timing_repeats=1, device="cpu", data_dir=str(root / "no-data"))
    top1: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        for mode in ("each trains", "shared"):
            start = time.perf_counter()
            top1[mode] = []
            for index, compression in enumerate(args.compressions):
                folder = root / ("shared" if mode == "shared" else f"own-{index}")
                result = run_singleshot(base.replace(compression=compression, result_dir=str(folder)), progress=False)
                top1[mode].append(result.top1)
            seconds[mode] = time.perf_counter() - start
    runs = len(args.compressions)
    print(f"Mag, FC on the shipped MNIST sample, {runs} compression exponents, "
          f"{args.pre_epochs} pre-training and {args.post_epochs} post-training epoch(s)")
    for mode in ("each trains", "shared"):
        print(f"{mode:12s} {seconds[mode]:7.1f} s   top-1 {', '.join(f'{t:.2f}' for t in top1[mode])}")
    print(f"ratio (each trains / shared): {seconds['each trains'] / seconds['shared']:.2f}x; "
          f"same top-1 in every run: {top1['each trains'] == top1['shared']}")


if __name__ == "__main__":
    main()
