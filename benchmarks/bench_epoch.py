"""One MNIST-FC training epoch: the seed's torchvision pipeline against prunekit's.

(a) the seed (Synaptic-Flow's ``Utils/load.py`` + ``Utils/train.py``):
    ``torchvision.datasets.MNIST`` with ``Compose([ToTensor(), Normalize(...)])``,
    ``DataLoader(batch_size=64, shuffle=True)``, default ``Adam(lr=1e-3)``, and a
    loop that calls ``loss.item()`` every batch. Synaptic-Flow passes
    ``num_workers``/``pin_memory`` only when CUDA is available, so on a CPU it
    loads in the main process: ``--workers 0`` is the faithful default.
(b) prunekit: ``load_dataset`` (decoded once into a uint8 tensor), ``DeviceLoader``
    (index-permutation batches, normalization fused per batch),
    ``make_optimizer("adam")`` (fused kernel) and ``train_epoch``.

Both train the same model, ``create_model("default", "fc", (1, 28, 28), 10)``
(masked linear layers), from the same initial weights, on the full 60,000
training images. Prints both epoch times and their ratio (target >= 8).

    python benchmarks/bench_epoch.py [--data-dir ../shared/data] [--workers 0] [--repeats 1]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torchvision import transforms

from prunekit import create_model
from prunekit.data import DeviceLoader, load_dataset
from prunekit.training import make_optimizer, train_epoch

_REPO = Path(__file__).resolve().parents[1]


def seed_epoch(model: torch.nn.Module, root: Path, batch_size: int, workers: int) -> float:
    """Seconds for one epoch of the seed's pipeline (dataset construction excluded)."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset = torchvision.datasets.MNIST(str(root), train=True, download=False, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    device = torch.device("cpu")
    model.train()
    start = time.perf_counter()
    total = 0.0
    for data, target in loader:  # Synaptic-Flow's Utils/train.py::train
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        train_loss = F.cross_entropy(output, target)
        total += train_loss.item() * data.size(0)
        train_loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    print(f"    seed     mean train loss {total / len(loader.dataset):.4f}")
    return seconds


def kit_epoch(model: torch.nn.Module, loader: DeviceLoader) -> float:
    """Seconds for one epoch of prunekit's pipeline (data already decoded)."""
    optimizer = make_optimizer("adam", model.parameters(), lr=1e-3)
    start = time.perf_counter()
    loss = train_epoch(model, loader, optimizer)
    seconds = time.perf_counter() - start
    print(f"    prunekit mean train loss {loss:.4f}")
    return seconds


def main() -> None:
    """Parses the flags, runs both epochs (alternating when repeated) and prints the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = os.environ.get("PRUNEKIT_DATA_FULL") or os.environ.get("PRUNEKIT_DATA") or str(_REPO.parent / "shared" / "data")
    parser.add_argument("--data-dir", type=Path, default=Path(default_root), help="folder holding MNIST/raw/ (full MNIST)")
    parser.add_argument("--batch", type=int, default=64, help="the seed's --train-batch-size")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the seed pipeline (0 = faithful on CPU)")
    parser.add_argument("--repeats", type=int, default=1, help="epochs each way, alternating")
    args = parser.parse_args()

    start = time.perf_counter()
    train = load_dataset("mnist", train=True, data_dir=args.data_dir, download=False, allow_sample=False)
    decode_s = time.perf_counter() - start
    loader = DeviceLoader(train, args.batch, shuffle=True, seed=0)
    torch.manual_seed(0)
    initial = create_model("default", "fc", (1, 28, 28), 10)
    print(f"MNIST-FC, one epoch of {len(train):,} images, batch {args.batch}, Adam lr 1e-3, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"  prunekit decodes the IDX files once: {decode_s:.2f} s ({train.source})")
    seed_times, kit_times = [], []
    for repeat in range(args.repeats):
        print(f"  repeat {repeat + 1}/{args.repeats}")
        seed_times.append(seed_epoch(copy.deepcopy(initial), args.data_dir, args.batch, args.workers))
        kit_times.append(kit_epoch(copy.deepcopy(initial), loader))
        print(f"    seed {seed_times[-1]:.2f} s, prunekit {kit_times[-1]:.2f} s")
    seed_s, kit_s = statistics.median(seed_times), statistics.median(kit_times)
    print(f"  (a) seed pipeline (torchvision MNIST + DataLoader, workers={args.workers}): {seed_s:6.2f} s/epoch")
    print(f"  (b) prunekit (DeviceLoader + train_epoch, fused Adam):              {kit_s:6.2f} s/epoch")
    print(f"  ratio (a)/(b): {seed_s / kit_s:.1f}x  (target >= 8x)")


if __name__ == "__main__":
    main()
