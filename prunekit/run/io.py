"""Atomic file writes (JSON, torch checkpoints) and safe checkpoint loading.

Every write goes to a temporary file in the destination's folder, is flushed and
fsynced, then moved over the destination with ``os.replace`` (atomic on POSIX
and Windows). An interrupted run therefore leaves either the old file or the
new one, never half a file.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_json(folder / "result.json", {"top1": 97.5})
    >>> read_json(folder / "result.json")
    {'top1': 97.5}
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch

__all__ = [
    "UnsafePathError",
    "atomic_write",
    "contained_path",
    "interrupts_deferred",
    "UnsafePickleError",
    "load_checkpoint",
    "load_data_pickle",
    "read_json",
    "save_checkpoint",
    "write_json",
]


class UnsafePathError(ValueError):
    """A name that becomes a path would leave the folder it belongs in."""


def contained_path(parent: str | Path, name: str, what: str = "name") -> Path:
    """``parent / name``, refusing any ``name`` that would leave ``parent``.

    Run ids (``--expid``) and sweep names become folder names; ``--overwrite`` may
    delete inside them. A name must therefore be relative, free of ``..`` and
    resolve (links included) to a path inside ``parent``.

    Args:
        parent: The folder the path must stay in (need not exist yet).
        name: The user's name: one or more relative path components.
        what: What the name is, for the message (``"--expid"``, ``"sweep name"``).

    Returns:
        The joined path (not resolved).

    Raises:
        UnsafePathError: If ``name`` is empty, absolute, contains ``..`` or resolves outside ``parent``.

    Example:
        >>> contained_path("results/singleshot", "13").as_posix()
        'results/singleshot/13'
        >>> contained_path("results", "../victim", "--expid")
        Traceback (most recent call last):
        ...
        prunekit.run.io.UnsafePathError: --expid '../victim' would leave results: use a plain name such as 'run-1' (no '..', no leading '/')
    """
    text = str(name)
    hint = "use a plain name such as 'run-1' (no '..', no leading '/')"
    parts = Path(text).parts
    if not text.strip() or Path(text).is_absolute() or ".." in parts or text.startswith("~"):
        raise UnsafePathError(f"{what} {text!r} would leave {Path(parent).as_posix()}: {hint}")
    path = Path(parent) / text
    base = Path(parent).resolve()
    resolved = path.resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafePathError(f"{what} {text!r} resolves to {resolved}, outside {base}: {hint}")
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Opens a temporary file that replaces ``path`` when the block ends without error.

    Creates the parent folders. On an exception the temporary file is removed and
    ``path`` is left as it was.

    Args:
        path: The destination.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        encoding: Text encoding (ignored in binary mode).

    Yields:
        The open temporary file.

    Raises:
        ValueError: If ``mode`` is not ``"w"`` or ``"wb"``.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
        >>> with atomic_write(target) as handle:
        ...     _ = handle.write("hello")
        >>> target.read_text()
        'hello'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"unknown mode {mode!r}; valid modes: 'w', 'wb'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; the finished file gets what open() would give (0666 less the umask),
        # so a teaching assistant in the same group can read a student's results.
        os.chmod(temp_name, 0o666 & ~_current_umask())
        with os.fdopen(descriptor, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def _to_json(value: Any) -> Any:
    """JSON fallback for tensors, numpy scalars/arrays, paths and sets."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_json(path: str | Path, data: Any, indent: int = 2) -> None:
    """Writes ``data`` as JSON, atomically.

    Tensors, numpy values and paths are converted (``tolist``/``str``).

    Args:
        path: The destination.
        data: JSON-serializable data.
        indent: Indentation (None for one line).

    Raises:
        TypeError: If something in ``data`` cannot be written as JSON
            (the destination is then untouched).

    Example:
        >>> import tempfile
        >>> write_json(Path(tempfile.mkdtemp()) / "r.json", {"kept": torch.tensor(3)})
    """
    with atomic_write(path, "w") as handle:
        json.dump(data, handle, indent=indent, default=_to_json, allow_nan=True)
        handle.write("\n")


def read_json(path: str | Path) -> Any:
    """Reads a JSON file.

    Args:
        path: The file.

    Returns:
        The decoded data.

    Raises:
        FileNotFoundError: If the file does not exist.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "r.json"
        >>> write_json(target, [1, 2])
        >>> read_json(target)
        [1, 2]
    """
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Holds back Ctrl-C (SIGINT) until the block ends, then delivers it.

    ``torch.save`` writes through C++: a ``KeyboardInterrupt`` raised inside one of
    its writes comes out as a ``RuntimeError`` ("unexpected pos ..."), so a run
    stopped with Ctrl-C while saving a checkpoint would report a crash. Inside
    this block the signal is only recorded; when the block ends the previous
    handler is restored and called, so the interrupt arrives right after the
    write, with the file complete. Outside the main thread (where Python cannot
    set handlers) the block runs unchanged.

    Yields:
        Nothing.

    Example:
        >>> with interrupts_deferred():
        ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, Any]] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signum, frame = received[0]
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signal.SIGINT)


def save_checkpoint(path: str | Path, state: dict[str, Any], saver: Callable[[Any, IO], None] | None = None) -> None:
    """Writes ``state`` with ``torch.save``, atomically.

    A Ctrl-C during the write is delivered when the file is complete (see
    :func:`interrupts_deferred`).

    Args:
        path: The destination, e.g. ``results/.../checkpoint.pt``.
        state: Tensors, state dicts, lists, numbers and strings (loadable with
            ``weights_only=True``).
        saver: Replaces ``torch.save`` (for tests); called as ``saver(state, file)``.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "c.pt"
        >>> save_checkpoint(target, {"epoch": 3})
        >>> load_checkpoint(target)["epoch"]
        3
    """
    with interrupts_deferred(), atomic_write(path, "wb") as handle:
        (saver or torch.save)(state, handle)


def load_checkpoint(path: str | Path, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Loads a checkpoint written by :func:`save_checkpoint`, safely.

    Uses ``torch.load(..., weights_only=True)``: only tensors and plain Python
    containers are unpickled, never arbitrary objects.

    Args:
        path: The checkpoint.
        map_location: Where tensors go (default CPU; move the model afterwards).

    Returns:
        The saved dict.

    Raises:
        FileNotFoundError: If the file does not exist.

    Example:
        >>> load_checkpoint("missing.pt")  # doctest: +SKIP
        Traceback (most recent call last):
        FileNotFoundError: ...
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


class UnsafePickleError(pickle.UnpicklingError):
    """A data pickle asked for a type that data files never hold (it may be crafted to run code)."""


_PICKLE_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
})
"""The only globals a CIFAR batch file may name: numpy's array and dtype reconstruction, and the
string-to-bytes conversion that protocol-2 pickles written by Python 3 use for ``bytes``."""


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise UnsafePickleError(f"refusing to load {module}.{name}: data pickles may hold only dicts, lists, "
                                    "bytes, strings, numbers and numpy arrays")
        return super().find_class(module, name)


def load_data_pickle(path: str | Path) -> Any:
    """Reads a dataset pickle (e.g. a CIFAR batch file) allowing only plain data types.

    ``pickle.load`` runs whatever a file names, so a crafted ``data_batch_1`` in a
    data folder could run code. This reader allows dicts, lists, tuples, bytes,
    strings, numbers and numpy arrays, and refuses every other type. Byte strings
    of Python 2 pickles stay ``bytes`` (``encoding="bytes"``), as CIFAR expects.

    Args:
        path: The pickle file.

    Returns:
        The decoded data.

    Raises:
        UnsafePickleError: If the file names any other type or function; the file is not run.
        pickle.UnpicklingError: If the file is not a valid pickle (truncated, not a pickle);
            the message names the file.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "batch"
        >>> _ = target.write_bytes(pickle.dumps({b"labels": [3, 1]}, protocol=2))
        >>> load_data_pickle(target)
        {b'labels': [3, 1]}
    """
    data = Path(path).read_bytes()
    try:
        return _DataUnpickler(io.BytesIO(data), encoding="bytes").load()
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{path}: {error}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as error:
        raise pickle.UnpicklingError(f"{path} is not a readable data pickle (truncated or corrupt?): {error}") from None
