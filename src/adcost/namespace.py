"""The array namespace `xp` a problem is written against: one set of operations, one meaning.

Every engine's `xp` offers the operations of `OPS` with NumPy's meaning (values only for
max/min, `axis`/`keepdims` keywords, `take` as `np.take`, `transpose` reversing the axes by
default, a stable `logsumexp`), whatever the framework calls them:

    arrays      asarray, zeros_like, ones_like, stack, concatenate (= concat, the Array API's
                name), reshape, transpose, take, where, flip (axis=None: every axis)
    elementwise log, exp, sqrt, sin, cos, tanh, maximum, minimum, abs, square, log1p, expm1,
                tan, arctan, sinh, cosh
    reductions  sum, mean, amax (= max), amin (= min), logsumexp        (axis=None, keepdims=False)
    scans       cumsum                                  (axis=None: of the flattened array)
    products    matmul, einsum                                           (plus + - * / ** @ on arrays)
    loops       scan(step, carry, xs=None, length=None) -> (carry, ys): step(carry, x_t) ->
                (carry, y_t), as jax.lax.scan; JAX runs lax.scan (one compiled loop body), the
                others a Python loop (unrolled where they trace)

Torch's `torch.max(a, 1)` returns (values, indices) and its reductions call the axis `dim`;
TensorFlow's numpy module has no logsumexp; torch's flip needs its axes and its tensors have no
negative-step slices (`x[::-1]`: use `xp.flip`): these differences stop here.  On torch, JAX and
TensorFlow any other name falls through to the framework's own module (`xp.linalg`, ...), so a
problem may use more, at the price of running on fewer engines; a name the framework's module
lacks, and any the NumPy op-level engine lacks, raise `MissingOperation` (an `Unsupported`)
naming the engine and the operation.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

OPS = ("asarray", "zeros_like", "ones_like", "stack", "concatenate", "concat", "reshape",
       "transpose", "take", "where", "flip", "log", "exp", "sqrt", "sin", "cos", "tanh",
       "maximum", "minimum", "abs", "square", "log1p", "expm1", "tan", "arctan", "sinh", "cosh",
       "sum", "mean", "amax", "max", "amin", "min", "logsumexp", "cumsum", "matmul", "einsum",
       "scan")
# the elementwise functions every framework's module names as NumPy does (torch: torch.abs, ...)
UNARY = ("log", "exp", "sqrt", "sin", "cos", "tanh", "abs", "square", "log1p", "expm1", "tan",
         "arctan", "sinh", "cosh")


class Namespace(SimpleNamespace):
    """The operations of OPS as attributes; other names go to `native` (None: refused)."""

    def __init__(self, engine: str, native: Any, **functions: Callable):
        missing = set(OPS) - set(functions)
        if missing:
            raise TypeError(f"{engine} namespace lacks {', '.join(sorted(missing))}")
        super().__init__(**functions)
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_native", native)

    def __getattr__(self, name: str):
        # Only names not set on the instance get here.  `_native` and `_engine` are read from
        # the instance's __dict__, which torch.compile's Dynamo traces (it cannot trace
        # object.__getattribute__); before __init__ has set them they are absent.
        if name.startswith("_"):
            raise AttributeError(name)
        native = self.__dict__.get("_native")
        if native is not None and hasattr(native, name):
            return getattr(native, name)
        from .frameworks.base import MissingOperation
        raise MissingOperation(f"{self.__dict__.get('_engine')} has no xp.{name}; "
                               f"the shared namespace offers {', '.join(OPS)}")

    def __repr__(self):
        return f"<adcost xp for {self.__dict__.get('_engine')}>"


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))


def python_scan(stack: Callable) -> Callable:
    """scan as a Python loop; `stack(list, axis)` stacks the per-step outputs."""
    def scan(step, carry, xs=None, length=None):
        if xs is None:
            if length is None:
                raise ValueError("scan needs xs or length")
            steps = int(length)
        else:
            steps = (xs[0] if isinstance(xs, (tuple, list)) else xs).shape[0]
        ys = []
        for t in range(steps):
            x_t = None if xs is None else (
                tuple(a[t] for a in xs) if isinstance(xs, (tuple, list)) else xs[t])
            carry, y = step(carry, x_t)
            ys.append(y)
        if not ys or ys[0] is None:
            return carry, None
        if isinstance(ys[0], tuple):
            return carry, tuple(stack([y[i] for y in ys], 0) for i in range(len(ys[0])))
        return carry, stack(ys, 0)
    return scan


def numpy_namespace() -> Namespace:
    """Plain NumPy (the primal of the reference and of finite differences)."""
    import numpy as np
    from scipy.special import logsumexp

    return Namespace(
        "numpy", np, asarray=np.asarray, zeros_like=np.zeros_like, ones_like=np.ones_like,
        stack=np.stack, concatenate=np.concatenate, concat=np.concatenate, reshape=np.reshape,
        transpose=np.transpose, take=np.take, where=np.where, flip=np.flip,
        **{name: getattr(np, name) for name in UNARY},
        maximum=np.maximum, minimum=np.minimum, sum=np.sum,
        mean=np.mean, amax=np.amax, max=np.amax, amin=np.amin, min=np.amin,
        logsumexp=lambda a, axis=None, keepdims=False: logsumexp(a, axis=axis, keepdims=keepdims),
        cumsum=np.cumsum, matmul=np.matmul, einsum=np.einsum, scan=python_scan(np.stack))


def torch_namespace(torch) -> Namespace:
    def reduce(fn):
        def run(a, axis=None, keepdims=False):
            return fn(a, dim=_axes(axis, a.ndim), keepdim=keepdims)
        return run

    def transpose(a, axes=None):
        return a.permute(tuple(reversed(range(a.ndim))) if axes is None else tuple(axes))

    def take(a, indices, axis=None):
        if axis is None:
            return a.reshape(-1)[indices]
        return a[(slice(None),) * (axis % a.ndim) + (indices,)]

    def binary(fn):
        def run(a, b):
            if not isinstance(a, torch.Tensor):
                a = torch.as_tensor(a, dtype=b.dtype, device=b.device)
            if not isinstance(b, torch.Tensor):
                b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
            return fn(a, b)
        return run

    def asarray(a, dtype=None):
        return torch.as_tensor(a, dtype=dtype)

    def concatenate(arrays, axis=0):
        return torch.cat(list(arrays), dim=axis)

    def flip(a, axis=None):
        return torch.flip(a, dims=_axes(axis, a.ndim))

    def cumsum(a, axis=None):
        return torch.cumsum(a.reshape(-1), dim=0) if axis is None else torch.cumsum(a, dim=axis)

    return Namespace(
        "torch", torch, asarray=asarray, zeros_like=torch.zeros_like, ones_like=torch.ones_like,
        stack=lambda arrays, axis=0: torch.stack(list(arrays), dim=axis),
        concatenate=concatenate, concat=concatenate,
        reshape=torch.reshape, transpose=transpose, take=take, where=torch.where, flip=flip,
        **{name: getattr(torch, name) for name in UNARY},
        maximum=binary(torch.maximum), minimum=binary(torch.minimum),
        sum=reduce(torch.sum), mean=reduce(torch.mean), amax=reduce(torch.amax),
        max=reduce(torch.amax), amin=reduce(torch.amin), min=reduce(torch.amin),
        logsumexp=reduce(torch.logsumexp), cumsum=cumsum, matmul=torch.matmul,
        einsum=torch.einsum,
        scan=python_scan(lambda arrays, axis: torch.stack(arrays, dim=axis)))


def jax_namespace(jax) -> Namespace:
    jnp = jax.numpy
    from jax.scipy.special import logsumexp

    return Namespace(
        "jax", jnp, asarray=jnp.asarray, zeros_like=jnp.zeros_like, ones_like=jnp.ones_like,
        stack=jnp.stack, concatenate=jnp.concatenate, concat=jnp.concatenate,
        reshape=jnp.reshape, transpose=jnp.transpose, take=jnp.take, where=jnp.where,
        flip=jnp.flip, **{name: getattr(jnp, name) for name in UNARY}, maximum=jnp.maximum,
        minimum=jnp.minimum, sum=jnp.sum, mean=jnp.mean, amax=jnp.max, max=jnp.max,
        amin=jnp.min, min=jnp.min,
        logsumexp=lambda a, axis=None, keepdims=False: logsumexp(a, axis=axis, keepdims=keepdims),
        cumsum=jnp.cumsum, matmul=jnp.matmul, einsum=jnp.einsum,
        scan=lambda step, carry, xs=None, length=None: jax.lax.scan(step, carry, xs, length=length))


def tf_namespace(tf) -> Namespace:
    tnp = tf.experimental.numpy

    def logsumexp(a, axis=None, keepdims=False):
        return tf.math.reduce_logsumexp(a, axis=axis, keepdims=keepdims)

    return Namespace(
        "tf", tnp, asarray=tnp.asarray, zeros_like=tnp.zeros_like, ones_like=tnp.ones_like,
        stack=tnp.stack, concatenate=tnp.concatenate, concat=tnp.concatenate,
        reshape=tnp.reshape, transpose=tnp.transpose, take=tnp.take, where=tnp.where,
        flip=tnp.flip, **{name: getattr(tnp, name) for name in UNARY}, maximum=tnp.maximum,
        minimum=tnp.minimum, sum=tnp.sum, mean=tnp.mean, amax=tnp.amax, max=tnp.amax,
        amin=tnp.amin, min=tnp.amin, logsumexp=logsumexp, cumsum=tnp.cumsum,
        matmul=tnp.matmul, einsum=tnp.einsum, scan=python_scan(tnp.stack))


_NUMPY: Namespace | None = None


def numpy_xp() -> Namespace:
    """The plain NumPy namespace, built once."""
    global _NUMPY
    if _NUMPY is None:
        _NUMPY = numpy_namespace()
    return _NUMPY
