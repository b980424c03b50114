"""What the asv benchmarks share: the framework list, the modes, and `prepare_or_skip`.

asv skips a parameter combination when `setup` raises NotImplementedError.  `prepare_or_skip`
raises `Skip` (a NotImplementedError carrying the reason) when a case cannot or should not
run, and otherwise returns `adcost.prepare`'s warmed, validated Case.  It skips when

  * the framework is not installed, or has no such operation (Unsupported, FrameworkMissing);
  * the estimated memory of the case exceeds the budget (`estimate_bytes`);
  * a smaller size of the same computation timed out, crashed, or took longer than the
    per-call time budget: larger sizes would only cost more;
  * a size is predicted to take over PREDICTED_OVER x the budget: from a smaller size's one
    call, times the growth of a size the work is at least linear in (`linear_in`).

That last knowledge lives in a small JSON state file, results/bench_state.json (or
$ADCOST_BENCH_STATE), so that it survives asv's one-process-per-benchmark runs.  It is kept
per (grid, commit): a new commit or the other grid starts fresh.  Delete it to retry everything.  A size is "pending" while it is being prepared and timed once; if the process
dies there (asv's timeout kills it), the next larger size finds the pending mark of a dead
process and counts the size as timed out.

Nothing here imports a framework: asv imports the benchmarks (and this module) to discover
them; only asv's forkserver, which imports the suite once and forks a process per case, has
the frameworks imported up front (`preimport`).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import grids, paths
from .measure import speed
from .validate import ValidationError
from .frameworks.base import (CORE_MODES, REGISTRY, Unsupported, device_reason, framework_class,
                              import_framework, missing_reason, records, sweep_frameworks)

# The frameworks of the study, in the order the benchmarks list them (their records say which).
FRAMEWORKS = sweep_frameworks()
# the sweep's studies: a framework whose record names some of them is listed in those only
STUDIES = ("crossover", "width", "roofline", "checkpoint", "second_order", "workloads")


def frameworks_for(study: str) -> tuple[str, ...]:
    """The sweep's frameworks that run in `study` (Record.studies; None: every study), less
    those the grid leaves out (they would only fork a process each to skip)."""
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; studies: {', '.join(STUDIES)}")
    grid = grids.crossover()
    left = tuple(grid.get("leave_out", ())) + (
        tuple(grid.get("crossover_leave_out", ())) if study == "crossover" else ())
    return tuple(fw for fw in FRAMEWORKS if fw not in left and
                 (records()[fw].studies is None or study in records()[fw].studies))


SWEEP_DTYPE = "float32"   # the sweep's dtype; a framework without it (fd) uses its first dtype
PROBLEM = "mlp"
PRODUCT_OPS = ("primal", "jvp", "vjp")

GiB = 1 << 30
SKIP_TTL_S = 24 * 3600            # a budget skip older than this expires
DEFAULT_MEMORY_BUDGET = 4 * GiB   # override with $ADCOST_MEMORY_BUDGET (bytes)
_ITEMSIZE = {"float32": 4, "float64": 8}
# Vectorised Jacobian modes push a batch of tangents (over n) or cotangents (over m) at once.
_BATCH = {"jacfwd": "n", "autograd_jacobian_forward": "n",
          "jacrev": "m", "autograd_jacobian_vectorized": "m"}


class Skip(NotImplementedError):
    """asv's skip: this parameter combination is not measured; the message says why."""


def _adapter(name: str, left_out_ok: bool = False):
    """The adapter class, or Skip when it is missing, its module cannot be imported, it has
    no $ADCOST_DEVICE here (`adcost.sweep --device cuda` on a CPU-only machine), or the grid
    leaves it out (unless `left_out_ok`: the compile break-even runs those of the full grid)."""
    reason = missing_reason(name) or device_reason(name)
    if reason:
        raise Skip(reason)
    reason = None if left_out_ok else grids.left_out(name)
    if reason:
        raise Skip(reason)
    try:
        return framework_class(name)
    except ImportError as exc:   # an engine module that is absent in this checkout
        raise Skip(f"{name}: adapter cannot be imported ({exc})") from None


def skip_if(reason: str | None) -> None:
    """asv's skip (Skip) with `reason`, when there is one."""
    if reason:
        raise Skip(reason)


def op_reason(framework: str, op: str, left_out_ok: bool = False) -> str | None:
    """Why `framework` cannot run `op` in this sweep, known before anything is built and
    without importing the framework (missing, no such device, left out of the grid, no such
    operation: _adapter's reasons); None where setup must decide.  The benchmarks'
    `skip_reason`s are built from it: benchmarks/asv_plugin.py reads them before asv forks
    a process for a parameter combination."""
    try:
        cls = _adapter(framework, left_out_ok)
    except Skip as exc:
        return str(exc)
    if op not in cls.ops():
        return f"{framework} has no operation {op!r}"
    return None


def in_asv_forkserver() -> bool:
    """Whether this import runs inside asv's forkserver (asv_runner.server._run_server)."""
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "_run_server" and "asv_runner" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def preimport(force: bool = False, frameworks=None) -> list[str]:
    """Import the installed frameworks (and what they import on first use) now, inside asv's
    forkserver only (or when `force`d); `frameworks`: only these of them (the noise probe's).

    The forkserver imports the benchmark suite once and forks one process per parameter
    combination: importing torch, JAX and TensorFlow there (about 6 s together, without
    starting their thread pools or backends) spares every forked process that cost; torch.func's
    first jvp alone imports torch._dynamo (1.6 s).  Returns the frameworks imported.
    ADCOST_PREIMPORT=0 turns it off."""
    if os.environ.get("ADCOST_PREIMPORT", "1") == "0" or not (force or in_asv_forkserver()):
        return []
    import importlib

    done = []
    for name in FRAMEWORKS:
        if frameworks is not None and name not in frameworks:
            continue
        rec = records()[name]
        if rec.package and missing_reason(name) is None:
            import_framework(rec)
            for lazy in rec.lazy_imports:
                importlib.import_module(lazy)
            done.append(name)
    return done


def jacobian_modes() -> tuple[str, ...]:
    """Every Jacobian mode any swept adapter offers, installed or not: the core four first,
    then the others in record order (adapter classes import their framework lazily)."""
    modes = list(CORE_MODES)
    for name in FRAMEWORKS:
        modes += [m for m in REGISTRY[name].modes if m not in modes]
    return tuple(modes)


def dtype_for(framework: str) -> str:
    """SWEEP_DTYPE where the framework has it, else its only dtype (fd: float64)."""
    return sweep_dtype(_adapter(framework, left_out_ok=True).dtypes)


def sweep_dtype(dtypes) -> str:
    """The dtype the sweep runs an adapter with these dtypes at."""
    return SWEEP_DTYPE if SWEEP_DTYPE in dtypes else dtypes[0]


def estimate_bytes(op: str, n: int, m: int, depth: int, width: int, itemsize: int = 4) -> int:
    """Rough peak bytes of one call of `op` on the mlp problem: parameters, the activations
    of the tangents or cotangents pushed at once (three arrays per layer: value, derivative,
    tangent), the Jacobian, and the identity basis the loops and linearize_map hold."""
    params = n * width + (depth - 1) * width * width + width * m + depth * width + m
    layer_values = n + depth * width + m
    jac = 0 if op in PRODUCT_OPS + ("grad",) else m * n
    batch = {"n": n, "m": m}.get(_BATCH.get(op, ""), 1)
    basis = {"jacfwd_loop": n * n, "linearize_map": n * n, "jacrev_loop": m * m}.get(op, 0)
    if op == "fd":
        return itemsize * (params + 2 * jac + 2 * layer_values)
    return itemsize * (params + 3 * batch * layer_values + 2 * jac + basis)


# second-order operations that push n tangents (or n x n) through the activations at once
_TANGENTS = {"hvp_fwd_over_fwd": 1, "hessian_jacfwd_jacrev": 1, "hessian_jacrev_jacrev": 1,
             "hessian_jacfwd_jacfwd": 2, "hessian_jacrev_jacfwd": 2}


# Temporaries of one pass of a problem without layers, per element of its point, data and output
# (measured: a log-sum-exp jacfwd at n = 100 000 asked torch for 40 GB, n^2 floats)
WORKSPACE = 8


def estimate_problem_bytes(op: str, problem, itemsize: int = 4) -> int:
    """Rough peak bytes of `op` on a layered loss problem (mlp_loss, mlp_losses): the
    activations (value, derivative, tangent per layer) times the tangents pushed at once
    (n for fwd_over_fwd and the vectorized Hessians, n^2 for the doubly forward ones), plus the
    Hessian or the per-example Jacobian it returns.  A problem without layers (the workloads):
    WORKSPACE times its point, data and output per tangent or cotangent pushed at once."""
    meta = problem.meta
    if problem.layers is None and "width" not in meta:
        n, m = problem.n, problem.m
        elements = n + m + sum(int(np.size(v)) for v in problem.params.values()
                               if not isinstance(v, (bool, int, float)))
        batch = {"n": n, "m": m}.get(_BATCH.get(op, ""), 1) * n ** _TANGENTS.get(op, 0)
        output = n * n if op.startswith("hessian_") else n * m if _BATCH.get(op) else n + m
        return itemsize * (WORKSPACE * batch * elements + 2 * output)
    batch, width, depth = meta.get("batch") or 1, meta.get("width", 1), meta.get("depth", 1)
    activations = 3 * batch * (width * depth + meta.get("n_in", 0) + meta.get("n_out", 0))
    n, m = problem.n, problem.m
    tangents = n ** _TANGENTS.get(op, 0)
    output = n * n if op.startswith("hessian_") else n * m
    return itemsize * (2 * n + tangents * activations + 2 * output)


def memory_budget() -> int:
    """$ADCOST_MEMORY_BUDGET (checked by adcost.envvars: a bad value is one line, not a failed setup)."""
    raw = os.environ.get("ADCOST_MEMORY_BUDGET", "").strip()
    if not raw:
        return DEFAULT_MEMORY_BUDGET
    if not raw.isdigit():
        raise Skip(f"ADCOST_MEMORY_BUDGET must be a whole number of bytes; got {raw!r}")
    return int(raw)


class BenchState:
    """Which sizes of which computation timed out or ran over budget, per (grid, commit).

    Every read-modify-write holds an exclusive lock on a file beside it (`_locked`): the sweep's
    streams (adcost.sweep, one per CPU) run cases side by side, each noting its sizes in the
    same file, and an unlocked load-then-save of one would drop the other's note."""

    def __init__(self, path: Path | None = None, scope: str | None = None):
        self.path = Path(path or os.environ.get("ADCOST_BENCH_STATE") or state_folder() / "bench_state.json")
        if scope is None:
            from .measure.environment import git_commit
            commit = git_commit(checkout())
            scope = f"{grids.grid_name()}@{commit or 'no-commit'}"
        self.scope = scope

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def _locked(self):
        """An exclusive lock on `path`.lock for the block (fcntl; no lock where there is none)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:    # not POSIX: one process at a time is the caller's to ensure
            yield
            return
        with open(self.path.with_name(self.path.name + ".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _mine(self, data: dict) -> dict:
        return data.setdefault(self.scope, {"over": {}, "pending": {}})

    def blocked(self, key: str, size: tuple[int, ...]) -> str | None:
        """Why `size` of `key` should not run: a smaller-or-equal size already failed."""
        with self._locked():
            data = self._load()
            mine = self._mine(data)
            changed = False
            for pkey, mark in list(mine["pending"].items()):   # pending marks of dead processes
                if not _alive(mark["pid"]):
                    from .measure.load import overloaded
                    mine["over"].setdefault(mark["key"], []).append(
                        {"size": mark["size"], "reason": "process died (asv timeout?)",
                         "time": time.time(), "under_load": overloaded(os.getloadavg()[0])})
                    del mine["pending"][pkey]
                    changed = True
            if changed:
                self._save(data)
        now = time.time()
        for entry in mine["over"].get(key, []):
            if entry.get("under_load") or now - entry.get("time", now) > SKIP_TTL_S:
                continue   # taken under load, or old: it expires instead of sticking
            if all(a <= b for a, b in zip(entry["size"], size)):
                return f"size {tuple(entry['size'])} of {key}: {entry['reason']}; larger sizes skipped"
        return None

    def start(self, key: str, size: tuple[int, ...]) -> None:
        with self._locked():
            data = self._load()
            self._mine(data)["pending"][f"{key}{list(size)}"] = {"key": key, "size": list(size),
                                                                   "pid": os.getpid()}
            self._save(data)

    def finish(self, key: str, size: tuple[int, ...], over: str | None = None,
               seconds: float | None = None) -> None:
        from .measure.load import overloaded
        with self._locked():
            data = self._load()
            mine = self._mine(data)
            mine["pending"].pop(f"{key}{list(size)}", None)
            if seconds is not None:   # one call's seconds: what larger sizes' predictions read
                mine.setdefault("seconds", {}).setdefault(key, {})[repr(list(size))] = seconds
            if over:
                mine["over"].setdefault(key, []).append(
                    {"size": list(size), "reason": over, "time": time.time(),
                     "under_load": overloaded(os.getloadavg()[0])})
            self._save(data)

    def predicted(self, key: str, size: tuple[int, ...], axis: int) -> tuple[float, tuple, float] | None:
        """A lower bound on one call's seconds at `size`, for a computation whose work grows at
        least linearly in size[axis]: the seconds of the largest smaller size timed that
        differs in that size only, times the ratio of the two.  (seconds, that size, its
        seconds), or None when no such size was timed."""
        timed = self._load().get(self.scope, {}).get("seconds", {}).get(key, {})
        below = [(tuple(json.loads(k)), v) for k, v in timed.items()]
        below = [(s, v) for s, v in below if len(s) == len(size) and 0 < s[axis] < size[axis]
                 and all(a == b for i, (a, b) in enumerate(zip(s, size)) if i != axis)]
        if not below:
            return None
        base, seconds = max(below, key=lambda item: item[0][axis])
        return seconds * size[axis] / base[axis], base, seconds

    def refuse(self, key: str, size: tuple[int, ...], reason: str) -> None:
        """Note a case the validation gate refused (a wrong answer, not timed and not a crash)."""
        with self._locked():
            data = self._load()
            mine = self._mine(data)
            mine["pending"].pop(f"{key}{list(size)}", None)
            entries = mine.setdefault("refused", {})
            entries[f"{key}{list(size)}"] = {"key": key, "size": list(size), "reason": reason,
                                              "time": time.time()}
            self._save(data)

    def refusals(self, since: float = 0.0) -> list[dict]:
        """The gate's refusals of this scope noted at or after `since` (a time.time())."""
        entries = self._load().get(self.scope, {}).get("refused", {})
        return sorted((e for e in entries.values() if e.get("time", 0) >= since),
                      key=lambda e: (e["key"], e["size"]))


# a size whose lower-bound prediction (BenchState.predicted, for a case that names the size its
# work grows at least linearly in) is over this many times the call budget is skipped before it
# is built: finite differences of log-sum-exp at n = 100,000 (2n primal calls of O(n)) ran past
# asv's 300 s timeout after n = 10,000 took 0.6 s, under the 2 s budget
PREDICTED_OVER = 2.0


def checkout() -> Path:
    """The checkout being benchmarked.  asv runs benchmarks from a temporary folder, so it is
    the folder holding the benchmarks/ that asv imported, else the current directory."""
    module = sys.modules.get("benchmarks")
    folder = Path(getattr(module, "__file__", None) or ".").resolve().parent.parent
    return folder if (folder / "asv.conf.json").exists() else Path.cwd()


def state_folder() -> Path:
    """results/ of the checkout, or $ADCOST_RESULTS."""
    return paths.results() if os.environ.get("ADCOST_RESULTS") else checkout() / "results"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# asv (asv_runner 0.3, asv#966) re-runs a benchmark's setup before every sample after the
# first, for timed calls that change state.  Ours change none, and a new build before each
# sample timed every sample right after a build (the torch loss pass at depth 64: 9 ms per
# sample that way, 4.4 ms on the warm case): each process builds a case once.
_PREPARED: dict = {}


def once_per_process(key, build):
    """build() the first time `key` is asked for in this process, the same result (or the
    same Skip) after that."""
    if key not in _PREPARED:
        try:
            _PREPARED[key] = build()
        except Skip as exc:
            _PREPARED[key] = exc
    found = _PREPARED[key]
    if isinstance(found, Skip):
        raise found
    return found


def speed_log() -> Path:
    """Where the benchmarks log the machine's speed beside each case (measure.speed): beside the
    benchmark state file."""
    state = os.environ.get("ADCOST_BENCH_STATE")
    return (Path(state) if state else state_folder() / "bench_state.json").with_name(speed.LOG_NAME)


def speed_beside(benchmark, *params) -> float:
    """The machine's speed (measure.speed.probe, flop/s), probed once in this process right
    after the case's setup (asv's warm-up and samples follow) and logged under the benchmark's
    name ("suite.Class", or its instance) and parameters; the same value at asv's later setups
    of the process (asv#966)."""
    name = speed.key(benchmark, params) if isinstance(benchmark, str) else speed.key_of(benchmark, params)

    def measure_and_log():
        rate = speed.probe()
        speed.append(speed_log(), name, rate)
        return rate
    return once_per_process(("speed", name), measure_and_log)


def prepare_or_skip(framework: str, op: str, *, grow: tuple[str, ...] = ("n", "m"),
                    problem: str = PROBLEM, state: BenchState | None = None,
                    call_budget_s: float | None = None, linear_in: str | None = None,
                    left_out_ok: bool = False, **sizes):
    """`adcost.prepare(problem, framework, op)` at SWEEP_DTYPE, or Skip with the reason.

    `grow` names the sizes the sweep increases; the others (with problem, framework, op and
    dtype) identify the computation whose larger sizes are skipped after a failure.
    `linear_in`: a size of `grow` the work grows at least linearly in; a size predicted from a
    smaller one to take over PREDICTED_OVER x the call budget is skipped unbuilt.
    `left_out_ok`: run a framework the grid leaves out (the compile break-even's pairs).
    The result (a Case or the Skip) is remembered for the process's later calls.
    """
    memo = (framework, op, grow, problem, tuple(sorted(sizes.items())), left_out_ok)
    return once_per_process(memo, lambda: _prepare_or_skip(framework, op, grow, problem, state,
                                                           call_budget_s, sizes, linear_in,
                                                           left_out_ok))


def _prepare_or_skip(framework, op, grow, problem, state, call_budget_s, sizes, linear_in=None,
                     left_out_ok=False):
    from .cases import prepare

    skip_if(op_reason(framework, op, left_out_ok))
    dtype = dtype_for(framework)
    grid = grids.crossover()
    from .problems import size_names
    defaults = {"depth": grid["fixed_depth"], "width": grid["width"]}
    full = {**{k: v for k, v in defaults.items() if k in size_names(problem)}, **sizes}
    if problem == PROBLEM:
        need = estimate_bytes(op, full.get("n", 1), full.get("m", 1), full["depth"], full["width"],
                              _ITEMSIZE[dtype])
    else:
        from .problems import make_problem
        need = estimate_problem_bytes(op, make_problem(problem, **sizes), _ITEMSIZE[dtype])
    if need > memory_budget():
        raise Skip(f"{op} at {sizes} needs about {need / GiB:.1f} GiB, over the "
                   f"{memory_budget() / GiB:.1f} GiB budget (ADCOST_MEMORY_BUDGET)")
    state = state or BenchState()
    fixed = ",".join(f"{k}={v}" for k, v in sorted(full.items()) if k not in grow)
    key = f"{problem}/{framework}/{op}/{dtype}/{fixed}"
    size = tuple(full[k] for k in grow)
    reason = state.blocked(key, size)
    if reason:
        raise Skip(reason)
    budget = grid["call_budget_s"] if call_budget_s is None else call_budget_s
    guess = None if linear_in is None else state.predicted(key, size, grow.index(linear_in))
    if guess is not None and guess[0] > PREDICTED_OVER * budget:
        raise Skip(f"size {size} of {key}: one call would take at least {guess[0]:.1f} s (size "
                   f"{guess[1]} took {guess[2]:.2f} s, and the work grows at least linearly in "
                   f"{linear_in}), over {PREDICTED_OVER:g} x the {budget} s budget")
    state.start(key, size)
    try:
        # no extra warm-up call: prepare's first call (validated) is the cold one, the call
        # timed against the budget below is the second, and asv's time-based warm-up
        # (grids.TIMING) follows before any sample; a slow case (a loop mode at n = 512, a
        # Hessian by HVPs, width 2048 at n = 1024: 0.3-1 s a call) pays for every extra call
        case = prepare(problem, framework, op, dtype=dtype, warmup=0, **full)
    except Unsupported as exc:
        state.finish(key, size)
        raise Skip(str(exc)) from None
    except ValidationError as exc:   # a wrong answer: refused and noted, never timed
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        state.refuse(key, size, reason)
        raise Skip(f"refused by the validation gate: {reason}") from None
    except Exception:          # a crash is reported as a failure, not a timeout
        state.finish(key, size)
        raise
    start = time.perf_counter()
    case()
    seconds = time.perf_counter() - start
    state.finish(key, size, f"one call took {seconds:.2f} s (budget {budget} s)"
                 if seconds > budget else None, seconds=seconds)
    return case


def require(op: str):
    """A function-level asv setup that skips a method whose op the framework lacks.

    For classes timing two ops in one setup (Products): class setups run first, then this.
    """
    def setup(framework, *params):
        from .frameworks.base import get_framework
        from .problems import make_problem
        _adapter(framework)   # missing, left out, or no such device: skip with that reason
        reason = get_framework(framework, dtype_for(framework)).supports(make_problem(PROBLEM), op)
        if reason:
            raise Skip(reason)
    return setup


def prepare_some(framework: str, ops: tuple[str, ...], **sizes) -> dict:
    """{op: Case} for those of `ops` that run; Skip (with every reason) when none does."""
    cases, reasons = {}, []
    for op in ops:
        try:
            cases[op] = prepare_or_skip(framework, op, **sizes)
        except Skip as exc:
            reasons.append(str(exc))
    if not cases:
        raise Skip("; ".join(reasons))
    return cases


ORIENTS = ("N", "T")   # a row product's weight as stored (X @ W) or transposed (X @ W^T)


def roofline_problem(kernel: str, size: int, rows: int = 1, orient: str = "N"):
    """The roofline's kernels, A and B (size, size) seeded: "matmul" f(x) = A @ B flattened
    (compute-bound: 2 size^3 FLOPs), "matvec" f(x) = A @ x, x in R^size (memory-bound: A's
    4 size^2 bytes read once per call at float32), "copy" f(x) = A * x flattened, x in R^1
    (A read once and a matrix of its size written: the traffic of a pass that copies or
    transposes a weight; the cost model's weight passes), and "product": `rows` rows X through a
    (size, size) weight W, X @ W ("N": a layer's forward, as the primal and jacfwd push their
    rows) or X @ W^T ("T": its transpose, as jacrev pulls its cotangents back), flattened."""
    from .problems import Problem

    rng = np.random.default_rng(size)
    if kernel == "product":
        if orient not in ORIENTS:
            raise ValueError(f"orient must be one of {', '.join(ORIENTS)}; got {orient!r}")
        params = {"X": rng.standard_normal((rows, size)), "W": rng.standard_normal((size, size))}
        if orient == "N":
            fn = lambda xp, x, p: xp.reshape(xp.matmul(p["X"], p["W"]), (rows * size,))  # noqa: E731
        else:
            fn = lambda xp, x, p: xp.reshape(xp.matmul(p["X"], xp.transpose(p["W"])),  # noqa: E731
                                             (rows * size,))
        return Problem("product", 1, rows * size, np.zeros(1), fn, params,
                       {"arch": "product", "size": size, "rows": rows, "orient": orient})
    if kernel == "matmul":
        params = {"A": rng.standard_normal((size, size)), "B": rng.standard_normal((size, size))}
        return Problem("matmul", 1, size * size, np.zeros(1),
                       lambda xp, x, p: xp.reshape(xp.matmul(p["A"], p["B"]), (size * size,)),
                       params, {"arch": "matmul", "size": size})
    if kernel == "copy":
        params = {"A": rng.standard_normal((size, size))}
        return Problem("copy", 1, size * size, np.ones(1),
                       lambda xp, x, p: xp.reshape(p["A"] * x, (size * size,)),
                       params, {"arch": "copy", "size": size})
    if kernel == "matvec":
        params = {"A": rng.standard_normal((size, size))}
        return Problem("matvec", size, size, rng.standard_normal(size),
                       lambda xp, x, p: xp.matmul(p["A"], x), params, {"arch": "matvec", "size": size})
    raise ValueError(f"unknown roofline kernel {kernel!r}")


def roofline_case(framework: str, kernel: str, size: int, **shape):
    """A validated, warmed primal Case of a roofline kernel at the framework's sweep dtype
    (`shape`: a product's rows and orient)."""
    from .cases import prepare

    _adapter(framework)
    try:
        return prepare(roofline_problem(kernel, size, **shape), framework, "primal",
                       dtype=dtype_for(framework))
    except Unsupported as exc:
        raise Skip(str(exc)) from None


def product_seconds(case) -> float:
    """The median seconds of one call of a row-product case (calibrated repeats), its
    framework's per-call cost included (the cost model takes the smallest call's off)."""
    from .measure.timing import measure

    return float(measure(case, repeats=7, min_time=0.02)["median_s"])


def roofline_rate(case) -> float:
    """FLOP/s of a matmul case (2 size^3 per call) or bytes/s of a matvec or copy case (A's
    bytes per call; a copy writes as many again): over the median seconds of one call
    (calibrated repeats)."""
    from .measure.timing import measure

    size, kernel = case.problem.meta["size"], case.problem.meta["arch"]
    work = 2.0 * size ** 3 if kernel == "matmul" else float(size * size * _ITEMSIZE[case.framework.dtype])
    return work / measure(case, repeats=7, min_time=0.05)["median_s"]


def fwd_over_rev(forward, reverse, benchmark=None, *params) -> float:
    """T(forward) / T(reverse) of two warm cases timed in interleaved rounds in this process
    (measure_paired: each round times both at the machine's speed of that moment; the median of
    the rounds' ratios), with the grid's rounds and least seconds per sample.  Given the
    benchmark and its parameters, both modes' median seconds are logged with the speed probed
    beside them (speed_beside; the results' `paired_forward_s` / `paired_reverse_s`): two
    times taken at one speed, which the ratio alone does not give back."""
    from .measure.timing import measure_paired

    timing = grids.timing()
    got = measure_paired({"forward": forward, "reverse": reverse}, baseline="reverse",
                         rounds=timing["paired_rounds"], min_time=timing["paired_min_s"])
    if benchmark is not None:
        name = speed.key_of(benchmark, params)
        speed.append(speed_log(), name, speed_beside(benchmark, *params),
                     timed={"forward_s": got["forward"]["median_s"],
                            "reverse_s": got["reverse"]["median_s"]})
    return 1.0 + got["forward"]["overhead"]


def cost_table(frameworks, ops, ns, ms) -> dict[str, dict]:
    """Compile seconds and FLOPs of every (framework, op, n, m), each case prepared once in this
    one process (asv's setup_cache): per-process framework imports would cost far more than
    the figures.  Entries hold {"compile_s", "flops"}, or {"skip": reason} or {"error": text}."""
    from .measure.flops import count_flops

    table = {}
    for framework, op, n, m in itertools.product(frameworks, ops, ns, ms):
        key = f"{framework}/{op}/{n}/{m}"
        try:
            case = _prepare_or_skip(framework, op, ("n", "m"), PROBLEM, None, None, {"n": n, "m": m})
            table[key] = {"compile_s": case.compile_s, "flops": count_flops(case)}
        except Skip as exc:
            table[key] = {"skip": str(exc)}
        except Exception as exc:   # one broken case must not lose the others' figures
            table[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return table


_NONE_REASON = {"compile_s": "has no ahead-of-time compile step", "flops": "has no FLOP count"}


def from_table(table: dict, figure: str, framework: str, op: str, n: int, m: int) -> float:
    """One figure of `cost_table`, or Skip / RuntimeError as the case went."""
    entry = table[f"{framework}/{op}/{n}/{m}"]
    if "skip" in entry:
        raise Skip(entry["skip"])
    if "error" in entry:
        raise RuntimeError(entry["error"])
    if entry[figure] is None:
        raise Skip(f"{framework}/{op} {_NONE_REASON[figure]}")
    return entry[figure]
