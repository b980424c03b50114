"""A whole framework adapter in one file, as docs/extending.md shows it: `mini`, forward and
reverse mode by the op-level NumPy tracer.  The tests register it from here."""
import numpy as np

from adcost.frameworks import _numpy_ops
from adcost.frameworks.base import Framework, Record, register

RECORD = Record(
    "mini", order=90, distributions=("hypothesis",),          # versions every result records
    notes={"jacfwd": "mini: all n tangents in one traced forward pass",
           "jacrev": "mini: all m adjoints in one traced reverse pass"})


class Mini(Framework):
    modes = ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop")   # the loops come from base.py
    devices = ("cpu",)

    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        self.xp = _numpy_ops.xp            # the array namespace problems are written against

    def asarray(self, a):
        return np.asarray(a, dtype=self.dtype)

    def stack(self, arrays, axis):
        return np.stack(arrays, axis=axis)

    def op_primal(self, f):
        return lambda params, x: np.asarray(f(params, x))

    def op_jvp(self, f):
        def jvp(params, x, v):
            y, dots = _numpy_ops.push(lambda xp, z: f(params, z), x, v[None])
            return y, dots[0]
        return jvp

    def op_vjp(self, f):
        def vjp(params, x, u):
            y, adjoints = _numpy_ops.pull(lambda xp, z: f(params, z), x, u[None])
            return y, adjoints[0]
        return vjp

    def op_grad(self, f):
        vjp = self.op_vjp(f)
        return lambda params, x: vjp(params, x, np.ones(1, dtype=x.dtype))[1]

    def op_jacfwd(self, f):
        return lambda params, x: _numpy_ops.push(lambda xp, z: f(params, z), x,
                                                 np.eye(x.size, dtype=x.dtype))[1].T

    def op_jacrev(self, f):
        def jacobian(params, x):
            y = np.asarray(f(params, x))
            return _numpy_ops.pull(lambda xp, z: f(params, z), x, np.eye(y.size, dtype=x.dtype))[1]
        return jacobian


def install():
    """Register the adapter (what a module in src/adcost/frameworks/ does at import)."""
    return register(RECORD)(Mini)
