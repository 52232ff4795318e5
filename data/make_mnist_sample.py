"""Cuts the shipped MNIST sample (``data/mnist-sample/``) out of the full MNIST.

The sample is class-balanced: 1,000 training images per digit (10,000 in all)
and 200 test images per digit (2,000), drawn without replacement with
``numpy.random.default_rng(0)`` (per digit, digits 0..9 in order) and kept in
their original file order. It is written as gzip-compressed IDX files with
torchvision's names and a fixed gzip header (no file name, mtime 0), so running
this script again gives byte-identical files.

Usage (from the repository root):

    python data/make_mnist_sample.py --source data/MNIST/raw --out data/mnist-sample

Example:
    >>> labels = np.array([0, 1, 0, 1, 1])
    >>> balanced_indices(labels, per_class=1, seed=0).tolist()
    [2, 3]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

SEED = 0
TRAIN_PER_CLASS = 1_000
TEST_PER_CLASS = 200
SPLITS = {"train": ("train", TRAIN_PER_CLASS), "test": ("t10k", TEST_PER_CLASS)}


def read_idx(path: Path) -> np.ndarray:
    """Reads an uncompressed or ``.gz`` IDX file of unsigned bytes.

    Args:
        path: The IDX file.

    Returns:
        The array, shaped as the header says.

    Raises:
        ValueError: If the file is not an unsigned-byte IDX file.

    Example:
        >>> read_idx(Path("train-labels-idx1-ubyte")).shape  # doctest: +SKIP
        (60000,)
    """
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Writes ``array`` (uint8) as a gzip IDX file with a reproducible header.

    Args:
        path: Destination, normally ending in ``.gz``.
        array: The uint8 data.

    Example:
        >>> write_idx_gz(Path("/tmp/x-idx1-ubyte.gz"), np.zeros(3, np.uint8))
    """
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with (
        open(path, "wb") as raw_file,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw_file, compresslevel=9, mtime=0) as out,
    ):
        out.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def balanced_indices(labels: np.ndarray, per_class: int, seed: int = SEED) -> np.ndarray:
    """Draws ``per_class`` indices of each label, without replacement, in file order.

    Args:
        labels: The labels of the full split.
        per_class: How many to keep per label.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        Sorted indices into ``labels``.

    Example:
        >>> balanced_indices(np.array([1, 0, 0, 1]), per_class=2).tolist()
        [0, 1, 2, 3]
    """
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == digit), size=per_class, replace=False) for digit in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def _existing(path: Path) -> Path:
    """``path``, or ``path.gz`` when only the compressed file is there (as shipped in data/MNIST/raw)."""
    return path if path.exists() else path.with_name(path.name + ".gz")


def main() -> None:
    """Writes the sample and prints its class counts and sha256 sums."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--source", type=Path, default=here / "MNIST" / "raw", help="full MNIST (IDX, plain or .gz)")
    parser.add_argument("--out", type=Path, default=here / "mnist-sample")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for split, (prefix, per_class) in SPLITS.items():
        images = read_idx(_existing(args.source / f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_existing(args.source / f"{prefix}-labels-idx1-ubyte"))
        keep = balanced_indices(labels, per_class)
        write_idx_gz(args.out / f"{prefix}-images-idx3-ubyte.gz", images[keep])
        write_idx_gz(args.out / f"{prefix}-labels-idx1-ubyte.gz", labels[keep])
        counts = np.bincount(labels[keep], minlength=10).tolist()
        print(f"{split}: {len(keep)} images, per digit {counts}, first indices {keep[:5].tolist()}")
    for path in sorted(args.out.glob("*.gz")):
        print(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}  ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
