"""Where a run computes: one choice of device per run, made here and nowhere else.

``auto`` takes the first of CUDA, Apple's MPS and the CPU that is available.
Everything else in the kit follows the device of the model's parameters, so a
run that starts on ``cuda:1`` stays there; no code calls ``.cuda()``.

Example:
    >>> select_device("cpu")
    device(type='cpu')
    >>> select_device("auto").type in {"cuda", "mps", "cpu"}
    True
"""

from __future__ import annotations

import os
import platform

import torch

__all__ = ["DEVICE_KINDS", "device_report", "select_device"]

DEVICE_KINDS = ("auto", "cpu", "cuda", "mps")
"""Accepted device names; ``cuda`` may carry an index, as in ``cuda:1``."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def select_device(name: str | torch.device = "auto") -> torch.device:
    """Turns a device name into a ``torch.device``, checking that it exists.

    Args:
        name: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (or a ``torch.device``).

    Returns:
        The device.

    Raises:
        ValueError: If the name is not a device kind, or the device is not on this machine;
            the message lists the valid names and what is available.

    Example:
        >>> select_device("cpu").type
        'cpu'
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = str(name).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = text.partition(":")
    if kind not in DEVICE_KINDS or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"unknown device {name!r}; valid devices: {', '.join(DEVICE_KINDS)} or cuda:N")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        wanted = int(index) if index else 0
        if wanted >= count:
            raise ValueError(
                f"device {name!r} is not available: this machine has {count} CUDA device(s); "
                f"use --device auto or cpu{', or cuda:0..cuda:' + str(count - 1) if count else ''}"
            )
    if kind == "mps" and not _mps_available():
        raise ValueError(f"device {name!r} is not available on this machine; use --device auto or cpu")
    return torch.device(text)


def device_report() -> str:
    """A few lines on the compute this machine offers, for the setup notebook and logs.

    Returns:
        The chosen ``auto`` device, every CUDA device with its memory, MPS, and CPU threads.

    Example:
        >>> "auto device:" in device_report()
        True
    """
    lines = [f"auto device: {select_device('auto')}"]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            lines.append(f"cuda:{index}: {props.name}, {props.total_memory / 2**30:.1f} GiB")
    else:
        lines.append("CUDA: not available (the kit runs on the CPU; a GPU only makes it faster)")
    lines.append(f"MPS (Apple): {'available' if _mps_available() else 'not available'}")
    lines.append(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
        f"torch uses {torch.get_num_threads()} threads"
    )
    return "\n".join(lines)
