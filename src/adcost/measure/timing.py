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


def measure_paired(runs: dict[str, Callable[[], None]], baseline: str, rounds: int = 11,
                   min_time: float = 0.05, number: int | None = None,
                   clock: Callable[[], float] = time.perf_counter) -> dict:
    """Seconds per call of several callables sampled in interleaved rounds, and each one's
    overhead over `baseline` as the median of its per-round ratios minus one.

    Timing A in one block and B in the next lets a drifting machine (a shared VM slows and
    speeds by 10-20 % over minutes) into A / B; within a round both see the same machine.
    Each callable gets its own calls per sample (`calibrate`) unless `number` is given."""
    if baseline not in runs:
        raise ValueError(f"baseline {baseline!r} is not among {sorted(runs)}")
    numbers = {name: number or calibrate(run, min_time) for name, run in runs.items()}
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = clock()
            for _ in range(numbers[name]):
                run()
            samples[name].append((clock() - start) / numbers[name])
    base = samples[baseline]
    return {name: {"median_s": statistics.median(s), "min_s": min(s), "max_s": max(s),
                   "number": numbers[name], "rounds": rounds,
                   "overhead": statistics.median(a / b - 1 for a, b in zip(s, base))}
            for name, s in samples.items()}
