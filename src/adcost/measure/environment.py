"""The environment every result file carries: versions, threads, CPU, date, commit."""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from .. import threads
from ..frameworks.base import records
from .memory import PROBE_VERSION

BASE_PACKAGES = ("adcost", "numpy", "asv")


def packages() -> tuple[str, ...]:
    """Distributions whose versions results record: adcost's own, then each framework's."""
    found = list(BASE_PACKAGES)
    for rec in records().values():
        found += [d for d in rec.distributions if d not in found]
    return tuple(found)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_caches(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict[str, int]:
    """The CPU's caches in bytes, {"L1d", "L1i", "L2", "L3"}, from sysfs ({} where there is
    none): what a working set must fit in to run at cache speed (the roofline's bandwidth is
    measured on 64 MiB, out of every cache)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    found = {}
    for index in sorted(root.glob("index*")):
        try:
            level, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
            value = int(size[:-1]) * units[size[-1]] if size[-1:] in units else int(size)
        except (OSError, ValueError):
            continue
        found[f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")] = value
    return found


def machine_name() -> str:
    """The name asv files results under: host name and CPU model (two hosts called `vm` with
    different CPUs stay apart), e.g. `vm-amd-epyc`."""
    import re
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")[:40]
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", platform.node() or "host")
    return f"{host}-{slug}" if slug else host


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=cwd or Path(__file__).resolve().parent, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    found = {}
    for name in packages():
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def kernel_vars() -> tuple[str, ...]:
    """Every framework's kernel-choosing variables (Record.kernel_vars), each once."""
    from ..frameworks.base import records
    return tuple(dict.fromkeys(v for rec in records().values() for v in rec.kernel_vars))


def thread_settings() -> dict[str, str | int | None]:
    """The thread limits and the variables that choose kernels (None: unset, the framework's
    own default), as this process sees them."""
    keys = (threads.VARIABLE, *threads.thread_vars(), "XLA_FLAGS", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES",
            *kernel_vars())
    from threadpoolctl import threadpool_info
    return {"cpu_count": os.cpu_count(), "cpus_allowed": len(threads.available_cpus()),
            **{k: os.environ.get(k) for k in keys},
            # the native pools loaded in this process and their threads ({"openblas": 1})
            "pools": {p["internal_api"]: p["num_threads"] for p in threadpool_info()}}


def environment() -> dict:
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": git_commit(), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu_model(), "caches": cpu_caches(),
            "threads": thread_settings(),
            "versions": versions(), "peak_rss_probe": PROBE_VERSION}
