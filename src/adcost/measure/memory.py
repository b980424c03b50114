"""Memory probes: bytes a framework keeps for the backward pass, and process peak RSS.

Three views of one gradient's memory, each in bytes:
  * torch_saved_bytes: unique storages packed by autograd (saved_tensors_hooks);
  * jax_residual_bytes: arrays held by a jax.vjp pullback (its pytree leaves);
  * peak_rss: peak resident set size above a baseline, measured with memory-profiler in a
    fresh subprocess whose environment sets MALLOC_MMAP_THRESHOLD_ (so large blocks are
    mmapped and freed memory leaves the process; otherwise glibc keeps it resident).  Where
    the framework keeps freed memory in a pool of its own (Framework.memory_pool: TensorFlow
    with oneDNN) the RSS does not move after a warm-up call, and the pool's peak bytes in use
    above those in use before the call count instead.

`python -m adcost.measure.memory '<json spec>'` is the subprocess side; it prints JSON.
"""
from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

MMAP_THRESHOLD = "65536"
# The probe's process environment.  MALLOC_MMAP_THRESHOLD_: freed blocks leave the process.
# TF_NUM_INTEROP_THREADS=1: TensorFlow's executor runs independent ops (a JVP's primal and
# tangent chains) in whatever order its inter-op pool picks, and the peak follows the order:
# TF JVP at depth 16 peaked 56-81 MiB from window to window with the default pool, medians
# 62.5-68.9 MiB across processes; 102.4-103.5 MiB with one inter-op thread (measured, batch
# 8192).  Gradients did not move (none at depth 64: 135-137 MiB either way).
PROBE_ENV = {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD, "TF_NUM_INTEROP_THREADS": "1"}
# What the peak-RSS probes read, recorded in every result's environment (peak_rss_probe):
# 1 (until 2026-12-04, and absent from older files): the RSS only; 2: the RSS, or a framework's
# own pool where it keeps its pages (Framework.memory_pool), whichever is larger.
PROBE_VERSION = 2
MIN_SAMPLE_S = 0.15     # without the kernel's mark the call repeats this long for the sampler
WINDOWS = 5             # measured windows per probe; the median one is reported


class SavedBytes:
    """Running total of the unique storages a torch forward pass saved, in bytes."""

    def __init__(self, exclude=()):
        self.exclude = {t.untyped_storage().data_ptr() for t in exclude}
        self.storages: dict[int, int] = {}

    def pack(self, tensor):
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key not in self.exclude:
            self.storages[key] = max(self.storages.get(key, 0), storage.nbytes())
        return tensor

    @property
    def nbytes(self) -> int:
        return sum(self.storages.values())


@contextlib.contextmanager
def torch_saved_bytes(exclude=()):
    """Context: count what autograd saves inside it; `exclude` the caller's own tensors."""
    import torch

    saved = SavedBytes(exclude)
    with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t):
        yield saved


def jax_buffer_key(a):
    """An array's identity for counting bytes once: its buffer's address (sharded or deleted
    arrays have no single one: then the object's id)."""
    try:
        return a.unsafe_buffer_pointer()
    except Exception:  # noqa: BLE001
        return id(a)


def jax_residual_sizes(pullback, exclude=(), trailing=None) -> dict:
    """{buffer key: bytes} of the unique arrays a jax.vjp pullback holds, the inputs
    `exclude`d.

    trailing: if given, count only arrays whose last two dimensions are one of these
    shapes (activations, stacked or not), leaving out sliced or reshaped parameters.
    """
    import jax

    skip = {jax_buffer_key(a) for a in jax.tree_util.tree_leaves(exclude)}
    seen: dict = {}
    for leaf in jax.tree_util.tree_leaves(pullback):
        if not hasattr(leaf, "nbytes") or jax_buffer_key(leaf) in skip:
            continue
        if trailing is not None and tuple(leaf.shape[-2:]) not in trailing:
            continue
        seen[jax_buffer_key(leaf)] = int(leaf.nbytes)
    return seen


def jax_residual_bytes(pullback, exclude=(), trailing=None) -> int:
    """Bytes of the unique arrays a jax.vjp pullback holds (jax_residual_sizes)."""
    return sum(jax_residual_sizes(pullback, exclude, trailing).values())


# -- resident set size -----------------------------------------------------------------
def rss_bytes() -> int:
    import psutil
    return int(psutil.Process().memory_info().rss)


def _reset_hwm() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _hwm_bytes() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _trim() -> None:
    """Hand freed heap memory back to the OS (glibc's malloc_trim) so the baseline is what
    is live: without it a window's baseline now and then held ~1.8 MB of free heap that the
    call then reused, and the peak above it moved by that much (NumPy JVP at depth 128:
    6.3 or 8.1 MB above baselines 58.4 / 56.6 MB, the same absolute peak 64.7 MB)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass  # not glibc: nothing to trim


def _before_a_call(pool=None) -> tuple[int, int | None]:
    """(the RSS, the bytes `pool` has in use) just before a probed call: garbage collected,
    freed heap handed back (_trim), the pool's peak reset."""
    gc.collect()
    _trim()
    baseline = rss_bytes()
    in_use = None
    if pool is not None:
        in_use = pool.in_use()
        pool.reset()
    return baseline, in_use


def peak_above_baseline(run, min_time: float | None = None, pool=None) -> dict:
    """Peak RSS of `run` above the RSS just before, in bytes: one call where the kernel's
    high-water mark can be reset (Linux), else repeated for `min_time` s (MIN_SAMPLE_S).

    memory-profiler samples RSS every 2 ms; a peak shorter than that can fall between two
    samples (torch sqrt(L) at depth 64, batch 8192: 33.7 or 35.6 MB sampled in two probes,
    the kernel's mark 35.6-36.4 MB), so `peak_rss_bytes` is the larger of the kernel's mark
    and the samples; both are kept.  With the mark, one call is exact, and repeating it
    would measure something else: consecutive JAX calls overlap (the previous call's
    buffers are released by XLA's threads after its result is ready), and windows of
    back-to-back JVPs at depth 4 read 10.3 to 20 MiB, one call per window 10.0-10.5 MiB
    (measured, batch 8192).  `min_time` given: repeat that long whatever the platform.

    `pool` (Framework.memory_pool, None for most frameworks): a framework allocator that keeps
    the pages it once used.  Warm, it serves the call from pages already resident, so the RSS
    reads next to nothing (TensorFlow's gradient at depth 64: 1.1 MB of 138 MB); the pool's
    peak bytes in use above those in use before the call (`pool_peak_bytes`) is then the
    call's peak, and `peak_rss_bytes` is the larger of that and the RSS's
    (`rss_peak_bytes`)."""
    from memory_profiler import memory_usage

    baseline, in_use = _before_a_call(pool)
    hwm_ok = _reset_hwm()
    if min_time is None:
        min_time = 0.0 if hwm_ok else MIN_SAMPLE_S

    def repeat():
        start = time.perf_counter()
        calls = 0
        while calls < 1 or time.perf_counter() - start < min_time:
            run()
            calls += 1
        return calls

    peak_mib, calls = memory_usage((repeat, (), {}), interval=0.002, max_usage=True,
                                   retval=True, include_children=False)
    hwm = _hwm_bytes() if hwm_ok else None
    sampled = max(0, int(peak_mib * 2 ** 20) - baseline)
    pooled = None if pool is None else max(0, int(pool.peak()) - int(in_use))
    hwm_rss = None if hwm is None else max(0, hwm - baseline)
    rss = sampled if hwm_rss is None else max(sampled, hwm_rss)
    return {"baseline_bytes": baseline, "peak_bytes": int(peak_mib * 2 ** 20),
            "peak_rss_bytes": rss if pooled is None else max(rss, pooled),
            "rss_peak_bytes": rss, "pool_peak_bytes": pooled,
            "sampled_rss_bytes": sampled, "hwm_rss_bytes": hwm_rss, "calls": calls}


def marked_peak(run, pool=None) -> int | None:
    """Peak bytes of one call of `run` above the RSS just before it, by the kernel's
    high-water mark (the larger of that and `pool`'s peak in use, as in peak_above_baseline),
    with no sampler (memory-profiler forks one, which a process holding JAX's or TensorFlow's
    threads should not); None where the mark cannot be reset or read (not Linux).

    It reads right only in a process started under PROBE_ENV (probe_environ). In a process
    whose freed memory stays resident (the timing's STEADY_MALLOC) a call can reuse it: JAX's
    jacrev of a 1500 x 1500 float64 Jacobian read 0 bytes in two of three such processes. With
    the probes' threshold set by mallopt after the process had run its calls, the heap's
    history shows instead: torch's jacrev of an MLP (n = m = width = 512, float64) read
    12-20 MiB from call to call, 5.9-6.0 under PROBE_ENV from the start, as the fresh probes
    read (Intel VM, 2026-12-05)."""
    baseline, in_use = _before_a_call(pool)
    if not _reset_hwm():
        return None
    run()
    hwm = _hwm_bytes()
    if hwm is None:
        return None
    rss = max(0, hwm - baseline)
    return rss if pool is None else max(rss, max(0, int(pool.peak()) - int(in_use)))


def probe_environ(env: dict) -> dict:
    """`env` for a process that probes memory: PROBE_ENV's variables, and without the timing
    processes' fixed malloc thresholds (sweep.timing_environ), which are not the probe's."""
    from .timing import TUNABLES, without_malloc_thresholds
    env = {**env, **PROBE_ENV}
    tunables = without_malloc_thresholds(env.pop(TUNABLES, None))
    return {**env, **({TUNABLES: tunables} if tunables else {})}


def peak_rss(spec: dict, timeout: float = 300, cpus: list[int] | None = None) -> dict:
    """Run the probe described by `spec` in a fresh Python process; its result as a dict.

    spec: {"framework", "strategy" (a schedule, "jvp" or "forward"), "depth", and the study's
    sizes (width, batch, outputs, slots)}, or any prepared operation: {"problem", "framework",
    "op", "dtype", and the problem's sizes}.  `cpus`: the CPUs the child runs on (it sets
    its affinity before importing anything) with one thread each; default: this process's
    CPUs and threads.  Raises RuntimeError with the child's stderr.
    """
    env = dict(os.environ)
    if cpus:   # one thread per CPU of the group (the thread variables), then PROBE_ENV's own
        from .. import threads
        env[CPUS_VARIABLE] = ",".join(map(str, cpus))
        env.update({var: str(len(cpus)) for var in (threads.VARIABLE, *threads.thread_vars())})
    env = probe_environ(env)
    src = str(Path(__file__).resolve().parents[2])  # the child imports this same adcost
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-m", "adcost.measure.memory", json.dumps(spec)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"peak-RSS probe {spec} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# The CPUs of one probe (a comma-separated list), set by peak_rss_many in the child's
# environment and applied by the child before it imports anything.
CPUS_VARIABLE = "ADCOST_PROBE_CPUS"


def probe_cpu_sets() -> list[list[int]]:
    """The CPU sets of probes run side by side: the CPUs the run may use (before
    $ADCOST_THREADS narrowed this process: threads.machine_cpus) in groups of the thread limit,
    one group per concurrent probe; without a limit, one CPU each (a probe's peak does not
    depend on its threads: docs/checkpointing.md)."""
    from .. import threads
    return threads.cpu_groups(threads.requested() or 1)


def peak_rss_many(specs: dict, timeout: float = 300, workers: int | None = None) -> dict:
    """Peak RSS of many probes (`peak_rss`'s specs, by key), each in its own fresh process,
    as many at a time as the machine has CPU groups for (probe_cpu_sets; `workers` caps it),
    each process pinned to its own group, one thread per CPU of it.  A process's peak RSS is
    its own: probes side by side on separate CPUs only finish sooner (measured with the
    checkpointing study's probes: docs/checkpointing.md).  {key: the probe's result} or
    {key: {"error": text}}; `probe_bytes` reads one."""
    from concurrent.futures import ThreadPoolExecutor

    groups = probe_cpu_sets()
    if workers is not None:
        groups = groups[:max(1, workers)]
    free, lock = list(groups), threading.Lock()

    def one(item):
        key, spec = item
        with lock:
            cpus = free.pop()
        try:
            return key, peak_rss(dict(spec), timeout=timeout, cpus=cpus)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return key, {"error": str(exc)}
        finally:
            with lock:
                free.append(cpus)

    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        return dict(pool.map(one, list(specs.items())))


def probe_bytes(probes: dict, key) -> int:
    """One probe's peak bytes above its baseline from peak_rss_many's table; a probe that
    failed raises its error (RuntimeError) here, in the benchmark that reads it."""
    found = probes[key]
    if "error" in found:
        raise RuntimeError(found["error"])
    return found["peak_rss_bytes"]


def _pin_from_environment() -> None:
    from ..threads import cpu_list
    cpus = cpu_list(os.environ.get(CPUS_VARIABLE, ""))
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:   # a CPU this process may not use: keep the inherited set
            pass


def _child_env() -> dict:
    """What the probe ran under: PROBE_ENV's variables, glibc's tunables, its thread limit,
    its CPUs."""
    from ..threads import available_cpus
    from .timing import TUNABLES
    return {"env": {k: os.environ.get(k) for k in PROBE_ENV}, "tunables": os.environ.get(TUNABLES),
            "threads": {k: os.environ.get(k) for k in ("ADCOST_THREADS", "OMP_NUM_THREADS")},
            "cpus": available_cpus()}


def _child(spec: dict) -> dict:
    if "op" in spec:   # any operation of adcost.prepare: {"problem", "framework", "op", "dtype", sizes}
        from ..cases import prepare

        case = prepare(spec.pop("problem"), spec.pop("framework"), spec.pop("op"),
                       dtype=spec.pop("dtype", "float32"), **spec)
        return {**median_window(case, pool=case.framework.memory_pool()),
                "validated_error": case.error, **_child_env()}
    from ..checkpoint import CHECK_BATCH, PASSES, analytic_bytes, study_case_at_scale

    strategy = spec.pop("strategy")
    case = study_case_at_scale(spec.pop("framework"), strategy, spec.pop("depth"), **spec)
    for _ in range(2):  # compile (TensorFlow traces on the first call) and warm, unmeasured
        case()
    found = median_window(case, pool=case.framework.memory_pool())
    if strategy not in PASSES:   # a gradient: its schedule keeps a known floor
        below_floor(found["peak_rss_bytes"], analytic_bytes(case)["stored_bytes"], case.label)
    return {**found, "validated_error": case.error, "validated_batch": CHECK_BATCH,
            **_child_env()}


# A checkpointed gradient holds at least what its schedule must keep (schedules.analytic) when
# its backward pass starts; every probe read 1.01-12.9x that (2026-12-04, Intel VM, batch 8192).
KEPT_FLOOR = 0.9


def below_floor(peak: int, kept: int, what: str) -> None:
    """RuntimeError where a gradient's probe read less than KEPT_FLOOR of the bytes its
    schedule must keep: the probe missed the memory (as the RSS missed TensorFlow's pool until
    peak_rss_probe 2), and its figure would be wrong."""
    if peak < KEPT_FLOOR * kept:
        raise RuntimeError(f"{what}: the peak-RSS probe read {peak:,} bytes, below the {kept:,} "
                           "its schedule must keep at once: the probe missed the gradient's "
                           "memory (does the framework keep freed memory in a pool of its own? "
                           "see Framework.memory_pool)")


def median_window(run, windows: int = WINDOWS, pool=None) -> dict:
    """`peak_above_baseline` over several windows in one process; the window of median peak.

    A window now and then peaks higher than the rest (NumPy's JVP at depth 128: one window of
    seven 1.3 MiB above the others, in every process); the median window does not see it.
    Every window's peak is kept under "window_peaks_bytes"."""
    found = []
    for _ in range(windows):
        gc.collect()
        found.append(peak_above_baseline(run, pool=pool))
    found.sort(key=lambda r: r["peak_rss_bytes"])
    return {**found[len(found) // 2], "window_peaks_bytes": [r["peak_rss_bytes"] for r in found],
            "window_baselines_bytes": [r["baseline_bytes"] for r in found]}


if __name__ == "__main__":
    _pin_from_environment()
    print(json.dumps(_child(json.loads(sys.argv[1]))))
