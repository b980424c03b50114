"""Central finite differences in NumPy: the baseline every AD mode must beat, and a check.

Step h = cbrt(machine eps) * max(1, |x|_inf), which balances truncation (O(h^2)) against
rounding (O(eps/h)): about 1e-10 relative error on smooth float64 problems.
"""
from __future__ import annotations

import numpy as np

from ..namespace import numpy_xp
from ..settings import FD_TOLERANCE
from .base import Framework, Record, register


def step(x: np.ndarray) -> float:
    return float(np.cbrt(np.finfo(x.dtype).eps) * max(1.0, np.max(np.abs(x), initial=0.0)))


def central_jacobian(f, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """J (m, n) of f at x by 2n evaluations of f (at `scale` times the step)."""
    h = step(x) * scale
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=1)


# not in the width study: it models vectorized jacfwd and jacrev against the batched primal,
# and fd has neither (its batched primals were 210 cases, about 160 s, of the full grid)
@register(Record("fd", order=50, tolerance={"float64": FD_TOLERANCE},
                 studies=("crossover", "roofline", "checkpoint", "second_order", "workloads"),
                 notes={"fd": "central differences, 2n evaluations of f",
                        "second_order": "differences of differences keep about a third of "
                                        "float64's digits; adcost offers no Hessian from them",
                        "per_example": "differences give J v, not the rows of J one by one "
                                       "(use mode 'fd' for the whole Jacobian)"}))
class FiniteDifferences(Framework):
    modes = ("fd",)
    devices = ("cpu",)
    dtypes = ("float64",)  # in float32 central differences keep only about 3 digits

    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        self.xp = numpy_xp()

    def asarray(self, a):
        return np.asarray(a, dtype=self.dtype)

    def stack(self, arrays, axis):
        return np.stack(arrays, axis=axis)

    def supports(self, problem, op, schedule=None):
        if op == "vjp":
            return "finite differences give J v; J^T u needs the whole Jacobian (use mode 'fd')"
        return super().supports(problem, op, schedule)

    def op_primal(self, f):
        return f

    def op_jvp(self, f):
        def jvp(params, x, v):
            h = step(x) / max(1.0, float(np.max(np.abs(v))))
            return f(params, x), (f(params, x + h * v) - f(params, x - h * v)) / (2 * h)
        return jvp

    def op_fd(self, f):
        return lambda params, x: central_jacobian(lambda z: f(params, z), x)

    def op_grad(self, f):
        return lambda params, x: central_jacobian(lambda z: f(params, z), x)[0]
