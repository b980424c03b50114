"""The protocol every framework adapter implements, its record, and the registry that finds them.

An adapter turns a Problem into native callables, one per operation (see adcost.ops).  Every
callable takes `(params, x, *extra)` with native arrays (params: the problem's parameters in
the adapter's dtype and device) and returns native arrays:

    primal(params, x)                 -> y                     shape (m,)
    jvp(params, x, v)                 -> (y, J v)
    vjp(params, x, u)                 -> (y, J^T u)
    grad(params, x)                   -> grad f               shape (n,), m == 1 only
    <jacobian mode>(params, x[, basis]) -> J                   shape (m, n)
    ckpt_grad(params, theta)          -> gradient under a checkpoint schedule (layered problems;
                                         `theta` is the adapter's own layout of the parameters)

Everything adcost knows about a framework sits in its `Record`, on the adapter class; every
table (benchmark lists, lazy imports, thread variables, version probe, tolerances,
capabilities) is derived from the records.  Adding a framework is one module in this folder
(found by `discover`) or one `register(Record(...))` call from anywhere (docs/extending.md).
The loops (`jacfwd_loop`: n JVPs, `jacrev_loop`: m VJPs) are written here once on top of the
adapter's jvp and vjp.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from .. import ops as operations

DTYPES = ("float32", "float64")
PRODUCTS = ("primal", "jvp", "vjp", "grad")
CORE_MODES = ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop")


@dataclass(frozen=True)
class Record:
    """One framework, in one place.

    name           what users type (`--framework tf`)
    package        the Python package the adapter imports (None: nothing beyond NumPy)
    distributions  pip distributions whose versions every result records
    lazy_imports   modules the framework imports on first use (asv's forkserver imports them once)
    thread_vars    environment variables that size its thread pools (ADCOST_THREADS sets them)
    environment    variables set (if unset) before the package is imported
    kernel_vars    environment variables that choose its kernels; every result records their
                   values (unset: the framework's own default)
    quiet_import   whether what its native libraries print while it is imported (start-up
                   notices written before any log setting applies) is held back: shown only
                   when the import fails
    sweep          whether the benchmark sweep runs it
    order          its place in every listing
    tolerance      dtype -> relative error the gate allows, where it differs from the default
    schedules      checkpoint schedules its `ckpt_grad` runs (empty: no checkpointing)
    saved_bytes    how it reports the bytes kept for the backward pass, or None: it cannot
    flops          how it counts FLOPs, or None: it does not
    notes          mode -> the call behind it
    check_problems the problems `adcost check` validates by default (None: every problem); an
                   adapter whose every case compiles for seconds checks a few, the rest on request
    studies        the sweep's studies it runs in (None: every one; see adcost.bench.STUDIES)
    variant_of     the framework it is a compiled or eager variant of (compile break-even pairs)
    compiled       whether its operations are compiled ahead of the timed calls (jax.jit,
                   tf.function, torch.compile): the compiled side of a break-even pair
    hints          (words in one of its errors, what to write instead) for a function written
                   against `xp` that it cannot run (error_line; a variant has its base's too)
    """

    name: str
    package: str | None = None
    distributions: tuple[str, ...] = ()
    lazy_imports: tuple[str, ...] = ()
    thread_vars: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    kernel_vars: tuple[str, ...] = ()
    quiet_import: bool = False
    sweep: bool = True
    order: int = 50
    tolerance: Mapping[str, float] = field(default_factory=dict)
    schedules: tuple[str, ...] = ()
    saved_bytes: str | None = None
    flops: str | None = None
    notes: Mapping[str, str] = field(default_factory=dict)
    check_problems: tuple[str, ...] | None = None
    studies: tuple[str, ...] | None = None
    variant_of: str | None = None
    compiled: bool = False
    hints: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MemoryPool:
    """A framework allocator's statistics (Framework.memory_pool): bytes in use now, the peak
    bytes in use since the last reset, and the reset."""
    in_use: Callable[[], int]
    peak: Callable[[], int]
    reset: Callable[[], None]


REGISTRY: dict[str, type["Framework"]] = {}


class Variant:
    """Mixed in before an adapter: its compiled or eager variant, which offers the products, the
    gradient and the vectorized Jacobians only (what the compile break-even compares)."""
    modes = ("jacfwd", "jacrev")
    second_order = ()
    per_example = ()

    @classmethod
    def ops(cls) -> tuple[str, ...]:
        return PRODUCTS + cls.modes


class Unsupported(Exception):
    """The adapter cannot run this (problem, operation); the message says why."""


class NoDevice(Unsupported, ValueError):
    """The adapter cannot run on the device asked for: it has no such kind of device, or this
    machine has none (a benchmark skips with the reason; the library raises it)."""


DEVICE_VARIABLE = "ADCOST_DEVICE"
DEVICE_KINDS = ("cpu", "cuda", "gpu")   # "cuda:1" is the second CUDA device; gpu = cuda


def default_device(environ=None) -> str:
    """The device a case runs on unless it names one: $ADCOST_DEVICE (set by `adcost.sweep
    --device`), else the CPU."""
    import os
    return ((os.environ if environ is None else environ).get(DEVICE_VARIABLE) or "cpu").strip()


def variant_pairs() -> list[tuple[str, str]]:
    """(compiled, eager) framework pairs, one per Record.variant_of, the compiled side named by
    Record.compiled: (torch_compile, torch), (jax, jax_eager), (tf, tf_eager)."""
    found = records()
    out = []
    for variant, rec in found.items():
        base = rec.variant_of
        if base is None or base not in found or rec.compiled == found[base].compiled:
            continue
        out.append((variant, base) if rec.compiled else (base, variant))
    return out


def device_reasons(device: str, names) -> dict[str, str]:
    """Why each of `names` cannot run on `device` here (those that can are left out): its
    adapter is built on the device (importing the framework)."""
    reasons = {}
    for name in names:
        reason = missing_reason(name)
        if reason is None:
            try:
                cls = framework_class(name)
                cls(dtype=cls.dtypes[0], device=device)
            except (Unsupported, FrameworkMissing) as exc:
                reason = str(exc)
        if reason:
            reasons[name] = reason
    return reasons


_DEVICE_REASONS: dict = {}


def device_reason(name: str) -> str | None:
    """Why `name` cannot run on $ADCOST_DEVICE here (None: it can, or the device is the CPU);
    asked once per process and device."""
    device = default_device()
    if device == "cpu":
        return None
    key = (device, name)
    if key not in _DEVICE_REASONS:
        _DEVICE_REASONS[key] = device_reasons(device, [name]).get(name)
    return _DEVICE_REASONS[key]


def check_device(text: str) -> None:
    """ValueError unless `text` is cpu, cuda, gpu, optionally with :N."""
    kind, _, index = text.partition(":")
    if kind not in DEVICE_KINDS or not (index or "0").isdigit():
        raise ValueError(f"device must be one of {', '.join(DEVICE_KINDS)} (optionally ':N'); got {text!r}")


class MissingOperation(Unsupported, AttributeError):
    """The engine's array namespace has no such operation (adcost.namespace)."""


# what to write instead of an `if` on a value of x, where a framework traces the function
TRACED_BRANCH = ("a Python `if` on a value of x cannot be traced: xp.where(condition, a, b) "
                 "computes both sides in every engine")


def explanation(lines: list[str], most: int = 300) -> str | None:
    """torch.compile's "Explanation: ..." line of an error's `lines`, with the lines after it that
    a value's repr spilled onto (a tensor's rows: brackets left open), on one line, cut at `most`
    characters."""
    start = next((i for i, line in enumerate(lines) if i and line.startswith("Explanation:")), None)
    if start is None:
        return None
    text = lines[start].split(":", 1)[1].strip()
    for line in lines[start + 1:]:
        if sum(text.count(o) - text.count(c) for o, c in ("()", "[]", "{}")) <= 0:
            break
        text = f"{text} {line}"
    return text if len(text) <= most else text[:most - 1].rstrip() + "…"


def error_line(exc: BaseException, framework: str | None = None) -> str:
    """One line saying what `exc` was: its type and its message's first line, or its last where
    the first only introduces a trace (TensorFlow's "in user code:"), with the line torch.compile
    explains its error in ("Explanation: ..."), and a hint where `framework`'s record has one
    (Record.hints; a variant's base's too: torch's for torch_compile)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = (lines[-1] if lines[0].endswith(":") else lines[0]) if lines else ""
    explained = explanation(lines)
    if explained:
        text = f"{text}: {explained}"
    found = records() if framework else {}
    rec = found.get(framework)
    hints = (rec.hints + (found[rec.variant_of].hints if rec.variant_of in found else ())
             if rec else ())
    hint = next((h for words, h in hints if words in str(exc)), None)
    said = (text if text.startswith(f"{type(exc).__name__}:") else
            f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
    return f"{said} ({hint})" if hint else said


class FrameworkMissing(Unsupported):
    """The framework's Python package is not installed."""


def register(record: Record):
    """Class decorator: make an adapter findable by `get_framework(record.name)`."""
    def deco(cls):
        cls.record = record
        cls.name = record.name
        REGISTRY[record.name] = cls
        return cls
    return deco


_discovered = False


def discover() -> None:
    """Import every adapter module of this folder once (they import their framework lazily)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")


def records() -> dict[str, Record]:
    """Every registered framework's record, in listing order."""
    discover()
    ordered = sorted(REGISTRY.values(), key=lambda cls: (cls.record.order, cls.record.name))
    return {cls.record.name: cls.record for cls in ordered}


def names() -> tuple[str, ...]:
    return tuple(records())


FRAMEWORKS_VARIABLE = "ADCOST_FRAMEWORKS"


def only(names, environ=None) -> tuple[str, ...]:
    """`names` less those $ADCOST_FRAMEWORKS (a comma list; unset: all) leaves out: the
    benchmarks list only the chosen frameworks (a release comparison runs one framework)."""
    import os
    text = (os.environ if environ is None else environ).get(FRAMEWORKS_VARIABLE)
    if not text:
        return tuple(names)
    wanted = {w.strip() for w in text.split(",") if w.strip()}
    return tuple(n for n in names if n in wanted)


def check_framework_list(text: str) -> None:
    """ValueError naming an unknown framework in a $ADCOST_FRAMEWORKS value."""
    known = records()
    names = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise ValueError(f"{FRAMEWORKS_VARIABLE} must be a comma list of frameworks ({', '.join(known)}); "
                         f"got {text!r}")


def sweep_frameworks() -> tuple[str, ...]:
    """The frameworks the benchmark sweep lists, installed or not (a missing one skips), less
    those $ADCOST_FRAMEWORKS leaves out."""
    return only(name for name, rec in records().items() if rec.sweep)


def missing_reason(name: str) -> str | None:
    """Why framework `name` cannot be used here, or None when it can."""
    found = records()
    if name not in found:
        return f"unknown framework {name!r}; choose from {', '.join(found)}"
    package = found[name].package
    if package and importlib.util.find_spec(package) is None:
        return f"{name}: Python package '{package}' is not installed"
    return None


def available_frameworks() -> list[str]:
    """Names of the frameworks usable in this environment, sorted."""
    return sorted(name for name in records() if missing_reason(name) is None)


def framework_class(name: str) -> type["Framework"]:
    reason = missing_reason(name)
    if reason is not None:
        if name not in REGISTRY:
            raise ValueError(reason)
        raise FrameworkMissing(reason)
    return REGISTRY[name]


def get_framework(name: str, dtype: str = "float64", device: str | None = None) -> "Framework":
    """An adapter instance; ValueError for unknown names or dtypes, FrameworkMissing if absent."""
    return framework_class(name)(dtype=dtype, device=device)


def no_saved_bytes(record: Record) -> str | None:
    """Why a framework reports no saved bytes (None when it does): from its record, no import."""
    if record.saved_bytes:
        return None
    why = record.notes.get("saved_bytes", f"{record.name} has no record of what its backward pass keeps")
    return f"{why}; its memory figures are the analytic bytes and peak RSS"


def import_framework(record: Record) -> Any:
    """Import the record's package (after setting its environment defaults) and return it."""
    import os
    # every record's defaults, not only this one's: a library imported first can set up the
    # C++ log others share (torch before TensorFlow: TensorFlow's grappler then logged
    # "Not handling type DT_DOUBLE" 284 times in `adcost check` of mlp_loss, its
    # TF_CPP_MIN_LOG_LEVEL set too late)
    for other in REGISTRY.values():
        for key, value in other.record.environment.items():
            os.environ.setdefault(key, value)
    if not record.quiet_import or record.package in sys.modules:
        return importlib.import_module(record.package)
    return _import_holding_stderr(record.package)


def _import_holding_stderr(package: str) -> Any:
    """Import `package` holding what C++ libraries write to stderr (holding_stderr); it is
    shown only if the import fails."""
    with holding_stderr():
        return importlib.import_module(package)


@contextlib.contextmanager
def holding_stderr(show_on_error: bool = True):
    """File descriptor 2 pointed at a temporary file for the block (C++ libraries write there
    directly, past sys.stderr: TensorFlow's absl log, once it is set up, ignores
    TF_CPP_MIN_LOG_LEVEL); what it held is shown only if the block raises, and then only
    where `show_on_error`."""
    import os
    import tempfile
    sys.stderr.flush()
    saved, failed = os.dup(2), False
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed and show_on_error:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
                sys.stderr.flush()


class Framework:
    """Base of all adapters: capability checks, the loops, and the build step."""

    record: ClassVar[Record]
    name: ClassVar[str] = "?"
    modes: ClassVar[tuple[str, ...]] = CORE_MODES   # Jacobian modes this adapter offers
    # second-order operations (adcost.ops.SECOND_ORDER_OPS) and per-example gradient routes
    # (adcost.ops.PER_EXAMPLE_OPS) this adapter implements; `hessian_hvp_loop` and
    # `pe_grad_loop` are written here once, on the adapter's HVP and gradient
    second_order: ClassVar[tuple[str, ...]] = ()
    per_example: ClassVar[tuple[str, ...]] = ()
    dtypes: ClassVar[tuple[str, ...]] = DTYPES
    devices: ClassVar[tuple[str, ...]] = ("cpu", "cuda", "gpu")  # "cuda:1" counts as cuda

    def __init__(self, dtype: str = "float64", device: str | None = None):
        device = device or default_device()
        if dtype not in self.dtypes:
            raise ValueError(f"{self.name}: dtype must be one of {', '.join(self.dtypes)}; got {dtype!r}")
        if device.split(":")[0] not in self.devices:
            raise NoDevice(f"{self.name}: device must be one of {', '.join(self.devices)}; got {device!r}"
                           + (" (it runs on the CPU only)" if self.devices == ("cpu",) else ""))
        self.dtype = dtype
        self.device = device

    # -- what an adapter provides -------------------------------------------------
    def asarray(self, a: np.ndarray) -> Any:
        """A NumPy array as a native array of this adapter's dtype and device."""
        raise NotImplementedError

    def asindex(self, a: np.ndarray) -> Any:
        """An integer or boolean NumPy array as a native array of its own kind (indices)."""
        return a

    def to_numpy(self, out: Any) -> np.ndarray:
        return np.asarray(out)

    def stack(self, arrays: list, axis: int) -> Any:
        raise NotImplementedError

    def block(self, out: Any) -> None:
        """Wait until `out` is computed (the framework's sync); eager CPU code needs nothing."""

    def memory_pool(self) -> "MemoryPool | None":
        """The framework's own allocator, where it keeps the pages it once used instead of
        handing them back to malloc: after a warm-up call the process's RSS no longer moves,
        so a peak-RSS probe reads the pool's own peak instead (measure.memory).  None (the
        default): freed memory leaves the process and its RSS shows each call's peak."""
        return None

    def unsupported(self, problem, op: str, schedule: str | None = None) -> str | None:
        """Problem-specific reason this adapter cannot run `op` (under checkpoint `schedule`),
        or None."""
        return None

    def compile(self, fn: Callable, args: tuple) -> tuple[Callable, float | None]:
        """Compile ahead of time where the framework can; returns (callable, seconds or None)."""
        return fn, None

    def scope(self):
        """A context every build and first call runs in (JAX: its float64 switch)."""
        return contextlib.nullcontext()

    # -- capabilities --------------------------------------------------------------
    @classmethod
    def ops(cls) -> tuple[str, ...]:
        return (PRODUCTS + cls.modes + ("jacfwd_seeded",)
                + (("ckpt_grad",) if cls.record.schedules else ()) + cls.second_order + cls.per_example)

    @classmethod
    def tolerance(cls, dtype: str) -> float | None:
        """The gate's tolerance for this framework, None for the default of the dtype."""
        return cls.record.tolerance.get(dtype)

    def supports(self, problem, op: str, schedule: str | None = None) -> str | None:
        """None when `op` can run on `problem`, else the reason it cannot."""
        if op not in self.ops():
            family = ("second_order" if op in operations.SECOND_ORDER_OPS else
                      "per_example" if op in operations.PER_EXAMPLE_OPS else None)
            why = self.record.notes.get(op) or self.record.notes.get(family)
            return f"{self.name} has no operation {op!r}" + (
                f": {why}" if why else f" (it has {', '.join(self.ops())})")
        if operations.describe(op).scalar and problem.m != 1:
            return f"{op} needs a scalar output; {problem.name} has m = {problem.m}"
        if op == "jacfwd_seeded" and problem.meta.get("seeds") is None:
            return (f"jacfwd_seeded needs seed directions (a structured Jacobian such as ba_blocks'); "
                    f"{problem.name} has none")
        if op in operations.PER_EXAMPLE_OPS and not problem.meta.get("per_example"):
            return (f"{op} needs per-example losses (a problem whose outputs are one loss per "
                    f"example, such as mlp_losses); {problem.name} is not one")
        if op == "ckpt_grad":
            if problem.layers is None:
                return f"{problem.name} has no layers to checkpoint"
            if schedule not in self.record.schedules:
                return (f"{self.name} has no {schedule!r} checkpoint schedule "
                        f"(it has {', '.join(self.record.schedules)})")
        return self.unsupported(problem, op, schedule)

    def saved_bytes(self, case) -> int:
        """Bytes the framework reports keeping for the backward pass of `case` (ckpt_grad)."""
        raise Unsupported(no_saved_bytes(self.record))

    def flops(self, case) -> float | None:
        """FLOPs of one call of `case`, counted as `record.flops` says; None where not counted."""
        return None

    def temp_bytes(self, case) -> int | None:
        """The compiler's own figure for the temporary buffers of `case`; None where none."""
        return None

    # -- building ------------------------------------------------------------------
    def params(self, problem) -> dict[str, Any]:
        """The problem's array data as native arrays: floats in this dtype, integers kept
        integer (Python scalars are bound into `function`, see Problem.bound)."""
        return {k: self.datum(v) for k, v in problem.params.items()
                if not isinstance(v, (bool, int, float))}     # scalars: bound into the function

    def datum(self, value) -> Any:
        a = np.asarray(value)
        return self.asindex(a) if a.dtype.kind in "iub" else self.asarray(a.astype(self.dtype))

    def function(self, problem) -> Callable:
        """f(params, x) in this framework's namespace."""
        xp = self.xp
        fn = problem.bound
        return lambda params, x: fn(xp, x, params)

    def build(self, problem, op: str, x=None, v=None, u=None, schedule: str | None = None,
              slots: int = 4) -> tuple[Callable, tuple]:
        """The native callable for `op` and its native arguments, ready to call as fn(*args)."""
        reason = self.supports(problem, op, schedule)
        if reason is not None:
            raise Unsupported(reason)
        with self.scope():
            if op == "ckpt_grad":
                return self.op_ckpt_grad(problem, schedule, slots)
            f = self.function(problem)
            f.problem = problem     # the per-example routes read which data is batched
            args: tuple = (self.params(problem), self.asarray(problem.point(x, self.dtype)))
            if op == "pe_grad_loop":    # one example's data per call, sliced before timing
                args = (self.examples(problem, args[0]), args[1])
            extra = operations.extra_argument(op, problem, v, u, self.dtype)
            if extra is not None:
                if extra.ndim == 1:
                    args += (self.asarray(extra),)
                elif operations.describe(op).extra == "seeds":
                    args += (tuple(self.asarray(row) for row in extra),)
                else:
                    args += (self.basis(len(extra)),)
            return getattr(self, "op_" + op)(f), args

    def basis(self, size: int) -> tuple:
        eye = np.eye(size, dtype=self.dtype)
        return tuple(self.asarray(row) for row in eye)

    # -- the loops, shared by every adapter ------------------------------------------
    def op_jacfwd_loop(self, f):
        jvp = self.op_jvp(f)
        return self._loop(jvp, axis=1)

    def op_jacfwd_seeded(self, f):
        """J S, one JVP per seed direction (a structured problem's k seeds, not the n basis
        vectors): each JVP pushes its direction through every block at once."""
        return self._loop(self.op_jvp(f), axis=1)

    def op_jacrev_loop(self, f):
        vjp = self.op_vjp(f)
        return self._loop(vjp, axis=0)

    def _loop(self, product, axis: int):
        """Stack the product of every basis vector; `.product` exposes the single product so
        that `compile` can trace it ahead of time."""
        def loop(params, x, basis):
            return self.stack([product(params, x, e)[1] for e in basis], axis=axis)
        loop.product = product
        return loop

    # -- second order and per-example gradients, shared ----------------------------------
    def op_hessian_hvp_loop(self, f):
        """H by n forward-over-reverse HVPs, one per basis vector (H is symmetric: its columns)."""
        hvp = self.op_hvp_fwd_over_rev(f)

        def loop(params, x, basis):
            return self.stack([hvp(params, x, e) for e in basis], axis=1)
        loop.product = hvp
        return loop

    def examples(self, problem, params) -> tuple:
        """The problem's data split into one-example dicts (batched entries sliced to 1 row)."""
        batched = problem.meta["per_example"]
        size = problem.meta["batch"]
        return tuple({k: (v[i:i + 1] if k in batched else v) for k, v in params.items()}
                     for i in range(size))

    @staticmethod
    def example_loss(f, params):
        """(one example's loss as fn(x, row), the batched data rows): what a vmap maps over;
        each row is given back its batch axis of one, so the problem's fn runs unchanged."""
        batched = f.problem.meta["per_example"]
        shared = {k: v for k, v in params.items() if k not in batched}

        def loss(x, row):
            return f({**shared, **{k: r[None] for k, r in row.items()}}, x)[0]
        return loss, {k: params[k] for k in batched}

    def op_pe_grad_loop(self, f):
        """Per-example gradients: the gradient of each example's loss, one call per example."""
        grad = self.op_grad(f)

        def loop(examples, x):
            return self.stack([grad(example, x) for example in examples], axis=0)
        loop.product = grad
        loop.product_args = lambda args: (args[0][0], args[1])
        return loop

    # -- checkpointing ---------------------------------------------------------------
    def op_ckpt_grad(self, problem, schedule: str, slots: int) -> tuple[Callable, tuple]:
        raise Unsupported(f"{self.name} has no checkpointed gradient")

    def flat_gradient(self, out) -> np.ndarray:
        """A ckpt_grad result (the adapter's own parameter layout) as the flat (n,) gradient."""
        return np.asarray(self.to_numpy(out))
