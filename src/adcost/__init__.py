"""adcost: what derivatives cost, measured.  The public API.

    p = adcost.make_problem("mlp", n=8, m=3, depth=2, width=16, seed=0)
    J = adcost.jacobian(p, framework="torch", mode="jacrev")      # NumPy (m, n)
"""
from __future__ import annotations

import numpy as np

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


__all__ = ["CORE_MODES", "Case", "DTYPES", "FrameworkMissing", "PROBLEMS", "Problem", "Unsupported",
           "ValidationError", "available_frameworks", "custom_problem", "get_framework", "grad",
           "jacobian", "jvp", "make_problem", "prepare", "register_problem", "vjp"]
