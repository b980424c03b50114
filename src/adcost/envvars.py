"""Every environment variable adcost reads, checked in one place before any work starts.

A bad value is one line naming the variable (the commands turn the ValueError into exit 2),
never a traceback from deep inside a benchmark's setup.
"""
from __future__ import annotations

import os

VARIABLES = {
    "ADCOST_THREADS": "thread limit for every framework (a whole number of CPUs)",
    "ADCOST_GRID": "sweep grid: quick or full",
    "ADCOST_MEMORY_BUDGET": "bytes a benchmark case may need before it is skipped",
    "ADCOST_RESULTS": "the results folder (default ./results)",
    "ADCOST_BENCH_STATE": "the file remembering budget skips",
    "ADCOST_FRAMEWORKS": "comma list: the benchmarks list only these frameworks (default: all)",
    "ADCOST_DEVICE": "cpu, cuda or gpu (optionally :N): the device every case runs on (default cpu)",
    "ADCOST_PREIMPORT": "0: asv's forkserver does not import the frameworks up front",
    "ADCOST_PUBLISH_REFERENCE": "1: allowed to write into the committed reference run (make publish-reference)",
    # set by adcost for its own child processes, not by users
    "ADCOST_MACHINE_CPUS": "(set by the thread limit) the CPUs the run may use before the limit narrowed it",
    "ADCOST_PROBE_CPUS": "(set by the sweep's peak-RSS probes) the CPUs one probe's process runs on",
    "ADCOST_SWEEP_STREAMS": "(set by the sweep for its runs) how many streams of asv runs it runs "
                            "side by side, one per CPU group",
    "ADCOST_REFERENCE_CACHE": "(set by the sweep for its run) a folder where checked float64 "
                              "references are kept for the run's later cases",
}


def check(environ=os.environ) -> None:
    """Raise ValueError naming the first variable whose value adcost cannot use."""
    from . import grids, threads
    threads.requested(environ)
    grid = environ.get("ADCOST_GRID")
    if grid is not None and grid not in grids.GRID_NAMES:
        raise ValueError(f"ADCOST_GRID must be one of {', '.join(grids.GRID_NAMES)}; got {grid!r}")
    budget = environ.get("ADCOST_MEMORY_BUDGET")
    if budget is not None and not (budget.strip().isdigit() and int(budget) > 0):
        raise ValueError(f"ADCOST_MEMORY_BUDGET must be a whole number of bytes > 0; got {budget!r}")
    device = environ.get("ADCOST_DEVICE")
    if device is not None:
        from .frameworks.base import check_device
        try:
            check_device(device)
        except ValueError as exc:
            raise ValueError(f"ADCOST_DEVICE: {exc}") from None
    frameworks = environ.get("ADCOST_FRAMEWORKS")
    if frameworks is not None:
        from .frameworks.base import check_framework_list
        check_framework_list(frameworks)
    for name in ("ADCOST_PREIMPORT", "ADCOST_PUBLISH_REFERENCE"):
        value = environ.get(name)
        if value is not None and value not in ("0", "1"):
            raise ValueError(f"{name} must be 0 or 1; got {value!r}")
    for name in ("ADCOST_RESULTS", "ADCOST_BENCH_STATE"):
        value = environ.get(name)
        if value is not None and not value.strip():
            raise ValueError(f"{name} is set but empty; unset it or name a path")


def available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable), or the physical size."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
