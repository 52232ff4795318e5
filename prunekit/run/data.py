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
purpose; it returns MNIST digits whose ``origin`` is :attr:`DataOrigin.FALLBACK`.

The loader decides each split's :class:`~prunekit.run.datasets.DataOrigin` (full, sample or
fallback); runs store it and every caption shows it. The dataset types live in
:mod:`prunekit.run.datasets`, the batches in :mod:`prunekit.run.loader`; both are re-exported here.

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
import io
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import torch

from prunekit.run.datasets import (
    DATASETS,
    DataFileError,
    DataOrigin,
    DatasetSpec,
    DeviceDataset,
    _cifar_files,
    _cifar_folder,
    _mnist_files,
    _read_cifar,
    _read_mnist,
    dataset_spec,
    read_idx,
)
from prunekit.run.loader import DeviceLoader, prune_loader
from prunekit.run.machine import LoadedMachineWarning
from prunekit.run.resources import default_data_dir, sample_dir

__all__ = [
    "DATASETS",
    "DataDirNotFoundError",
    "DataFileError",
    "DataOrigin",
    "DataWarning",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DeviceDataset",
    "DeviceLoader",
    "FallbackDataWarning",
    "SampleDataWarning",
    "check_data_dir",
    "cifar_fallback",
    "dataset_spec",
    "default_data_dir",
    "load_dataset",
    "local_origin",
    "prune_loader",
    "read_idx",
    "sample_dir",
]

_DOWNLOAD_TIMEOUT_S = 10.0
_PROBE_TIMEOUT_S = 3.0
_FALLBACK_SPEC = DatasetSpec("cifar10-fallback", (3, 32, 32), 10, (0.1307,) * 3, (0.3081,) * 3)
_FALLBACK_SOURCE = "FALLBACK: MNIST digits padded to 3×32×32 stand in for CIFAR-10 (CIFAR-10 not found)"


# --------------------------------------------------------------------------- errors and warnings


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on disk (and could not be downloaded).

    The message names the dataset, the folder its files must go to, and how to get them.

    Example:
        >>> isinstance(DatasetNotFoundError("no CIFAR-10"), FileNotFoundError)
        True
    """


class DataDirNotFoundError(DatasetNotFoundError):
    """The data folder the user named (``--data-dir``/``data_dir=``) does not exist.

    Raised before any work, instead of falling back to the shipped sample as if no folder had been named.

    Example:
        >>> check_data_dir("/no/such/prunekit/folder")
        Traceback (most recent call last):
        ...
        prunekit.run.data.DataDirNotFoundError: data folder /no/such/prunekit/folder (--data-dir/data_dir) does not exist: check the path, or create it first if a dataset should be downloaded into it
    """


def check_data_dir(data_dir: str | Path | None) -> Path | None:
    """The data folder the user named, checked to exist (None when no folder was named).

    Args:
        data_dir: ``--data-dir``/``data_dir=``; None means the default (:func:`default_data_dir`).

    Returns:
        The folder (``~`` expanded), or None.

    Raises:
        DataDirNotFoundError: If a folder was named and nothing exists there.

    Example:
        >>> check_data_dir(None) is None
        True
    """
    if data_dir is None:
        return None
    folder = Path(data_dir).expanduser()
    if not folder.exists():
        raise DataDirNotFoundError(
            f"data folder {folder} (--data-dir/data_dir) does not exist: check the path, "
            "or create it first if a dataset should be downloaded into it"
        )
    return folder


class DataWarning(UserWarning):
    """Base class of the warnings about data that is not the full requested dataset."""


class SampleDataWarning(DataWarning):
    """The shipped MNIST sample is used instead of the full MNIST."""


class FallbackDataWarning(DataWarning):
    """Another dataset stands in for the requested one (e.g. MNIST for CIFAR-10)."""


_SHOUTED: set[str] = set()
"""Data and download notices already shown in this process."""


def _shout(message: str, category: type[Warning]) -> None:
    """Warns about the data a run uses, once per process for each distinct notice.

    A notebook or a command line meets the same situation in several loads (train,
    test, pruning batches, lessons); the notice is shown the first time only. Python's
    own once-per-location filter is not enough: any ``catch_warnings`` block (matplotlib,
    pandas, torch) resets it. Every result, summary line and caption names the data
    origin as well, so nothing depends on seeing the warning.
    """
    if message in _SHOUTED:
        return
    _SHOUTED.add(message)
    warnings.warn(message, category, stacklevel=3)


@contextlib.contextmanager
def notices_as_lines() -> Iterator[None]:
    """Within this block, each data notice is one plain ``prunekit: ...`` line on stderr.

    Command lines and batch workers use it: a Python warning there would print a file
    name and line number in front of the notice. Other warnings are left as they are
    (callers silence the ones they report elsewhere). Notices stay once per process.

    Example:
        >>> with notices_as_lines():  # doctest: +SKIP
        ...     load_dataset("mnist", train=False, data_dir="/tmp/empty")
        prunekit: MNIST not found under /tmp/empty; using the SHIPPED MNIST SAMPLE ...
    """
    with warnings.catch_warnings():
        show_notices_as_lines()
        yield


def show_notices_as_lines() -> None:
    """For this whole process, shows data (and loaded-machine) notices as plain ``prunekit: ...`` lines on stderr.

    For worker processes of a batch; elsewhere use :func:`notices_as_lines`, which undoes it.
    """
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202, PLR0913
        if issubclass(category, (DataWarning, LoadedMachineWarning)):
            print(f"prunekit: {message}", file=sys.stderr, flush=True)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("always", DataWarning)  # _shout already shows each notice once
    warnings.simplefilter("always", LoadedMachineWarning)  # so does machine.warn_if_loaded


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
            f"or point --data-dir (data_dir= in Python, or the PRUNEKIT_DATA environment variable) "
            f"at a folder that has MNIST/raw/ "
            f"(and allow_sample=True to use the shipped sample in {sample_dir()})"
        )
    archive = "cifar-10-python.tar.gz" if name == "cifar10" else "cifar-100-python.tar.gz"
    return (
        f"{name.upper().replace('CIFAR', 'CIFAR-')} not found: "
        f"put the extracted {_cifar_folder(name)}/ folder under {root}/ "
        f"(download {archive} from https://www.cs.toronto.edu/~kriz/cifar.html and run "
        f"`tar -xzf {archive} -C {root}`), or point --data-dir (data_dir= in Python, or the PRUNEKIT_DATA "
        f"environment variable) at a folder that has it. "
        f"prunekit.run.data.cifar_fallback() gives labelled MNIST stand-ins instead"
    )


def _split_on_disk(name: str, root: Path, train: bool) -> bool:
    """Whether one split of ``name`` is on disk under ``root`` (torchvision's layout)."""
    if name == "mnist":
        return _mnist_files(root / "MNIST" / "raw", train) is not None
    return all((root / _cifar_folder(name) / file_name).is_file() for file_name in _cifar_files(name, train))


def local_origin(name: str, data_dir: str | Path | None = None) -> DataOrigin | None:
    """Where a run on ``name`` would get its data from now, without reading or downloading it.

    Args:
        name: ``"mnist"``, ``"cifar10"`` or ``"cifar100"``.
        data_dir: Root folder; None = :func:`default_data_dir`.

    Returns:
        :attr:`DataOrigin.FULL` if both splits are on disk, :attr:`DataOrigin.SAMPLE` for MNIST
        without them (the shipped sample), None for CIFAR without them (a download or the
        FALLBACK would decide).

    Raises:
        ValueError: If ``name`` is unknown.

    Example:
        >>> local_origin("mnist", "/nonexistent-folder")
        <DataOrigin.SAMPLE: 'sample'>
    """
    dataset_spec(name)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if all(_split_on_disk(name, root, train) for train in (True, False)):
        return DataOrigin.FULL
    return DataOrigin.SAMPLE if name == "mnist" else None


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
        The split as a :class:`DeviceDataset`, its ``origin`` :attr:`DataOrigin.FULL` or, for the
        shipped sample, :attr:`DataOrigin.SAMPLE`.

    Raises:
        ValueError: If ``name`` is unknown.
        DataDirNotFoundError: If ``data_dir`` is given and does not exist (no fallback then).
        DatasetNotFoundError: If the data is missing; the message says where it goes.
        DataFileError: A ``ValueError`` naming the file, if a data file is truncated, corrupt or
            holds labels out of range.
        prunekit.run.io.UnsafePickleError: If a CIFAR batch file names a type data files never hold.

    Example:
        >>> test = load_dataset("mnist", train=False, data_dir="/tmp", download=False)  # doctest: +SKIP
        >>> test.origin, len(test)  # doctest: +SKIP
        (<DataOrigin.SAMPLE: 'sample'>, 2000)
    """
    spec = dataset_spec(name)
    named = check_data_dir(data_dir)
    root = named if named is not None else default_data_dir()
    device = _as_device(device)
    split = "train" if train else "test"
    if name == "mnist":
        folder = root / "MNIST" / "raw"
        if not _split_on_disk(name, root, train) and download and _try_download(name, root):
            pass  # torchvision wrote (and extracted) the files into root/MNIST/raw
        if _split_on_disk(name, root, train):
            images, targets = _read_mnist(folder, train)
            source = f"full MNIST {split} set ({len(targets):,} images) from {folder}"
            return DeviceDataset(name, train, images.to(device), targets.to(device), spec, source, DataOrigin.FULL)
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
        return DeviceDataset(name, train, images.to(device), targets.to(device), spec, source, DataOrigin.SAMPLE)
    folder = root / _cifar_folder(name)
    files_present = _split_on_disk(name, root, train)
    if not files_present and download and _try_download(name, root):
        files_present = _split_on_disk(name, root, train)
    if not files_present:
        raise DatasetNotFoundError(_missing_message(name, root))
    images, targets = _read_cifar(folder, name, train)
    source = f"full {name} {split} set ({len(targets):,} images) from {folder}"
    return DeviceDataset(name, train, images.to(device), targets.to(device), spec, source, DataOrigin.FULL)


def cifar_fallback(train: bool, data_dir: str | Path | None = None, device: str | torch.device = "cpu") -> DeviceDataset:
    """Real MNIST digits padded to 3×32×32, standing in for CIFAR-10 (loudly).

    Each 28×28 digit is padded with 2 black pixels per side and repeated over 3
    channels. The spec has CIFAR-10's shape and 10 classes but MNIST's
    normalization statistics; ``origin`` is :attr:`DataOrigin.FALLBACK` and ``source``
    starts with ``"FALLBACK:"``. Emits a :class:`FallbackDataWarning` and a stderr line.

    Args:
        train: The training split (True) or the test split (False).
        data_dir: Where MNIST is looked for (see :func:`load_dataset`).
        device: Where the tensors go.

    Returns:
        The stand-in split.

    Raises:
        DatasetNotFoundError: If not even the shipped MNIST sample is there.

    Example:
        >>> fake = cifar_fallback(train=False, data_dir="/tmp")  # doctest: +SKIP
        >>> fake.images.shape[1:], fake.origin  # doctest: +SKIP
        (torch.Size([3, 32, 32]), <DataOrigin.FALLBACK: 'fallback'>)
    """
    mnist = load_dataset("mnist", train, data_dir=data_dir, device=device, download=False)
    images = torch.nn.functional.pad(mnist.images, (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()
    _shout(f"{_FALLBACK_SOURCE}; results are NOT CIFAR-10 results and every table/figure must say so", FallbackDataWarning)
    source = f"{_FALLBACK_SOURCE}; digits from {mnist.source}"
    return DeviceDataset("cifar10", train, images, mnist.targets, _FALLBACK_SPEC, source, DataOrigin.FALLBACK)


