"""The hand-written NumPy engine (`numpy`): explicit JVP and VJP rules, no AD framework.

Two engines sit behind the one adapter:

* The layer engine runs the MLP family (`mlp`, `mlp_loss`, `linear_relu`) and `affine` with
  whole-layer rules on vectorized arrays; this is what the benchmarks time.  Its pieces are
  public so that other studies (checkpointing) can reuse them:

    linear(h, W, b)                      z = h @ W + b, W stored (fan_in, fan_out), b may be None
    linear_jvp(h, W, dh, dW, db)         dz = dh @ W + h @ dW + db (None terms are skipped)
    linear_vjp(h, W, g, weights, inputs) (g @ W^T, h^T g, sum over the batch of g)
    activate(z, kind)                    tanh or relu
    activation_jvp(a, dz, kind)          derivative read from the output a: 1 - a^2, or a > 0
    activation_vjp(a, g, kind)           the same diagonal rule, applied to an adjoint
    forward(layers, h, kind)             -> (y, cache): cache = the hidden activations h_1..h_depth
    forward_jvp(layers, h, dh, kind, dlayers) -> (y, dy): values and tangents in one sweep
    backward(layers, h, cache, g, kind, weights, inputs) -> (adjoint of h, [(dW, db)] or None)
    saved_bytes(problem, dtype)          bytes the reverse pass caches (exact nbytes, see below)

  `layers` is a list of (W, b) pairs; `kind` the hidden activation ("tanh" or "relu"), none
  after the last layer.  Tangents and adjoints may carry leading axes (a batch of
  directions): jacfwd pushes the n x n identity through once, jacrev pulls the m x m
  identity back once.  The reverse pass caches exactly the hidden activations (both the
  activation's derivative and the next layer's weight adjoint read them) and, for the
  loss, the residual y - T; inputs and parameters are the caller's arrays, not counted.

* The op-level engine (`_numpy_ops`) runs every other problem (the scalar examples,
  custom problems) through a traced array type with a JVP and a VJP rule per primitive.
"""
from __future__ import annotations

import numpy as np

from . import _numpy_ops
from .base import Framework, register

LAYER_ARCHS = ("mlp", "mlp_loss", "affine")


# -- one layer -------------------------------------------------------------------------------
def linear(h, W, b=None):
    """z = h @ W + b for h of shape (..., fan_in)."""
    z = h @ W
    return z if b is None else z + b


def linear_jvp(h, W, dh=None, dW=None, db=None):
    """Tangent of h @ W + b; dh, dW, db carry the same leading direction axes (None: constant)."""
    dz = None if dh is None else dh @ W
    if dW is not None:
        term = h @ dW  # (..., fan_in, fan_out) broadcasts over the direction axes
        dz = term if dz is None else dz + term
    if db is not None:
        # a batched h puts its batch axis between the direction axes and the features
        term = db.reshape(db.shape[:-1] + (1,) * (h.ndim - 1) + db.shape[-1:])
        dz = term if dz is None else dz + term
    return dz


def linear_vjp(h, W, g, weights=False, inputs=True):
    """(adjoint of h, of W, of b) for the adjoint g of z = h @ W + b; skipped parts are None."""
    gh = g @ W.T if inputs else None
    if not weights:
        return gh, None, None
    if h.ndim == 2:
        return gh, h.T @ g, g.sum(axis=-2)       # sums over the batch rows of h
    return gh, h[:, None] * g[..., None, :], g


def activate(z, kind: str):
    return np.tanh(z) if kind == "tanh" else np.maximum(z, 0)


def activation_jvp(a, dz, kind: str):
    """Tangent of a = act(z) given dz, from the output a alone."""
    return dz * (1 - a * a) if kind == "tanh" else dz * (a > 0)


def activation_vjp(a, g, kind: str):
    """Adjoint of z given the adjoint g of a = act(z): the Jacobian is diagonal, so the JVP rule."""
    return activation_jvp(a, g, kind)


# -- a stack of layers ------------------------------------------------------------------------
def forward(layers, h, kind: str, keep: bool = True):
    """(y, cache): y after the last (linear) layer; cache = hidden activations ([] if not keep)."""
    cache = []
    last = len(layers) - 1
    for k, (W, b) in enumerate(layers):
        h = linear(h, W, b)
        if k < last:
            h = activate(h, kind)
            if keep:
                cache.append(h)
    return h, cache


def forward_jvp(layers, h, dh, kind: str, dlayers=None):
    """(y, dy): values and tangents together; dlayers: (dW, db) per layer, or None if constant."""
    last = len(layers) - 1
    for k, (W, b) in enumerate(layers):
        dW, db = dlayers[k] if dlayers is not None else (None, None)
        dh = linear_jvp(h, W, dh, dW, db)
        h = linear(h, W, b)
        if k < last:
            h = activate(h, kind)
            dh = activation_jvp(h, dh, kind)
    return h, dh


def backward(layers, h, cache, g, kind: str, weights=False, inputs=True):
    """Pull the adjoint g of y back through the layers, reading `cache` from `forward(layers, h)`.

    Returns (adjoint of h or None, [(dW, db) per layer] or None).
    """
    grads = [None] * len(layers) if weights else None
    for k in range(len(layers) - 1, -1, -1):
        W, b = layers[k]
        if k < len(layers) - 1:
            g = activation_vjp(cache[k], g, kind)
        h_in = h if k == 0 else cache[k - 1]
        g_in, gW, gb = linear_vjp(h_in, W, g, weights, inputs or k > 0)
        if weights:
            grads[k] = (gW, gb if b is not None else None)
        g = g_in
    return g, grads


# -- the problems -----------------------------------------------------------------------------
class Model:
    """One problem's rules.  push/pull take directions with leading axes and return (y, product)."""

    def __init__(self, problem, dtype: str):
        self.problem, self.n, self.m, self.dtype = problem, problem.n, problem.m, dtype
        self._eyes: dict[int, np.ndarray] = {}

    def eye(self, size: int) -> np.ndarray:
        if size not in self._eyes:
            self._eyes[size] = np.eye(size, dtype=self.dtype)
        return self._eyes[size]

    def jvp(self, params, x, v):
        return self.push(params, x, v)

    def vjp(self, params, x, u):
        return self.pull(params, x, u)

    def grad(self, params, x):
        return self.pull(params, x, self.eye(1)[0])[1]

    def jacfwd(self, params, x):
        return self.push(params, x, self.eye(self.n))[1].T

    def jacrev(self, params, x):
        return self.pull(params, x, self.eye(self.m))[1]


class MLP(Model):
    """`mlp`: x (or `batch` stacked inputs) through the layers; derivatives w.r.t. x."""

    def __init__(self, problem, dtype):
        super().__init__(problem, dtype)
        meta = problem.meta
        self.kind, self.batch, self.count = meta["activation"], meta["batch"], meta["depth"] + 1
        self.n_in, self.n_out = meta["n_in"], meta["n_out"]

    def layers(self, params):
        return [(params[f"W{k}"], params[f"b{k}"]) for k in range(self.count)]

    def rows(self, a, width):
        """(..., batch * width) -> (..., batch, width) for a batched problem."""
        return a if self.batch is None else a.reshape(a.shape[:-1] + (self.batch, width))

    def flat(self, a):
        return a if self.batch is None else a.reshape(a.shape[:-2] + (-1,))

    def primal(self, params, x):
        return self.flat(forward(self.layers(params), self.rows(x, self.n_in), self.kind, keep=False)[0])

    def push(self, params, x, V):
        y, dy = forward_jvp(self.layers(params), self.rows(x, self.n_in), self.rows(V, self.n_in), self.kind)
        return self.flat(y), self.flat(dy)

    def cached(self, params, x):
        layers, h = self.layers(params), self.rows(x, self.n_in)
        return (layers, h) + forward(layers, h, self.kind)

    def pull(self, params, x, U):
        layers, h, y, cache = self.cached(params, x)
        g, _ = backward(layers, h, cache, self.rows(U, self.n_out), self.kind)
        return self.flat(y), self.flat(g)

    def saved(self, params, x) -> list:
        return self.cached(params, x)[3]


class Loss(MLP):
    """`mlp_loss` and `linear_relu`: sum((MLP(X) - T)^2) / batch w.r.t. the flat parameters x."""

    def __init__(self, problem, dtype):
        super().__init__(problem, dtype)
        self.bias = problem.meta.get("bias", True)
        self.layout = problem.meta["layout"]

    def split(self, x) -> dict:
        """Views of x (..., n) as the named parameters (..., *shape)."""
        lead = x.shape[:-1]
        return {key: x[..., o:o + int(np.prod(shape))].reshape(lead + tuple(shape))
                for key, shape, o in self.layout}

    def layers(self, x):
        part = self.split(x)
        return [(part[f"W{k}"], part.get(f"b{k}")) for k in range(self.count)]

    def primal(self, params, x):
        r = forward(self.layers(x), params["X"], self.kind, keep=False)[0] - params["T"]
        return np.reshape(np.vdot(r, r) / self.batch, (1,))

    def push(self, params, x, V):
        y, dy = forward_jvp(self.layers(x), params["X"], None, self.kind, self.layers(V))
        r = y - params["T"]
        dL = (2 / self.batch) * np.sum(r * dy, axis=(-2, -1))
        return np.reshape(np.vdot(r, r) / self.batch, (1,)), dL[..., None]

    def cached(self, params, x):
        layers = self.layers(x)
        y, cache = forward(layers, params["X"], self.kind)
        return layers, y, cache, y - params["T"]

    def pull(self, params, x, U):
        layers, _, cache, r = self.cached(params, x)
        g = (2 / self.batch) * U[..., None] * r   # U (..., 1) -> (..., 1, 1) against r (batch, m)
        _, grads = backward(layers, params["X"], cache, g, self.kind, weights=True, inputs=False)
        lead = U.shape[:-1]
        out = np.empty(lead + (self.n,), dtype=r.dtype)
        named = {}
        for k, (gW, gb) in enumerate(grads):
            named[f"W{k}"], named[f"b{k}"] = gW, gb
        for key, shape, o in self.layout:
            out[..., o:o + int(np.prod(shape))] = named[key].reshape(lead + (-1,))
        return np.reshape(np.vdot(r, r) / self.batch, (1,)), out

    def saved(self, params, x) -> list:
        _, _, cache, r = self.cached(params, x)
        return cache + [r]


class Affine(Model):
    """`affine`: f(z) = W x + b with z = (x, vec(W) row-major, b)."""

    def __init__(self, problem, dtype):
        super().__init__(problem, dtype)
        self.k = problem.meta["k"]

    def parts(self, z):
        k, m, lead = self.k, self.m, z.shape[:-1]
        return z[..., :k], z[..., k:k + m * k].reshape(lead + (m, k)), z[..., k + m * k:]

    def primal(self, params, z):
        x, W, b = self.parts(z)
        return W @ x + b

    def push(self, params, z, V):
        x, W, b = self.parts(z)
        dx, dW, db = self.parts(V)
        return W @ x + b, dx @ W.T + dW @ x + db

    def pull(self, params, z, U):
        x, W, b = self.parts(z)
        gW = (U[..., :, None] * x).reshape(U.shape[:-1] + (-1,))
        return W @ x + b, np.concatenate([U @ W, gW, U], axis=-1)

    def saved(self, params, z) -> list:
        return []  # the pullback reads only views of z


class OpLevel(Model):
    """Any other problem, through the op-level engine (one pass for all k directions)."""

    def __init__(self, problem, dtype):
        super().__init__(problem, dtype)
        self.fn = problem.fn

    def primal(self, params, x):
        return np.asarray(self.fn(_numpy_ops.xp, x, params))

    def push(self, params, x, V):
        y, dots = _numpy_ops.push(lambda xp, z: self.fn(xp, z, params), x, V.reshape((-1, self.n)))
        return y, dots.reshape(V.shape[:-1] + y.shape)

    def pull(self, params, x, U):
        y, adj = _numpy_ops.pull(lambda xp, z: self.fn(xp, z, params), x, U.reshape((-1, self.m)))
        return y, adj.reshape(U.shape[:-1] + (self.n,))


MODELS = {"mlp": MLP, "mlp_loss": Loss, "affine": Affine}


def model(problem, dtype: str = "float64") -> Model:
    """The engine's rules for `problem`: a layer model for LAYER_ARCHS, else the op-level one."""
    return MODELS.get(problem.meta.get("arch"), OpLevel)(problem, dtype)


def saved_bytes(problem, dtype: str = "float64", x=None) -> int:
    """Bytes the layer engine's reverse pass caches for `problem` at x (default x0): exact nbytes."""
    if problem.meta.get("arch") not in LAYER_ARCHS:
        raise ValueError(f"saved_bytes covers the layer problems ({', '.join(LAYER_ARCHS)}); "
                         f"{problem.name} runs on the op-level engine")
    fw = NumpyEngine(dtype)
    return int(sum(a.nbytes for a in model(problem, dtype).saved(fw.params(problem),
                                                                 fw.asarray(problem.point(x)))))


@register("numpy")
class NumpyEngine(Framework):
    devices = ("cpu",)
    mode_notes = {
        "jacfwd": "hand-written JVP rules, all n tangents in one vectorized sweep",
        "jacrev": "hand-written VJP rules, all m adjoints in one vectorized sweep",
    }

    def __init__(self, dtype="float64", device="cpu"):
        super().__init__(dtype, device)
        self.xp = _numpy_ops.xp
        self._probed: dict = {}

    def asarray(self, a):
        return np.asarray(a, dtype=self.dtype)

    def stack(self, arrays, axis):
        return np.stack(arrays, axis=axis)

    def function(self, problem) -> Model:
        return model(problem, self.dtype)

    def unsupported(self, problem, op):
        if problem.meta.get("arch") in LAYER_ARCHS:
            return None
        if problem not in self._probed:
            self._probed[problem] = self._probe(problem)
        return self._probed[problem]

    def _probe(self, problem) -> str | None:
        """Trace the op-level engine once both ways at x0; the failure, if any, is the reason."""
        try:
            traced = OpLevel(problem, "float64")
            x, params = problem.point(), self.params(problem)
            traced.push(params, x, np.ones(problem.n))
            traced.pull(params, x, np.ones(problem.m))
        except Exception as exc:  # any failure to trace is a reason to skip, not a crash
            return f"numpy op-level engine cannot run {problem.name}: {type(exc).__name__}: {exc}"
        return None

    def op_primal(self, f): return f.primal
    def op_jvp(self, f): return f.jvp
    def op_vjp(self, f): return f.vjp
    def op_grad(self, f): return f.grad
    def op_jacfwd(self, f): return f.jacfwd
    def op_jacrev(self, f): return f.jacrev
