"""One MNIST-FC training epoch: the report's torchvision pipeline against prunekit's.

(a) the report's pipeline (Synaptic-Flow's ``Utils/load.py`` + ``Utils/train.py``):
    ``torchvision.datasets.MNIST`` with ``Compose([ToTensor(), Normalize(...)])``,
    ``DataLoader(batch_size=64, shuffle=True, num_workers=4, pin_memory=True)``,
    default ``Adam(lr=1e-3)``, and a loop that calls ``loss.item()`` every batch.
    The report's runs were on a GPU server, where Synaptic-Flow passes its default
    ``--workers 4`` and ``pin_memory=True``; on a CPU-only machine the same code
    passes neither (0 workers, main-process loading). Both are measured by
    default (``--workers 4 0``); ``pin_memory`` is used only when CUDA is available.
(b) prunekit: ``load_dataset`` (decoded once into a uint8 tensor), ``DeviceLoader``
    (index-permutation batches, normalization fused per batch),
    ``make_optimizer("adam")`` (fused kernel) and ``train_epoch``.

Both train the same model, ``create_model("default", "fc", (1, 28, 28), 10)``
(masked linear layers), from the same initial weights, on the full 60,000
training images. Prints the best and median epoch times over alternating
repeats and their ratios (target >= 8).

(c) for reference, the floor: the same FC net built from plain ``nn.Linear``
    (no masks), batches sliced from a pre-normalized float tensor, fused Adam.

    python benchmarks/bench_epoch.py [--data-dir data] [--workers 4 0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torchvision import transforms

from prunekit import create_model
from prunekit.run.data import DeviceLoader, load_dataset
from prunekit.run.training import make_optimizer, train_epoch

_REPO = Path(__file__).resolve().parents[1]


def torchvision_root(root: Path, scratch: Path) -> Path:
    """``root``, or a copy under ``scratch`` with the IDX files un-gzipped: torchvision's MNIST reads only
    those, and the kit ships them gzipped."""
    raw = root / "MNIST" / "raw"
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    if all((raw / name).is_file() for name in names):
        return root
    copy_root = scratch / "torchvision"
    (copy_root / "MNIST" / "raw").mkdir(parents=True)
    for name in names:
        with gzip.open(raw / f"{name}.gz", "rb") as source, open(copy_root / "MNIST" / "raw" / name, "wb") as target:
            shutil.copyfileobj(source, target)
    return copy_root


def seed_epoch(model: torch.nn.Module, root: Path, batch_size: int, workers: int) -> float:
    """Seconds for one epoch of the report's pipeline (dataset construction excluded, worker start-up included)."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset = torchvision.datasets.MNIST(str(root), train=True, download=False, transform=transform)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, pin_memory=torch.cuda.is_available()
    )
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
    print(f"    report (workers={workers}) mean train loss {total / len(loader.dataset):.4f}")
    return seconds


def kit_epoch(model: torch.nn.Module, loader: DeviceLoader) -> float:
    """Seconds for one epoch of prunekit's pipeline (data already decoded)."""
    optimizer = make_optimizer("adam", model.parameters(), lr=1e-3)
    start = time.perf_counter()
    loss = train_epoch(model, loader, optimizer)
    seconds = time.perf_counter() - start
    print(f"    prunekit mean train loss {loss:.4f}")
    return seconds


def floor_epoch(inputs: torch.Tensor, targets: torch.Tensor, batch_size: int) -> float:
    """Seconds for one epoch of plain PyTorch: unmasked FC, pre-normalized data, fused Adam."""
    sizes = [784] + [100] * 5
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(100, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    order = torch.randperm(len(targets))
    start = time.perf_counter()
    for begin in range(0, len(targets), batch_size):
        index = order[begin : begin + batch_size]
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs[index]), targets[index]).backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    """Parses the flags, runs both epochs (alternating when repeated) and prints the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = os.environ.get("PRUNEKIT_DATA") or str(_REPO / "data")  # full MNIST ships in data/MNIST/raw
    parser.add_argument("--data-dir", type=Path, default=Path(default_root), help="folder holding MNIST/raw/ (full MNIST)")
    parser.add_argument("--batch", type=int, default=64, help="the report's --train-batch-size")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[4, 0], help="DataLoader workers of the report's pipeline, one run each"
    )
    parser.add_argument("--repeats", type=int, default=3, help="epochs each way, alternating; medians are reported")
    args = parser.parse_args()

    start = time.perf_counter()
    train = load_dataset("mnist", train=True, data_dir=args.data_dir, download=False, allow_sample=False)
    decode_s = time.perf_counter() - start
    loader = DeviceLoader(train, args.batch, shuffle=True, seed=0)
    normalized = (train.images.float() / 255 - 0.1307) / 0.3081  # for the floor (c) only
    torch.manual_seed(0)
    initial = create_model("default", "fc", (1, 28, 28), 10)
    print(
        f"MNIST-FC, one epoch of {len(train):,} images, batch {args.batch}, Adam lr 1e-3, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(f"  prunekit decodes the IDX files once: {decode_s:.2f} s ({train.source})")
    scratch = tempfile.TemporaryDirectory(prefix="bench-epoch-")  # removed when the script ends
    seed_root = torchvision_root(args.data_dir, Path(scratch.name))
    seed_times: dict[int, list[float]] = {workers: [] for workers in args.workers}
    kit_times, floor_times = [], []
    for repeat in range(args.repeats):
        print(f"  repeat {repeat + 1}/{args.repeats}")
        for workers in args.workers:
            seed_times[workers].append(seed_epoch(copy.deepcopy(initial), seed_root, args.batch, workers))
        kit_times.append(kit_epoch(copy.deepcopy(initial), loader))
        floor_times.append(floor_epoch(normalized, train.targets, args.batch))
        seeds = ", ".join(f"seed w={workers} {times[-1]:.2f} s" for workers, times in seed_times.items())
        print(f"    {seeds}, prunekit {kit_times[-1]:.2f} s, plain floor {floor_times[-1]:.2f} s")
    print(f"  over {args.repeats} alternating repeat(s), best (least disturbed) and median:")
    kit_best, kit_median = min(kit_times), statistics.median(kit_times)
    for workers, times in seed_times.items():
        best, median = min(times), statistics.median(times)
        print(
            f"  (a) seed: torchvision MNIST + DataLoader(num_workers={workers}): best {best:6.2f} s, median {median:6.2f} s"
            f"  -> (a)/(b) best {best / kit_best:4.1f}x, median {median / kit_median:4.1f}x  (target >= 8x)"
        )
    print(f"  (b) prunekit: DeviceLoader + train_epoch, fused Adam:      best {kit_best:6.2f} s, median {kit_median:6.2f} s")
    floor_best, floor_median = min(floor_times), statistics.median(floor_times)
    print(
        f"  (c) floor: plain nn.Linear FC, pre-normalized, fused Adam: "
        f"best {floor_best:6.2f} s, median {floor_median:6.2f} s"
        f"  -> (b)/(c) best {kit_best / floor_best:.2f}, median {kit_median / floor_median:.2f}"
    )


if __name__ == "__main__":
    main()
