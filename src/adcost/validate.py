"""The validation gate: nothing is timed unless its output matched a float64 reference.

Three checks, each with a relative error max|a - b| / max(1, max|b|):
  1. the output against the reference engine's float64 result (tolerance by dtype);
  2. the reference Jacobian / JVP against central differences (settings.FD_TOLERANCE);
  3. the dot-product test <u, J v> = <J^T u, v> with the adapter's own jvp and vjp.

Second order (HVPs, Hessians): the reference is another framework's float64 forward-over-reverse
HVP or jacfwd(jacrev) Hessian (the first of REFERENCE_ORDER with second order that is not the
framework under test), itself checked against central differences of the first-order
reference engine's gradient; a Hessian must also be symmetric.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from . import ops
from .frameworks.base import Unsupported, error_line, get_framework, missing_reason
from .frameworks.fd import central_jacobian, step
from .settings import (FD_DIRECTIONS, FD_FULL_MAX_N, FD_KINK_STEPS, FD_TOLERANCE, REFERENCE_ORDER,
                       TOLERANCE)


class ValidationError(AssertionError):
    """A derivative disagreed with its reference; the message names the case and the error."""


def relative_error(out, ref) -> float:
    out, ref = np.asarray(out, dtype=float), np.asarray(ref, dtype=float)
    if out.shape != ref.shape:
        return float("inf")
    if out.size == 0:
        return 0.0
    return float(np.max(np.abs(out - ref)) / max(1.0, float(np.max(np.abs(ref)))))


def directional(f, x, v, scale: float = 1.0):
    """The central difference of f along v (J v, approximately), at `scale` times the step."""
    h = scale * step(x) / max(1.0, float(np.max(np.abs(v))))
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


def fd_error(exact, difference, tolerance: float = FD_TOLERANCE) -> float:
    """Relative error of an AD result against `difference(scale)`, a central difference at
    `scale` times the usual step; where it exceeds `tolerance` at the usual step, also at the
    smaller steps of FD_KINK_STEPS, and the smallest error of them.  A kink of a
    piecewise-smooth f (relu, abs, max) within a step of the point spoils the difference at
    that step and no longer at a step below its distance; a wrong derivative disagrees at
    every step (and rounding grows only to about 1e-8 at the smallest)."""
    return smallest_fd_error(lambda scale: relative_error(exact, difference(scale)), tolerance)


def smallest_fd_error(error_at, tolerance: float = FD_TOLERANCE) -> float:
    """`error_at(scale)` (an error against a central difference at `scale` times the step) at
    the usual step, and where over `tolerance` at FD_KINK_STEPS too: the smallest (fd_error)."""
    err = error_at(1.0)
    for scale in FD_KINK_STEPS:
        if err <= tolerance:
            break
        err = min(err, error_at(scale))
    return err


# A folder where references checked against central differences are kept across processes
# (set by the sweep for its own run, removed after it: asv builds each case in its own process,
# and the ten or so cases of one problem and size each recomputed the same reference Jacobian,
# 2n evaluations of f for its check: 0.45 s a case at width 1024, n = 256, measured).
CACHE_VARIABLE = "ADCOST_REFERENCE_CACHE"


def _feed(h, obj) -> None:
    """Hash `obj` (arrays by dtype, shape and bytes; mappings by sorted key) into h."""
    if isinstance(obj, np.ndarray) or (hasattr(obj, "__array__") and not isinstance(obj, (str, bytes))):
        arr = np.ascontiguousarray(np.asarray(obj))
        h.update(f"array{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    elif isinstance(obj, dict) or hasattr(obj, "items"):
        for key in sorted(obj, key=str):
            h.update(f"key{key!r}".encode())
            _feed(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        h.update(f"seq{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
    else:
        h.update(f"{type(obj).__name__}{obj!r}".encode())


def fingerprint(problem) -> str:
    """What identifies a problem's function and data: its name, sizes, function, data and meta."""
    h = hashlib.sha256()
    fn = getattr(problem, "fn", None)
    _feed(h, [problem.name, problem.n, problem.m, getattr(fn, "__module__", ""),
              getattr(fn, "__qualname__", ""), dict(problem.meta), dict(problem.params)])
    return h.hexdigest()


class Reference:
    """Float64 results of one problem from the first engine in REFERENCE_ORDER that runs it.
    Checked Jacobians, HVPs and Hessians are also kept in $ADCOST_REFERENCE_CACHE when set."""

    def __init__(self, problem):
        self.problem = problem
        self._folder = os.environ.get(CACHE_VARIABLE) or None
        self._print = fingerprint(problem) if self._folder else None
        self.engine = None
        # the engines that could not run it when asked (a user's function may use what one
        # framework lacks: torch has no negative-step slice), said if none is left
        self.failed: list[str] = []
        self._next_engine()
        self._cache: dict = {}

    def _next_engine(self) -> None:
        """The next installed engine of REFERENCE_ORDER after the current one that says it runs
        the problem; Unsupported, naming what each tried engine raised, when none is left."""
        names = list(REFERENCE_ORDER)
        start = names.index(self.engine.name) + 1 if self.engine is not None else 0
        for name in names[start:]:
            if missing_reason(name) is None:
                fw = get_framework(name, "float64", "cpu")   # references: on the CPU
                if fw.supports(self.problem, "jacrev") is None or \
                        fw.supports(self.problem, "vjp") is None:
                    self.engine = fw
                    return
        tried = f": {'; '.join(self.failed)}" if self.failed else ""
        raise Unsupported(f"no reference engine can run {self.problem.name}{tried}")

    def _disk(self, *parts) -> Path | None:
        if not self._folder:
            return None
        h = hashlib.sha256(self._print.encode())
        _feed(h, [self.engine.name, *parts])
        return Path(self._folder) / f"{h.hexdigest()}.npy"

    def _load(self, *parts):
        """A checked result kept by an earlier process, or None."""
        path = self._disk(*parts)
        if path is None or not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def _keep(self, value, *parts) -> None:
        """Keep a checked result for later processes (written beside, then renamed)."""
        path = self._disk(*parts)
        if path is None:
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, np.asarray(value), allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            pass   # a cache only: the next process checks again

    def _run(self, op, x, **kw):
        """`op` on the reference engine; where that engine cannot run the problem (it raises),
        the next one of REFERENCE_ORDER that can (`failed` keeps what each raised)."""
        while True:
            try:
                fn, args = self.engine.build(self.problem, op, x=x, **kw)
                with self.engine.scope():
                    out = fn(*args)
                break
            except (ValidationError, KeyboardInterrupt):
                raise
            except Exception as exc:
                self.failed.append(f"{self.engine.name}: {error_line(exc, self.engine.name)}")
                self._next_engine()
        if isinstance(out, tuple):
            return tuple(self.engine.to_numpy(o) for o in out)
        return self.engine.to_numpy(out)

    def primal(self, x):
        return np.asarray(self.problem.f(np, np.asarray(x, dtype=np.float64)), dtype=float)

    def jacobian(self, x):
        key = ("J", x.tobytes())
        if key not in self._cache and (kept := self._load("J", x)) is not None:
            self._cache[key] = kept
        if key not in self._cache:
            # the cheaper direction where both run: n tangents or m cotangents pushed at once
            modes = ("jacfwd", "jacrev") if self.problem.n < self.problem.m else ("jacrev", "jacfwd")
            mode = next((m for m in modes if self.engine.supports(self.problem, m) is None), modes[1])
            J = self._run(mode, x)
            if self.problem.n <= FD_FULL_MAX_N:
                err = fd_error(J, lambda s: central_jacobian(lambda z: self.primal(z),
                                                             x.astype(np.float64), s))
            else:    # along seeded random directions: 2 evaluations each, not 2n
                rng = np.random.default_rng(7)
                err = max(fd_error(J @ v, lambda s, v=v: self._directional(x, v, s))
                          for v in rng.standard_normal((FD_DIRECTIONS, self.problem.n)))
            if err > FD_TOLERANCE:
                raise ValidationError(f"{self.problem.name}: reference ({self.engine.name}) Jacobian "
                                      f"disagrees with central differences: error {err:.2e} > {FD_TOLERANCE:.0e}")
            self._cache[key] = J
            self._keep(J, "J", x)
        return self._cache[key]

    def _directional(self, x, v, scale: float = 1.0):
        return directional(self.primal, x, v, scale)

    def jvp(self, x, v):
        """J v from the reference engine, checked against one central difference."""
        jv = self._run("jvp", x, v=v)[1] if self.engine.supports(self.problem, "jvp") is None \
            else self.jacobian(x) @ v
        err = fd_error(jv, lambda s: self._directional(x, v, s))
        if err > FD_TOLERANCE:
            raise ValidationError(f"{self.problem.name}: reference ({self.engine.name}) JVP "
                                  f"disagrees with central differences: error {err:.2e}")
        return jv

    def vjp(self, x, u):
        if self.engine.supports(self.problem, "vjp") is None:
            return self._run("vjp", x, u=u)[1]
        return self.jacobian(x).T @ u

    # -- second order -----------------------------------------------------------------
    def gradient(self, x):
        return np.asarray(self.vjp(np.asarray(x, dtype=np.float64), np.ones(1)), dtype=float)

    def second_engine(self, exclude: str | None = None):
        """The float64 engine for second-order references: not `exclude` where another runs."""
        found = []
        for name in REFERENCE_ORDER:
            if missing_reason(name) is None:
                fw = get_framework(name, "float64", "cpu")
                if fw.supports(self.problem, "hvp_fwd_over_rev") is None:
                    found.append(fw)
        if not found:
            raise Unsupported(f"no installed engine computes second derivatives of {self.problem.name}")
        return next((fw for fw in found if fw.name != exclude), found[0])

    def _second(self, engine, op, x, **kw):
        fn, args = engine.build(self.problem, op, x=x, **kw)
        with engine.scope():
            return np.asarray(engine.to_numpy(fn(*args)), dtype=float)

    def hvp(self, x, v, exclude: str | None = None):
        """H v from a second-order engine, checked against a central difference of the
        reference gradient along v."""
        key = ("Hv", x.tobytes(), np.asarray(v).tobytes(), exclude)
        engine = self.second_engine(exclude) if key not in self._cache else None
        if engine is not None and (kept := self._load("Hv", engine.name, x, v)) is not None:
            self._cache[key] = kept
        if key not in self._cache:
            hv = self._second(engine, "hvp_fwd_over_rev", x, v=v)
            err = fd_error(hv, lambda s: directional(self.gradient, x, v, s))
            if err > FD_TOLERANCE:
                raise ValidationError(f"{self.problem.name}: reference ({engine.name}) HVP disagrees "
                                      f"with central differences of the gradient: error {err:.2e}")
            self._cache[key] = hv
            self._keep(hv, "Hv", engine.name, x, v)
        return self._cache[key]

    def hessian(self, x, exclude: str | None = None):
        """H from a second-order engine, checked against central differences of the gradient."""
        key = ("H", x.tobytes(), exclude)
        engine = self.second_engine(exclude) if key not in self._cache else None
        if engine is not None and (kept := self._load("H", engine.name, x)) is not None:
            self._cache[key] = kept
        if key not in self._cache:
            H = self._second(engine, "hessian_jacfwd_jacrev", x)
            err = fd_error(H, lambda s: central_jacobian(self.gradient, x.astype(np.float64), s))
            if err > FD_TOLERANCE:
                raise ValidationError(f"{self.problem.name}: reference ({engine.name}) Hessian "
                                      f"disagrees with central differences of the gradient: "
                                      f"error {err:.2e}")
            self._cache[key] = H
            self._keep(H, "H", engine.name, x)
        return self._cache[key]


def expected(reference: Reference, op: str, x, v, u, framework: str | None = None):
    """What `op` must return, as NumPy (a tuple for jvp and vjp): its descriptor says which.
    Second-order references come from an engine other than `framework` where one runs."""
    kind = ops.describe(op).reference
    if kind == "hvp":
        return reference.hvp(x, v, exclude=framework)
    if kind == "hessian":
        return reference.hessian(x, exclude=framework)
    if kind == "seeded":    # J S column by column: the reference's JVPs, each FD-checked
        seeds = np.asarray(reference.problem.meta["seeds"], dtype=float)
        return np.stack([reference.jvp(x, s) for s in seeds], axis=1)
    y = reference.primal(x)
    if kind == "primal":
        return y
    if kind == "jvp":
        return (y, reference.jvp(x, v))
    if kind == "vjp":
        return (y, reference.vjp(x, u))
    if kind == "grad":
        return reference.vjp(x, np.ones(1))
    return reference.jacobian(x)


def spot_check(label: str, problem, op: str, x, out, v=None, u=None, dtype: str = "float64") -> float:
    """A cheap check of a first-order result at a new point: along one seeded direction w,
    J w (from `out`) against a central difference of the NumPy primal, and the primal part
    of (y, J v) / (y, J^T u) against NumPy.  Two primal evaluations, no second engine."""
    x = np.asarray(x, dtype=np.float64)
    f = lambda z: np.asarray(problem.f(np, z), dtype=float).reshape(-1)   # noqa: E731
    kind = ops.describe(op).reference
    tol = max(FD_TOLERANCE, TOLERANCE[dtype])
    errors = []
    if kind == "primal":
        return check_output(label, out, f(x), dtype)
    if kind in ("jvp", "vjp"):
        errors.append(relative_error(out[0], f(x)))
    if kind not in ("jvp", "vjp", "grad", "jacobian"):
        raise ValueError(f"spot_check covers first-order operations, not {op}")
    w = ops.direction(v if kind == "jvp" else None, problem.n, "w")

    def derivative_error(step_scale):
        fd = directional(f, x, w, step_scale)
        if kind == "jvp":
            return relative_error(out[1], fd)
        if kind == "jacobian":
            return relative_error(np.asarray(out, dtype=float) @ w, fd)
        uu = np.ones(1) if kind == "grad" else ops.direction(u, problem.m, "u")
        g = np.asarray(out[1] if kind == "vjp" else out, dtype=float)
        scale = max(1.0, float(np.linalg.norm(uu) * np.linalg.norm(fd)), float(np.linalg.norm(g) * np.linalg.norm(w)))
        return abs(float(uu @ fd) - float(g @ w)) / scale
    errors.append(smallest_fd_error(derivative_error, tol))
    err = max(errors)
    if not err <= tol:
        found = kink(f, x)
        raise ValidationError(f"{label}: at the new point, the result disagrees with central "
                              f"differences of the primal: error {err:.2e} > {tol:.0e}"
                              + (f": {found}" if found else ""))
    return err


def check_output(label: str, out, want, dtype: str, tolerance: float | None = None) -> float:
    """Max relative error of out against want; ValidationError past the tolerance."""
    tol = TOLERANCE[dtype] if tolerance is None else tolerance
    outs = out if isinstance(out, tuple) else (out,)
    wants = want if isinstance(want, tuple) else (want,)
    err = max(relative_error(o, w) for o, w in zip(outs, wants))
    if not err <= tol:  # also catches NaN
        raise ValidationError(f"{label}: max relative error {err:.2e} > tolerance {tol:.0e}")
    return err


def kink(primal, x, directions: int = 3) -> str | None:
    """Where f is not differentiable at x: the first direction (a coordinate where n is at most
    FD_FULL_MAX_N, else seeded random ones) along which its one-sided differences disagree at
    the step and still at 1/16 of it (a smooth f's gap shrinks with the step, a kink's does
    not), said in words; None where none is found.  Called only once a check has failed."""
    x = np.asarray(x, dtype=np.float64)
    h = step(x)
    if x.size <= FD_FULL_MAX_N:
        found = ((f"x[{i}]", np.eye(1, x.size, i)[0]) for i in range(x.size))
    else:
        rng = np.random.default_rng(11)
        found = (("a random direction", v) for v in rng.standard_normal((directions, x.size)))
    f0 = np.asarray(primal(x), dtype=float)

    def sides(v, s):
        right = (np.asarray(primal(x + s * v), dtype=float) - f0) / s
        left = (f0 - np.asarray(primal(x - s * v), dtype=float)) / s
        return right, left, float(np.max(np.abs(right - left), initial=0.0))

    for name, v in found:
        right, left, gap = sides(v, h)
        scale = max(1.0, float(np.max(np.abs(right), initial=0.0)))
        if gap > 1e-3 * scale and sides(v, h / 16)[2] > 0.5 * gap:
            i = int(np.argmax(np.abs(right - left)))
            return (f"f is not differentiable at this point: along {name} output {i} changes at "
                    f"the rate {left[i]:.3g} on one side and {right[i]:.3g} on the other, and "
                    f"each framework picks its own derivative there; evaluate it off the kink")
    return None


def check_symmetric(label: str, H, dtype: str, tolerance: float | None = None) -> float:
    """A Hessian must equal its transpose (to the dtype's tolerance)."""
    H = np.asarray(H, dtype=float)
    tol = TOLERANCE[dtype] if tolerance is None else tolerance
    err = relative_error(H, H.T)
    if not err <= tol:
        raise ValidationError(f"{label}: Hessian not symmetric: max relative |H - H^T| {err:.2e} "
                              f"> tolerance {tol:.0e}")
    return err


def dot_product_test(label: str, framework, problem, x, v, u, known: dict | None = None) -> float:
    """<u, J v> = <J^T u, v> with the framework's own jvp and vjp, relative to |u||Jv|.
    `known`: {"jvp": J v} or {"vjp": J^T u} the caller already computed at (x, v, u) with the
    framework (a jvp or vjp case's own validated output): only the other one is built."""
    known = {op: np.asarray(value, dtype=float) for op, value in (known or {}).items()}
    for op, direction in (("jvp", {"v": v}), ("vjp", {"u": u})):
        if op not in known:
            fn, args = framework.build(problem, op, x=x, **direction)
            with framework.scope():
                known[op] = np.asarray(framework.to_numpy(fn(*args)[1]), dtype=float)
    jv, jtu = known["jvp"], known["vjp"]
    left, right = float(u @ jv), float(jtu @ v)
    scale = max(1.0, float(np.linalg.norm(u) * np.linalg.norm(jv)), float(np.linalg.norm(jtu) * np.linalg.norm(v)))
    err = abs(left - right) / scale
    tol = TOLERANCE[framework.dtype]
    if not err <= tol:
        raise ValidationError(f"{label}: dot-product test <u, Jv> = {left:.6g} vs <J^T u, v> = "
                              f"{right:.6g}, error {err:.2e} > {tol:.0e}")
    return err
