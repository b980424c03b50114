"""adcost: what derivatives cost, measured.  The public API.

    p = adcost.make_problem("mlp", n=8, m=3, depth=2, width=16, seed=0)
    J = adcost.jacobian(p, framework="torch", mode="jacrev")      # NumPy (m, n)
"""
from __future__ import annotations

import weakref

import numpy as np

from . import ops as _ops
from . import validate as _validate
from .bracketing import bracketing_cost, optimal_bracketing
from .cases import Case, compute, prepare
from .frameworks.base import (CORE_MODES, DTYPES, FrameworkMissing, NoDevice, Unsupported,
                              available_frameworks, default_device, framework_class, get_framework)
from .frameworks.base import Framework as _Framework
from .problems import PROBLEMS, Problem, custom_problem, make_problem, register_problem
from .profiling import profile
from .validate import ValidationError

__version__ = "0.1.0"


def _modes(framework) -> tuple[str, ...]:
    return framework.modes if isinstance(framework, _Framework) else framework_class(framework).modes


# Prepared cases of the public API, per problem (dropped with it): a second call on the same
# problem reuses the built, compiled callable at the new point instead of rebuilding it.
_PREPARED: "weakref.WeakKeyDictionary[Problem, dict]" = weakref.WeakKeyDictionary()


def _run(problem, framework, op: str, x=None, v=None, u=None, dtype: str = "float64",
         device: str | None = None, validate: bool = True):
    """`op` at x as NumPy through a prepared case: the first call on (problem, framework, op,
    dtype) prepares it (with validate, the full gate at that point); later calls run the same
    callable at the new point, with validate a spot check (one direction against central
    differences of the NumPy primal)."""
    if isinstance(problem, str):
        problem = make_problem(problem)
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a Problem or a registered name, got {type(problem).__name__}")
    cases = _PREPARED.setdefault(problem, {})
    key = (framework if isinstance(framework, str) else id(framework), op, dtype, device or default_device())
    case = cases.get(key)
    if case is None:
        case = prepare(problem, framework, op, dtype=dtype, device=device, x=x, v=v, u=u,
                       validate_output=validate, warmup=0)
        cases[key] = case
        if validate:    # prepare validated its first call at this very point and direction
            return case.validated
    out = case.at(x, v, u)
    if validate:
        _validate.spot_check(case.label, problem, op, problem.point(x), out, v, u, case.framework.dtype)
    return out


def jacobian(problem: Problem, framework: str, mode: str = "jacrev", x=None,
             dtype: str = "float64", validate: bool = True) -> np.ndarray:
    """The full Jacobian (m, n) of `problem` at x (default p.x0) by `mode` of `framework`.

    Validated unless validate=False: the first call against the float64 reference, later
    calls (the same problem, reusing its compiled callable) by one directional check."""
    modes = _modes(framework)
    if mode not in modes:
        raise ValueError(f"{framework}: unknown mode {mode!r}; choose from {', '.join(modes)}")
    return _run(problem, framework, mode, x=x, dtype=dtype, validate=validate)


def jvp(problem: Problem, framework: str, v, x=None, dtype: str = "float64", validate: bool = True):
    """(f(x), J v) as NumPy arrays (validated unless validate=False)."""
    return _run(problem, framework, "jvp", x=x, v=v, dtype=dtype, validate=validate)


def vjp(problem: Problem, framework: str, u, x=None, dtype: str = "float64", validate: bool = True):
    """(f(x), J^T u) as NumPy arrays (validated unless validate=False)."""
    return _run(problem, framework, "vjp", x=x, u=u, dtype=dtype, validate=validate)


def grad(problem: Problem, framework: str, x=None, dtype: str = "float64",
         validate: bool = True) -> np.ndarray:
    """The gradient (n,) of a scalar problem (m = 1), validated unless validate=False."""
    return _run(problem, framework, "grad", x=x, dtype=dtype, validate=validate)


HVP_MODES = tuple(op[len("hvp_"):] for op in _ops.HVP_OPS)
HESSIAN_MODES = tuple(op[len("hessian_"):] for op in _ops.HESSIAN_OPS)


def _second(problem, framework, op, x, v, dtype, validate):
    if validate:     # the full gate at every point: another framework's float64 result
        return prepare(problem, framework, op, dtype=dtype, x=x, v=v, warmup=0).output()
    return _run(problem, framework, op, x=x, v=v, dtype=dtype, validate=False)


def hvp(problem: Problem, framework: str, v, mode: str = "fwd_over_rev", x=None,
        dtype: str = "float64", validate: bool = True) -> np.ndarray:
    """H v (n,) of a scalar problem by `mode` (fwd_over_rev, rev_over_fwd, rev_over_rev,
    fwd_over_fwd); validated against another framework's float64 HVP (itself checked against
    central differences of the gradient) unless validate=False."""
    if mode not in HVP_MODES:
        raise ValueError(f"unknown HVP mode {mode!r}; choose from {', '.join(HVP_MODES)}")
    return _second(problem, framework, "hvp_" + mode, x, v, dtype, validate)


def hessian(problem: Problem, framework: str, mode: str = "jacfwd_jacrev", x=None,
            dtype: str = "float64", validate: bool = True) -> np.ndarray:
    """The Hessian (n, n) of a scalar problem by `mode` (jacfwd_jacrev, jacrev_jacrev,
    jacfwd_jacfwd, jacrev_jacfwd, hvp_loop); validated (and checked symmetric) unless
    validate=False."""
    if mode not in HESSIAN_MODES:
        raise ValueError(f"unknown Hessian mode {mode!r}; choose from {', '.join(HESSIAN_MODES)}")
    return _second(problem, framework, "hessian_" + mode, x, None, dtype, validate)


__all__ = ["HESSIAN_MODES", "HVP_MODES", "bracketing_cost", "hessian", "hvp", "optimal_bracketing",
           "CORE_MODES", "Case", "DTYPES", "FrameworkMissing", "NoDevice", "PROBLEMS", "Problem", "Unsupported",
           "ValidationError", "available_frameworks", "custom_problem", "get_framework", "grad",
           "jacobian", "jvp", "make_problem", "prepare", "profile", "register_problem", "vjp"]
