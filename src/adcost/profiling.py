"""`adcost profile`: which derivative mode for *this* function, measured.

Every installed framework that can run the function is tried with every Jacobian mode it has
(and its gradient when m = 1; with order=2, for m = 1, every Hessian-vector composition and
Hessian mode instead, each group ranked on its own): each is prepared (built, compiled,
validated against the float64 reference), then timed, within a time budget.  Each framework
runs in a worker process of its own, so a mode whose preparation or calls outrun their share of the budget is stopped
(the worker is killed and a new one takes the next mode) and reported as stopped, not waited
for.  A function that cannot be sent to a worker (a lambda, a closure, something defined in
`__main__`) is profiled in this process: then the budget is only enforced between calls.

With memory=True (`--memory`) each timed mode's peak memory is read afterwards, in a memory
worker per framework started as the sweep's peak-RSS probes are (`measure_memory`).

The result is a pandas DataFrame, best first, with at least the columns framework, mode,
seconds, compile_s, call (the API call to use) and status, and peak_bytes and memory_note.
"""
from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import ops
from .frameworks.base import (Unsupported, device_reason, error_line, framework_class, missing_reason,
                              records)
from .measure.memory import MMAP_THRESHOLD
from .problems import PROBLEMS, Problem, custom_problem, make_problem, size_names

MIN_SHARE_S = 2.0        # no mode is given less than this, even when the budget is nearly spent
TIMING_S = 0.25          # how long the repeated calls of one mode may run at most ...
MAX_CALLS = 15           # ... and how many
MIN_CALLS = 3
STARTUP_S = 120.0        # a worker's start (interpreter and framework import) is not in a share
CLOSE_S = 3.0            # kept back from the budget: the interpreter's start, ending the workers, printing


@dataclass(frozen=True)
class Target:
    """How a worker rebuilds the problem: a registered problem and its sizes, or an
    importable function `module:name` with its point, data and output size."""

    problem: str | None = None
    sizes: tuple = ()
    function: str | None = None
    x0: Any = None
    m: int | None = None
    data: Any = None
    path: tuple = ()

    def build(self) -> Problem:
        if self.problem is not None:
            return make_problem(self.problem, **dict(self.sizes))
        fn = load_function(self.function, self.path)
        return function_problem(fn, self.x0, self.data, self.m, name=self.function)


def _split(spec: str) -> tuple[str, str, str]:
    """MODULE:FUNCTION at its last colon when there are several (a path with a drive letter)."""
    return spec.rpartition(":") if spec.count(":") > 1 else spec.partition(":")


def module_file(module: str) -> Path | None:
    """The file a MODULE of MODULE:FUNCTION names (`mine.py`, `src/mine.py`), absolute; None for
    a module name (`mine`, `pkg.mine`); ValueError for a file that is not there."""
    if not (module.endswith(".py") or "/" in module or os.sep in module):
        return None
    file = Path(module).expanduser()
    if not file.is_file():
        raise ValueError(f"cannot import {module!r}: no such file")
    return file.resolve()


def _load_file(file: Path):
    """The module of a .py file, run once per process (its name: adcost_user_<stem>)."""
    import importlib.util
    import re

    name = "adcost_user_" + re.sub(r"\W", "_", file.stem)
    found = sys.modules.get(name)
    if found is not None and getattr(found, "__file__", None) == str(file):
        return found
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_function(spec: str, path=()) -> Callable:
    """`module:function`: the module importable from the current directory or `path`, or a
    .py file by its path (`mine.py:f`)."""
    module, sep, name = _split(spec)
    if not sep or not module or not name:
        raise ValueError(f"{spec!r} is not MODULE:FUNCTION")
    for entry in reversed(list(path) or [""]):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    file = module_file(module)
    try:
        obj = _load_file(file) if file else importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"cannot import {module!r}: {exc}") from None
    except Exception as exc:      # a SyntaxError, or the module failing as it runs
        raise ValueError(f"cannot import {module!r}: {type(exc).__name__}: {exc}") from None
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module!r} has no {name!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{spec} is not callable")
    return obj


def function_problem(fn: Callable, x0, data=None, m: int | None = None, name: str = "user") -> Problem:
    """A Problem from fn(xp, x) or fn(xp, x, data); m is found by calling fn once (NumPy).

    x0 may have any shape: fn receives x in that shape, and n = x0.size (the Jacobian's columns
    follow x0's entries in C order); what fn returns, of any shape, is flattened the same way
    (m = its size; custom_problem).  meta records the result's shape ("y_shape")."""
    from .namespace import numpy_xp
    x0 = np.asarray(x0, dtype=float)
    if x0.size == 0:
        raise ValueError(f"{name}: x0 is empty")
    call = (lambda xp, x, d: fn(xp, x, d)) if data is not None else (lambda xp, x, d: fn(xp, x))
    try:
        with np.errstate(all="ignore"):    # a value that is not finite is said below, once
            y = np.asarray(call(numpy_xp(), x0, data), dtype=float)
    except Exception as exc:
        raise ValueError(f"{name} fails at x0 with NumPy: {type(exc).__name__}: {exc}") from None
    found = max(y.size, 1)
    if m is not None and m != found:
        raise ValueError(f"--m {m} but {name} returns {found} values")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} is not finite at x0")
    label = name.replace(":", ".")
    problem = custom_problem(label, fn, x0.size, found, x0, data=data)
    problem.meta["y_shape"] = list(y.shape)
    return problem


def target_of(obj, x0=None, data=None, m=None) -> tuple[Target | None, Problem]:
    """(how a worker rebuilds it, or None when it cannot; the Problem itself)."""
    if isinstance(obj, Problem):
        names = size_names(obj.name) if obj.name in PROBLEMS else None
        if names is not None:
            sizes = tuple((k, obj.meta[k]) if k in obj.meta else (k, getattr(obj, k))
                          for k in names if k in obj.meta or k in ("n", "m"))   # n, m: attributes
            try:
                again = make_problem(obj.name, **dict(sizes))
            except (TypeError, ValueError):
                again = None
            if again is not None and again.n == obj.n and np.array_equal(again.x0, obj.x0):
                return Target(problem=obj.name, sizes=sizes), obj
        return None, obj
    if isinstance(obj, str) and obj in PROBLEMS:
        return Target(problem=obj), make_problem(obj)
    if isinstance(obj, str):
        fn, spec = load_function(obj), absolute_spec(obj)
    else:
        fn, spec = obj, _importable(obj)
    if x0 is None:
        raise ValueError("profile: x0 is needed with a function")
    shown = obj if isinstance(obj, str) else spec      # the user's own words for it
    problem = function_problem(fn, x0, data, m, name=shown or getattr(fn, "__name__", "user"))
    if spec is None:
        return None, problem
    return Target(function=spec, x0=np.asarray(x0, dtype=float), m=problem.m, data=data,
                  path=tuple(p for p in sys.path if p)), problem


def absolute_spec(spec: str) -> str:
    """MODULE:FUNCTION with a file's path made absolute, so a worker finds it from anywhere."""
    module, _, name = _split(spec)
    file = module_file(module)
    return f"{file}:{name}" if file else spec


def _importable(fn) -> str | None:
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in name:
        return None
    try:
        return f"{module}:{name}" if load_function(f"{module}:{name}") is fn else None
    except ValueError:
        return None


# measured first, with a larger share: the first order's main modes, and the second order's
# textbook HVP (forward over reverse) and Hessian (jacfwd of jacrev)
PRIMARY = ("jacfwd", "jacrev", "grad", "fd", "hvp_fwd_over_rev", "hessian_jacfwd_jacrev")
PRIMARY_WEIGHT = 3.0
ORDERS = (1, 2)
# what a row computes, in the order the groups are ranked and shown: each group has its own best
COMPUTES = ("J", "H v", "H")


def computes(mode: str) -> str:
    """"J" (a Jacobian; the gradient when m = 1), "H v" (a Hessian-vector product) or "H"."""
    return {"hvp": "H v", "hessian": "H"}.get(ops.describe(mode).reference, "J")


def modes_for(framework: str, problem: Problem, order: int = 1) -> list[str]:
    """The ways `framework` gives the whole derivative: order 1, its Jacobian modes, and grad for
    m = 1; order 2 (m = 1), its Hessian-vector products and Hessians (adcost.ops)."""
    cls = framework_class(framework)
    if order == 2:
        return list(cls.second_order)
    return list(cls.modes) + (["grad"] if problem.m == 1 and "grad" in cls.ops() else [])


def plan_for(frameworks: list[str], problem: Problem, order: int = 1) -> list[tuple[str, str]]:
    """(framework, mode) in the order they are measured: every framework's primary modes
    (jacfwd, jacrev, grad; or forward-over-reverse and jacfwd(jacrev)) first, those of the
    variants (torch_compile, jax_eager, tf_eager: what compiling buys) after the others', then
    the loops and the adapters' other modes."""
    every = [(fw, mode) for fw in frameworks for mode in modes_for(fw, problem, order)]

    def variant(fw):
        return fw in records() and records()[fw].variant_of is not None
    primary = [item for item in every if item[1] in PRIMARY]
    return ([item for item in primary if not variant(item[0])]
            + [item for item in primary if variant(item[0])]
            + [item for item in every if item[1] not in PRIMARY])


def _weight(mode: str) -> float:
    return PRIMARY_WEIGHT if mode in PRIMARY else 1.0


# -- measuring one mode --------------------------------------------------------------------
def memory_reason(problem: Problem, mode: str, dtype: str) -> str | None:
    """Why one call of `mode` cannot fit in this machine's available memory, or None: for the
    MLP the sweep's estimate of the call (adcost.bench.estimate_bytes), for any other function
    what it must hold at the least, the dense Jacobian and the basis it pushes (n x n tangents
    forward, m x m cotangents in reverse).  Before, a basis of n^2 floats failed with NumPy's
    MemoryError, or, just under the machine's memory, was killed by the OS."""
    from .bench import estimate_bytes
    from .envvars import available_memory
    itemsize, meta, n, m = np.dtype(dtype).itemsize, problem.meta, problem.n, problem.m
    if problem.name == "mlp" and not meta.get("batch") and "depth" in meta and "width" in meta:
        need, what = estimate_bytes(mode, n, m, meta["depth"], meta["width"], itemsize), "about"
    elif computes(mode) == "H":       # the Hessian, and the n x n basis its outer mode pushes
        need, what = itemsize * 2 * n * n, "at least"
    else:
        family = ops.describe(mode).family
        basis = n * n if family == "forward" else m * m if family == "reverse" else 0
        need, what = itemsize * (n * m + basis), "at least"
    have = available_memory()
    if need > have:
        return (f"one call needs {what} {need / 2 ** 30:.3g} GiB, more than the "
                f"{have / 2 ** 30:.3g} GiB available")
    return None


def measure(problem: Problem, framework: str, mode: str, dtype: str, share_s: float) -> dict:
    """Prepare (validated), then time `mode`; a dict row (status ok / skipped / failed)."""
    from .cases import prepare
    from .validate import ValidationError
    fw = framework_class(framework)(dtype=dtype)
    reason = fw.supports(problem, mode) or memory_reason(problem, mode, dtype)
    if reason is not None:
        return {"status": "skipped", "note": reason}
    start = time.perf_counter()
    try:
        case = prepare(problem, fw, mode, dtype=dtype, warmup=1)
    except Unsupported as exc:
        return {"status": "skipped", "note": str(exc)}
    except ValidationError as exc:
        return {"status": "failed", "note": str(exc)}
    except Exception as exc:   # a crash in one framework's mode must not end the profile
        from .cases import cannot_run
        cannot = cannot_run(problem, fw)
        if cannot is not None:    # the function itself, not the mode: said as the framework's
            return {"status": "skipped", "note": f"{framework} cannot run {problem.name}: {cannot}"}
        return {"status": "failed", "note": error_line(exc, framework)}
    left = share_s - (time.perf_counter() - start)
    times: list[float] = []
    limit = min(TIMING_S, max(left, 0.0) / 2)
    while len(times) < MAX_CALLS and (len(times) < MIN_CALLS or sum(times) < limit):
        t0 = time.perf_counter()
        case()
        times.append(time.perf_counter() - t0)
        if sum(times) > max(left, 0.0):
            break
    q25, q75 = np.percentile(times, [25, 75])
    seconds = float(np.median(times))
    # the FLOPs the framework counts for one call, where it counts them (after the timing, and
    # only where the share leaves room for the counted call: torch's counter runs the mode once)
    room = max(left, 0.0) - sum(times) > 3 * seconds and mode not in ops.LOOP_MODES
    return {"status": "ok", "seconds": seconds, "calls": len(times),
            "q25": float(q25), "q75": float(q75),
            "compile_s": (case.compile_s or 0.0) + case.first_call_s, "error": case.error,
            "reference": case.reference, "flops": counted_flops(fw, case) if room else None}


def counted_flops(fw, case) -> float | None:
    """FLOPs of one call of `case` as its framework counts them (measure.flops: XLA's cost
    analysis of a compiled program without loops, torch's FlopCounterMode of its matmul-like
    ops, TensorFlow's profiler over its optimized graph, the NumPy engine's analytic count of
    the mlp); None where it counts none (a count of
    0: torch's of a function without a matmul), or the count fails.  Loop modes are not
    counted, as in the sweep (XLA would count a loop's body once)."""
    from .measure.flops import count_flops
    try:
        flops = count_flops(case)
    except Exception:        # a counter that cannot follow this function: no count, no failure
        return None
    return float(flops) if flops is not None and np.isfinite(flops) and flops > 0 else None


MEMORY_CALLS = 3         # calls whose peak memory is read; the median is reported
IN_PROCESS_MEMORY = ("memory not measured: only a worker process's is (a function importable "
                     "as MODULE:FUNCTION; this one ran in the calling process)")


def result_bytes(problem: Problem, mode: str, dtype: str) -> int:
    """Bytes of `mode`'s result: the Jacobian (m x n), the Hessian (n x n) or H v (n)."""
    size = {"J": problem.n * problem.m, "H": problem.n * problem.n, "H v": problem.n}
    return size[computes(mode)] * np.dtype(dtype).itemsize


def measure_memory(problem: Problem, framework: str, mode: str, dtype: str) -> dict:
    """In a memory worker (a process started under the peak-RSS probes' environment,
    measure.memory.probe_environ): prepare `mode` again (not validated again: the timing
    worker validated the same build), then {"peak_bytes": the median over
    MEMORY_CALLS calls of a call's peak memory above the process's before it
    (measure.memory.marked_peak: the kernel's high-water mark, or the framework's own pool)}
    or {"memory_note": why none}.  A reading below KEPT_FLOOR of the result's own bytes (where
    those are 1 MiB or more) missed memory the call used, and is not reported."""
    from .cases import prepare
    from .measure.memory import KEPT_FLOOR, marked_peak
    fw = framework_class(framework)(dtype=dtype)
    if fw.device != "cpu":       # the process's RSS holds the host's memory, not the device's
        return {"memory_note": f"memory not measured on {fw.device}: only the host's memory "
                               "(the process's RSS) is read"}
    try:     # validated where it was timed; here only its memory is read
        case = prepare(problem, fw, mode, dtype=dtype, warmup=1, validate_output=False)
    except Exception as exc:     # it was timed in another process; here it is only reported
        return {"memory_note": f"memory not measured: {error_line(exc, framework)}"}
    case()
    pool = fw.memory_pool()
    peaks = [marked_peak(case, pool) for _ in range(MEMORY_CALLS)]
    if any(peak is None for peak in peaks):
        return {"memory_note": "memory not measured: the kernel's peak-RSS mark cannot be "
                               "reset here (Linux's /proc/self/clear_refs)"}
    peak, floor = int(np.median(peaks)), result_bytes(problem, mode, dtype)
    if floor >= 2 ** 20 and peak < KEPT_FLOOR * floor:
        return {"memory_note": f"memory not reported: the probe read {peak:,} bytes, less than "
                               f"the {floor:,} of the result itself"}
    return {"peak_bytes": peak}


def serve(address: str, authkey_hex: str, memory: bool = False) -> None:
    """A worker's loop (`python -c 'from adcost.profiling import serve; serve(...)'`): receive
    (target, framework, dtype), then (mode, share) tasks; answer each with a row, or, in a
    memory worker (memory=True), with the mode's peak memory."""
    from multiprocessing.connection import Client

    from . import threads
    from .measure.timing import steady_malloc
    threads.apply()
    if not memory:    # a timing worker times mode after mode: none inherits malloc's state
        steady_malloc()
    conn = Client(address, authkey=bytes.fromhex(authkey_hex))
    target, framework, dtype = conn.recv()
    try:
        problem = target.build()
        framework_class(framework)(dtype=dtype)     # import the framework before any share runs
    except Exception as exc:      # said to the parent as one line: its rows say it
        conn.send(("not ready", error_line(exc, framework)))
        return
    conn.send("ready")
    while True:
        task = conn.recv()
        if task is None:
            return
        if task[0] == "target":      # the same function at another point (profile_sizes)
            try:
                problem = task[1].build()
            except Exception as exc:
                conn.send(("not ready", error_line(exc, framework)))
                return
            conn.send("ready")
            continue
        mode, share = task
        conn.send(measure_memory(problem, framework, mode, dtype) if memory else
                  measure(problem, framework, mode, dtype, share))


class WorkerFailed(RuntimeError):
    """A worker process that could not set up its framework or its problem (the reason)."""


def _failed(reason: str) -> dict:
    """The row of a mode whose worker could not set up: failed, its memory not read, why."""
    return {"status": "failed", "note": f"profile: {reason}",
            "memory_note": f"memory not measured: {reason}"}


class Worker:
    """One framework's worker process (a fresh interpreter, not a fork: the frameworks' thread
    pools do not survive fork, and the caller's script is not re-run); `run` returns None when
    the mode outran its share and the worker was killed.  memory=True: a memory worker,
    started under the peak-RSS probes' environment (measure.memory.probe_environ), with one
    thread."""

    def __init__(self, target: Target, framework: str, dtype: str, memory: bool = False):
        self.args = (target, framework, dtype)
        self.memory = memory
        self.proc = None
        self.failed: dict | None = None     # the row of a worker that could not start

    def _start(self, timeout: float):
        import os
        import subprocess
        import tempfile
        from multiprocessing.connection import Listener
        key = os.urandom(16)
        self.dir = tempfile.mkdtemp(prefix="adcost-profile-")
        listener = Listener(os.path.join(self.dir, "socket"), family="AF_UNIX", authkey=key)
        code = (f"from adcost.profiling import serve; "
                f"serve({listener.address!r}, {key.hex()!r}, memory={self.memory!r})")
        # timed as the sweep and the CLI time, whoever calls (sweep.timing_environ: JAX's
        # computations on the calling thread, fixed malloc thresholds), unless the caller set
        # them: called from Python without them, JAX's jacrev of a function of 64 inputs took
        # 53-102 us a call against 12-14 with them (2026-12-05)
        from .sweep import timing_environ
        env = {**os.environ, **timing_environ(os.environ)}
        if self.memory:     # one thread, as the sweep's probes: JAX's jacfwd of an MLP
            from . import threads   # (n = m = width = 512) read 6.1 MiB so, 2.1-7.9 with two
            from .measure.memory import probe_environ
            env = probe_environ({**env, **{var: "1" for var in (threads.VARIABLE,
                                                                *threads.thread_vars())}})
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                     env=env)
        listener._listener._socket.settimeout(max(timeout, 1.0))
        try:
            self.conn = listener.accept()
        except OSError:
            self.stop()
            raise RuntimeError("profile: the worker process did not start") from None
        finally:
            listener.close()
        self.conn.send(self.args)
        try:
            answer = self.conn.recv() if self.conn.poll(timeout) else None
        except (EOFError, OSError):
            answer = ("not ready", f"the {self.args[1]} worker exited before it was ready "
                                   f"(exit status {self.proc.wait(5)})")
        if answer != "ready":
            self.stop()
            if isinstance(answer, tuple):       # it said why, or it died: a failure
                raise WorkerFailed(answer[1])
            # not ready in the time the budget left it: stopped, not failed
            raise RuntimeError(f"the {self.args[1]} worker did not get ready in {timeout:.0f} s")

    def retarget(self, target: Target, timeout: float = STARTUP_S) -> None:
        """Work on `target` from now on: a running worker builds its problem again without
        importing its framework again (profile_sizes' points); one that is not running starts
        on it when next run."""
        self.args = (target, *self.args[1:])
        self.failed = None
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.conn.send(("target", target))
            answer = self.conn.recv() if self.conn.poll(timeout) else None
        except (EOFError, OSError):      # it died since: the next run starts a new one
            answer = None
        if answer != "ready":
            self.stop()
            if isinstance(answer, tuple):
                self.failed = _failed(answer[1])

    def run(self, mode: str, share: float, startup: float = STARTUP_S,
            until: float | None = None) -> dict | None:
        """The row of `mode`, or None when it outran `share` (the start-up of a worker, which
        imports the framework, is not counted in the share; it may take `startup` seconds; with
        `until`, a perf_counter time, the share ends there at the latest, start-up included); a
        worker that cannot start gives a failed row with its reason."""
        if self.failed is not None:      # it could not start: the same reason, not again
            return dict(self.failed)
        if self.proc is None or self.proc.poll() is not None:
            try:
                self._start(min(startup, STARTUP_S))
            except WorkerFailed as exc:
                self.failed = _failed(str(exc))
                return dict(self.failed)
            except RuntimeError:
                return None
        start = time.perf_counter()
        if until is not None:      # the start-up counts too: no share past `until`
            share = min(share, until - start)
            if share < 0.5:
                return None
        self.conn.send((mode, share))
        if self.conn.poll(max(share - (time.perf_counter() - start), 0.0)):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        self.stop()
        return None

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.conn.send(None)
                self.proc.wait(0.5)
            except Exception:   # a worker that does not leave in time is killed below
                pass
        self.stop()


# -- the profile ---------------------------------------------------------------------------
def profile(fn, x0=None, data=None, frameworks=None, budget_s: float = 60.0, m: int | None = None,
            dtype: str = "float64", progress: Callable[[dict], None] | None = None,
            order: int = 1, memory: bool = False, _workers: dict | None = None):
    """Measure every mode of every framework that can run `fn`, best first (a DataFrame).

    fn: fn(xp, x) (or fn(xp, x, data) with `data`), a "module:function" string, a registered
    problem's name, or a Problem.  budget_s bounds the whole profile; each remaining mode gets
    an equal share of what is left (at least MIN_SHARE_S).  order=2 (a scalar function, m = 1):
    the Hessian-vector products by every composition and the Hessians by every mode instead,
    each group ranked on its own (`computes`: "H v", "H").  memory=True: each timed mode's
    peak memory too (`peak_bytes`; `measure_memory`, in a memory worker per framework), in
    MEMORY_SHARE of the budget after the timing; a function that runs in this process gets a
    note instead.  `progress` is given each row as it is timed, and again once its memory is
    read (the same dict, updated).  `_workers` (profile_sizes): {"time": {}, "memory": {}},
    the worker processes to use and leave running, keyed by framework."""
    import pandas as pd
    if not budget_s > 0:
        raise ValueError(f"profile: the budget must be > 0 seconds, got {budget_s}")
    if order not in ORDERS:
        raise ValueError(f"profile: the order must be 1 or 2, got {order!r}")
    target, problem = target_of(fn, x0, data, m)
    if order == 2 and problem.m != 1:
        raise ValueError(f"profile: second order needs a scalar function (m = 1); "
                         f"{problem.name} returns {problem.m} values")
    chosen = list(frameworks) if frameworks else [
        name for name, rec in records().items() if name != "python" or problem.scalar]
    rows, usable = [], []
    for name in chosen:
        reason = missing_reason(name) or (device_reason(name) if name in records() else None)
        if reason is None and name in records() and dtype not in framework_class(name).dtypes:
            reason = (f"{name} runs in {', '.join(framework_class(name).dtypes)} only, "
                      f"not {dtype}")
        if reason is None and order == 2 and name in records() and \
                not framework_class(name).second_order:
            reason = (f"{name} has no second-order operations"
                      + (f": {records()[name].notes['second_order']}"
                         if records()[name].notes.get("second_order") else ""))
        if reason is not None:   # not installed, no $ADCOST_DEVICE here (--device cuda), none
            if name not in records():
                raise ValueError(f"profile: {reason}")
            rows.append(_row(name, "*", problem, {"status": "skipped", "note": reason}))
        else:
            usable.append(name)
    plan = plan_for(usable, problem, order)
    start = time.perf_counter()
    end = start + budget_s - CLOSE_S
    deadline = end - (budget_s * MEMORY_SHARE if memory and target is not None else 0.0)
    workers: dict[str, Worker] = {} if _workers is None else _workers["time"]
    outran: dict[tuple[str, str], float] = {}    # (framework, mode): the share it outran

    def time_modes(items, until, report=True, greedy=False):
        """Time each (framework, mode) of `items` in a share of what is left until `until`;
        each new row to `progress` where `report`.  Where a framework's mode outruns its share
        (its worker is then killed, and would start again for the next), its other modes go
        to the back of the queue, once: the rest are not kept waiting behind a compile that
        does not fit a share (torch.compile of a GMM: 3 shares of 2 s and 3 starts lost).
        `greedy`: each mode may take all that is left (the late pass: best effort, in order)."""
        found, queue, deferred = {}, list(items), set()
        while queue:
            name, mode = queue.pop(0)
            left = until - time.perf_counter()
            weights = _weight(mode) + sum(_weight(m) for _, m in queue)
            share = max(left, 0.0) if greedy else \
                min(max(MIN_SHARE_S, left * _weight(mode) / weights), max(left, 0.0))
            if left < 0.5:
                result = {"status": "stopped", "note": BUDGET_SPENT}
            elif target is None:
                result = measure(problem, name, mode, dtype, share)
            else:
                worker = _worker(workers, target, name, dtype, left)
                result = worker.run(mode, share, startup=max(left, 1.0),
                                    until=until if greedy else None)
                if result is None:
                    result = {"status": "stopped",
                              "note": f"outran its share of the budget ({share:.1f} s): stopped"}
                    outran[name, mode] = share
                    if name not in deferred:
                        deferred.add(name)
                        queue = ([it for it in queue if it[0] != name]
                                 + [it for it in queue if it[0] == name])
            found[name, mode] = _row(name, mode, problem, result)
            if progress and report:
                progress(found[name, mode])
        return [found[item] for item in items]

    try:
        rows += time_modes(plan, deadline)
        memory_workers = {} if _workers is None else _workers["memory"]
        missed = add_memory(rows, target, problem, dtype, end, progress,
                            memory_workers) if memory else {}
        # what the memory pass left of the budget goes to the modes the timing had no time for,
        # then to those that outran a share shorter than what is left (a compile of 4 s given 2)
        late = [i for i, r in enumerate(rows) if r["status"] == "stopped" and r["note"] == BUDGET_SPENT]
        left = end - time.perf_counter()
        late += sorted((i for i, r in enumerate(rows) if r["status"] == "stopped"
                        and outran.get((r["framework"], r["mode"]), left) < left - 0.5),
                       key=lambda i: outran[rows[i]["framework"], rows[i]["mode"]])
        if late and left >= 0.5:
            for i, again in zip(late, time_modes([(rows[i]["framework"], rows[i]["mode"])
                                                  for i in late], end, report=False,
                                                 greedy=True)):
                if again["status"] != "stopped":
                    again["memory_note"] = LATE_MEMORY if memory else ""
                    rows[i].update(again)      # the same row: a progress callback sees it again
                    if progress:
                        progress(rows[i])
                elif again["note"] != BUDGET_SPENT:   # outran the longer share too: say that one
                    rows[i]["note"] = again["note"]
        if memory and target is not None:
            # what the late timing left: the memory of the modes it timed, then, each taking
            # what is left, of those whose reading outran a share shorter than that
            late_timed = [r for r in rows if r["memory_note"] == LATE_MEMORY]
            if late_timed and end - time.perf_counter() >= 0.5:
                missed.update(add_memory(late_timed, target, problem, dtype, end, progress,
                                         memory_workers))
            left = end - time.perf_counter()
            again = sorted((r for r in rows if missed.get(id(r), left) < left - 0.5),
                           key=lambda r: missed[id(r)])
            if again:
                add_memory(again, target, problem, dtype, end, progress, memory_workers,
                           greedy=True)
    finally:
        if _workers is None:
            for w in [*workers.values(), *memory_workers.values()]:
                w.close()
    ranked = rank(pd.DataFrame(rows), problem)
    ranked.attrs["memory"] = memory
    ranked.attrs["budget_s"] = budget_s
    return ranked


MEMORY_SHARE = 0.4       # of the budget, kept for the memory workers when memory is measured
BUDGET_SPENT = "the profile's budget was spent"
LATE_MEMORY = ("memory not measured: timed after the memory pass, in what it left of the "
               "budget")


def _worker(workers: dict, target: Target, framework: str, dtype: str, left: float,
            memory: bool = False) -> "Worker":
    """The framework's worker of `workers`, made (not started) where there is none, and set
    to `target` where it worked on another point of the same function."""
    worker = workers.get(framework)
    if worker is None:
        worker = workers[framework] = Worker(target, framework, dtype, memory=memory)
    elif worker.args[0] is not target:
        worker.retarget(target, timeout=max(min(left, STARTUP_S), 1.0))
    return worker


def add_memory(rows: list[dict], target: Target | None, problem: Problem, dtype: str,
               end: float, progress: Callable[[dict], None] | None = None,
               workers: dict | None = None, greedy: bool = False) -> dict[int, float]:
    """Each timed row's peak memory (`peak_bytes`) or why not (`memory_note`), fastest first,
    until `end` (perf_counter): a memory worker per framework, each mode a share of what is
    left (`greedy`: all that is left, in the order given).  The rows are updated in place, and
    each is given to `progress` again once read.  Returns {id(row): the share it outran}."""
    timed = [r for r in rows if r["status"] == "ok"]
    if not greedy:
        timed.sort(key=lambda r: r["seconds"])
    if target is None:
        for row in timed:
            row["memory_note"] = IN_PROCESS_MEMORY
        return {}
    keep = workers is not None
    workers = {} if workers is None else workers
    outran = {}
    try:
        for i, row in enumerate(timed):
            left = end - time.perf_counter()
            if left < 0.5:
                if not greedy:      # a retry that found no time keeps the note it had
                    row["memory_note"] = f"memory not measured: {BUDGET_SPENT}"
                continue
            share = left if greedy else min(max(MIN_SHARE_S, left / (len(timed) - i)), left)
            worker = _worker(workers, target, row["framework"], dtype, left, memory=True)
            found = worker.run(row["mode"], share, startup=max(left, 1.0),
                               until=end if greedy else None)
            if found is not None and "status" in found:    # the worker could not start
                found = {"memory_note": found["memory_note"]}
            if found is None:
                outran[id(row)] = share
                found = {"memory_note": f"memory not measured: outran its share of the budget "
                                        f"({share:.1f} s)"}
            row.update({"memory_note": "", **found})
            if progress:
                progress(row)
    finally:
        if not keep:
            for w in workers.values():
                w.close()
    return outran


# -- one function at several sizes: where its crossover lies ---------------------------------
def profile_sizes(fn, points, data=None, frameworks=None, budget_s: float = 60.0,
                  dtype: str = "float64", progress: Callable[[dict], None] | None = None,
                  memory: bool = False):
    """`profile` of the same function at each x0 of `points` (two or more, of different sizes),
    each given an even share of what is left of the budget (a point that finishes early leaves
    its rest to the later, larger ones), in the same worker processes (each framework imported
    once; its worker builds the problem again at each point): every row of every profile, with `point` (the x0's
    index) beside its n and m.  `by_size` and `size_crossings` read where forward mode stops
    being the faster; attrs["sizes"] holds each point's problem (n, m, shapes)."""
    import pandas as pd
    if len(points) < 2:
        raise ValueError("profile: sizes need two points or more")
    frames, end = [], time.perf_counter() + budget_s
    workers: dict[str, dict] = {"time": {}, "memory": {}}   # kept from point to point
    try:
        for i, x0 in enumerate(points):     # what an earlier point left unused goes to the later
            share = max((end - time.perf_counter()) / (len(points) - i), MIN_SHARE_S)
            df = profile(fn, x0=x0, data=data, frameworks=frameworks, budget_s=share,
                         dtype=dtype, progress=progress, memory=memory, _workers=workers)
            frames.append(df.assign(point=i))
    finally:
        for pool in workers.values():
            for w in pool.values():
                w.close()
    out = pd.concat(frames, ignore_index=True)
    out.attrs["problem"] = frames[-1].attrs["problem"]
    out.attrs["sizes"] = [f.attrs["problem"] for f in frames]
    out.attrs["memory"] = memory
    out.attrs["budget_s"] = budget_s
    return out


def by_size(df, framework: str | None = None):
    """Per point, n and m: the fastest forward-family and reverse-family mode (of `framework`,
    else of every framework) and `ratio`, forward's seconds over reverse's (below 1: forward is
    the faster); a point where either family has no timed mode is left out."""
    import pandas as pd
    ok = df[(df["status"] == "ok") & df["family"].isin(["forward", "reverse"])]
    if framework is not None:
        ok = ok[ok["framework"] == framework]
    rows = []
    for point, part in ok.groupby("point", sort=True):
        best = {fam: g.loc[g["seconds"].idxmin()] for fam, g in part.groupby("family")}
        if len(best) < 2:
            continue
        fwd, rev = best["forward"], best["reverse"]
        rows.append({"point": point, "n": int(fwd["n"]), "m": int(fwd["m"]),
                     "forward": f"{fwd['framework']} {fwd['mode']}", "forward_s": fwd["seconds"],
                     "reverse": f"{rev['framework']} {rev['mode']}", "reverse_s": rev["seconds"],
                     "ratio": fwd["seconds"] / rev["seconds"], "tied": _overlap(fwd, rev)})
    return pd.DataFrame(rows, columns=["point", "n", "m", "forward", "forward_s", "reverse",
                                       "reverse_s", "ratio", "tied"]).sort_values("n", kind="stable")


def _overlap(a, b) -> bool:
    """Whether two rows' calls' 25th-75th percentiles overlap (the profile's `tied`); False
    where either has none."""
    try:
        lo_a, hi_a, lo_b, hi_b = (float(r[k]) for r in (a, b) for k in ("q25", "q75"))
    except (KeyError, TypeError, ValueError):
        return False
    return bool(lo_a <= hi_b and lo_b <= hi_a)


def size_crossings(df) -> list[dict]:
    """For every framework and for all together ("all"): where along the points, ordered by n
    (by m where n does not move), the faster family changes once: `at`, that size interpolated
    in log size where log(ratio) crosses 0, `axis` ("n" or "m"), `between` the measured sizes
    either side and `below` the family faster below it; or `faster`, the family faster at every
    point (None: it changes more than once), with the ratios and, per size, `tied`: the two
    families' calls' 25th-75th percentiles overlap, so which is faster there is not measured."""
    import math
    found = []
    for scope in ["all"] + sorted(df.loc[df["status"] == "ok", "framework"].unique()):
        t = by_size(df, None if scope == "all" else scope)
        axis = "n" if t["n"].nunique() > 1 else "m"
        t = t.sort_values([axis, "n" if axis == "m" else "m"], kind="stable")
        if len(t) < 2 or t[axis].nunique() < 2:
            continue
        logs = np.log(t["ratio"].to_numpy(float))
        sizes = t[axis].to_numpy(float)
        entry = {"scope": scope, "axis": axis, "sizes": sizes.astype(int).tolist(),
                 "ratios": t["ratio"].tolist(), "tied": t["tied"].astype(bool).tolist()}
        signs = np.sign(logs)
        changes = [i for i in range(len(t) - 1) if signs[i] * signs[i + 1] < 0]
        if len(changes) == 1:
            i = changes[0]
            w = logs[i] / (logs[i] - logs[i + 1])
            entry.update(at=math.exp(math.log(sizes[i]) + w * math.log(sizes[i + 1] / sizes[i])),
                         between=(int(sizes[i]), int(sizes[i + 1])),
                         below="forward" if logs[i] < 0 else "reverse")
        else:
            entry["faster"] = None if changes else "forward" if (logs < 0).all() else \
                "reverse" if (logs > 0).all() else None
        found.append(entry)
    return found


def sizes_summary(df) -> list[str]:
    """The sizes profile in words: per point, the best of each family; then each crossing."""
    lines = [f"{df.attrs.get('problem', {}).get('name', '?')} at {df['point'].nunique()} sizes:"]
    for _, r in by_size(df).iterrows():
        faster = ("forward" if r["ratio"] < 1 else "reverse")
        lines.append(f"  n = {r['n']}, m = {r['m']}: best forward {r['forward']} "
                     f"{_fmt(r['forward_s'])}, best reverse {r['reverse']} {_fmt(r['reverse_s'])}: "
                     f"{faster} {max(r['ratio'], 1 / r['ratio']):.2f}x faster"
                     + (" (within the calls' spread: not told apart)" if r["tied"] else ""))
    for c in size_crossings(df):
        who = "all frameworks" if c["scope"] == "all" else c["scope"]
        tied = [size for size, t in zip(c["sizes"], c.get("tied", [])) if t]
        apart = (f"; at {c['axis']} = {', '.join(map(str, tied))} the two are within their "
                 f"calls' spread (not told apart)" if tied else "")
        if "between" in c:
            other = "reverse" if c["below"] == "forward" else "forward"
            lines.append(f"crossing ({who}): {c['below']} mode is the faster below "
                         f"{c['axis']} ≈ {c['at']:.3g} (between the measured {c['axis']} = "
                         f"{c['between'][0]} and {c['between'][1]}), {other} above" + apart)
        elif c["faster"]:
            ratios = [max(r, 1 / r) for r in c["ratios"]]
            lines.append(f"crossing ({who}): none measured; {c['faster']} mode is the faster at "
                         f"every size ({min(ratios):.2f}-{max(ratios):.2f}x)" + apart)
        else:   # the sign changes back and forth: no single crossing
            lines.append(f"crossing ({who}): the faster family changes more than once along the "
                         f"sizes (forward/reverse {', '.join(f'{r:.2f}' for r in c['ratios'])})")
    return lines + stopped_lines(df)


def write_record(target: Path, rows, settings: dict, complete: bool) -> None:
    """The profile as a result file: the environment (measure.environment: versions, threads
    and $GLIBC_TUNABLES, CPU, date, commit), the problem, the settings, whether every planned
    mode has been measured (`complete`), how each framework counted its FLOPs
    (`flop_counters`) and the rows: the ranked DataFrame, or the rows measured so far."""
    import json

    import pandas as pd

    from .measure.environment import environment, machine_name
    from .smoke import write_json
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    first = frame.iloc[0] if len(frame) else {}
    problem = frame.attrs.get("problem") or {k: first.get(k) for k in ("n", "m")}
    environ = {**environment(), "machine": machine_name()}
    # how each framework with a count counted its rows' FLOPs (they compare within one only)
    counted = sorted(set(frame.loc[frame["flops"].notna(), "framework"])) \
        if "flops" in frame and "framework" in frame else []
    counters = {fw: records()[fw].flops for fw in counted if fw in records()}
    write_json(target, {"environment": environ, "problem": problem, "settings": settings,
                        "complete": complete, "flop_counters": counters,
                        "rows": json.loads(frame.to_json(orient="records"))})


def api_call(framework: str, mode: str) -> str:
    """The adcost call that gives `mode`'s result."""
    if mode == "grad":
        return f"adcost.grad(problem, {framework!r})"
    if mode.startswith("hvp_"):
        return f"adcost.hvp(problem, {framework!r}, v, mode={mode[len('hvp_'):]!r})"
    if mode.startswith("hessian_"):
        return f"adcost.hessian(problem, {framework!r}, mode={mode[len('hessian_'):]!r})"
    return f"adcost.jacobian(problem, {framework!r}, {mode!r})"


def _row(framework: str, mode: str, problem: Problem, result: dict) -> dict:
    family = ops.describe(mode).family if mode != "*" else ""
    api = api_call(framework, mode)
    native = records()[framework].notes.get(mode, "") if framework in records() else ""
    return {"framework": framework, "mode": mode, "family": family,
            "computes": computes(mode) if mode != "*" else "",
            "seconds": result.get("seconds"), "q25": result.get("q25"), "q75": result.get("q75"),
            "compile_s": result.get("compile_s"), "flops": result.get("flops"),
            "peak_bytes": result.get("peak_bytes"),
            "memory_note": result.get("memory_note", ""),
            "calls": result.get("calls"), "status": result["status"], "call": api,
            "native": native, "error": result.get("error"), "note": result.get("note", ""),
            "n": problem.n, "m": problem.m}


def rank(df, problem: Problem):
    """Measured rows fastest first within what they compute (`computes`: J; or H v, then H),
    then the rest; `ratio` is seconds over the fastest of the same group; `recommended`, that
    fastest; `tied`: a row whose calls' 25th-75th percentile overlaps it (their order is not
    measured)."""
    import pandas as pd
    if "computes" not in df:
        df = df.assign(computes="J")
    ok = df[df["status"] == "ok"]
    group = ok["computes"].map({c: i for i, c in enumerate(COMPUTES)}).fillna(len(COMPUTES))
    ok = ok.assign(_group=group.to_numpy()).sort_values(["_group", "seconds"], kind="stable")
    rest = df[df["status"] != "ok"]
    out = pd.concat([ok.drop(columns="_group"), rest], ignore_index=True)
    out["ratio"] = np.nan
    out["recommended"] = False
    out["tied"] = False
    timed = out.index[:len(ok)]
    for _, rows in out.loc[timed].groupby("computes", sort=False):
        best = rows.index[0]
        out.loc[rows.index, "ratio"] = rows["seconds"] / rows["seconds"].iloc[0]
        out.loc[best, "recommended"] = True
        if {"q25", "q75"} <= set(out):      # NaN (no percentiles) compares False: not tied
            low, high = (pd.to_numeric(out.loc[rows.index, q], errors="coerce")
                         for q in ("q25", "q75"))
            others = rows.index[1:]
            out.loc[others, "tied"] = (low[others] <= high[best]) & (high[others] >= low[best])
    out.attrs["problem"] = {"name": problem.name, "n": problem.n, "m": problem.m,
                            **{k: problem.meta[k] for k in ("x_shape", "y_shape")
                               if k in problem.meta}}
    return out


def summary(df) -> list[str]:
    """The recommendation in words: the fastest, and the best of each family."""
    info = df.attrs.get("problem", {})
    ok = df[df["status"] == "ok"]
    shapes = [f"{what} of shape {tuple(info[key])}" for what, key in (("x", "x_shape"),
                                                                      ("f(x)", "y_shape"))
              if key in info and len(info[key]) != 1]
    lines = [f"{info.get('name', '?')}: n = {info.get('n')}, m = {info.get('m')}"
             + (f" ({', '.join(shapes)}: flattened in C order, the Jacobian's columns and rows "
                f"follow it)" if shapes else "")]
    if not len(ok):
        return (lines + ["no mode could be measured"] + stopped_lines(df)
                + ([NUMPY_HINT] if calls_numpy(df) else []))
    # rows from rank() say what they compute and whether they tie; rows from elsewhere: J, no
    ok = ok.assign(**{column: ok[column] if column in ok else default
                      for column, default in (("computes", "J"), ("tied", False))})
    groups = list(ok["computes"].unique())
    for what in groups:
        part = ok[ok["computes"] == what]
        top = part.iloc[0]
        named = "" if groups == ["J"] else f" for {WHAT[what]}"
        lines.append(f"recommended{named}: {top['framework']} {top['mode']} "
                     f"({_fmt(top['seconds'])} a call, {_fmt(top['compile_s'])} before the first)"
                     f" -> {top['call']}")
        tied = part[part["tied"]]
        if len(tied):
            names = ", ".join(f"{r['framework']} {r['mode']} ({r['ratio']:.2f}x)"
                              for _, r in tied.iterrows())
            lines.append(f"as fast within the calls' spread (their 25th-75th percentiles overlap "
                         f"the recommended one's; the order among them is not measured): {names}")
        if df.attrs.get("memory"):
            lines += memory_lines(part, named)
        if what != "J":
            lines += second_order_flops(part, named)
    first = ok[ok["computes"] == "J"]
    for family in ("forward", "reverse", "fd"):
        part = first[first["family"] == family]
        if len(part):
            r = part.iloc[0]
            lines.append(f"best {family}: {r['framework']} {r['mode']} {_fmt(r['seconds'])} "
                         f"({r['ratio']:.1f}x the fastest)")
    lines += flops_lines(first)
    for b in break_even(df):
        lines.append(break_even_line(b))
    lines += stopped_lines(df)
    if info.get("m") == 1 and groups == ["J"]:
        lines.append("second order: --order 2 (adcost.profile(..., order=2)) ranks its "
                     "Hessian-vector products and Hessians")
    name = info.get("name", "")
    lines.append(f"problem = adcost.make_problem({name!r}, **sizes)" if name in PROBLEMS else
                 "problem = adcost.custom_problem(name, f, n, m, x0) (data=... for f(xp, x, data))")
    return lines


def stopped_lines(df) -> list[str]:
    """The modes the budget stopped (their preparation or calls outran their share, or none was
    left), by framework (with the sizes' n where the profile has several), and the budget that
    gives them more room: twice this one's."""
    stopped = df[df["status"] == "stopped"]
    if not len(stopped):
        return []
    tried = int((df["status"] != "skipped").sum())
    sizes = "point" in df and df["point"].nunique() > 1
    names = "; ".join(f"{fw}: " + ", ".join(f"{r['mode']}" + (f" (n = {r['n']})" if sizes else "")
                                            for _, r in g.iterrows())
                      for fw, g in stopped.groupby("framework", sort=False))
    budget = df.attrs.get("budget_s")
    more = (f"; twice the budget gives them more room: --budget {2 * budget:g} "
            f"(adcost.profile(..., budget_s={2 * budget:g}))" if budget else
            "; a larger budget gives them more room (--budget, budget_s=)")
    return [f"not measured in the budget{f' ({budget:g} s)' if budget else ''}: {len(stopped)} of "
            f"{tried} modes, their preparation or calls outran their share ({names}){more}"]


# The memory worker's malloc hands blocks of 64 KiB and up to mmap and back (its threshold);
# smaller ones come from the heap the process already holds, so a call's peak below this is
# not told from none.
MEMORY_RESOLUTION = int(MMAP_THRESHOLD)


def fmt_peak(value) -> str:
    """A peak memory reading, or "< 64 KiB" below what the memory worker resolves."""
    if value is not None and np.isfinite(value) and value < MEMORY_RESOLUTION:
        return f"< {fmt_bytes(MEMORY_RESOLUTION)}"
    return fmt_bytes(value)


def memory_lines(part, named: str) -> list[str]:
    """What the fastest of a group holds at its peak, and the mode that holds least; or why
    no memory was measured.  Readings below MEMORY_RESOLUTION count as equal: the least is the
    fastest of them."""
    import pandas as pd
    held = pd.to_numeric(part.get("peak_bytes", pd.Series(index=part.index, dtype=float)),
                         errors="coerce")
    if held.isna().all():
        notes = [note for note in part.get("memory_note", []) if note]
        return [f"memory: {notes[0]}"] if notes else []
    top, least = part.iloc[0], part.loc[held.clip(lower=MEMORY_RESOLUTION).idxmin()]
    said = f"{fmt_peak(held[top.name])} at its peak" if held.notna()[top.name] else \
        "memory not measured"
    below = (f" (the memory worker does not resolve peaks below {fmt_bytes(MEMORY_RESOLUTION)})"
             if held[least.name] < MEMORY_RESOLUTION else "")
    if least.name == top.name:
        return [f"memory{named}: the recommended mode holds the least, {said}{below}"]
    return [f"least memory{named}: {least['framework']} {least['mode']} "
            f"({fmt_peak(held[least.name])} at its peak, {least['ratio']:.1f}x the fastest's "
            f"time; the fastest: {said}){below}"]


WHAT = {"J": "the Jacobian", "H v": "H v (a Hessian-vector product)", "H": "the Hessian"}


# what the frameworks say when a function calls NumPy (np.sin) on their traced values
NUMPY_SIGNS = ("does not support ufuncs", "TracerArrayConversionError", "Can't call numpy() on Tensor",
               "Cannot access data pointer of Tensor", "__array__")
NUMPY_HINT = ("hint: the function seems to call NumPy on x (np.sin(x) and the like); write it "
              "with the namespace it is given (xp.sin(x)) so that each framework can trace it")


def calls_numpy(df) -> bool:
    """Whether every failed or skipped mode failed the way a direct NumPy call makes it fail."""
    bad = df[df["status"].isin(["failed", "skipped"])]
    return bool(len(bad)) and all(any(sign in str(note) for sign in NUMPY_SIGNS)
                                  for note in bad["note"])


def break_even(df) -> list[dict]:
    """Compiled against eager variants measured in this profile ((torch_compile, torch),
    (jax, jax_eager), (tf, tf_eager)): per mode, the calls after which compiling has paid:
    the extra seconds before the first timed call (compile and first call, the compiled minus
    the eager one) over the seconds saved per call."""
    from .analysis.costmodel import break_even_row
    from .frameworks.base import variant_pairs

    ok = df[df["status"] == "ok"]
    got = {(r["framework"], r["mode"]): r for _, r in ok.iterrows()}

    def before(r):
        value = r.get("compile_s")
        return float(value) if value is not None and np.isfinite(value) else 0.0

    rows = []
    for compiled, eager in variant_pairs():
        for (fw, mode), r in got.items():
            e = got.get((eager, mode))
            if fw == compiled and e is not None:
                rows.append({**break_even_row(compiled, eager, mode,
                                              max(before(r) - before(e), 0.0),
                                              r["seconds"], e["seconds"]),
                             "before_compiled": before(r), "before_eager": before(e)})
    return rows


def flops_lines(rows) -> list[str]:
    """Per framework that counts FLOPs, its fastest forward-family and reverse-family mode's
    FLOPs a call and rate: part of why one is the faster (counts compare within a framework
    only: each counts its own way, records()[fw].flops)."""
    if "flops" not in rows:
        return []
    lines = []
    for fw, g in rows[rows["flops"].notna()].groupby("framework", sort=False):
        best = {fam: part.loc[part["seconds"].idxmin()] for fam, part in g.groupby("family")
                if fam in ("forward", "reverse")}
        if len(best) < 2:
            continue
        fwd, rev = best["forward"], best["reverse"]
        fewer = "reverse" if rev["flops"] < fwd["flops"] else "forward"
        ratio = max(fwd["flops"], rev["flops"]) / min(fwd["flops"], rev["flops"])
        how = (records()[fw].flops or "").split(";")[0] if fw in records() else None
        lines.append(
            f"FLOPs ({fw}{', ' + how if how else ''}): {fwd['mode']} "
            f"{fmt_work(fwd['flops'], fwd['seconds'], a_call=True)}, {rev['mode']} "
            f"{fmt_work(rev['flops'], rev['seconds'])}: "
            + (f"{fewer} mode counts {ratio:.2f}x fewer" if ratio >= 1.005 else "the same count"))
    return lines


def second_order_flops(part, named: str) -> list[str]:
    """Per framework that counted them, the FLOPs and rate of its fastest mode of a
    second-order group (H v or H) and, where another counts fewer, that mode's: which
    composition does the least work, and whether the fastest is it.  A fastest mode without a
    count is said to have none; counts compare within a framework only."""
    import pandas as pd
    if "flops" not in part:
        return []
    lines = []
    for fw, g in part.groupby("framework", sort=False):
        counted = g[g["flops"].notna()]
        if counted.empty:
            continue
        fast = g.loc[g["seconds"].idxmin()]
        least = counted.loc[counted["flops"].idxmin()]
        head = f"FLOPs{named} ({fw}): "
        if pd.isna(fast["flops"]):
            lines.append(head + f"the fastest, {fast['mode']}, has no count; the fewest counted: "
                         f"{least['mode']}, {fmt_flops(least['flops'])} a call")
            continue
        said = head + (f"the fastest, {fast['mode']}, "
                       f"{fmt_work(fast['flops'], fast['seconds'], a_call=True)}")
        if len(counted) < 2:
            said += " (no other mode counted)"
        elif least.name != fast.name and least["flops"] < fast["flops"] / 1.005:
            said += (f"; fewest: {least['mode']}, {fmt_flops(least['flops'])} "
                     f"({fast['flops'] / least['flops']:.2f}x fewer, "
                     f"{least['seconds'] / fast['seconds']:.2f}x the time)")
        else:
            said += ", the fewest"
        lines.append(said)
    return lines


def fmt_work(flops: float, seconds: float, a_call: bool = False) -> str:
    """A call's FLOPs and the rate they ran at: "105 kFLOP [a call] at 4.08 GFLOP/s"."""
    return f"{fmt_flops(flops)}{' a call' if a_call else ''} at {flops / seconds / 1e9:.3g} GFLOP/s"


def fmt_flops(value) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    for unit, size in (("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.3g} FLOP"


def break_even_line(b: dict) -> str:
    """One line of `break_even`: after how many calls compiling pays, or that it pays from the
    first call (the compiled variant also took less before its first call) or never."""
    calls, head = b["break_even_calls"], f"compiling {b['mode']}: {b['compiled']} "
    per_call = f"{_fmt(b['t_compiled'])} vs {_fmt(b['t_eager'])} a call"
    if calls is None:
        return (head + f"does not pay off against {b['eager']} (not faster a call: {per_call})")
    if b["compile_s"] <= 0:
        return (head + f"pays off against {b['eager']} from the first call ("
                f"{_fmt(b['before_compiled'])} before its first call against "
                f"{_fmt(b['before_eager'])}; {per_call})")
    return (head + f"pays off against {b['eager']} after {calls:.3g} calls "
            f"({_fmt(b['compile_s'])} more before the first call; {per_call})")


def _fmt(seconds) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "-"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def fmt_bytes(value) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{int(value)} B"


def table(df) -> str:
    shown = bool(df.attrs.get("memory")) and "peak_bytes" in df      # measured with memory=True
    peaks = df["peak_bytes"] if shown else [None] * len(df)
    memory = f" {'memory':>10}" if shown else ""
    counted = "flops" in df and df["flops"].notna().any()     # where a framework counted them
    flops = df["flops"] if counted else [None] * len(df)
    lines = [f"{'framework':<13} {'mode':<29} {'time':>10} {'compile':>10}"
             + (f" {'FLOPs':>11}" if counted else "") + f"{memory} "
             f"{'x best':>7} {'status':<8} call / note"]
    before = None
    for (_, r), peak, count in zip(df.iterrows(), peaks, flops):
        group = r.get("computes") if r["status"] == "ok" else None
        if group and before and group != before:     # each group has its own best ("x best")
            lines.append("")
        before = group or before
        ratio = "" if not np.isfinite(r["ratio"]) else f"{r['ratio']:.1f}"
        tail = r["call"] if r["status"] == "ok" else str(r["note"]).strip().split("\n")[0]
        held = f" {fmt_peak(peak):>10}" if shown else ""
        counts = f" {fmt_flops(count):>11}" if counted else ""
        lines.append(f"{r['framework']:<13} {r['mode']:<29} {_fmt(r['seconds']):>10} "
                     f"{_fmt(r['compile_s']):>10}{counts}{held} {ratio:>7} {r['status']:<8} {tail}")
    return "\n".join(lines)
