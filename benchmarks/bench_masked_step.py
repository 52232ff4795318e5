"""Masked VGG16 training step against the same VGG16 built from plain nn layers.

Prints the median step time of each, measured alternately in one run, and their
ratio (target: masked / plain <= 1.10).

    python benchmarks/bench_masked_step.py [--batch 64] [--steps 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from prunekit import create_model, prune, to_dense


def step_time(model, optimizer, inputs, targets) -> float:
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(inputs), targets).backward()
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="the report's --train-batch-size")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    masked = create_model("lottery", "vgg16", (3, 32, 32), 10)
    prune(masked, "rand", compression=1)
    plain = to_dense(masked)
    masked.train(), plain.train()
    optimizers = {
        "masked": torch.optim.SGD(masked.parameters(), lr=0.01, momentum=0.9),
        "plain": torch.optim.SGD(plain.parameters(), lr=0.01, momentum=0.9),
    }
    models = {"masked": masked, "plain": plain}
    inputs, targets = torch.randn(args.batch, 3, 32, 32), torch.randint(0, 10, (args.batch,))
    times: dict[str, list[float]] = {"masked": [], "plain": []}
    for name in models:  # warm-up
        step_time(models[name], optimizers[name], inputs, targets)
    for _ in range(args.steps):
        for name in models:  # alternate so both see the same machine load
            times[name].append(step_time(models[name], optimizers[name], inputs, targets))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"VGG16 training step, batch {args.batch}, {args.steps} steps each, {torch.get_num_threads()} threads")
    for name, value in medians.items():
        print(f"  {name:6s}: median {value * 1000:8.1f} ms  (min {min(times[name]) * 1000:.1f}, max {max(times[name]) * 1000:.1f})")
    print(f"  ratio masked / plain: {medians['masked'] / medians['plain']:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
