"""The machine's speed beside each timed case: a fixed NumPy float32 matmul, timed in the case's
own process just before its samples, so every time can be read against the speed it ran at.

Why: a VM's speed moves while a sweep runs, and nothing the machine reports shows it.  Measured
on the Intel VM (2026-12-03, one thread, 80 windows of about 2 s over 150 s, each timing this
probe and four width-study cases): the probe's rate moved 1.97x (max/min), the cases' times
1.7-2.7x, and log time followed log probe rate with correlation 0.91-0.94 for the compute- and
memory-bound cases (0.78 for an overhead-bound one).  The load average saw nothing and the
host's steal (measure.load) little.  A case timed in a slow minute and its neighbour timed in a
fast one then read as a difference between the two.

The probe: a (SIZE x SIZE) @ (SIZE x SIZE) float32 product (2 SIZE^3 FLOPs, about 2.7 ms at one
thread on that VM), WARM calls untimed, then the median of CALLS timed ones: about 20 ms per
case (32 ms with seven timed calls and two untimed: 43 s of the 2,456 s width run of 9489096).
One probe is noisy; the cost model reads the median of the probes around a case in time.  It runs under the case's thread settings (NumPy's BLAS pool, as ADCOST_THREADS sets it).

Each probe is one JSON line in a log beside the benchmark state (results/speed_log.jsonl):
{"key": the asv benchmark and its parameters as asv writes them, "flops_per_s", "time"}.  The
sweep folds the lines of each asv run into the results file (adcost_environment.speed: key ->
[flop/s, time]), the tidy rows carry it (`speed`), and the cost model reads each time at the
run's median speed (analysis/costmodel.py).
"""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

SIZE = 512
WARM = 1
CALLS = 5
LOG_NAME = "speed_log.jsonl"


def probe(size: int = SIZE, calls: int = CALLS, warm: int = WARM) -> float:
    """The machine's float32 matmul rate now, in flop/s (median of `calls` timed products)."""
    import numpy as np

    a = np.random.default_rng(size).standard_normal((size, size)).astype(np.float32)
    for _ in range(warm):
        a @ a
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        a @ a
        seconds.append(time.perf_counter() - start)
    return 2.0 * size ** 3 / statistics.median(seconds)


def key(benchmark: str, params) -> str:
    """A benchmark's parameter combination as the tidy loader names it: 'suite.Class(p1, p2)',
    each parameter as asv writes it (its repr)."""
    return f"{benchmark}({', '.join(repr(p) for p in params)})"


def key_of(obj, params) -> str:
    """key() for a benchmark instance: its class, named by its module below the benchmarks
    package (asv's names: crossover.JacobianWidth)."""
    module = type(obj).__module__
    module = module.split(".", 1)[1] if module.startswith("benchmarks.") else module
    return key(f"{module}.{type(obj).__name__}", params)


def append(log: Path, entry_key: str, rate: float, scope: str | None = None,
           timed: dict | None = None) -> None:
    """One probe's line; appended in one write (whole lines from concurrent writers).
    `timed`: what the case measured beside the probe that its benchmark's value does not
    hold (crossover.SideBySide: both modes' seconds, not only their ratio), kept with it."""
    line = json.dumps({"key": entry_key, "flops_per_s": float(rate), "time": time.time(),
                       **({"scope": scope} if scope else {}),
                       **({"timed": timed} if timed else {})}) + "\n"
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(log: Path, since: float = 0.0, scope: str | None = None) -> dict[str, list[float]]:
    """{key: [flop/s, time]} of the lines written at or after `since` (of `scope` when given);
    the latest line of a key wins, and [flop/s, time, timed] where it holds `timed` (append).
    A torn or foreign line is left out."""
    found: dict[str, list[float]] = {}
    try:
        text = Path(log).read_text()
    except OSError:
        return found
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            rate, when, name = float(entry["flops_per_s"]), float(entry["time"]), str(entry["key"])
        except (ValueError, KeyError, TypeError):
            continue
        if when < since or (scope is not None and entry.get("scope") != scope):
            continue
        if name not in found or found[name][1] <= when:
            timed = entry.get("timed")
            found[name] = [rate, when] + ([timed] if isinstance(timed, dict) else [])
    return found


def summary(entries: dict[str, list[float]]) -> dict | None:
    """The median, 10th and 90th percentile rates of a run's probes (flop/s) and their count;
    None without probes."""
    rates = sorted(v[0] for v in entries.values())
    if not rates:
        return None
    q = statistics.quantiles(rates, n=10) if len(rates) > 1 else [rates[0]] * 9
    return {"probes": len(rates), "median": statistics.median(rates), "p10": q[0], "p90": q[-1]}
