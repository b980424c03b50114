"""Timing outside asv (the smoke run, the CLI): calibrated repeats, median and spread."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def calibrate(run: Callable[[], None], min_time: float = 0.05) -> int:
    """Calls per sample so that one sample lasts at least `min_time` seconds."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            run()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or number >= 1 << 20:
            return number
        number *= 2 if elapsed <= 0 else max(2, min(10, int(min_time / elapsed) + 1))


def measure(run: Callable[[], None], repeats: int = 7, min_time: float = 0.05) -> dict:
    """Seconds per call: median, min, max and interquartile range over `repeats` samples."""
    number = calibrate(run, min_time)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            run()
        samples.append((time.perf_counter() - start) / number)
    q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples),
            "iqr_s": q[2] - q[0], "number": number, "repeats": repeats}
