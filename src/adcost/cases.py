"""A case is one (problem, framework, operation, dtype) made ready to time.

`prepare` builds the native callable, compiles it where the framework compiles ahead of
time, runs it once and validates that output, then warms it up.  Calling the case runs
only the operation and the framework's sync; everything else happened before.  Every
operation goes through here: products, Jacobian modes, and checkpointed gradients
(`op="ckpt_grad"` with a `schedule`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import ops, validate
from .frameworks.base import Framework, default_device, error_line, get_framework
from .problems import Problem, make_problem


@dataclass(eq=False)
class Case:
    """A warmed, validated operation.  `case()` runs it once and waits for the result."""

    problem: Problem
    framework: Framework
    op: str
    fn: Callable
    args: tuple
    compile_s: float | None = None      # ahead-of-time compile (JAX), else None
    first_call_s: float = 0.0           # the first call: tracing, lazy compile, caches
    error: float | None = None          # max relative error against the reference
    dot_error: float | None = None      # dot-product test error (jvp and vjp cases)
    reference: str | None = None        # engine that produced the float64 reference
    validated: Any = None               # the first call's output as NumPy, when it was validated
    options: dict = field(default_factory=dict)   # schedule and slots of a ckpt_grad
    source: Callable | None = None      # the built callable before compile (its attributes)
    _run: Callable[[], None] = field(init=False, repr=False)

    def __post_init__(self):
        fn, args, block = self.fn, self.args, self.framework.block

        def run():
            block(fn(*args))
        self._run = run

    def __call__(self) -> None:
        self._run()

    def output(self):
        """One more run, returned as NumPy (a tuple for jvp and vjp)."""
        return to_numpy(self.framework, self.op, self.fn(*self.args))

    def at(self, x=None, v=None, u=None):
        """The operation at another point (and direction), without a rebuild or recompile:
        the same native callable, new native arguments; returned as NumPy."""
        if self.op == "ckpt_grad":
            raise ValueError("a checkpointed gradient runs at the point it was prepared for")
        fw, p = self.framework, self.problem
        with fw.scope():
            args = list(self.args)
            args[1] = fw.asarray(p.point(x, fw.dtype))
            extra = ops.extra_argument(self.op, p, v, u, fw.dtype)
            if extra is not None and extra.ndim == 1:
                args[2] = fw.asarray(extra)
            return to_numpy(fw, self.op, self.fn(*args))

    @property
    def label(self) -> str:
        extra = "".join(f"/{v}" for v in self.options.values())
        return f"{self.problem.name}/{self.framework.name}/{self.op}{extra}/{self.framework.dtype}"

    def describe(self) -> dict[str, Any]:
        """What a result file records about this case."""
        return {"problem": self.problem.name, **self.problem.sizes, "framework": self.framework.name,
                "op": self.op, **self.options, "dtype": self.framework.dtype,
                "device": self.framework.device, "compile_s": self.compile_s,
                "first_call_s": self.first_call_s, "error": self.error,
                "dot_error": self.dot_error, "reference": self.reference}


def to_numpy(framework: Framework, op: str, out):
    if op == "ckpt_grad":
        return framework.flat_gradient(out)
    if isinstance(out, tuple):
        return tuple(framework.to_numpy(o) for o in out)
    return framework.to_numpy(out)


def resolve(problem, framework, dtype="float64", device=None, **sizes) -> tuple[Problem, Framework]:
    """The Problem and the adapter; `device` None: $ADCOST_DEVICE, else the CPU."""
    device = device or default_device()
    p = problem if isinstance(problem, Problem) else make_problem(problem, **sizes)
    if sizes and isinstance(problem, Problem):
        raise ValueError("pass sizes only with a problem name, not with a built Problem")
    fw = framework if isinstance(framework, Framework) else get_framework(framework, dtype, device)
    return p, fw


def prepare(problem, framework, op: str, *, dtype: str = "float64", device: str | None = None,
            x=None, v=None, u=None, schedule: str | None = None, slots: int = 4,
            validate_output: bool = True, warmup: int = 2, first_call: bool = True,
            **sizes) -> Case:
    """A warmed, validated Case; raises Unsupported (with the reason) or ValidationError.

    first_call=False (only with validate_output=False and warmup=0) leaves the case unrun:
    a peak-memory probe then sees the first call's peak in its own window."""
    p, fw = resolve(problem, framework, dtype, device, **sizes)
    x = p.point(x)
    v = ops.direction(v, p.n, "v")
    u = ops.direction(u, p.m, "u")
    options = {"schedule": schedule, "slots": slots} if op == "ckpt_grad" else {}
    source, args = fw.build(p, op, x=x, v=v, u=u, **options)
    fn, compile_s = fw.compile(source, args)
    case = Case(p, fw, op, fn, args, compile_s, options=options, source=source)
    if not (first_call or validate_output or warmup):
        return case
    start = time.perf_counter()
    out = fn(*args)
    fw.block(out)
    case.first_call_s = time.perf_counter() - start
    if validate_output:
        ref = validate.Reference(p)
        got = case.validated = to_numpy(fw, op, out)
        want = validate.expected(ref, op, x, v, u, fw.name)
        case.reference = ref.engine.name     # after: an engine that cannot run it gives way
        if ops.describe(op).family == "second":   # another framework, FD-checked on ref's gradient
            case.reference = f"{ref.second_engine(fw.name).name}+fd({ref.engine.name})"
        try:
            case.error = validate.check_output(case.label, got, want, fw.dtype,
                                               fw.tolerance(fw.dtype))
        except validate.ValidationError as exc:   # at a kink, say so: the answer is a choice
            found = validate.kink(ref.primal, x) if ops.describe(op).family != "second" else None
            if found is None:
                raise
            raise validate.ValidationError(f"{exc}: {found}") from None
        if ops.describe(op).reference == "hessian":
            validate.check_symmetric(case.label, got, fw.dtype, fw.tolerance(fw.dtype))
        if op in ("jvp", "vjp") and fw.supports(p, "jvp") is None and fw.supports(p, "vjp") is None:
            # the case's own product (validated above) and the other one, built here
            case.dot_error = validate.dot_product_test(case.label, fw, p, x, v, u,
                                                       known={op: got[1]})
    for _ in range(warmup):
        case()
    return case


def compute(problem, framework, op: str, *, dtype="float64", device=None, x=None, v=None, u=None):
    """Run `op` once, unvalidated and untimed, and return NumPy: the public API's engine."""
    p, fw = resolve(problem, framework, dtype, device)
    fn, args = fw.build(p, op, x=p.point(x), v=v, u=u)
    fn, _ = fw.compile(fn, args)     # where tracing fails, the adapter names the reason
    with fw.scope():
        return to_numpy(fw, op, fn(*args))


def cannot_run(problem, framework, dtype: str = "float64", device=None) -> str | None:
    """What the framework raises running the problem's function itself (its primal, unvalidated),
    in one line (error_line); None where the primal runs, so that a mode's own crash is said as
    that mode's failure."""
    p, fw = resolve(problem, framework, dtype, device)
    try:
        compute(p, fw, "primal")
    except Exception as exc:
        return error_line(exc, fw.name)
    return None
