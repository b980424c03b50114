"""Machine load around a measurement: how busy the machine was, so results taken under load are
marked instead of trusted.

A group of benchmarks is "under load" when, before or after it, the 1-minute load average
exceeded the machine's CPU count (more runnable threads than cores).  The CPU seconds its
processes used per wall second are recorded beside it, and the part of the time the VM's CPUs
wanted to run that the hypervisor gave to other guests (steal_share, from /proc/stat): a VM's
host can slow every case down while the load average stays clean.  Measured: with three jobs on the 2 cores of the
reference VM, `make bench` took 25 min instead of 7 and timings came out 20-240x slower.
"""
from __future__ import annotations

import os
import resource
import time


def cpu_ticks(stat: str = "/proc/stat") -> dict | None:
    """The machine's CPU time so far, in clock ticks (Linux's /proc/stat, every CPU together):
    {"steal": ticks the hypervisor gave to something else while this VM's CPUs wanted to run,
    "busy": ticks they ran or wanted to run (user, nice, system, irq, softirq and steal: idle
    and iowait left out)}; None where the file or its steal column is missing."""
    try:
        with open(stat) as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already
    # counted in user and nice
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return {"steal": steal, "busy": user + nice + system + irq + softirq + steal}


def steal_share(before: dict | None, after: dict | None) -> float | None:
    """Of the time this VM's CPUs wanted to run between two cpu_ticks, the part the hypervisor
    gave to other guests: about how much slower the host made the run (0.1: some 11 %), which
    the load average does not show.  Idle CPUs do not dilute it (a one-thread sweep leaves one
    of two idle).  None without the counts."""
    if not before or not after or "busy" not in before or "busy" not in after \
            or after["busy"] <= before["busy"]:
        return None
    return (after["steal"] - before["steal"]) / (after["busy"] - before["busy"])


# A run whose steal share is above this is reported as slowed by the host (the sweep): on the
# 2-vCPU Intel VM the share was 3.0 % over six hours of these sessions' work and 5.0 % in a
# 20-second sample of a slow quick bench (2026-12-03)
STEAL_WARN = 0.05


def snapshot() -> dict:
    """Load averages, wall clock, the CPU seconds of finished children and the machine's CPU
    ticks (cpu_ticks), now."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"loadavg": list(os.getloadavg()), "wall_s": time.monotonic(),
            "children_cpu_s": usage.ru_utime + usage.ru_stime, "time": time.time(),
            "cpu_ticks": cpu_ticks()}


# Set by the sweep (adcost.sweep) for itself and its runs when it runs N streams side by side,
# one per CPU group: the machine's own load is then one runnable thread per CPU, and each
# stream's asv parent, the frameworks' helper threads and the probes' RSS sampler lift the
# 1-minute average above the CPU count (on the 2-vCPU VM, two streams, nothing else running,
# 2026-12-03: 2.0-2.44 through a quick sweep; through a full one median 2.27, 99th percentile
# 2.56, at most 2.66 in 397 samples 10 s apart); up to STREAM_SLACK more is still the sweep's
# own, a third busy process (about 3.3 and up) is not.
STREAMS_VARIABLE = "ADCOST_SWEEP_STREAMS"
STREAM_SLACK = 1.0


def streams() -> int:
    """How many sweep streams run side by side ($ADCOST_SWEEP_STREAMS; 1 when unset or bad)."""
    raw = os.environ.get(STREAMS_VARIABLE, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def overloaded(loadavg: float, cpus: int | None = None) -> bool:
    """More runnable threads than the machine has CPUs (with STREAM_SLACK when the sweep runs
    streams side by side, each keeping its CPUs busy)."""
    slack = STREAM_SLACK if streams() > 1 else 0.0
    return loadavg > (cpus or os.cpu_count() or 1) + slack


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
            "steal_share": steal_share(before.get("cpu_ticks"), after.get("cpu_ticks")),
            "under_load": bool(loaded), "judged_after": judge_after, "streams": streams(),
            "started": before["time"], "ended": after["time"]}
