"""Checkpoint helpers of the training loop: the random-number states to save and restore, and safe loading.

A checkpoint that cannot be read (truncated by a full disk or a killed copy, damaged) must not
leave a run stuck: :func:`load_checkpoint_or_discard` removes it with a warning naming it, and
the caller goes on from the state before it.

Example:
    >>> state = rng_state(torch.device("cpu")); first = torch.rand(1)
    >>> set_rng_state(state); bool(torch.rand(1) == first)
    True
"""

from __future__ import annotations

import pickle
import random
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prunekit.run.io import load_checkpoint

__all__ = ["CorruptCheckpointWarning", "load_checkpoint_or_discard", "rng_state", "set_rng_state"]


class CorruptCheckpointWarning(UserWarning):
    """A checkpoint could not be read: it was removed, and the run goes on from an earlier state."""


def load_checkpoint_or_discard(
    path: str | Path, keys: Sequence[str], then: str, map_location: str | torch.device | None = "cpu"
) -> dict[str, Any] | None:
    """A checkpoint's contents; None if there is none, or if it is corrupt (then it is removed, with a warning).

    A truncated or damaged checkpoint must not leave a run stuck: it is deleted, a
    :class:`CorruptCheckpointWarning` naming it is issued (and the same line written on
    stderr, since callers may filter warnings), and the caller starts from the state before it.

    Args:
        path: The checkpoint.
        keys: The entries it must have.
        then: What the caller does instead, for the message (e.g. ``"starting post-training again"``).
        map_location: Where tensors go.

    Returns:
        The saved dict, or None.

    Example:
        >>> import tempfile
        >>> broken = Path(tempfile.mkdtemp()) / "pruned.pt"
        >>> _ = broken.write_bytes(b"PK not a checkpoint")
        >>> with warnings.catch_warnings(record=True):
        ...     load_checkpoint_or_discard(broken, ["model"], "starting again") is None
        True
        >>> broken.exists()
        False
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = load_checkpoint(path, map_location=map_location)
        missing = [key for key in keys if key not in state] if isinstance(state, dict) else list(keys)
        if missing:
            raise ValueError(f"entries {', '.join(missing)} are missing")
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as error:
        detail = (str(error).splitlines() or [""])[0]
        message = f"{path} is corrupt ({type(error).__name__}: {detail}); removed it, {then}"
        path.unlink(missing_ok=True)
        warnings.warn(message, CorruptCheckpointWarning, stacklevel=2)
        print(f"prunekit: {message}", file=sys.stderr, flush=True)
        return None
    return state


def rng_state(device: torch.device) -> dict[str, Any]:
    """The torch, Python, numpy (and CUDA) random states, loadable with ``weights_only=True``."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    name, keys, position, has_gauss, cached = np.random.get_state()
    state["numpy"] = [name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)]
    if device.type == "cuda" and torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restores what :func:`rng_state` returned (loaded onto a GPU, the states go back to the CPU first)."""
    torch.set_rng_state(state["torch"].cpu())
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        name, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.cpu().numpy().astype(np.uint32), position, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([each.cpu() for each in state["cuda"]])
