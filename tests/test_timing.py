"""The kit's timing utility: warm-up, fixed threads, repeats, median and IQR, and the spread verdict.

No assertion here depends on how fast anything runs: speed targets live in ``benchmarks/``.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit.run.timing import (
    TimingStats,
    compare,
    format_seconds,
    measure_inference_time,
    time_alternating,
    time_call,
)


def _stats(median: float, q1: float, q3: float) -> TimingStats:
    return TimingStats("x", median, q1, q3, 5, 1, 1, "cpu", None, (median,) * 5)


def test_time_call_counts_warmup_and_repeats_and_restores_threads():
    calls = []
    before = torch.get_num_threads()
    stats = time_call(lambda: calls.append(torch.get_num_threads()), repeats=4, warmup=2, threads=1, label="append")
    assert len(calls) == 6 and set(calls) == {1}
    assert torch.get_num_threads() == before
    assert stats.repeats == 4 and len(stats.times_s) == 4 and stats.threads == 1 and stats.device == "cpu"
    assert stats.q1_s <= stats.median_s <= stats.q3_s and stats.iqr_s >= 0
    assert "IQR" in str(stats) and "1 thread" in str(stats)


def test_time_alternating_interleaves_the_calls():
    order = []
    stats = time_alternating({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, repeats=3, warmup=1)
    assert order == ["a", "b"] * 4
    assert set(stats) == {"a", "b"} and all(s.repeats == 3 for s in stats.values())


@pytest.mark.parametrize(("kwargs", "bad"), [({"repeats": 2}, "repeats=2"), ({"warmup": -1}, "warmup=-1"),
                                             ({"threads": 0}, "threads=0")])
def test_bad_settings_are_named(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        time_call(lambda: None, **kwargs)
    with pytest.raises(ValueError, match=bad):
        time_alternating({"a": lambda: None}, **kwargs)


def test_overlapping_spreads_give_no_number():
    verdict = compare(_stats(1.0, 0.8, 1.3), _stats(1.1, 0.9, 1.4))
    assert not verdict.resolved
    assert str(verdict).startswith("no measurable difference: the spread")
    assert "×" not in str(verdict)


def test_separated_spreads_give_the_speedup():
    verdict = compare(_stats(3.0, 2.9, 3.2), _stats(1.0, 0.95, 1.05))
    assert verdict.resolved and verdict.speedup == pytest.approx(3.0)
    assert str(verdict) == "3.00× (3.00 s → 1.00 s)"


def test_format_seconds_units():
    assert [format_seconds(v) for v in (12.0, 0.5, 0.000123, 1e-7)] == ["12.0 s", "500 ms", "123 µs", "0.10 µs"]


def test_measure_inference_time_still_returns_its_dict():
    timing = measure_inference_time(nn.Linear(4, 2), [(torch.randn(8, 4), torch.zeros(8))], repeats=3, threads=1)
    assert {"median_s", "iqr_s", "threads", "times_s", "load"} <= set(timing) and timing["threads"] == 1
