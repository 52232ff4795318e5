"""How much K MNIST-FC runs gain from being trained as one stacked model, on this machine.

A measurement for deciding whether a stacked trainer is worth building here. The stacked
step is the best case of one: the K runs' weights and masks stacked per layer, every
layer one batched matrix product (`torch.baddbmm`), cross-entropy over all K, one fused
Adam over the stacked tensors (Adam is element-wise, so this is K independent Adams),
and each run its own batch order. Solo is the kit's own step: one masked FC model, its
optimizer and loop (`prunekit.run.training.train_epoch`). Both run the same number of
steps of 64 images; the time per run-epoch is scaled to MNIST's 938 steps.

The floor is arithmetic: one FC training step on 64 images is about 36 MFLOP
(forward 119,400 multiply-adds per image, the same again for the weight gradients, and
41,000 for the input gradients of the layers after the first), 33.6 GFLOP per epoch.
The script measures this machine's matrix-product rate and prints the floor for one
run-epoch on all its cores; no trainer can beat it.

    python benchmarks/bench_stacked.py [--steps 300] [--ks 1 5 15 45]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from prunekit import create_model
from prunekit.run.data import DATASETS, DeviceDataset, DeviceLoader
from prunekit.run.training import make_optimizer, train_epoch

SIZES = [784, 100, 100, 100, 100, 100, 10]
BATCH = 64
STEPS_PER_EPOCH = 938
FLOP_PER_IMAGE = 2 * (119_400 + 119_400 + 41_000)


def _data(steps: int, runs: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randn(steps * BATCH, 784, generator=generator)
    labels = torch.randint(0, 10, (steps * BATCH,), generator=generator)
    return images, labels


def solo_seconds(steps: int, generator: torch.Generator) -> float:
    """One run's `steps` steps with the kit's masked FC, Adam and training loop."""
    images, labels = _data(steps, 1, generator)
    data = DeviceDataset("mnist", True, (images.view(-1, 1, 28, 28) * 40 + 128).clamp(0, 255).to(torch.uint8),
                         labels, DATASETS["mnist"], "random images")
    loader = DeviceLoader(data, batch_size=BATCH, shuffle=True, seed=0)
    model = create_model("default", "fc", (1, 28, 28), 10)
    optimizer = make_optimizer("adam", model.parameters(), lr=1e-3)
    start = time.perf_counter()
    train_epoch(model, loader, optimizer, progress=False)
    return time.perf_counter() - start


def stacked_seconds(k: int, steps: int, generator: torch.Generator) -> float:
    """K runs' `steps` steps as one stacked model (each run its own weights, mask and batch order)."""
    images, labels = _data(steps, k, generator)
    weights = [torch.randn(k, n_in, n_out, generator=generator).mul_(n_in ** -0.5).requires_grad_()
               for n_in, n_out in zip(SIZES, SIZES[1:])]
    biases = [torch.zeros(k, 1, n_out, requires_grad=True) for n_out in SIZES[1:]]
    masks = [(torch.rand(w.shape, generator=generator) < 0.1).float() for w in weights]
    optimizer = torch.optim.Adam([*weights, *biases], lr=1e-3, foreach=True)
    orders = torch.stack([torch.randperm(steps * BATCH, generator=generator) for _ in range(k)])
    start = time.perf_counter()
    for step in range(steps):
        index = orders[:, step * BATCH:(step + 1) * BATCH]  # (k, 64): each run's own batch
        x, y = images[index], labels[index]
        for layer, (w, b, m) in enumerate(zip(weights, biases, masks)):
            x = torch.baddbmm(b, x, w * m)
            if layer < len(weights) - 1:
                x = F.relu(x)
        loss = F.cross_entropy(x.reshape(-1, 10), y.reshape(-1), reduction="sum") / BATCH
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def matmul_gflops() -> float:
    a, b = torch.randn(512, 1024), torch.randn(1024, 1024)
    a @ b
    start = time.perf_counter()
    for _ in range(20):
        a @ b
    return 20 * 2 * 512 * 1024 * 1024 / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--ks", type=int, nargs="*", default=[1, 5, 15, 45])
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    scale = STEPS_PER_EPOCH / args.steps
    rate = matmul_gflops()
    floor = FLOP_PER_IMAGE * BATCH * STEPS_PER_EPOCH / (rate * 1e9)
    print(f"{torch.get_num_threads()} torch threads; matrix products at {rate:.0f} GFLOP/s; "
          f"floor for one run-epoch: {floor:.2f} s")
    solo = solo_seconds(args.steps, generator) * scale
    print(f"solo (the kit's step): {solo:.2f} s per run-epoch")
    print(f"{'K':>3s} {'stacked s/run-epoch':>20s} {'solo / stacked':>15s}")
    for k in args.ks:
        stacked = stacked_seconds(k, args.steps, generator) * scale / k
        print(f"{k:3d} {stacked:20.2f} {solo / stacked:15.2f}")


if __name__ == "__main__":
    main()
