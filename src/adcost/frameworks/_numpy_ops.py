"""The op-level half of the NumPy engine: traced arrays with one JVP and one VJP rule per primitive.

A problem written against `xp` runs unchanged on three kinds of input:

* plain NumPy arrays: `xp` forwards to NumPy (the primal);
* a `Dual` (value plus a stack of k tangents, `dot` of shape (k,) + value.shape): every
  primitive pushes all k tangents at once, so one pass gives k JVPs (jacfwd: k = n);
* a `Var` on a `Tape`: every primitive records its inputs and output; `Tape.pull` runs the
  VJP rules backwards with k adjoints at once (jacrev: k = m).

Directions always carry that leading axis k; the rules broadcast over it, and every JVP rule
returns the tangent expanded to the full (k,) + output shape (a broadcast operand's tangent
is repeated, not left at its own shape).  `xp` offers the shared namespace of
adcost.namespace (OPS); on traced arrays: indexing and slices, +, -, *, /, @, ** by a
constant, unary -, `.T`, and comparisons (on the values, returning plain booleans).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


class Prim:
    """One primitive: `value(*vals, **static)`, its JVP rule and its VJP rule.

    jvp(dots, vals, out, **static) -> tangent of out; dots[i] is None for a constant input.
    vjp(g, vals, out, need, **static) -> one adjoint per input (None where need[i] is False).
    """

    def __init__(self, name: str, value: Callable, jvp: Callable, vjp: Callable):
        self.name, self.value, self.jvp, self.vjp = name, value, jvp, vjp


def lift(dot, ndim: int):
    """A tangent (k,) + shape, padded with unit axes to broadcast against an ndim-d output."""
    pad = ndim - (dot.ndim - 1)
    return dot.reshape(dot.shape[:1] + (1,) * pad + dot.shape[1:]) if pad > 0 else dot


def expand(dot, shape: tuple):
    """A tangent (k,) + s broadcast to (k,) + shape (a no-op when it already has it)."""
    full = dot.shape[:1] + tuple(shape)
    return dot if dot.shape == full else np.broadcast_to(lift(dot, len(shape)), full)


def unbroadcast(g, shape: tuple):
    """Sum an adjoint (k,) + out_shape down to (k,) + shape, undoing NumPy broadcasting."""
    extra = g.ndim - 1 - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(1, 1 + extra)))
    axes = tuple(i + 1 for i, s in enumerate(shape) if s == 1 and g.shape[i + 1] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def elementwise(name: str, value: Callable, *partials: Callable) -> Prim:
    """A broadcasting primitive from its partial derivatives, each partial(*vals, out, **static)."""
    def jvp(dots, vals, out, **static):
        total = None
        for dot, partial in zip(dots, partials):
            if dot is not None:
                term = lift(dot, np.ndim(out)) * partial(*vals, out, **static)
                total = term if total is None else total + term
        # a broadcast operand's tangent must be repeated along the broadcast axes
        return expand(total, np.shape(out))

    def vjp(g, vals, out, need, **static):
        return tuple(unbroadcast(g * partial(*vals, out, **static), np.shape(v)) if wanted else None
                     for v, partial, wanted in zip(vals, partials, need))
    return Prim(name, value, jvp, vjp)


def _power_partial(a, out, p):
    return 0.0 * a if p == 0 else p * a ** (p - 1)


ADD = elementwise("add", np.add, lambda a, b, o: 1.0, lambda a, b, o: 1.0)
SUB = elementwise("sub", np.subtract, lambda a, b, o: 1.0, lambda a, b, o: -1.0)
MUL = elementwise("mul", np.multiply, lambda a, b, o: b, lambda a, b, o: a)
DIV = elementwise("div", np.divide, lambda a, b, o: 1.0 / b, lambda a, b, o: -o / b)
NEG = elementwise("neg", np.negative, lambda a, o: -1.0)
SIN = elementwise("sin", np.sin, lambda a, o: np.cos(a))
COS = elementwise("cos", np.cos, lambda a, o: -np.sin(a))
EXP = elementwise("exp", np.exp, lambda a, o: o)
TANH = elementwise("tanh", np.tanh, lambda a, o: 1.0 - o * o)
POW = elementwise("pow", lambda a, p: np.power(a, p), _power_partial)
LOG = elementwise("log", np.log, lambda a, o: 1.0 / a)
SQRT = elementwise("sqrt", np.sqrt, lambda a, o: 0.5 / o)
ABS = elementwise("abs", np.abs, lambda a, o: np.sign(a))
SQUARE = elementwise("square", np.square, lambda a, o: 2.0 * a)
LOG1P = elementwise("log1p", np.log1p, lambda a, o: 1.0 / (1.0 + a))
EXPM1 = elementwise("expm1", np.expm1, lambda a, o: o + 1.0)
TAN = elementwise("tan", np.tan, lambda a, o: 1.0 + o * o)
ARCTAN = elementwise("arctan", np.arctan, lambda a, o: 1.0 / (1.0 + a * a))
SINH = elementwise("sinh", np.sinh, lambda a, o: np.cosh(a))
COSH = elementwise("cosh", np.cosh, lambda a, o: np.sinh(a))
UNARY = {"log": LOG, "exp": EXP, "sqrt": SQRT, "sin": SIN, "cos": COS, "tanh": TANH, "abs": ABS,
         "square": SQUARE, "log1p": LOG1P, "expm1": EXPM1, "tan": TAN, "arctan": ARCTAN,
         "sinh": SINH, "cosh": COSH}
# at a tie each side gets half the derivative, as in JAX and PyTorch
MAXIMUM = elementwise("maximum", np.maximum, lambda a, b, o: (a > b) + 0.5 * (a == b),
                      lambda a, b, o: (b > a) + 0.5 * (a == b))
MINIMUM = elementwise("minimum", np.minimum, lambda a, b, o: (a < b) + 0.5 * (a == b),
                      lambda a, b, o: (b < a) + 0.5 * (a == b))


def _take_dot(dot, idx):
    return dot[(slice(None),) + (idx if isinstance(idx, tuple) else (idx,))]


def _basic(idx) -> bool:
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in parts)


def _getitem_vjp(g, vals, out, need, idx):
    full = np.zeros(g.shape[:1] + np.shape(vals[0]), dtype=g.dtype)
    where = (slice(None),) + (idx if isinstance(idx, tuple) else (idx,))
    if _basic(idx):
        full[where] = g          # basic indexing selects each element once
    else:
        np.add.at(full, where, g)  # repeated fancy indices must accumulate
    return (full,)


GETITEM = Prim("getitem", lambda a, idx: a[idx], lambda d, v, o, idx: _take_dot(d[0], idx), _getitem_vjp)

RESHAPE = Prim("reshape", lambda a, shape: np.reshape(a, shape),
               lambda d, v, o, shape: d[0].reshape(d[0].shape[:1] + np.shape(o)),
               lambda g, v, o, need, shape: (g.reshape(g.shape[:1] + np.shape(v[0])),))


def _sum_axes(axis, ndim):
    """The reduced axes of an ndim-d value, non-negative."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _kept(g, axis, shape, keepdims):
    """An adjoint of a reduction's output (k,) + out, with unit axes where `shape` was reduced."""
    if keepdims:
        return g
    return np.expand_dims(g, tuple(a + 1 for a in _sum_axes(axis, len(shape))))


def _sum_vjp(g, vals, out, need, axis, keepdims):
    shape = np.shape(vals[0])
    return (np.broadcast_to(_kept(g, axis, shape, keepdims), g.shape[:1] + shape),)


def _shifted(axis, ndim):
    return tuple(a + 1 for a in _sum_axes(axis, ndim))


SUM = Prim("sum", lambda a, axis, keepdims: np.sum(a, axis=axis, keepdims=keepdims),
           lambda d, v, o, axis, keepdims: d[0].sum(axis=_shifted(axis, np.ndim(v[0])),
                                                     keepdims=keepdims),
           _sum_vjp)


def _selection(a, out, axis, keepdims):
    """Where a reduction by max or min picked its value: ties share the derivative equally."""
    hit = a == (out if keepdims else np.expand_dims(out, _sum_axes(axis, np.ndim(a))))
    return hit / hit.sum(axis=_sum_axes(axis, np.ndim(a)), keepdims=True)


def _extremum(name, reduce):
    def jvp(d, v, o, axis, keepdims):
        w = _selection(v[0], o, axis, keepdims)
        return (d[0] * w).sum(axis=_shifted(axis, np.ndim(v[0])), keepdims=keepdims)

    def vjp(g, v, o, need, axis, keepdims):
        return (_kept(g, axis, np.shape(v[0]), keepdims) * _selection(v[0], o, axis, keepdims),)
    return Prim(name, lambda a, axis, keepdims: reduce(a, axis=axis, keepdims=keepdims), jvp, vjp)


AMAX = _extremum("amax", np.amax)
AMIN = _extremum("amin", np.amin)


def _logsumexp(a, axis, keepdims):
    top = np.amax(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=_sum_axes(axis, np.ndim(a)))


def _softmax(a, out, axis, keepdims):
    return np.exp(a - (out if keepdims else np.expand_dims(out, _sum_axes(axis, np.ndim(a)))))


LOGSUMEXP = Prim(
    "logsumexp", _logsumexp,
    lambda d, v, o, axis, keepdims: (d[0] * _softmax(v[0], o, axis, keepdims)).sum(
        axis=_shifted(axis, np.ndim(v[0])), keepdims=keepdims),
    lambda g, v, o, need, axis, keepdims: (
        _kept(g, axis, np.shape(v[0]), keepdims) * _softmax(v[0], o, axis, keepdims),))


def _full_axes(axes, ndim):
    return tuple(reversed(range(ndim))) if axes is None else tuple(a % ndim for a in axes)


TRANSPOSE = Prim(
    "transpose", lambda a, axes: np.transpose(a, axes),
    lambda d, v, o, axes: np.transpose(d[0], (0,) + tuple(i + 1 for i in _full_axes(axes, np.ndim(v[0])))),
    lambda g, v, o, need, axes: (np.transpose(
        g, (0,) + tuple(int(i) + 1 for i in np.argsort(_full_axes(axes, np.ndim(v[0]))))),))


# flip and cumsum: linear, so each rule is the operation again (on the tangent's axes, shifted
# by its leading direction axis); cumsum's adjoint sums from the end: flip, cumsum, flip
FLIP = Prim("flip", lambda a, axis: np.flip(a, axis),
            lambda d, v, o, axis: np.flip(d[0], _shifted(axis, np.ndim(v[0]))),
            lambda g, v, o, need, axis: (np.flip(g, _shifted(axis, np.ndim(v[0]))),))


def _cumsum_jvp(d, v, o, axis):
    dot = d[0]
    if axis is None:
        return np.cumsum(dot.reshape(dot.shape[0], -1), axis=1)
    return np.cumsum(dot, axis=axis % np.ndim(v[0]) + 1)


def _cumsum_vjp(g, v, o, need, axis):
    shape = np.shape(v[0])
    along = 1 if axis is None else axis % len(shape) + 1
    back = np.flip(np.cumsum(np.flip(g, along), axis=along), along)
    return (back.reshape(g.shape[:1] + shape),)


CUMSUM = Prim("cumsum", lambda a, axis: np.cumsum(a, axis=axis), _cumsum_jvp, _cumsum_vjp)


def _take_where(indices, axis):
    return (slice(None),) * (axis + 1) + (indices,)


def _take_jvp(d, v, o, indices, axis):
    if axis is None:
        return d[0].reshape(d[0].shape[:1] + (-1,))[:, indices]
    return d[0][_take_where(indices, axis % np.ndim(v[0]))]


def _take_vjp(g, v, o, need, indices, axis):
    shape = np.shape(v[0])
    if axis is None:
        full = np.zeros((g.shape[0], int(np.prod(shape))), dtype=g.dtype)
        np.add.at(full, (slice(None), indices), g)   # repeated indices accumulate
        return (full.reshape(g.shape[:1] + shape),)
    full = np.zeros(g.shape[:1] + shape, dtype=g.dtype)
    np.add.at(full, _take_where(indices, axis % len(shape)), g)
    return (full,)


TAKE = Prim("take", lambda a, indices, axis: np.take(a, indices, axis=axis), _take_jvp, _take_vjp)


def _dots_or_zeros(dots, vals, out) -> list:
    """Every input's tangent, zeros (k,) + shape for the constant ones."""
    k = next(d.shape[0] for d in dots if d is not None)
    return [d if d is not None else np.zeros((k,) + np.shape(v), dtype=np.result_type(out))
            for d, v in zip(dots, vals)]


def _stack_jvp(dots, vals, out, axis):
    return np.stack(_dots_or_zeros(dots, vals, out), axis=axis % np.ndim(out) + 1)


def _stack_vjp(g, vals, out, need, axis):
    at = axis % np.ndim(out) + 1
    return tuple(np.take(g, i, axis=at) if wanted else None for i, wanted in enumerate(need))


STACK = Prim("stack", lambda *a, axis: np.stack(a, axis=axis), _stack_jvp, _stack_vjp)


def _concatenate_jvp(dots, vals, out, axis):
    return np.concatenate(_dots_or_zeros(dots, vals, out), axis=axis % np.ndim(out) + 1)


def _concatenate_vjp(g, vals, out, need, axis):
    at = axis % np.ndim(out)
    cuts = np.cumsum([np.shape(v)[at] for v in vals])[:-1]
    parts = np.split(g, cuts, axis=at + 1)
    return tuple(p if wanted else None for p, wanted in zip(parts, need))


CONCATENATE = Prim("concatenate", lambda *a, axis: np.concatenate(a, axis=axis),
                   _concatenate_jvp, _concatenate_vjp)


def _where_jvp(dots, vals, out, **_):
    k = next(d.shape[0] for d in dots[1:] if d is not None)
    da = 0.0 if dots[1] is None else lift(dots[1], np.ndim(out))
    db = 0.0 if dots[2] is None else lift(dots[2], np.ndim(out))
    return np.broadcast_to(np.where(vals[0], da, db), (k,) + np.shape(out))


def _where_vjp(g, vals, out, need, **_):
    cond, zero = vals[0], np.zeros((), dtype=g.dtype)
    return (None,
            unbroadcast(np.where(cond, g, zero), np.shape(vals[1])) if need[1] else None,
            unbroadcast(np.where(cond, zero, g), np.shape(vals[2])) if need[2] else None)


WHERE = Prim("where", np.where, _where_jvp, _where_vjp)


def _as_matrices(a, b):
    """Promote 1-d matmul operands to matrices, as NumPy does: a -> (1, k), b -> (k, 1)."""
    return (a[None, :] if np.ndim(a) == 1 else a), (b[:, None] if np.ndim(b) == 1 else b)


def _squeeze(x, a, b):
    """Undo _as_matrices on a result (k,) + (..., rows, cols)."""
    if np.ndim(b) == 1:
        x = x[..., 0]
    if np.ndim(a) == 1:
        x = x[..., 0, :] if np.ndim(b) != 1 else x[..., 0]
    return x


def _matmul_jvp(dots, vals, out, **_):
    a, b = vals
    a2, b2 = _as_matrices(np.asarray(a), np.asarray(b))
    rank = max(a2.ndim, b2.ndim)     # a batched operand's tangent meets the other's batch axes
    total = None
    if dots[0] is not None:
        total = lift(dots[0][:, None, :] if np.ndim(a) == 1 else dots[0], rank) @ b2
    if dots[1] is not None:
        term = a2 @ lift(dots[1][..., None] if np.ndim(b) == 1 else dots[1], rank)
        total = term if total is None else total + term
    return expand(_squeeze(total, a, b), np.shape(out))


def _matmul_vjp(g, vals, out, need, **_):
    a, b = vals
    a2, b2 = _as_matrices(np.asarray(a), np.asarray(b))
    g2 = g[..., None] if np.ndim(b) == 1 else g
    g2 = g2[..., None, :] if np.ndim(a) == 1 else g2
    ga = gb = None
    if need[0]:
        ga = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape)
        ga = ga[..., 0, :] if np.ndim(a) == 1 else ga
    if need[1]:
        gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape)
        gb = gb[..., 0] if np.ndim(b) == 1 else gb
    return ga, gb


MATMUL = Prim("matmul", np.matmul, _matmul_jvp, _matmul_vjp)


def _einsum_parts(subscripts: str, count: int) -> tuple[list[str], str]:
    """(operand indices, output indices) of an einsum, the implicit form made explicit."""
    s = subscripts.replace(" ", "")
    if "." in s:
        raise TypeError("the numpy op-level engine's einsum takes explicit indices, not '...'")
    ins, arrow, res = s.partition("->")
    if not arrow:
        letters = ins.replace(",", "")
        res = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    parts = ins.split(",")
    if len(parts) != count:
        raise ValueError(f"einsum {subscripts!r} names {len(parts)} operands, got {count}")
    for part in parts:
        if len(set(part)) != len(part):
            raise TypeError(f"the numpy op-level engine's einsum has no rule for an index repeated "
                            f"within one operand ({part!r}: a diagonal or trace)")
    return parts, res


def _fresh(parts, res) -> str:
    used = set("".join(parts) + res)
    return next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used)


def _einsum_jvp(dots, vals, out, subscripts):
    parts, res = _einsum_parts(subscripts, len(vals))
    k, total = _fresh(parts, res), None
    for i, dot in enumerate(dots):
        if dot is not None:
            subs = ",".join(k + p if j == i else p for j, p in enumerate(parts))
            term = np.einsum(f"{subs}->{k}{res}",
                             *(dot if j == i else v for j, v in enumerate(vals)))
            total = term if total is None else total + term
    return total


def _einsum_vjp(g, vals, out, need, subscripts):
    parts, res = _einsum_parts(subscripts, len(vals))
    k, grads = _fresh(parts, res), []
    for i, wanted in enumerate(need):
        if not wanted:
            grads.append(None)
            continue
        others = [p for j, p in enumerate(parts) if j != i]
        present = set(res + "".join(others))
        target = "".join(c for c in parts[i] if c in present)
        r = np.einsum(",".join([k + res] + others) + f"->{k}{target}",
                      g, *(v for j, v in enumerate(vals) if j != i))
        if target != parts[i]:   # an index summed in operand i alone: constant along it
            r = np.expand_dims(r, tuple(1 + p for p, c in enumerate(parts[i]) if c not in present))
            r = np.broadcast_to(r, g.shape[:1] + np.shape(vals[i]))
        grads.append(r)
    return tuple(grads)


EINSUM = Prim("einsum", lambda *a, subscripts: np.einsum(subscripts, *a), _einsum_jvp, _einsum_vjp)


# -- traced arrays -------------------------------------------------------------------------
class Traced:
    """Operators shared by Dual and Var; every one goes through `apply`."""

    __array_ufunc__ = None  # ndarray (op) Traced defers to our reflected operators

    @property
    def shape(self):
        return np.shape(self.value)

    @property
    def ndim(self):
        return np.ndim(self.value)

    @property
    def dtype(self):
        return np.result_type(self.value)

    def __len__(self):
        return len(self.value)

    @property
    def T(self):
        return apply(TRANSPOSE, self, axes=None)

    def __getitem__(self, idx):
        return apply(GETITEM, self, idx=idx)

    def __add__(self, o): return apply(ADD, self, o)
    def __radd__(self, o): return apply(ADD, o, self)
    def __sub__(self, o): return apply(SUB, self, o)
    def __rsub__(self, o): return apply(SUB, o, self)
    def __mul__(self, o): return apply(MUL, self, o)
    def __rmul__(self, o): return apply(MUL, o, self)
    def __truediv__(self, o): return apply(DIV, self, o)
    def __rtruediv__(self, o): return apply(DIV, o, self)
    def __matmul__(self, o): return apply(MATMUL, self, o)
    def __rmatmul__(self, o): return apply(MATMUL, o, self)
    def __neg__(self): return apply(NEG, self)
    def __pos__(self): return self
    def __abs__(self): return apply(ABS, self)

    def __pow__(self, p):
        if isinstance(p, Traced):
            raise TypeError("the numpy op-level engine raises to constant powers only")
        return apply(POW, self, p=p)

    # comparisons look at values only: their derivative is zero almost everywhere
    def __gt__(self, o): return self.value > value_of(o)
    def __ge__(self, o): return self.value >= value_of(o)
    def __lt__(self, o): return self.value < value_of(o)
    def __le__(self, o): return self.value <= value_of(o)


class Dual(Traced):
    """Forward mode: `value` and k tangents `dot` of shape (k,) + value.shape."""

    __slots__ = ("value", "dot")

    def __init__(self, value, dot):
        self.value, self.dot = value, dot


class Var(Traced):
    """Reverse mode: a value recorded as node `index` of `tape`."""

    __slots__ = ("value", "tape", "index")

    def __init__(self, value, tape, index):
        self.value, self.tape, self.index = value, tape, index


class Tape:
    """The record of one reverse-mode evaluation: (prim, input values, output, static, parents)."""

    def __init__(self):
        self.nodes: list[tuple] = []

    def record(self, prim, vals, out, static, parents) -> Var:
        self.nodes.append((prim, vals, out, static, parents))
        return Var(out, self, len(self.nodes) - 1)

    def input(self, value) -> Var:
        return self.record(None, (), value, {}, ())

    def pull(self, leaf: Var, out, seed):
        """Adjoint (k,) + leaf.shape of `leaf` for k output adjoints `seed`, one sweep back."""
        if not isinstance(out, Var):  # the output does not depend on the input
            return np.zeros(seed.shape[:1] + leaf.shape, dtype=seed.dtype)
        adjoint: list[Any] = [None] * len(self.nodes)
        adjoint[out.index] = seed
        for i in range(out.index, leaf.index, -1):
            g = adjoint[i]
            prim, vals, value, static, parents = self.nodes[i]
            if g is None or prim is None:
                continue
            need = tuple(any(pos == p for p, _ in parents) for pos in range(len(vals)))
            grads = prim.vjp(g, vals, value, need, **static)
            for pos, j in parents:
                adjoint[j] = grads[pos] if adjoint[j] is None else adjoint[j] + grads[pos]
        g = adjoint[leaf.index]
        return np.zeros(seed.shape[:1] + leaf.shape, dtype=seed.dtype) if g is None \
            else np.ascontiguousarray(g)


def value_of(a):
    return a.value if isinstance(a, Traced) else a


def apply(prim: Prim, *args, **static):
    """Run `prim` on plain, Dual or Var arguments; the result is of the same kind."""
    vals = tuple(value_of(a) for a in args)
    out = prim.value(*vals, **static)
    if any(isinstance(a, Dual) for a in args):
        if any(isinstance(a, Var) for a in args):
            raise TypeError("cannot mix forward (Dual) and reverse (Var) tracing")
        dots = tuple(a.dot if isinstance(a, Dual) else None for a in args)
        return Dual(out, prim.jvp(dots, vals, out, **static))
    parents = tuple((pos, a.index) for pos, a in enumerate(args) if isinstance(a, Var))
    if parents:
        return args[parents[0][0]].tape.record(prim, vals, out, static, parents)
    return out


def _namespace():
    """The op-level engine's `xp`: adcost.namespace.OPS on plain, Dual and Var arrays."""
    from ..namespace import Namespace, python_scan

    def asarray(a, dtype=None):
        return a if isinstance(a, Traced) else np.asarray(a, dtype=dtype)

    def reduction(prim):
        return lambda a, axis=None, keepdims=False: apply(prim, a, axis=axis, keepdims=keepdims)

    def mean(a, axis=None, keepdims=False):
        count = int(np.prod([np.shape(a)[i] for i in _sum_axes(axis, np.ndim(a))]))
        return apply(SUM, a, axis=axis, keepdims=keepdims) * (1.0 / count)

    def unary(prim):
        return lambda a: apply(prim, a)

    amax, amin = reduction(AMAX), reduction(AMIN)
    return Namespace(
        "the numpy op-level engine", None, asarray=asarray,
        zeros_like=lambda a: np.zeros_like(value_of(a)),
        ones_like=lambda a: np.ones_like(value_of(a)),
        stack=lambda arrays, axis=0: apply(STACK, *arrays, axis=axis),
        concatenate=lambda arrays, axis=0: apply(CONCATENATE, *arrays, axis=axis),
        concat=lambda arrays, axis=0: apply(CONCATENATE, *arrays, axis=axis),
        flip=lambda a, axis=None: apply(FLIP, a, axis=axis),
        cumsum=lambda a, axis=None: apply(CUMSUM, a, axis=axis),
        reshape=lambda a, shape: apply(RESHAPE, a, shape=shape),
        transpose=lambda a, axes=None: apply(TRANSPOSE, a, axes=axes),
        take=lambda a, indices, axis=None: apply(TAKE, a, indices=np.asarray(indices), axis=axis),
        where=lambda cond, a, b: apply(WHERE, value_of(cond), a, b),
        **{name: unary(prim) for name, prim in UNARY.items()}, maximum=lambda a, b: apply(MAXIMUM, a, b),
        minimum=lambda a, b: apply(MINIMUM, a, b), sum=reduction(SUM), mean=mean,
        amax=amax, max=amax, amin=amin, min=amin, logsumexp=reduction(LOGSUMEXP),
        matmul=lambda a, b: apply(MATMUL, a, b),
        einsum=lambda subscripts, *operands: apply(EINSUM, *operands, subscripts=subscripts),
        scan=python_scan(lambda arrays, axis: apply(STACK, *arrays, axis=axis)))


xp = _namespace()


def push(fn: Callable, x, V):
    """(f(x), dots) with V of shape (k, n) tangents; dots has shape (k,) + f(x).shape."""
    y = fn(xp, Dual(x, V))
    if isinstance(y, Dual):
        return y.value, y.dot
    y = np.asarray(y)
    return y, np.zeros(V.shape[:1] + y.shape, dtype=V.dtype)


def pull(fn: Callable, x, U):
    """(f(x), adjoints) with U of shape (k, m) adjoints; adjoints has shape (k,) + x.shape."""
    tape = Tape()
    leaf = tape.input(x)
    y = fn(xp, leaf)
    return np.asarray(value_of(y)), tape.pull(leaf, y, U)
