"""Datasets decoded once into tensors on the device, and a batched loader over them.

MNIST and CIFAR-10 are small enough to live in memory as uint8 tensors
(MNIST: 47 MB, CIFAR-10: 150 MB), so the kit decodes the files once and then
serves batches by indexing: no PIL images, no worker processes. Normalization
(and, for CIFAR, random-crop + flip augmentation) runs batched on the device.

Where the data comes from (the first that works, for MNIST):

1. the full set in torchvision's layout under ``data_dir`` (default
   :func:`default_data_dir`): ``MNIST/raw/train-images-idx3-ubyte`` …;
2. a torchvision download into ``data_dir`` (skipped quickly when offline);
3. the real MNIST sample shipped in ``data/mnist-sample/`` (10,000 training and
   2,000 test images), with a loud :class:`SampleDataWarning`;
4. otherwise :class:`DatasetNotFoundError`, explaining where the files go.

CIFAR-10 is never replaced silently: without it, :func:`load_dataset` raises
:class:`DatasetNotFoundError`, and :func:`cifar_fallback` must be called on
purpose; it returns MNIST digits labelled ``source="FALLBACK: ..."``.

Example:
    >>> train = load_dataset("mnist", train=True, download=False)  # doctest: +SKIP
    >>> loader = DeviceLoader(train, batch_size=64, shuffle=True, seed=1)  # doctest: +SKIP
    >>> inputs, targets = next(iter(loader))  # doctest: +SKIP
    >>> inputs.shape, inputs.dtype, targets.dtype  # doctest: +SKIP
    (torch.Size([64, 1, 28, 28]), torch.float32, torch.int64)
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import math
import os
import pickle
import socket
import struct
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DATASETS",
    "DataWarning",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DeviceDataset",
    "DeviceLoader",
    "FallbackDataWarning",
    "SampleDataWarning",
    "cifar_fallback",
    "dataset_spec",
    "default_data_dir",
    "load_dataset",
    "prune_loader",
    "read_idx",
    "sample_dir",
]

_REPO = Path(__file__).resolve().parents[2]
_DOWNLOAD_TIMEOUT_S = 10.0
_PROBE_TIMEOUT_S = 3.0


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class DatasetSpec:
    """What a model needs to know about a dataset.

    Attributes:
        name: Registry key, e.g. ``"mnist"``.
        input_shape: Shape of one image, ``(channels, height, width)``.
        num_classes: Number of labels.
        mean: Per-channel mean of the pixels in [0, 1] (for normalization).
        std: Per-channel standard deviation of the pixels in [0, 1].

    Example:
        >>> DATASETS["mnist"].input_shape
        (1, 28, 28)
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", (1, 28, 28), 10, (0.1307,), (0.3081,)),
    "cifar10": DatasetSpec("cifar10", (3, 32, 32), 10, (0.491, 0.482, 0.447), (0.247, 0.243, 0.262)),
    "cifar100": DatasetSpec("cifar100", (3, 32, 32), 100, (0.507, 0.487, 0.441), (0.267, 0.256, 0.276)),
}
"""The datasets the kit reads, with Synaptic-Flow's normalization statistics."""

_FALLBACK_SPEC = DatasetSpec("cifar10-fallback", (3, 32, 32), 10, (0.1307,) * 3, (0.3081,) * 3)
_FALLBACK_SOURCE = "FALLBACK: MNIST digits padded to 3×32×32 stand in for CIFAR-10 (CIFAR-10 not found)"


def dataset_spec(name: str) -> DatasetSpec:
    """Returns the :class:`DatasetSpec` registered under ``name``.

    Args:
        name: ``"mnist"``, ``"cifar10"`` or ``"cifar100"``.

    Returns:
        The spec.

    Raises:
        ValueError: If ``name`` is not registered; the message lists valid names.

    Example:
        >>> dataset_spec("cifar10").num_classes
        10
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}") from None


def default_data_dir() -> Path:
    """Where datasets are looked for by default.

    Returns:
        ``$PRUNEKIT_DATA`` if set, else ``<repo>/data``.

    Example:
        >>> default_data_dir().name  # doctest: +SKIP
        'data'
    """
    env = os.environ.get("PRUNEKIT_DATA")
    return Path(env).expanduser() if env else _REPO / "data"


def sample_dir() -> Path:
    """The folder of the MNIST sample shipped with the kit (``<repo>/data/mnist-sample``).

    Returns:
        The folder (holding gzip IDX files with torchvision's names).

    Example:
        >>> sample_dir().name
        'mnist-sample'
    """
    return _REPO / "data" / "mnist-sample"


# --------------------------------------------------------------------------- errors and warnings


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on disk (and could not be downloaded).

    The message names the dataset, the folder its files must go to, and how to get them.

    Example:
        >>> isinstance(DatasetNotFoundError("no CIFAR-10"), FileNotFoundError)
        True
    """


class DataWarning(UserWarning):
    """Base class of the warnings about data that is not the full requested dataset."""


class SampleDataWarning(DataWarning):
    """The shipped MNIST sample is used instead of the full MNIST."""


class FallbackDataWarning(DataWarning):
    """Another dataset stands in for the requested one (e.g. MNIST for CIFAR-10)."""


_SHOUTED: set[str] = set()


def _shout(message: str, category: type[Warning]) -> None:
    """Warns, and writes the message on stderr too (warnings may be filtered), once per process."""
    warnings.warn(message, category, stacklevel=3)
    if message not in _SHOUTED:
        _SHOUTED.add(message)
        print(f"prunekit: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the dataset


@dataclass
class DeviceDataset:
    """A whole dataset split decoded into tensors on one device.

    Attributes:
        name: The requested dataset (``"mnist"``, ``"cifar10"``…).
        train: Training split (True) or test split (False).
        images: ``uint8`` tensor ``N×C×H×W`` on the device (raw pixels, 0..255).
        targets: ``int64`` tensor ``N`` on the device.
        spec: Shape, classes and normalization statistics.
        source: Human-readable provenance; starts with ``"FALLBACK:"`` for stand-ins.
        is_fallback: True unless this is the real requested dataset in full.
        is_sample: True for the shipped MNIST sample (a real but partial MNIST).

    Example:
        >>> spec = DATASETS["mnist"]
        >>> data = DeviceDataset("mnist", True, torch.zeros(2, 1, 28, 28, dtype=torch.uint8),
        ...                      torch.tensor([3, 5]), spec, "two blank images", True)
        >>> len(data), data.device
        (2, device(type='cpu'))
    """

    name: str
    train: bool
    images: Tensor = field(repr=False)
    targets: Tensor = field(repr=False)
    spec: DatasetSpec
    source: str
    is_fallback: bool = False
    is_sample: bool = False

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"images must be a uint8 N×C×H×W tensor; got {self.images.dtype} of shape {tuple(self.images.shape)}"
            )
        if self.targets.shape != (self.images.shape[0],):
            raise ValueError(f"targets must have shape ({self.images.shape[0]},); got {tuple(self.targets.shape)}")
        if tuple(self.images.shape[1:]) != tuple(self.spec.input_shape):
            raise ValueError(
                f"images are {tuple(self.images.shape[1:])} but {self.spec.name} expects {self.spec.input_shape}"
            )
        self.targets = self.targets.to(device=self.images.device, dtype=torch.int64)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def device(self) -> torch.device:
        """The device the tensors live on."""
        return self.images.device

    def class_counts(self) -> list[int]:
        """Number of examples per label.

        Returns:
            A list of ``spec.num_classes`` counts.

        Example:
            >>> data = DeviceDataset("mnist", False, torch.zeros(3, 1, 28, 28, dtype=torch.uint8),
            ...                      torch.tensor([0, 2, 2]), DATASETS["mnist"], "test")
            >>> data.class_counts()[:3]
            [1, 0, 2]
        """
        return torch.bincount(self.targets, minlength=self.spec.num_classes).tolist()


# --------------------------------------------------------------------------- readers


def read_idx(path: str | Path) -> Tensor:
    """Reads an IDX file of unsigned bytes (plain or ``.gz``) into a uint8 tensor.

    Args:
        path: The file, e.g. ``.../MNIST/raw/train-images-idx3-ubyte``.

    Returns:
        A CPU uint8 tensor shaped as the header says (``N×28×28`` or ``N``).

    Raises:
        ValueError: If the file is not an unsigned-byte IDX file or is truncated.

    Example:
        >>> read_idx(sample_dir() / "t10k-labels-idx1-ubyte.gz").shape
        torch.Size([2000])
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4:
        raise ValueError(f"{path} is not an IDX file (only {len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or not 1 <= ndim <= 4:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (header {raw[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    offset = 4 + 4 * ndim
    if len(raw) - offset != math.prod(shape):
        raise ValueError(f"{path} is truncated: header says {shape}, found {len(raw) - offset} bytes of data")
    array = np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)
    return torch.from_numpy(array.copy())


def _mnist_files(folder: Path, train: bool) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of one split in ``folder``, plain or ``.gz``, if both exist."""
    prefix = "train" if train else "t10k"
    found = []
    for kind in ("images-idx3", "labels-idx1"):
        candidates = [folder / f"{prefix}-{kind}-ubyte", folder / f"{prefix}-{kind}-ubyte.gz"]
        existing = [path for path in candidates if path.is_file()]
        if not existing:
            return None
        found.append(existing[0])
    return found[0], found[1]


def _read_mnist(folder: Path, train: bool) -> tuple[Tensor, Tensor]:
    files = _mnist_files(folder, train)
    if files is None:
        raise FileNotFoundError(folder)
    images, labels = read_idx(files[0]), read_idx(files[1])
    if images.dim() != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"MNIST files in {folder} disagree: images {tuple(images.shape)}, labels {tuple(labels.shape)}")
    return images.unsqueeze(1), labels.long()


def _cifar_folder(name: str) -> str:
    return "cifar-10-batches-py" if name == "cifar10" else "cifar-100-python"


def _cifar_files(name: str, train: bool) -> list[str]:
    if name == "cifar10":
        return [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    return ["train"] if train else ["test"]


def _read_cifar(folder: Path, name: str, train: bool) -> tuple[Tensor, Tensor]:
    """Reads CIFAR python pickles (``b"data"``: uint8 N×3072 in CHW order, ``b"labels"``)."""
    label_key = b"labels" if name == "cifar10" else b"fine_labels"
    images, labels = [], []
    for file_name in _cifar_files(name, train):
        with open(folder / file_name, "rb") as handle:
            entry = pickle.load(handle, encoding="bytes")
        data = np.asarray(entry[b"data"], dtype=np.uint8)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(entry[label_key], dtype=np.int64))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


# --------------------------------------------------------------------------- downloads


@functools.lru_cache(maxsize=None)
def _reachable(url: str, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the host of ``url`` opens within ``timeout`` seconds (asked once per process)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _try_download(name: str, root: Path) -> bool:
    """Tries torchvision's downloader for ``name`` into ``root``; False (quickly) when offline."""
    import torchvision  # noqa: PLC0415 - slow import, needed only here

    classes = {
        "mnist": torchvision.datasets.MNIST,
        "cifar10": torchvision.datasets.CIFAR10,
        "cifar100": torchvision.datasets.CIFAR100,
    }
    dataset_class = classes[name]
    urls = [mirror for mirror in getattr(dataset_class, "mirrors", [])] or [getattr(dataset_class, "url", "")]
    if not any(url and _reachable(url) for url in urls):
        message = f"cannot reach {urls[0]} (offline?); not downloading {name}"
        if message not in _SHOUTED:
            _SHOUTED.add(message)
            print(f"prunekit: {message}", file=sys.stderr, flush=True)
        return False
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    chatter = io.StringIO()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(chatter):
            dataset_class(str(root), train=True, download=True)
            dataset_class(str(root), train=False, download=True)
        return True
    except Exception as error:  # noqa: BLE001 - any failure means "not downloaded"
        print(f"prunekit: downloading {name} failed ({type(error).__name__}: {error})", file=sys.stderr, flush=True)
        return False
    finally:
        socket.setdefaulttimeout(previous)


# --------------------------------------------------------------------------- loading


def _as_device(device: str | torch.device) -> torch.device:
    return device if isinstance(device, torch.device) else torch.device(device)


def _missing_message(name: str, root: Path) -> str:
    if name == "mnist":
        return (
            f"MNIST not found: put the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz) in {root / 'MNIST' / 'raw'}/, "
            f"e.g. with torchvision.datasets.MNIST({str(root)!r}, download=True) on a machine with internet, "
            f"or pass data_dir=/ PRUNEKIT_DATA= a folder that has MNIST/raw/ "
            f"(and allow_sample=True to use the shipped sample in {sample_dir()})"
        )
    archive = "cifar-10-python.tar.gz" if name == "cifar10" else "cifar-100-python.tar.gz"
    return (
        f"{name.upper().replace('CIFAR', 'CIFAR-')} not found: "
        f"put the extracted {_cifar_folder(name)}/ folder under {root}/ "
        f"(download {archive} from https://www.cs.toronto.edu/~kriz/cifar.html and run "
        f"`tar -xzf {archive} -C {root}`), or pass data_dir=/ PRUNEKIT_DATA= a folder that has it. "
        f"prunekit.run.data.cifar_fallback() gives labelled MNIST stand-ins instead"
    )


def load_dataset(
    name: str,
    train: bool,
    data_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
    download: bool = True,
    allow_sample: bool = True,
) -> DeviceDataset:
    """Loads one split of a dataset into uint8 tensors on ``device``.

    MNIST is looked for in ``<data_dir>/MNIST/raw/`` (torchvision layout, plain or
    ``.gz`` IDX files), then downloaded if ``download``, then replaced by the shipped
    sample if ``allow_sample`` (with a :class:`SampleDataWarning` and a line on
    stderr). CIFAR-10/100 are read from ``<data_dir>/cifar-10-batches-py/`` or
    ``<data_dir>/cifar-100-python/`` (python pickles), or downloaded.

    Args:
        name: ``"mnist"``, ``"cifar10"`` or ``"cifar100"``.
        train: The training split (True) or the test split (False).
        data_dir: Root folder; None = :func:`default_data_dir`.
        device: Where the tensors go.
        download: Try torchvision's download when the files are missing
            (skipped within seconds when the server cannot be reached).
        allow_sample: For MNIST, fall back to the shipped 10,000/2,000 sample.

    Returns:
        The split as a :class:`DeviceDataset`.

    Raises:
        ValueError: If ``name`` is unknown.
        DatasetNotFoundError: If the data is missing; the message says where it goes.

    Example:
        >>> test = load_dataset("mnist", train=False, data_dir="/nonexistent", download=False)  # doctest: +SKIP
        >>> test.is_sample, len(test)  # doctest: +SKIP
        (True, 2000)
    """
    spec = dataset_spec(name)
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    device = _as_device(device)
    split = "train" if train else "test"
    if name == "mnist":
        folder = root / "MNIST" / "raw"
        if _mnist_files(folder, train) is None and download and _try_download(name, root):
            pass  # torchvision wrote (and extracted) the files into root/MNIST/raw
        if _mnist_files(folder, train) is not None:
            images, targets = _read_mnist(folder, train)
            source = f"full MNIST {split} set ({len(targets):,} images) from {folder}"
            return DeviceDataset(name, train, images.to(device), targets.to(device), spec, source)
        if not allow_sample:
            raise DatasetNotFoundError(_missing_message(name, root))
        if _mnist_files(sample_dir(), train) is None:
            raise DatasetNotFoundError(
                _missing_message(name, root) + f"; the shipped sample is missing from {sample_dir()} too"
            )
        images, targets = _read_mnist(sample_dir(), train)
        _shout(
            f"MNIST not found under {root}; using the SHIPPED MNIST SAMPLE (10,000 train / 2,000 test images). "
            "Accuracies are not comparable with runs on the full 60,000/10,000 set.",
            SampleDataWarning,
        )
        source = (
            f"SHIPPED MNIST SAMPLE (10,000 train / 2,000 test) {split} split, {len(targets):,} images from {sample_dir()}"
        )
        return DeviceDataset(
            name, train, images.to(device), targets.to(device), spec, source, is_fallback=True, is_sample=True
        )
    folder = root / _cifar_folder(name)
    files_present = all((folder / file_name).is_file() for file_name in _cifar_files(name, train))
    if not files_present and download and _try_download(name, root):
        files_present = all((folder / file_name).is_file() for file_name in _cifar_files(name, train))
    if not files_present:
        raise DatasetNotFoundError(_missing_message(name, root))
    images, targets = _read_cifar(folder, name, train)
    source = f"full {name} {split} set ({len(targets):,} images) from {folder}"
    return DeviceDataset(name, train, images.to(device), targets.to(device), spec, source)


def cifar_fallback(train: bool, data_dir: str | Path | None = None, device: str | torch.device = "cpu") -> DeviceDataset:
    """Real MNIST digits padded to 3×32×32, standing in for CIFAR-10 (loudly).

    Each 28×28 digit is padded with 2 black pixels per side and repeated over 3
    channels. The spec has CIFAR-10's shape and 10 classes but MNIST's
    normalization statistics; ``source`` starts with ``"FALLBACK:"`` and
    ``is_fallback`` is True. Emits a :class:`FallbackDataWarning` and a stderr line.

    Args:
        train: The training split (True) or the test split (False).
        data_dir: Where MNIST is looked for (see :func:`load_dataset`).
        device: Where the tensors go.

    Returns:
        The stand-in split.

    Raises:
        DatasetNotFoundError: If not even the shipped MNIST sample is there.

    Example:
        >>> fake = cifar_fallback(train=False, data_dir="/nonexistent")  # doctest: +SKIP
        >>> fake.images.shape[1:], fake.source.startswith("FALLBACK:")  # doctest: +SKIP
        (torch.Size([3, 32, 32]), True)
    """
    mnist = load_dataset("mnist", train, data_dir=data_dir, device=device, download=False)
    images = torch.nn.functional.pad(mnist.images, (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()
    _shout(f"{_FALLBACK_SOURCE}; results are NOT CIFAR-10 results and every table/figure must say so", FallbackDataWarning)
    source = f"{_FALLBACK_SOURCE}; digits from {mnist.source}"
    return DeviceDataset(
        "cifar10", train, images, mnist.targets, _FALLBACK_SPEC, source, is_fallback=True, is_sample=mnist.is_sample
    )


# --------------------------------------------------------------------------- the loader


def _random_crop_flip(images: Tensor, generator: torch.Generator, padding: int = 4) -> Tensor:
    """Batched ``RandomCrop(size, padding)`` + ``RandomHorizontalFlip()`` on raw uint8 images.

    Pads with pixel value 0 (as torchvision does on the raw image, before
    normalization), picks one crop offset and one flip per image, and gathers
    all crops with a single indexing operation.
    """
    batch, channels, height, width = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator).to(device, non_blocking=True)
    flips = (torch.rand(batch, generator=generator) < 0.5).to(device, non_blocking=True)
    rows = offsets[0, :, None] + torch.arange(height, device=device)  # batch × H
    cols = offsets[1, :, None] + torch.arange(width, device=device)  # batch × W
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch_index = torch.arange(batch, device=device)[:, None, None, None]
    channel_index = torch.arange(channels, device=device)[None, :, None, None]
    return padded[batch_index, channel_index, rows[:, None, :, None], cols[:, None, None, :]]


class DeviceLoader:
    """Batches of a :class:`DeviceDataset`: normalized float32 inputs and int64 targets.

    Each pass draws an index permutation (if ``shuffle``) from its own
    ``torch.Generator`` and gathers batches with ``index_select`` on the device;
    normalization ``(x / 255 - mean) / std`` is one fused multiply-add per batch.
    With ``augment=True`` on 32×32 color data (CIFAR), every batch gets a random
    crop with 4 pixels of zero padding and a random horizontal flip, batched on
    the device; on MNIST ``augment`` does nothing (Synaptic-Flow does not augment MNIST).

    The generator's state is part of :meth:`state_dict`, so a resumed run draws
    the same batches as an uninterrupted one.

    Args:
        dataset: The data.
        batch_size: Examples per batch.
        shuffle: Draw a new permutation for each pass.
        augment: Random crop + flip (CIFAR only).
        seed: Seeds the generator; None draws a seed from torch's global RNG
            (so :func:`prunekit.run.training.seed_everything` makes it repeatable).
        drop_last: Drop the last incomplete batch.
        limit: Use only ``limit`` examples: the first ``limit`` ones, or, with
            ``shuffle``, a fixed random subset drawn once from the seeded generator.

    Raises:
        ValueError: If ``batch_size`` or ``limit`` is not positive.

    Example:
        >>> data = DeviceDataset("mnist", True, torch.zeros(10, 1, 28, 28, dtype=torch.uint8),
        ...                      torch.arange(10), DATASETS["mnist"], "blank")
        >>> loader = DeviceLoader(data, batch_size=4, shuffle=True, seed=0)
        >>> len(loader), [len(targets) for _, targets in loader]
        (3, [4, 4, 2])
    """

    def __init__(
        self,
        dataset: DeviceDataset,
        batch_size: int,
        shuffle: bool = False,
        augment: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        limit: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be positive or None; got {limit}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.augment = bool(augment) and dataset.spec.input_shape[0] == 3
        self.drop_last = drop_last
        self.device = dataset.device
        self.seed = int(torch.randint(0, 2**62, (), dtype=torch.int64)) if seed is None else int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        count = len(dataset) if limit is None else min(int(limit), len(dataset))
        if count == len(dataset):
            self.indices = None  # the whole dataset, in order
        elif shuffle:
            self.indices = torch.randperm(len(dataset), generator=self.generator)[:count].to(self.device)
        else:
            self.indices = torch.arange(count, device=self.device)
        self.num_examples = count
        channels = dataset.spec.input_shape[0]
        mean = torch.tensor(dataset.spec.mean, dtype=torch.float32).expand(channels)
        std = torch.tensor(dataset.spec.std, dtype=torch.float32).expand(channels)
        # (x / 255 - mean) / std == x * scale + shift
        self._scale = (1.0 / (255.0 * std)).reshape(1, channels, 1, 1).to(self.device)
        self._shift = (-mean / std).reshape(1, channels, 1, 1).to(self.device)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_examples // self.batch_size
        return math.ceil(self.num_examples / self.batch_size)

    def __repr__(self) -> str:
        return (
            f"DeviceLoader({self.dataset.name}, {'train' if self.dataset.train else 'test'}, "
            f"{self.num_examples:,} examples, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, augment={self.augment}, device={self.device})"
        )

    def _order(self) -> Tensor | None:
        """This pass's indices into the dataset (None = all, in order)."""
        if self.shuffle:
            permutation = torch.randperm(self.num_examples, generator=self.generator).to(self.device)
            return permutation if self.indices is None else self.indices.index_select(0, permutation)
        return self.indices

    def normalize(self, images: Tensor) -> Tensor:
        """Turns raw uint8 pixels into normalized float32 inputs.

        Args:
            images: uint8 ``B×C×H×W`` on the loader's device.

        Returns:
            ``(images / 255 - mean) / std`` as float32.

        Example:
            >>> data = DeviceDataset("mnist", True, torch.zeros(1, 1, 28, 28, dtype=torch.uint8),
            ...                      torch.zeros(1), DATASETS["mnist"], "blank")
            >>> round(DeviceLoader(data, 1).normalize(data.images)[0, 0, 0, 0].item(), 4)
            -0.4242
        """
        return torch.addcmul(self._shift, images.float(), self._scale)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self._order()
        images, targets = self.dataset.images, self.dataset.targets
        stop = len(self) * self.batch_size if self.drop_last else self.num_examples
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, self.num_examples)
            if order is None:
                batch_images, batch_targets = images[start:end], targets[start:end]
            else:
                index = order[start:end]
                batch_images, batch_targets = images.index_select(0, index), targets.index_select(0, index)
            if self.augment:
                batch_images = _random_crop_flip(batch_images, self.generator)
            yield self.normalize(batch_images), batch_targets

    def state_dict(self) -> dict:
        """The generator state (to resume the same sequence of batches).

        Returns:
            ``{"seed": int, "generator": ByteTensor}``.

        Example:
            >>> data = DeviceDataset("mnist", True, torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
            ...                      torch.zeros(4), DATASETS["mnist"], "blank")
            >>> sorted(DeviceLoader(data, 2, seed=0).state_dict())
            ['generator', 'seed']
        """
        return {"seed": self.seed, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restores the generator state saved by :meth:`state_dict`.

        Args:
            state: A dict from :meth:`state_dict`.

        Raises:
            ValueError: If it comes from a loader with another seed.

        Example:
            >>> data = DeviceDataset("mnist", True, torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
            ...                      torch.zeros(4), DATASETS["mnist"], "blank")
            >>> loader = DeviceLoader(data, 2, seed=0)
            >>> loader.load_state_dict(loader.state_dict())
        """
        if int(state["seed"]) != self.seed:
            raise ValueError(f"loader state has seed {state['seed']}, but this loader was seeded with {self.seed}")
        self.generator.set_state(state["generator"])


def prune_loader(dataset: DeviceDataset, ratio: int, batch_size: int, seed: int) -> DeviceLoader:
    """The data a pruner scores with: ``ratio × num_classes`` random training images.

    Synaptic-Flow's ``--prune-dataset-ratio`` (default 10, i.e. 100 images for
    10 classes); a fixed seeded subset, shuffled each pass, never augmented.

    Args:
        dataset: The training split.
        ratio: Images per class, on average.
        batch_size: The pruning batch size (the seed's ``--prune-batch-size``).
        seed: Chooses the subset and the order.

    Returns:
        A :class:`DeviceLoader` over the subset.

    Raises:
        ValueError: If ``ratio`` is not positive.

    Example:
        >>> data = DeviceDataset("mnist", True, torch.zeros(500, 1, 28, 28, dtype=torch.uint8),
        ...                      torch.arange(500) % 10, DATASETS["mnist"], "blank")
        >>> loader = prune_loader(data, ratio=10, batch_size=256, seed=1)
        >>> loader.num_examples, len(loader)
        (100, 1)
    """
    if ratio < 1:
        raise ValueError(f"ratio must be a positive number of images per class; got {ratio}")
    return DeviceLoader(dataset, batch_size, shuffle=True, augment=False, seed=seed, limit=ratio * dataset.spec.num_classes)
