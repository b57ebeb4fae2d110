"""Timing helpers shared by the benchmarks: best-of-repeats wall time, interleaved so a
busy machine's load hits both sides of a ratio alike, and the PASS/FAIL line."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """The fastest of `repeat` wall-clock timings of `fn()`, in seconds."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return min(out)


def interleaved_best(
    fast: Callable[[], Any], naive: Callable[[], Any], fast_repeats: int, naive_repeats: int
) -> tuple[float, float]:
    """Best-of-repeats wall time of each side, (fast, naive), the fast side timed
    `fast_repeats // naive_repeats` times between naive timings."""
    fast_t, naive_t = [], []
    for _ in range(naive_repeats):
        start = time.perf_counter()
        naive()
        naive_t.append(time.perf_counter() - start)
        for _ in range(max(1, fast_repeats // naive_repeats)):
            start = time.perf_counter()
            fast()
            fast_t.append(time.perf_counter() - start)
    return min(fast_t), min(naive_t)


def verdict(ratio: float, required: float, what: str) -> bool:
    """Print `PASS`/`FAIL: <what> ratio <r>x (required >= <target>x)`; True on PASS."""
    ok = ratio >= required
    print(f"{'PASS' if ok else 'FAIL'}: {what} ratio {ratio:.1f}x (required >= {required:g}x)")
    return ok


def ceiling_verdict(ratio: float, ceiling: float, what: str) -> bool:
    """Print `PASS`/`FAIL: <what> ratio <r>x (required <= <ceiling>x)`; True on PASS (for
    ratios that must stay small, such as a cost with a feature on over the cost without)."""
    ok = ratio <= ceiling
    print(f"{'PASS' if ok else 'FAIL'}: {what} ratio {ratio:.2f}x (required <= {ceiling:g}x)")
    return ok
