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
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch

__all__ = ["atomic_write", "load_checkpoint", "read_json", "save_checkpoint", "write_json"]


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


def save_checkpoint(path: str | Path, state: dict[str, Any], saver: Callable[[Any, IO], None] | None = None) -> None:
    """Writes ``state`` with ``torch.save``, atomically.

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
    with atomic_write(path, "wb") as handle:
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
