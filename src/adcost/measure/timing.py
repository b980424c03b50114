"""Timing outside asv (the smoke run, the CLI): calibrated repeats, median and spread."""
from __future__ import annotations

import statistics
import time
from typing import Callable


# glibc's malloc hands freed blocks above its mmap threshold back to the OS, and trims the
# heap's top above its trim threshold; by default both adapt to the largest block freed so far.
# In a process that ran other cases first the adaptation can settle where a call's temporaries
# are handed back and faulted in again at every call: JAX's plain gradient at depth 64 (batch
# 512, width 64) took 24.7 ms and 3,848 page faults a call after the depth-4 cases had run,
# 14.9 ms and none in a process of its own (Intel VM, 2026-12-04); the checkpoint report, which
# builds every case in one process, read its sqrt(L) overhead as -27 % from it.  Fixed at the
# largest threshold glibc takes (32 MiB, what a fresh process adapts to), with no trimming, the
# same process took 14.3 ms and no faults.  Blocks above 32 MiB are mapped afresh either way.
STEADY_MALLOC = {"M_MMAP_THRESHOLD": 32 * 2 ** 20, "M_TRIM_THRESHOLD": 2 ** 31 - 1}
_MALLOPT = {"M_TRIM_THRESHOLD": -1, "M_MMAP_THRESHOLD": -3}   # glibc's malloc.h
# The same settings for a process about to start: glibc reads them from $GLIBC_TUNABLES when
# the process starts (asv's benchmark processes get them from the sweep: sweep.timing_environ).
TUNABLES = "GLIBC_TUNABLES"
_TUNABLE = {"M_MMAP_THRESHOLD": "glibc.malloc.mmap_threshold",
            "M_TRIM_THRESHOLD": "glibc.malloc.trim_threshold"}


def _tunables(value: str | None) -> list[str]:
    return [item for item in (value or "").split(":") if item]


def steady_tunables(value: str | None = None) -> str:
    """$GLIBC_TUNABLES `value` with STEADY_MALLOC's thresholds added where it names none of
    its own: a caller's own malloc thresholds (and every other tunable) are kept."""
    items = _tunables(value)
    named = {item.split("=", 1)[0] for item in items}
    return ":".join(items + [f"{_TUNABLE[k]}={v}" for k, v in STEADY_MALLOC.items()
                             if _TUNABLE[k] not in named])


def without_malloc_thresholds(value: str | None) -> str | None:
    """$GLIBC_TUNABLES `value` less the thresholds STEADY_MALLOC sets (a peak-RSS probe keeps
    its own malloc setting); None when nothing is left."""
    kept = [item for item in _tunables(value) if item.split("=", 1)[0] not in _TUNABLE.values()]
    return ":".join(kept) or None


def steady_malloc() -> dict:
    """Fix glibc's thresholds at STEADY_MALLOC in this process (mallopt), so a call's
    temporaries stay in the process whatever ran before; {} where this is not glibc (or a
    setting was refused), else the settings, for the results to record."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return {}
    done = {name: value for name, value in STEADY_MALLOC.items()
            if mallopt(_MALLOPT[name], value) == 1}
    return done if len(done) == len(STEADY_MALLOC) else {}


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
