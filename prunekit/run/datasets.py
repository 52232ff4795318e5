"""What a dataset is: its spec, where a loaded split came from, and the readers of its files.

- :class:`DatasetSpec` and :data:`DATASETS`: shape, classes and normalization of each dataset;
- :class:`DataOrigin`: whether a split is the full real dataset, the shipped MNIST sample,
  or a labelled stand-in (MNIST digits for CIFAR-10), as a value every caption reads;
- :class:`DeviceDataset`: one split decoded into uint8 tensors on a device, with its origin;
- :func:`read_idx` and the MNIST/CIFAR readers.

Where the files are looked for, downloads and the fallbacks are :mod:`prunekit.run.data`;
batches are :mod:`prunekit.run.loader`.

Example:
    >>> DataOrigin("sample").caption
    'SHIPPED MNIST SAMPLE (10,000/2,000 images)'
"""

from __future__ import annotations

import enum
import gzip
import math
import pickle
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from prunekit.run.io import load_data_pickle

__all__ = [
    "DATASETS", "DataFileError", "DataOrigin", "DatasetSpec", "DeviceDataset", "check_labels", "dataset_spec", "read_idx",
]


class DataFileError(ValueError):
    """A data file is there but cannot be used: truncated, not the expected format, or labels out of range.

    The message names the file and what is wrong with it, in one line.

    Attributes:
        path: The file.

    Example:
        >>> str(DataFileError("/d/t10k-labels-idx1-ubyte", "label 200 is out of range 0..9"))
        '/d/t10k-labels-idx1-ubyte: label 200 is out of range 0..9'
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)


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


# --------------------------------------------------------------------------- where a split came from


class DataOrigin(str, enum.Enum):
    """Where the data of a run came from: decided by the loader, stored in the result, shown by every caption.

    Members:
        FULL: The requested dataset, in full.
        SAMPLE: The real MNIST sample shipped with the kit (10,000 training / 2,000 test images).
        FALLBACK: Another dataset standing in for the requested one (MNIST digits for CIFAR-10).

    Example:
        >>> DataOrigin.FULL.caption, DataOrigin.FALLBACK.value
        ('', 'fallback')
        >>> DataOrigin.least_real([DataOrigin.FULL, DataOrigin.SAMPLE])
        <DataOrigin.SAMPLE: 'sample'>
        >>> DataOrigin("shipped")
        Traceback (most recent call last):
        ...
        ValueError: 'shipped' is not a valid DataOrigin; valid origins: full, sample, fallback
    """

    FULL = "full"
    SAMPLE = "sample"
    FALLBACK = "fallback"

    @classmethod
    def _missing_(cls, value: object) -> DataOrigin:
        raise ValueError(f"{value!r} is not a valid DataOrigin; valid origins: {', '.join(m.value for m in cls)}")

    @property
    def caption(self) -> str:
        """What a table caption or figure title says about this data (``""`` for the full dataset)."""
        return _CAPTIONS[self]

    @property
    def tag(self) -> str:
        """:attr:`caption` followed by ``" · "``, to prefix a title with (``""`` for the full dataset).

        Example:
            >>> DataOrigin.SAMPLE.tag
            'SHIPPED MNIST SAMPLE (10,000/2,000 images) · '
        """
        return f"{self.caption} · " if self.caption else ""

    @property
    def warning(self) -> str:
        """The line a run's summary starts with (``""`` for the full dataset)."""
        return _WARNINGS[self]

    @classmethod
    def least_real(cls, origins: Iterable[DataOrigin | str]) -> DataOrigin:
        """The least real of several origins (fallback, then sample, then full): what a mixed set of runs is.

        Args:
            origins: An iterable of :class:`DataOrigin` (or their values).

        Returns:
            The least real one; :attr:`FULL` when there is none.
        """
        found = {cls(origin) for origin in origins}
        return next((origin for origin in (cls.FALLBACK, cls.SAMPLE) if origin in found), cls.FULL)


_CAPTIONS = {
    DataOrigin.FULL: "",
    DataOrigin.SAMPLE: "SHIPPED MNIST SAMPLE (10,000/2,000 images)",
    DataOrigin.FALLBACK: "FALLBACK: MNIST digits standing in for CIFAR-10",
}
_WARNINGS = {
    DataOrigin.FULL: "",
    DataOrigin.SAMPLE: "SHIPPED MNIST SAMPLE (10,000/2,000 images): not comparable with the full 60,000/10,000 set",
    DataOrigin.FALLBACK: "FALLBACK DATA: MNIST digits stood in for CIFAR-10; these numbers are NOT CIFAR-10 results",
}


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
        source: Human-readable provenance (where the files were read from).
        origin: :class:`DataOrigin`: the full dataset, the shipped sample, or a fallback stand-in.

    Example:
        >>> spec = DATASETS["mnist"]
        >>> data = DeviceDataset("mnist", True, torch.zeros(2, 1, 28, 28, dtype=torch.uint8),
        ...                      torch.tensor([3, 5]), spec, "two blank images", DataOrigin.SAMPLE)
        >>> len(data), data.device, data.is_sample, data.is_fallback
        (2, device(type='cpu'), True, False)
    """

    name: str
    train: bool
    images: Tensor = field(repr=False)
    targets: Tensor = field(repr=False)
    spec: DatasetSpec
    source: str
    origin: DataOrigin = DataOrigin.FULL

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
        self.origin = DataOrigin(self.origin)

    @property
    def is_sample(self) -> bool:
        """Whether this is the shipped MNIST sample (``origin is DataOrigin.SAMPLE``)."""
        return self.origin is DataOrigin.SAMPLE

    @property
    def is_fallback(self) -> bool:
        """Whether another dataset stands in for the requested one (``origin is DataOrigin.FALLBACK``)."""
        return self.origin is DataOrigin.FALLBACK

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
        DataFileError: A ``ValueError`` naming the file, if it is not an unsigned-byte IDX file,
            is truncated, or is a damaged ``.gz``.

    Example:
        >>> from prunekit.run.data import sample_dir
        >>> read_idx(sample_dir() / "t10k-labels-idx1-ubyte.gz").shape
        torch.Size([2000])
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise DataFileError(path, f"damaged gzip file, truncated or corrupt ({error}); "
                                      "download or copy it again") from None
    if len(raw) < 4:
        raise DataFileError(path, f"not an IDX file (only {len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or not 1 <= ndim <= 4:
        raise DataFileError(path, f"not an unsigned-byte IDX file (header {raw[:4].hex()})")
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataFileError(path, f"truncated: the header needs {offset} bytes, the file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:offset])
    if len(raw) - offset != math.prod(shape):
        raise DataFileError(path, f"truncated: header says {shape}, found {len(raw) - offset} bytes of data")
    array = np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)
    return torch.from_numpy(array.copy())


def check_labels(labels: Tensor, num_classes: int, path: str | Path) -> Tensor:
    """``labels``, after checking that every one is a class index ``0 .. num_classes - 1``.

    Args:
        labels: The labels read from ``path``.
        num_classes: The dataset's number of classes.
        path: The file they came from (for the message).

    Returns:
        The labels, unchanged.

    Raises:
        DataFileError: Naming the file, the first bad value and the valid range.

    Example:
        >>> check_labels(torch.tensor([3, 200]), 10, "labels.gz")
        Traceback (most recent call last):
        ...
        prunekit.run.datasets.DataFileError: labels.gz: label 200 (at index 1) is out of range: valid labels are 0..9
    """
    bad = ((labels < 0) | (labels >= num_classes)).nonzero()
    if len(bad):
        index = int(bad[0, 0])
        raise DataFileError(path, f"label {int(labels[index])} (at index {index}) is out of range: "
                                  f"valid labels are 0..{num_classes - 1}")
    return labels


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
        raise DataFileError(files[1], f"does not match {files[0].name}: images {tuple(images.shape)}, "
                                      f"labels {tuple(labels.shape)}")
    return images.unsqueeze(1), check_labels(labels.long(), DATASETS["mnist"].num_classes, files[1])


def _cifar_folder(name: str) -> str:
    return "cifar-10-batches-py" if name == "cifar10" else "cifar-100-python"


def _cifar_files(name: str, train: bool) -> list[str]:
    if name == "cifar10":
        return [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    return ["train"] if train else ["test"]


def _read_cifar(folder: Path, name: str, train: bool) -> tuple[Tensor, Tensor]:
    """Reads CIFAR python pickles (``b"data"``: uint8 N×3072 in CHW order, ``b"labels"``).

    The files are read with :func:`prunekit.run.io.load_data_pickle`, which refuses every type
    but plain data, so a crafted batch file cannot run code.
    """
    label_key = b"labels" if name == "cifar10" else b"fine_labels"
    images, labels = [], []
    for file_name in _cifar_files(name, train):
        path = folder / file_name
        try:
            entry = load_data_pickle(path)
        except pickle.UnpicklingError as error:
            if type(error) is not pickle.UnpicklingError:
                raise  # UnsafePickleError: refused, and named, as such
            raise DataFileError(path, f"not a readable CIFAR batch file (truncated or corrupt?): {error}") from None
        if not isinstance(entry, dict) or b"data" not in entry or label_key not in entry:
            raise DataFileError(path, f"not a CIFAR batch file (a dict with b'data' and {label_key!r} expected)")
        try:
            data = np.asarray(entry[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            batch_labels = np.asarray(entry[label_key], dtype=np.int64).reshape(-1)
        except (ValueError, TypeError) as error:
            raise DataFileError(path, f"not a CIFAR batch file ({error})") from None
        if len(data) != len(batch_labels):
            raise DataFileError(path, f"holds {len(data)} images but {len(batch_labels)} labels")
        check_labels(torch.from_numpy(batch_labels), DATASETS[name].num_classes, path)
        images.append(data)
        labels.append(batch_labels)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))
