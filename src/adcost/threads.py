"""One thread limit for every framework: `ADCOST_THREADS=N` (unset: each framework's default).

Why: on the reference VM (2 vCPUs) the throughput of two threads flips between two levels
about 1.6x apart every few seconds to minutes, with both threads busy and no steal time
reported (NumPy's plain gradient at depth 64, one process, 1 s medians: 6.6-7.2 ms or
10.9-11.8 ms), while one thread holds 9.5-10.3 ms.  Figures from separate processes then
move with the machine, not with the code; one thread per process makes them repeat.

The limit has to be in place before a framework is imported: the thread variables below,
and the process's CPU affinity, which children inherit (JAX 0.10's XLA ignores its thread
flags and sizes its pool to the CPUs the process may use).
"""
from __future__ import annotations

import os
import sys

VARIABLE = "ADCOST_THREADS"


def thread_vars() -> tuple[str, ...]:
    """Every framework's thread variables (from the framework records), each once."""
    from .frameworks.base import records
    return tuple(dict.fromkeys(v for rec in records().values() for v in rec.thread_vars))


def framework_modules() -> tuple[str, ...]:
    """The packages that start thread pools when imported (from the framework records)."""
    from .frameworks.base import records
    return tuple(rec.package for rec in records().values() if rec.package)


# The CPUs the run may use before the limit narrowed them ("0,1"): apply records them for its
# children (the sweep's peak-RSS probes run side by side on them).
MACHINE_VARIABLE = "ADCOST_MACHINE_CPUS"


def available_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def cpu_list(raw: str) -> list[int]:
    """"0,1" -> [0, 1] (the form of MACHINE_VARIABLE and the probes' CPU variable)."""
    return [int(c) for c in raw.split(",") if c.strip()]


def machine_cpus() -> list[int]:
    """The CPUs this run may use, before $ADCOST_THREADS narrowed this process to n of them."""
    return cpu_list(os.environ.get(MACHINE_VARIABLE, "")) or available_cpus()


def cpu_groups(size: int) -> list[list[int]]:
    """The run's CPUs (machine_cpus) in groups of `size` (a remainder left out), or one group of
    them all when fewer: the sweep's streams and its side-by-side peak-RSS probes."""
    cpus = machine_cpus()
    return [cpus[i:i + size] for i in range(0, len(cpus) - size + 1, size)] or [cpus]


def requested(environ=os.environ) -> int | None:
    """The thread limit asked for in $ADCOST_THREADS, None when unset or empty."""
    raw = environ.get(VARIABLE, "").strip()
    if not raw:
        return None
    cpus = len(available_cpus())
    if not raw.isdigit() or not 1 <= int(raw) <= cpus:
        raise ValueError(f"{VARIABLE} must be a whole number from 1 to {cpus} "
                         f"(the CPUs this process may use); got {raw!r}")
    return int(raw)


def applied(n: int) -> bool:
    """Whether this process already runs under the limit `n` (inherited or set before)."""
    return (all(os.environ.get(var) == str(n) for var in (VARIABLE, *thread_vars()))
            and len(available_cpus()) <= n)


def apply(n: int | None = None) -> int | None:
    """Limit this process and its children to `n` threads on `n` CPUs (default: $ADCOST_THREADS).

    Sets the thread variables and the CPU affinity (the first n CPUs this process may use).
    Raises RuntimeError when a framework is already imported, since it would keep its pool."""
    n = requested() if n is None else n
    if n is None or applied(n):
        return n
    loaded = [m for m in framework_modules() if m in sys.modules]
    if loaded:
        raise RuntimeError(f"{VARIABLE} must be applied before importing {', '.join(loaded)}")
    if not os.environ.get(MACHINE_VARIABLE, "").strip():
        os.environ[MACHINE_VARIABLE] = ",".join(map(str, available_cpus()))
    os.environ[VARIABLE] = str(n)
    os.environ.update({var: str(n) for var in thread_vars()})
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, available_cpus()[:n])
    limit_loaded_pools(n)
    return n


def limit_loaded_pools(n: int) -> None:
    """Limit the thread pools of the native libraries already loaded (NumPy's OpenBLAS: adcost
    imports NumPy before any limit can be applied) to n threads, with threadpoolctl.

    The variables above reach only libraries loaded after them, and the affinity only the
    calling thread: without this, NumPy kept its pool of one thread per CPU, its workers free
    to run anywhere (two threads in use under ADCOST_THREADS=1), and a process forked from
    it (asv's forkserver, started by `ADCOST_THREADS=1 asv run`) re-created them pinned to the
    main thread's one CPU, where they took turns with it: the NumPy MLP's primal at width 1024
    took 24 ms a call in the fork against 1.1 ms before it (2026-12-02, 2-vCPU VM)."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=n)
