"""Machine load around a measurement: how busy the machine was, so results taken under load are
marked instead of trusted.

A group of benchmarks is "under load" when, before or after it, the 1-minute load average
exceeded the machine's CPU count (more runnable threads than cores).  The CPU seconds its
processes used per wall second are recorded beside it.  Measured: with three jobs on the 2 cores of the
reference VM, `make bench` took 25 min instead of 7 and timings came out 20-240x slower.
"""
from __future__ import annotations

import os
import resource
import time


def snapshot() -> dict:
    """Load averages, wall clock and the CPU seconds of finished children, now."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"loadavg": list(os.getloadavg()), "wall_s": time.monotonic(),
            "children_cpu_s": usage.ru_utime + usage.ru_stime, "time": time.time()}


def overloaded(loadavg: float, cpus: int | None = None) -> bool:
    """More runnable threads than the machine has CPUs."""
    return loadavg > (cpus or os.cpu_count() or 1)


def mark(label: str, before: dict, after: dict, judge_after: bool = True) -> dict:
    """The record of one group: loads before and after, CPU share, and whether it was loaded.
    judge_after=False: the load after it is the group's own (probes run side by side on every
    CPU), so only the load before it counts."""
    cpus = os.cpu_count() or 1
    wall = max(after["wall_s"] - before["wall_s"], 1e-9)
    share = (after["children_cpu_s"] - before["children_cpu_s"]) / wall
    loaded = overloaded(before["loadavg"][0], cpus) or (
        judge_after and overloaded(after["loadavg"][0], cpus))
    return {"group": label, "cpus": cpus, "loadavg_before": before["loadavg"],
            "loadavg_after": after["loadavg"], "wall_s": wall, "cpu_share": share,
            "under_load": bool(loaded), "judged_after": judge_after,
            "started": before["time"], "ended": after["time"]}
