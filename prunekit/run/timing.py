"""Timing, done once for the whole kit: warm-up, fixed threads, repeats, median and IQR, CUDA sync.

- :func:`measure_inference_time`: the report's "testing time" (full passes over a test loader).
- :func:`time_call`: any call (a layer's product, a model's forward on one batch), timed the way
  ``torch.utils.benchmark`` does (threads fixed, CUDA synchronized before the clock is read), one
  call per repeat so that each call's time is kept and the spread is the IQR of those times;
  :func:`time_alternating` does the same for several calls in turn. They return
  :class:`TimingStats`, whose text always carries the spread and the threads.
- :func:`compare`: the ratio of two timings, or, when their interquartile ranges overlap, the
  statement that the spread is larger than the effect (no number is presented then).

Example:
    >>> timing = measure_inference_time(nn.Linear(4, 2), [(torch.randn(8, 4), torch.zeros(8))], repeats=2)
    >>> timing["threads"], len(timing["times_s"])
    (1, 2)
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Comparison", "TimingStats", "compare", "device_of", "format_seconds", "measure_inference_time",
           "synchronize", "time_alternating", "time_call"]


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


def format_seconds(seconds: float) -> str:
    """``seconds`` in s, ms or µs with three significant digits.

    Example:
        >>> format_seconds(0.01234), format_seconds(2.5), format_seconds(3.2e-5)
        ('12.3 ms', '2.50 s', '32.0 µs')
    """
    unit, scale = next((u, s) for u, s in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)) if abs(seconds) >= s or u == "µs")
    value = seconds / scale
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f} {unit}"


@dataclass(frozen=True)
class TimingStats:
    """Repeated timings of one call: median, quartiles and the conditions.

    Attributes:
        label: What was timed.
        median_s: Median time of one call.
        q1_s: First quartile.
        q3_s: Third quartile.
        repeats: Timed calls.
        warmup: Untimed calls before them.
        threads: Torch CPU threads during the calls.
        device: Where the work ran (``cpu``, ``cuda:0`` …).
        load: The 1-minute load average when timing began (None where there is none).
        times_s: Every timed call.
    """

    label: str
    median_s: float
    q1_s: float
    q3_s: float
    repeats: int
    warmup: int
    threads: int
    device: str
    load: float | None
    times_s: tuple[float, ...]

    @property
    def iqr_s(self) -> float:
        """The interquartile range ``q3 - q1`` (the spread quoted with every time)."""
        return self.q3_s - self.q1_s

    def __str__(self) -> str:
        return (f"{format_seconds(self.median_s)} (IQR {format_seconds(self.iqr_s)}, median of {self.repeats}, "
                f"{self.threads} thread{'s' if self.threads != 1 else ''}, {self.device})")


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _timed(fn: Callable[[], Any], device: torch.device, threads: int) -> float:
    """One call's wall time with ``threads`` torch threads, the device synchronized before and after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(before)


def time_call(
    fn: Callable[[], Any],
    repeats: int = 20,
    warmup: int = 3,
    threads: int = 1,
    device: torch.device | str = "cpu",
    label: str = "",
) -> TimingStats:
    """Times ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed ones, with ``threads`` torch threads.

    Follows ``torch.utils.benchmark``'s conventions by hand: the thread count is fixed for the calls
    and restored, ``device`` is synchronized before the clock starts and before it is read (so
    asynchronous GPU work is inside the time), and ``time.perf_counter`` is the clock. The Timer itself
    is not used: its ``timeit(n)`` runs two untimed calls before every measurement and
    ``blocked_autorange`` averages blocks of calls, while the kit needs every single call's time (the
    IQR is over calls) of calls that take up to seconds. Run ``fn`` under ``torch.inference_mode``
    yourself for inference.

    Args:
        fn: The call to time (no arguments).
        repeats: Timed calls (at least 3, for quartiles).
        warmup: Untimed calls first (caches, allocator, lazy initialization).
        threads: Torch CPU threads.
        device: The device the work runs on (for synchronization and the label).
        label: What is timed, for messages.

    Returns:
        A :class:`TimingStats`.

    Raises:
        ValueError: If ``repeats`` < 3, ``warmup`` < 0 or ``threads`` < 1.

    Example:
        >>> stats = time_call(lambda: torch.ones(100).sum(), repeats=5, label="sum")
        >>> stats.repeats, stats.threads, stats.median_s > 0
        (5, 1, True)
    """
    if repeats < 3 or warmup < 0 or threads < 1:
        raise ValueError(f"need repeats >= 3, warmup >= 0 and threads >= 1; got repeats={repeats}, warmup={warmup}, "
                         f"threads={threads}")
    device = torch.device(device)
    before = torch.get_num_threads()
    load = _load()
    torch.set_num_threads(threads)
    try:
        for _ in range(warmup):
            fn()
        synchronize(device)
    finally:
        torch.set_num_threads(before)
    times = tuple(_timed(fn, device, threads) for _ in range(repeats))
    quartiles = statistics.quantiles(times, n=4, method="inclusive")
    return TimingStats(label, statistics.median(times), quartiles[0], quartiles[2], repeats, warmup, threads,
                       str(device), load, times)


def time_alternating(
    calls: Mapping[str, Callable[[], Any]],
    repeats: int = 20,
    warmup: int = 3,
    threads: int = 1,
    device: torch.device | str = "cpu",
) -> dict[str, TimingStats]:
    """Times several calls in alternation: repeat 1 of each, then repeat 2 of each, and so on.

    Comparing two ways of doing the same work, alternation spreads a change of the machine's load
    (other processes, clock boost) over both instead of charging it to whichever ran second.
    Each call is timed like :func:`time_call` (fixed threads, device synchronized, one call per time).

    Args:
        calls: Label → the call to time (no arguments).
        repeats: Timed calls of each (at least 3).
        warmup: Untimed calls of each first.
        threads: Torch CPU threads.
        device: The device the work runs on.

    Returns:
        Label → :class:`TimingStats`.

    Raises:
        ValueError: If ``repeats`` < 3, ``warmup`` < 0, ``threads`` < 1 or there is no call.

    Example:
        >>> stats = time_alternating({"a": lambda: torch.ones(10).sum(), "b": lambda: torch.ones(20).sum()}, repeats=3)
        >>> sorted(stats), stats["a"].repeats
        (['a', 'b'], 3)
    """
    if repeats < 3 or warmup < 0 or threads < 1 or not calls:
        raise ValueError(f"need repeats >= 3, warmup >= 0, threads >= 1 and at least one call; got repeats={repeats}, "
                         f"warmup={warmup}, threads={threads}, calls={list(calls)}")
    device = torch.device(device)
    load = _load()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(warmup):
            for fn in calls.values():
                fn()
        synchronize(device)
    finally:
        torch.set_num_threads(before)
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(repeats):
        for label, fn in calls.items():
            times[label].append(_timed(fn, device, threads))
    result = {}
    for label, values in times.items():
        quartiles = statistics.quantiles(values, n=4, method="inclusive")
        result[label] = TimingStats(label, statistics.median(values), quartiles[0], quartiles[2], repeats, warmup,
                                    threads, str(device), load, tuple(values))
    return result


@dataclass(frozen=True)
class Comparison:
    """Two timings of the same work done two ways.

    Attributes:
        baseline: The reference (e.g. the dense model).
        candidate: The alternative (e.g. the sparse or compact one).
    """

    baseline: TimingStats
    candidate: TimingStats

    @property
    def speedup(self) -> float:
        """``baseline / candidate`` medians: above 1 the candidate is faster."""
        return self.baseline.median_s / self.candidate.median_s

    @property
    def resolved(self) -> bool:
        """Whether the effect stands out of the spread: the two interquartile ranges do not overlap."""
        return self.baseline.q3_s < self.candidate.q1_s or self.candidate.q3_s < self.baseline.q1_s

    def __str__(self) -> str:
        base, cand = self.baseline, self.candidate
        if not self.resolved:
            effect = abs(base.median_s - cand.median_s)
            return (f"no measurable difference: the spread (IQR {format_seconds(base.iqr_s)} and "
                    f"{format_seconds(cand.iqr_s)}) is larger than the effect ({format_seconds(effect)})")
        return f"{self.speedup:.2f}× ({format_seconds(base.median_s)} → {format_seconds(cand.median_s)})"


def compare(baseline: TimingStats, candidate: TimingStats) -> Comparison:
    """The speed-up of ``candidate`` over ``baseline``, with the verdict whether it is measurable.

    Example:
        >>> fast = TimingStats("a", 1.0, 0.9, 1.1, 5, 1, 1, "cpu", None, (1.0,) * 5)
        >>> slow = TimingStats("b", 3.0, 2.9, 3.1, 5, 1, 1, "cpu", None, (3.0,) * 5)
        >>> str(compare(slow, fast))
        '3.00× (3.00 s → 1.00 s)'
        >>> compare(fast, TimingStats("c", 1.05, 0.95, 1.2, 5, 1, 1, "cpu", None, (1.0,) * 5)).resolved
        False
    """
    return Comparison(baseline, candidate)
