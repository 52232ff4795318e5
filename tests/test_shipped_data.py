"""The full MNIST shipped in data/MNIST/raw/: read through prunekit's loader, counted, and checked byte for byte.

The sha256 sums are those data/README.md lists; the test also checks that the README lists them,
that the files are deterministic gzip (no name, mtime 0) and that git tracks them.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
from pathlib import Path

import pytest
import torch

from prunekit.run.data import DataOrigin, load_dataset

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "data" / "MNIST" / "raw"

GZ_SHA256 = {
    "train-images-idx3-ubyte.gz": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "train-labels-idx1-ubyte.gz": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "t10k-images-idx3-ubyte.gz": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "t10k-labels-idx1-ubyte.gz": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
}
RAW_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
COUNTS = {
    True: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    False: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}


def test_the_folder_holds_exactly_the_four_gz_files():
    assert sorted(p.name for p in RAW.iterdir() if p.suffix == ".gz") == sorted(GZ_SHA256)


@pytest.mark.parametrize("name", sorted(GZ_SHA256))
def test_sha256_of_the_gz_file_and_of_its_content(name):
    blob = (RAW / name).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == GZ_SHA256[name]
    assert hashlib.sha256(gzip.decompress(blob)).hexdigest() == RAW_SHA256[name.removesuffix(".gz")]


@pytest.mark.parametrize("name", sorted(GZ_SHA256))
def test_gzip_is_deterministic(name):
    """``gzip -n``: no file name (FLG byte 0) and mtime 0, so recompressing gives the same bytes."""
    header = (RAW / name).read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0, f"{name} stores a file name or other optional header fields"
    assert header[4:8] == b"\x00\x00\x00\x00", f"{name} stores a modification time"


@pytest.mark.parametrize("train", [True, False], ids=["train", "test"])
def test_the_loader_reads_full_mnist_with_the_published_counts(train):
    data = load_dataset("mnist", train=train, data_dir=REPO / "data", download=False, allow_sample=False)
    assert data.origin is DataOrigin.FULL
    assert tuple(data.images.shape[1:]) == (1, 28, 28)
    assert torch.bincount(data.targets, minlength=10).tolist() == COUNTS[train]
    assert len(data.targets) == (60_000 if train else 10_000)


def test_the_readme_lists_every_sha256_and_the_licence():
    readme = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    for name, digest in {**GZ_SHA256, **RAW_SHA256}.items():
        assert f"{digest}  {name}\n" in readme, f"data/README.md does not list sha256 {digest} of {name}"
    assert "CC BY-SA 3.0" in readme
    assert "Yann LeCun, Corinna Cortes and" in readme


@pytest.mark.parametrize("name", sorted(GZ_SHA256))
def test_git_does_not_ignore_the_shipped_files(name):
    """``git check-ignore -q`` exits 1 for a path that is not ignored (0 = ignored)."""
    done = subprocess.run(["git", "check-ignore", "-q", str(RAW / name)], cwd=REPO, check=False)
    assert done.returncode == 1, f"data/MNIST/raw/{name} is git-ignored: .gitignore must track it"
