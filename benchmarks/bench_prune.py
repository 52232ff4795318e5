"""Prune time of each pruner on VGG16 (CIFAR-10 shape), split into scoring and selection.

SNIP and GraSP score on one batch of 100 random images (the report's pruning set is
10 images per class). Compression 1 keeps exactly 1,471,558 of 14,715,584 weights.

    python benchmarks/bench_prune.py [--compression 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from prunekit import create_model, prune
from prunekit.core.scorers import SCORERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compression", type=float, default=1.0)
    parser.add_argument("--pruners", nargs="*", default=list(SCORERS), choices=list(SCORERS))
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    batch = [(torch.randn(100, 3, 32, 32, generator=generator), torch.randint(0, 10, (100,), generator=generator))]
    print(f"VGG16, compression {args.compression:g}, {torch.get_num_threads()} threads")
    print(f"{'pruner':8s} {'iters':>5s} {'kept':>10s} {'total':>11s} {'score s':>8s} {'select s':>9s} {'wall s':>7s}")
    for pruner in args.pruners:
        torch.manual_seed(0)
        model = create_model("lottery", "vgg16", (3, 32, 32), 10)
        start = time.perf_counter()
        report = prune(model, pruner, args.compression, batch if SCORERS[pruner].needs_data else None)
        wall = time.perf_counter() - start
        print(
            f"{pruner:8s} {report.rounds:5d} {report.kept:10,d} {report.total:11,d} "
            f"{report.score_time_s:8.2f} {report.select_time_s:9.2f} {wall:7.2f}"
        )


if __name__ == "__main__":
    main()
