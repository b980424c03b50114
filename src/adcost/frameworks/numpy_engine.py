"""The hand-written NumPy engine (`numpy`): explicit JVP and VJP rules, no AD framework.

Two engines sit behind the one adapter:

* The layer engine runs the layered problems (`mlp`, `mlp_loss`, `linear_relu`: their
  `problem.layers`) and `affine` with whole-layer rules on vectorized arrays; this is what the
  benchmarks time.  The primal is the problem's own function on NumPy (the one layer loop,
  `Layers.run`); the rules are

    linear_jvp(h, W, dh, dW, db)         dz = dh @ W + h @ dW + db (None terms are skipped)
    linear_vjp(h, W, g, weights, inputs) (g @ W^T, h^T g, sum over the batch of g)
    activation_jvp(a, dz, kind)          derivative read from the output a: 1 - a^2, or a > 0
    activation_vjp(a, g, kind)           the same diagonal rule, applied to an adjoint

  Forward mode pushes values and tangents through the layers together (`forward_jvp`).
  Reverse mode is a `Chain` of steps (one per layer; the last one is the output layer and,
  for a loss, its residual) run by the checkpoint schedules of adcost.checkpoint.schedules:
  plain reverse mode is the schedule `none`, and `ckpt_grad` runs any other.  A `Ledger`
  counts the bytes held for the backward pass: exactly the hidden activations (both the
  activation's derivative and the next layer's weight adjoint read them) and, for the loss,
  the residual y - T; inputs and parameters are the caller's arrays, not counted.
  Tangents and adjoints may carry leading axes (a batch of directions): jacfwd pushes the
  n x n identity through once, jacrev pulls the m x m identity back once.

* The op-level engine (`_numpy_ops`) runs every other problem (the scalar examples,
  custom problems) through a traced array type with a JVP and a VJP rule per primitive.
"""
from __future__ import annotations

import numpy as np

from ..checkpoint.schedules import Ledger, SEGMENT_STRATEGIES, run_binomial, segments
from ..namespace import numpy_xp
from . import _numpy_ops
from .base import Framework, Record, register

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


def forward_jvp(layers, per_layer, h, dh, dlayers=None):
    """(y, dy): values and tangents together; dlayers: (dW, db) per layer, or None if constant."""
    kind, last = layers.activation, layers.count - 1
    for k, params in enumerate(per_layer):
        W, b = params[0], params[1] if layers.bias else None
        dW, db = (dlayers[k] + (None,))[:2] if dlayers is not None else (None, None)
        dh = linear_jvp(h, W, dh, dW, db)
        h = linear(h, W, b)
        if k < last:
            h = activate(h, kind)
            dh = activation_jvp(h, dh, kind)
    return h, dh


class Chain:
    """Reverse mode over a problem's layers as steps k = 0 .. count - 1, for the schedules.

    advance(k, h) runs step k untaped; taped(k, h) runs it keeping what its VJP needs, (h_k,
    h_{k+1}) or, for the output step, (h_L,) or (h_L, r) with the residual r = y - T of a
    loss; backprop(k, tape, g) pulls the adjoint g of step k's output back to its input and
    fills grads[k] with the weight adjoints (when `weights`)."""

    def __init__(self, layers, per_layer, ledger, weights: bool, target=None, scale=None):
        self.layers, self.per_layer, self.ledger = layers, per_layer, ledger
        self.weights, self.target, self.scale = weights, target, scale
        self.last = layers.count - 1
        self.grads: dict = {}
        self.output = None

    def advance(self, k, h):
        return self.layers.apply(np, h, self.per_layer[k], last=k == self.last)

    def taped(self, k, h):
        if k < self.last:
            tape = (h, self.advance(k, h))
        else:
            self.output = self.advance(k, h)
            tape = (h,) if self.target is None else (h, self.output - self.target)
        self.ledger.hold(*tape)
        return tape

    def backprop(self, k, tape, g):
        if k == self.last:
            # the seed g has leading direction axes: for a loss (..., 1) against r (batch, m)
            dz = g if self.target is None else self.scale * g[..., None] * tape[1]
        else:
            dz = activation_vjp(tape[1], g, self.layers.activation)
        W = self.per_layer[k][0]
        g_in, gW, gb = linear_vjp(tape[0], W, dz, self.weights, inputs=k > 0 or self.target is None)
        self.grads[k] = (gW, gb) if self.layers.bias else (gW,)
        self.ledger.release(*tape)
        return g_in


def run_schedule(chain: Chain, h, seed, schedule: str, slots: int = 4):
    """The adjoint of the chain's input for the output adjoint `seed`, under `schedule`."""
    ledger, L = chain.ledger, chain.last

    def backprop(k, tape, g):
        if not hasattr(ledger, "stored"):
            ledger.stored = ledger.held   # what stays between the forward and the backward
        return chain.backprop(k, tape, g)

    if schedule == "binomial":
        return run_binomial(L + 1, slots, h, chain.advance, chain.taped, backprop, seed, ledger)
    segs, tapes, starts = segments(schedule, L), {}, {}
    for start, stop, checkpointed in segs:
        if checkpointed:
            starts[start] = h
            ledger.hold(h)
            for k in range(start, stop):
                h = chain.advance(k, h)
        else:
            for k in range(start, stop):
                tapes[k] = chain.taped(k, h)
                h = tapes[k][1]
    g = backprop(L, chain.taped(L, h), seed)
    for start, stop, checkpointed in reversed(segs):
        if checkpointed:           # recompute the segment taped, from its kept input
            h = starts.pop(start)
            for k in range(start, stop):
                tapes[k] = chain.taped(k, h)
                h = tapes[k][1]
            ledger.release(tapes[start][0])  # the checkpoint's own hold; the tape keeps it
        for k in reversed(range(start, stop)):
            g = backprop(k, tapes.pop(k), g)
    return g


# -- the problems -----------------------------------------------------------------------------
class Model:
    """One problem's rules.  push/pull take directions with leading axes and return (y, product)."""

    def __init__(self, problem, dtype: str):
        self.problem, self.n, self.m, self.dtype = problem, problem.n, problem.m, dtype
        self._eyes: dict[int, np.ndarray] = {}
        self.last_ledger: Ledger | None = None

    def eye(self, size: int) -> np.ndarray:
        if size not in self._eyes:
            self._eyes[size] = np.eye(size, dtype=self.dtype)
        return self._eyes[size]

    def primal(self, params, x):
        return self.problem.fn(numpy_xp(), x, params)

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
        meta, self.layers = problem.meta, problem.layers
        self.batch, self.n_in, self.n_out = meta["batch"], meta["n_in"], meta["n_out"]

    def rows(self, a, width):
        """(..., batch * width) -> (..., batch, width) for a batched problem."""
        return a if self.batch is None else a.reshape(a.shape[:-1] + (self.batch, width))

    def flat(self, a):
        return a if self.batch is None else a.reshape(a.shape[:-2] + (-1,))

    def push(self, params, x, V):
        y, dy = forward_jvp(self.layers, self.layers.split(params), self.rows(x, self.n_in),
                            self.rows(V, self.n_in))
        return self.flat(y), self.flat(dy)

    def pull(self, params, x, U):
        h = self.rows(x, self.n_in)
        chain = Chain(self.layers, self.layers.split(params), Ledger(exclude=[h]), weights=False)
        g = run_schedule(chain, h, self.rows(U, self.n_out), "none")
        self.last_ledger = chain.ledger
        return self.flat(chain.output), self.flat(g)


class Loss(MLP):
    """`mlp_loss` and `linear_relu`: sum((MLP(X) - T)^2) / batch w.r.t. the flat parameters x."""

    def __init__(self, problem, dtype):
        super().__init__(problem, dtype)
        self.layout = problem.meta["layout"]

    def split(self, x) -> list[tuple]:
        """Views of x (..., n) as one tuple of parameters (..., *shape) per layer."""
        lead = x.shape[:-1]
        named = {key: x[..., o:o + int(np.prod(shape))].reshape(lead + tuple(shape))
                 for key, shape, o in self.layout}
        return self.layers.split(named)

    def push(self, params, x, V):
        y, dy = forward_jvp(self.layers, self.split(x), params["X"], None, self.split(V))
        r = y - params["T"]
        dL = (2 / self.batch) * np.sum(r * dy, axis=(-2, -1))
        return np.reshape(np.vdot(r, r) / self.batch, (1,)), dL[..., None]

    def pull(self, params, x, U, schedule: str = "none", slots: int = 4):
        X = params["X"]
        chain = Chain(self.layers, self.split(x), Ledger(exclude=[X]), weights=True,
                      target=params["T"], scale=np.asarray(2 / self.batch, dtype=x.dtype))
        run_schedule(chain, X, U, schedule, slots)
        self.last_ledger = chain.ledger
        lead = U.shape[:-1]
        out = np.empty(lead + (self.n,), dtype=x.dtype)
        named = {name: a for k in range(self.layers.count)
                 for name, a in zip(self.layers.names(k), chain.grads[k])}
        for key, shape, o in self.layout:
            out[..., o:o + int(np.prod(shape))] = named[key].reshape(lead + (-1,))
        r = chain.output - params["T"]
        return np.reshape(np.vdot(r, r) / self.batch, (1,)), out

    def gradient(self, schedule: str, slots: int):
        """The gradient under a checkpoint schedule, as a callable of (params, x)."""
        seed = self.eye(1)[0]
        return lambda params, x: self.pull(params, x, seed, schedule, slots)[1]


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


class OpLevel(Model):
    """Any other problem, through the op-level engine (one pass for all k directions)."""

    def __init__(self, problem, dtype):
        super().__init__(problem, dtype)
        self.fn = problem.bound

    def primal(self, params, x):
        return np.asarray(self.fn(_numpy_ops.xp, x, params))

    def push(self, params, x, V):
        y, dots = _numpy_ops.push(lambda xp, z: self.fn(xp, z, params), x, V.reshape((-1, self.n)))
        return y, dots.reshape(V.shape[:-1] + y.shape)

    def pull(self, params, x, U):
        y, adj = _numpy_ops.pull(lambda xp, z: self.fn(xp, z, params), x, U.reshape((-1, self.m)))
        return y, adj.reshape(U.shape[:-1] + (self.n,))


MODELS = {"mlp": MLP, "mlp_loss": Loss, "affine": Affine}
LAYER_ARCHS = tuple(MODELS)


def model(problem, dtype: str = "float64") -> Model:
    """The engine's rules for `problem`: a layer model for LAYER_ARCHS, else the op-level one."""
    return MODELS.get(problem.meta.get("arch"), OpLevel)(problem, dtype)


def analytic_flops(problem, op: str) -> float | None:
    """Matmul FLOPs of the unbatched mlp problem by the textbook cost model: a JVP or a VJP is
    one primal plus one pass of the same matmuls; vectorised modes push n (or m) tangents
    through one primal; the loops repeat a full product n (or m) times."""
    meta = problem.meta
    if meta.get("arch") != "mlp" or meta.get("batch") is not None:
        return None
    n, m = problem.n, problem.m
    f = sum(2.0 * a * b for a, b in problem.layers.shapes)
    model = {"primal": f, "jvp": 2 * f, "vjp": 2 * f, "jacfwd": f + n * f, "jacrev": f + m * f,
             "jacfwd_loop": n * 2 * f, "jacrev_loop": m * 2 * f}
    return model.get(op)


@register(Record(
    "numpy", order=40, thread_vars=("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"),
    schedules=SEGMENT_STRATEGIES[:5] + ("binomial",),
    saved_bytes="the layer engine's ledger of the arrays its reverse pass holds (exact nbytes)",
    flops="analytic: matmul FLOPs of the mlp problem (2 fan_in fan_out per vector and layer)",
    notes={"jacfwd": "hand-written JVP rules, all n tangents in one vectorized sweep",
           "second_order": "its hand-written JVP and VJP rules are first order (NumPy arrays in "
                           "and out): nothing differentiates them again",
           "pe_grad_vmap": "NumPy has no vmap; the engine's vectorized route to per-example "
                           "gradients is jacrev of the per-example losses",
           "pe_grad_loop": "one reverse sweep of the engine per example",
           "jacrev": "hand-written VJP rules, all m adjoints in one vectorized sweep",
           "ckpt_grad": "the layer engine's reverse sweep under the schedule (segments, or "
                        "revolve-style binomial with c slots)"}))
class NumpyEngine(Framework):
    devices = ("cpu",)
    per_example = ("pe_grad_loop",)

    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        self.xp = _numpy_ops.xp
        self._probed: dict = {}

    def asarray(self, a):
        return np.asarray(a, dtype=self.dtype)

    def stack(self, arrays, axis):
        return np.stack(arrays, axis=axis)

    def function(self, problem) -> Model:
        return model(problem, self.dtype)

    def unsupported(self, problem, op, schedule=None):
        if op == "ckpt_grad" and problem.meta.get("arch") != "mlp_loss":
            return f"the numpy engine checkpoints mlp_loss problems; {problem.name} is not one"
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

    def op_pe_grad_loop(self, f):
        """One reverse sweep of the op-level engine per example (its own one-output trace)."""
        fn = f.problem.bound
        seed = np.ones((1, 1), dtype=self.dtype)

        def grad(example, x):
            return _numpy_ops.pull(lambda xp, z: fn(xp, z, example), x, seed)[1].reshape(-1)

        def loop(examples, x):
            return np.stack([grad(example, x) for example in examples], axis=0)
        return loop

    def op_ckpt_grad(self, problem, schedule, slots):
        rules = Loss(problem, self.dtype)
        fn = rules.gradient(schedule, slots)
        fn.rules = rules      # saved_bytes reads the ledger of the last run
        return fn, (self.params(problem), self.asarray(problem.point(None, self.dtype)))

    def saved_bytes(self, case) -> int:
        """Bytes the reverse sweep held when its backward began (one run of the case)."""
        case.fn(*case.args)
        return int(case.fn.rules.last_ledger.stored)

    def flops(self, case) -> float | None:
        return analytic_flops(case.problem, case.op)


def saved_bytes(problem, dtype: str = "float64", x=None) -> int:
    """Bytes the layer engine's plain reverse pass holds for `problem` at x (default x0)."""
    if problem.meta.get("arch") not in ("mlp", "mlp_loss"):
        raise ValueError(f"saved_bytes covers the layered problems (mlp, mlp_loss); "
                         f"{problem.name} does not keep a ledger")
    fw, rules = NumpyEngine(dtype), model(problem, dtype)
    rules.pull(fw.params(problem), fw.asarray(problem.point(x)), rules.eye(problem.m)[0])
    return int(rules.last_ledger.stored)
