"""The pure-Python engine (`python`): dual numbers forward, a scalar tape in reverse.

For scalar chains only (problems with `scalar=True`): x is a list of floats, f returns a
list of m scalars.  Forward mode runs f on `Dual` numbers (value, dot) and gives one JVP
per pass; reverse mode runs f on `Node`s, each recording its parents with the local
partial derivatives, then sweeps the tape backwards once per adjoint vector.  Jacobians
are nested lists (m rows of n floats), converted to NumPy only by `to_numpy`.
"""
from __future__ import annotations

import math

import numpy as np

from .base import Framework, Record, register


class Dual:
    """A value and its directional derivative along one tangent."""

    __slots__ = ("val", "dot")

    def __init__(self, val: float, dot: float = 0.0):
        self.val, self.dot = val, dot

    def __add__(self, o):
        return Dual(self.val + o.val, self.dot + o.dot) if isinstance(o, Dual) else Dual(self.val + o, self.dot)

    __radd__ = __add__

    def __sub__(self, o):
        return Dual(self.val - o.val, self.dot - o.dot) if isinstance(o, Dual) else Dual(self.val - o, self.dot)

    def __rsub__(self, o):
        return Dual(o - self.val, -self.dot)

    def __mul__(self, o):
        if isinstance(o, Dual):
            return Dual(self.val * o.val, self.dot * o.val + self.val * o.dot)
        return Dual(self.val * o, self.dot * o)

    __rmul__ = __mul__

    def __truediv__(self, o):
        if isinstance(o, Dual):
            q = self.val / o.val
            return Dual(q, (self.dot - q * o.dot) / o.val)
        return Dual(self.val / o, self.dot / o)

    def __rtruediv__(self, o):
        q = o / self.val
        return Dual(q, -q * self.dot / self.val)

    def __neg__(self):
        return Dual(-self.val, -self.dot)

    def __pow__(self, p):
        if isinstance(p, (Dual, Node)):
            raise TypeError("the pure-Python engine raises to constant powers only")
        return Dual(self.val ** p, p * self.val ** (p - 1) * self.dot if p != 0 else 0.0)

    def sin(self):
        return Dual(math.sin(self.val), math.cos(self.val) * self.dot)

    def cos(self):
        return Dual(math.cos(self.val), -math.sin(self.val) * self.dot)

    def exp(self):
        e = math.exp(self.val)
        return Dual(e, e * self.dot)

    def tanh(self):
        t = math.tanh(self.val)
        return Dual(t, (1.0 - t * t) * self.dot)

    def __gt__(self, o): return self.val > value(o)
    def __lt__(self, o): return self.val < value(o)


class Tape:
    """Nodes in creation order: parents[i] lists (parent index, local partial) of node i."""

    def __init__(self):
        self.values: list[float] = []
        self.parents: list[tuple] = []

    def node(self, val: float, parents: tuple = ()) -> "Node":
        self.values.append(val)
        self.parents.append(parents)
        return Node(val, self, len(self.values) - 1)

    def sweep(self, outputs: list, seeds) -> list[float]:
        """Adjoints of every node for adjoint `seeds` on `outputs`, one pass backwards."""
        adjoint = [0.0] * len(self.values)
        for y, s in zip(outputs, seeds):
            if isinstance(y, Node):
                adjoint[y.index] += s
        for i in range(len(self.values) - 1, -1, -1):
            a = adjoint[i]
            if a:
                for j, partial in self.parents[i]:
                    adjoint[j] += a * partial
        return adjoint


class Node:
    """A scalar on a tape."""

    __slots__ = ("val", "tape", "index")

    def __init__(self, val: float, tape: Tape, index: int):
        self.val, self.tape, self.index = val, tape, index

    def _new(self, val, *pairs):
        """A node of value val; pairs alternate (operand, partial), constants are dropped."""
        parents = tuple((o.index, d) for o, d in zip(pairs[::2], pairs[1::2]) if isinstance(o, Node))
        return self.tape.node(val, parents)

    def __add__(self, o): return self._new(self.val + value(o), self, 1.0, o, 1.0)
    __radd__ = __add__
    def __sub__(self, o): return self._new(self.val - value(o), self, 1.0, o, -1.0)
    def __rsub__(self, o): return self._new(o - self.val, self, -1.0)
    def __mul__(self, o): return self._new(self.val * value(o), self, value(o), o, self.val)
    __rmul__ = __mul__
    def __neg__(self): return self._new(-self.val, self, -1.0)

    def __truediv__(self, o):
        q = self.val / value(o)
        return self._new(q, self, 1.0 / value(o), o, -q / value(o))

    def __rtruediv__(self, o):
        q = o / self.val
        return self._new(q, self, -q / self.val)

    def __pow__(self, p):
        if isinstance(p, (Dual, Node)):
            raise TypeError("the pure-Python engine raises to constant powers only")
        return self._new(self.val ** p, self, p * self.val ** (p - 1) if p != 0 else 0.0)

    def sin(self): return self._new(math.sin(self.val), self, math.cos(self.val))
    def cos(self): return self._new(math.cos(self.val), self, -math.sin(self.val))

    def exp(self):
        e = math.exp(self.val)
        return self._new(e, self, e)

    def tanh(self):
        t = math.tanh(self.val)
        return self._new(t, self, 1.0 - t * t)

    def __gt__(self, o): return self.val > value(o)
    def __lt__(self, o): return self.val < value(o)


def value(a) -> float:
    return a.val if isinstance(a, (Dual, Node)) else a


class Namespace:
    """The pure-Python `xp`: elementary functions on floats, Duals and Nodes; stack -> list."""

    @staticmethod
    def _unary(name, a):
        return getattr(a, name)() if isinstance(a, (Dual, Node)) else getattr(math, name)(a)

    def sin(self, a): return self._unary("sin", a)
    def cos(self, a): return self._unary("cos", a)
    def exp(self, a): return self._unary("exp", a)
    def tanh(self, a): return self._unary("tanh", a)

    def stack(self, items, axis=0):
        if axis != 0:
            raise ValueError("the pure-Python engine stacks along axis 0 only")
        return list(items)

    def asarray(self, a, dtype=None):
        return a if isinstance(a, list) else np.asarray(a, dtype=float).tolist()

    def __getattr__(self, name):
        raise AttributeError(f"the pure-Python engine has no xp.{name}; it offers sin, cos, exp, "
                             "tanh, stack, asarray and scalar arithmetic")


xp = Namespace()


# The pure-Python engine runs scalar problems only (not the MLP), so it is not in the sweep.
@register(Record("python", sweep=False, order=60,
                 notes={"jacfwd": "n dual-number passes", "jacrev": "one tape, m reverse sweeps",
                        "second_order": "its dual numbers and tape carry first derivatives only",
                        "per_example": "it runs scalar chains, not batched losses"}))
class PythonEngine(Framework):
    dtypes = ("float64",)  # Python floats are doubles
    devices = ("cpu",)

    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        self.xp = xp

    def asarray(self, a):
        return np.asarray(a, dtype=float).tolist()

    def to_numpy(self, out):
        return np.array(out, dtype=float)

    def stack(self, arrays, axis):
        rows = [list(a) for a in arrays]
        return rows if axis == 0 else [list(col) for col in zip(*rows)]

    def unsupported(self, problem, op, schedule=None):
        if not problem.scalar:
            return f"the pure-Python engine runs scalar chains only; {problem.name} uses array operations"
        return None

    def op_primal(self, f):
        return lambda params, x: [float(value(y)) for y in f(params, x)]

    def op_jvp(self, f):
        def jvp(params, x, v):
            ys = f(params, [Dual(xi, vi) for xi, vi in zip(x, v)])
            return [value(y) for y in ys], [y.dot if isinstance(y, Dual) else 0.0 for y in ys]
        return jvp

    def _record(self, f, params, x):
        tape = Tape()
        leaves = [tape.node(xi) for xi in x]
        return tape, leaves, list(f(params, leaves))

    def op_vjp(self, f):
        def vjp(params, x, u):
            tape, leaves, ys = self._record(f, params, x)
            adjoint = tape.sweep(ys, u)
            return [value(y) for y in ys], [adjoint[leaf.index] for leaf in leaves]
        return vjp

    def op_grad(self, f):
        vjp = self.op_vjp(f)
        return lambda params, x: vjp(params, x, [1.0])[1]

    def op_jacfwd(self, f):
        jvp = self.op_jvp(f)

        def jacobian(params, x):
            n = len(x)
            cols = [jvp(params, x, [1.0 if j == i else 0.0 for j in range(n)])[1] for i in range(n)]
            return self.stack(cols, axis=1)
        return jacobian

    def op_jacrev(self, f):
        def jacobian(params, x):
            tape, leaves, ys = self._record(f, params, x)
            rows = []
            for i in range(len(ys)):  # one tape, one sweep per output
                adjoint = tape.sweep([ys[i]], [1.0])
                rows.append([adjoint[leaf.index] for leaf in leaves])
            return rows
        return jacobian
