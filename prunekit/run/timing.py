"""Inference timing: the report's "testing time", measured the same way on every device.

Example:
    >>> timing = measure_inference_time(nn.Linear(4, 2), [(torch.randn(8, 4), torch.zeros(8))], repeats=2)
    >>> timing["threads"], len(timing["times_s"])
    (1, 2)
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["device_of", "measure_inference_time", "synchronize"]


def device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer; the CPU for a model with neither)."""
    parameter = next(model.parameters(), None)
    if parameter is None:
        buffer = next(model.buffers(), None)
        return buffer.device if buffer is not None else torch.device("cpu")
    return parameter.device


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work (CUDA runs asynchronously; a no-op elsewhere)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_inference_time(
    model: nn.Module, loader: Iterable[tuple[Tensor, Tensor]], repeats: int = 5, warmup: int = 1, threads: int = 1
) -> dict[str, Any]:
    """Times full inference passes over ``loader`` (the report's "testing time").

    One measurement is one pass over the whole loader (batching included), in
    eval mode under ``torch.inference_mode``; ``warmup`` untimed passes come first.
    On CUDA the device is synchronized before reading the clock. On the CPU the passes
    run with ``threads`` torch threads (restored afterwards), so runs timed on one machine
    compare like with like; the machine's load when timing began is recorded beside them.

    Args:
        model: The network.
        loader: Test batches on the model's device.
        repeats: Timed passes.
        warmup: Untimed passes before them.
        threads: CPU threads for the passes (ignored on a GPU's own work).

    Returns:
        ``{"median_s", "min_s", "max_s", "iqr_s", "repeats", "times_s", "threads", "load"}``
        (``iqr_s`` is the interquartile range, 0 with fewer than 2 repeats; ``load`` the 1-minute
        load average, None where the system has none).

    Raises:
        ValueError: If ``repeats`` < 1, ``warmup`` < 0 or ``threads`` < 1.

    Example:
        >>> timing = measure_inference_time(nn.Linear(4, 2), [(torch.randn(8, 4), torch.zeros(8))], repeats=3)
        >>> timing["repeats"], len(timing["times_s"])
        (3, 3)
    """
    if repeats < 1 or warmup < 0 or threads < 1:
        raise ValueError(f"need repeats >= 1, warmup >= 0 and threads >= 1; got repeats={repeats}, warmup={warmup}, "
                         f"threads={threads}")
    device = device_of(model)
    model.eval()
    times = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for index in range(warmup + repeats):
                synchronize(device)
                start = time.perf_counter()
                for inputs, _ in loader:
                    model(inputs)
                synchronize(device)
                if index >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    quartiles = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "iqr_s": quartiles[2] - quartiles[0],
        "repeats": repeats,
        "times_s": times,
        "threads": threads,
        "load": None if load is None else round(load, 2),
    }
