"""adcost: what derivatives cost, measured.  The public API.

    p = adcost.make_problem("mlp", n=8, m=3, depth=2, width=16, seed=0)
    J = adcost.jacobian(p, framework="torch", mode="jacrev")      # NumPy (m, n)
"""
from __future__ import annotations

import numpy as np

from . import ops as _ops
from .bracketing import bracketing_cost, optimal_bracketing
from .cases import Case, compute, prepare
from .frameworks.base import (CORE_MODES, DTYPES, FrameworkMissing, Unsupported,
                              available_frameworks, framework_class, get_framework)
from .problems import PROBLEMS, Problem, custom_problem, make_problem, register_problem
from .validate import ValidationError

__version__ = "0.1.0"


def _modes(framework: str) -> tuple[str, ...]:
    return framework_class(framework).modes


def jacobian(problem: Problem, framework: str, mode: str = "jacrev", x=None,
             dtype: str = "float64") -> np.ndarray:
    """The full Jacobian (m, n) of `problem` at x (default p.x0) by `mode` of `framework`."""
    modes = _modes(framework)
    if mode not in modes:
        raise ValueError(f"{framework}: unknown mode {mode!r}; choose from {', '.join(modes)}")
    return compute(problem, framework, mode, dtype=dtype, x=x)


def jvp(problem: Problem, framework: str, v, x=None, dtype: str = "float64"):
    """(f(x), J v) as NumPy arrays."""
    return compute(problem, framework, "jvp", dtype=dtype, x=x, v=v)


def vjp(problem: Problem, framework: str, u, x=None, dtype: str = "float64"):
    """(f(x), J^T u) as NumPy arrays."""
    return compute(problem, framework, "vjp", dtype=dtype, x=x, u=u)


def grad(problem: Problem, framework: str, x=None, dtype: str = "float64") -> np.ndarray:
    """The gradient (n,) of a scalar problem (m = 1)."""
    return compute(problem, framework, "grad", dtype=dtype, x=x)


HVP_MODES = tuple(op[len("hvp_"):] for op in _ops.HVP_OPS)
HESSIAN_MODES = tuple(op[len("hessian_"):] for op in _ops.HESSIAN_OPS)


def _second(problem, framework, op, x, v, dtype, validate):
    if validate:
        return prepare(problem, framework, op, dtype=dtype, x=x, v=v, warmup=0).output()
    return compute(problem, framework, op, dtype=dtype, x=x, v=v)


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
           "CORE_MODES", "Case", "DTYPES", "FrameworkMissing", "PROBLEMS", "Problem", "Unsupported",
           "ValidationError", "available_frameworks", "custom_problem", "get_framework", "grad",
           "jacobian", "jvp", "make_problem", "prepare", "register_problem", "vjp"]
