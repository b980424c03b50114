"""JAX: every operation under jax.jit, compiled ahead of time so compile time stands apart.

float64 is scoped: builds, compiles and first calls of a float64 adapter run inside
`jax.enable_x64(True)` (`scope`), so no process-wide switch changes behind the caller's back;
a compiled float64 program keeps its dtype when called outside the scope.
"""
from __future__ import annotations

import re

import time

import numpy as np

from ..checkpoint.schedules import Ledger, binomial_pullbacks, segment_length
from ..problems.mlp import split_parameters, squared_loss
from ..namespace import jax_namespace
from ..ops import PER_EXAMPLE_OPS, SECOND_ORDER_OPS
from .base import (TRACED_BRANCH, Framework, NoDevice, Record, Unsupported, import_framework,
                   register)

POLICIES = {"per_layer_dots": "dots_saveable"}  # every other schedule: nothing_saveable

# JAX's asynchronous CPU dispatch: "false" (what the sweep and `adcost profile` set, unless the
# caller set it) runs each computation on the calling thread.  JAX 0.10.2 does not read this
# variable itself; the adapter applies it (`cpu_dispatch`) before JAX's CPU client starts.
ASYNC_DISPATCH = "JAX_CPU_ENABLE_ASYNC_DISPATCH"


def cpu_dispatch(jax) -> bool | None:
    """Turn JAX's asynchronous CPU dispatch off where $JAX_CPU_ENABLE_ASYNC_DISPATCH says
    false (or 0); returns the setting applied (None: JAX's own).  Only a CPU client started
    after this takes it: a process that ran JAX before keeps its client.

    Why: with it on, JAX 0.10.2 hands the computations XLA deems expensive (loops among them)
    to another thread, and identical calls of adcost's jit(vjp(grad)) HVP of mlp_loss at width
    64, depth 16 took either 0.9-1.5 ms or 22-86 ms, 25 calls in a row; with it off, 1.0-1.4 ms
    each (the AMD VM, 2026-12-04; docs/methodology.md).  Upstream: openxla/xla#18608."""
    import os
    value = os.environ.get(ASYNC_DISPATCH, "").strip().lower()
    if value in ("0", "false"):
        jax.config.update("jax_cpu_enable_async_dispatch", False)
        return False
    return None


@register(Record(
    "jax", package="jax", distributions=("jax", "jaxlib"), order=20, compiled=True,
    hints=(("TracerBoolConversionError", TRACED_BRANCH), ("ConcretizationTypeError", TRACED_BRANCH)),
    # what the first jit of a forked case imports (measured 2026-12-02)
    lazy_imports=("jax.scipy.special", "jax.experimental.multihost_utils",
                  "jaxlib.mlir.dialects.mhlo"),
    schedules=("none", "every_2", "every_4", "sqrt", "per_layer", "per_layer_dots", "binomial"),
    kernel_vars=(ASYNC_DISPATCH,),
    saved_bytes="the activation residuals a jax.vjp pullback holds (inputs excluded)",
    flops="XLA cost_analysis of the compiled program: every HLO op; none for a program with a "
          "loop (XLA counts its body once)",
    notes={
        "jacfwd": "jax.jit(jax.jacfwd(f))",
        "jacrev": "jax.jit(jax.jacrev(f))",
        "jacfwd_vmap": "jax.jit(jnp.moveaxis(lax.optimization_barrier(jax.vmap(jvp)(eye)), 0, "
                       "-1)): the tangents first, one copy to (m, n)",
        "hvp_fwd_over_rev": "jax.jit(jax.jvp(jax.grad(f), (x,), (v,)))",
        "hvp_rev_over_fwd": "jax.jit(jax.grad of jax.jvp(f, (x,), (v,)))",
        "hvp_rev_over_rev": "jax.jit(jax.vjp(jax.grad(f), x)) applied to v",
        "hvp_fwd_over_fwd": "jax.jit(jax.vmap over e_i of jvp(jvp(f)(v))(e_i))",
        "hessian_jacfwd_jacrev": "jax.jit(jax.jacfwd(jax.jacrev(f))) (= jax.hessian)",
        "hessian_hvp_loop": "a Python loop of n jitted forward-over-reverse HVPs",
        "pe_grad_loop": "a Python loop of one jitted jax.grad, one example's loss each",
        "pe_grad_vmap": "jax.jit(jax.vmap(jax.grad(loss of one example)))",
        "linearize_map": "jax.linearize once, then lax.map of the linear map over the n basis "
                         "vectors, under jit",
        "ckpt_grad": "jax.jit(jax.grad) with the hidden layers under lax.scan, each segment "
                     "wrapped in jax.checkpoint (policy nothing_saveable, or dots_saveable); "
                     "binomial: the revolve-style schedule driven from Python, one jitted layer "
                     "or one jitted layer VJP a step",
    }))
class Jax(Framework):
    modes = ("jacfwd", "jacrev", "jacfwd_vmap", "jacfwd_loop", "jacrev_loop", "linearize_map")
    second_order = SECOND_ORDER_OPS      # every composition and Hessian mode (adcost.ops)
    per_example = PER_EXAMPLE_OPS

    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        device = self.device   # None: $ADCOST_DEVICE, else the CPU
        jax = import_framework(self.record)  # lazy: no framework cost until used
        cpu_dispatch(jax)                      # before jax.devices starts the CPU client

        self.jax = jax
        self.xp = jax_namespace(jax)
        kind, _, index = device.partition(":")
        try:
            found = jax.devices(kind)
        except RuntimeError as exc:   # no such backend: jax names the ones it has
            raise NoDevice(f"jax: no {kind} device here ({str(exc).splitlines()[0]})") from None
        if int(index or 0) >= len(found):
            raise NoDevice(f"jax: no device {device} here (jax sees {len(found)} {kind})")
        self.target = found[int(index or 0)]

    def scope(self):
        """Without x64 JAX silently computes in float32: a float64 adapter works inside it."""
        return self.jax.enable_x64(self.dtype == "float64")

    def asarray(self, a):
        with self.scope():
            return self.jax.device_put(np.asarray(a, dtype=self.dtype), self.target)

    def asindex(self, a):
        with self.scope():   # without x64 JAX holds integers as int32
            wide = self.dtype == "float64" or a.dtype.kind == "b"
            return self.jax.device_put(a if wide else a.astype(np.int32), self.target)

    def to_numpy(self, out):
        return np.asarray(out)

    def stack(self, arrays, axis):
        return self.xp.stack(arrays, axis=axis)

    def block(self, out):
        self.jax.block_until_ready(out)

    def compile(self, fn, args):
        """AOT: lower and compile now (in scope); Python loops over jitted products run in scope."""
        if not hasattr(fn, "lower"):
            scope = self.scope

            def scoped(*a):
                with scope():
                    return fn(*a)
            return scoped, None
        start = time.perf_counter()
        with self.scope():
            compiled = fn.lower(*args).compile()
        return compiled, time.perf_counter() - start

    def op_primal(self, f):
        return self.jax.jit(f)

    def op_jvp(self, f):
        jax = self.jax
        return jax.jit(lambda params, x, v: jax.jvp(lambda z: f(params, z), (x,), (v,)))

    def op_vjp(self, f):
        jax = self.jax

        def product(params, x, u):
            y, pullback = jax.vjp(lambda z: f(params, z), x)
            return y, pullback(u)[0]
        return jax.jit(product)

    def op_grad(self, f):
        jax = self.jax
        return jax.jit(lambda params, x: jax.grad(lambda z: f(params, z)[0])(x))

    def op_jacfwd(self, f):
        jax = self.jax
        return jax.jit(lambda params, x: jax.jacfwd(lambda z: f(params, z))(x))

    def op_jacrev(self, f):
        jax = self.jax
        return jax.jit(lambda params, x: jax.jacrev(lambda z: f(params, z))(x))

    def op_jacfwd_vmap(self, f):
        """jacfwd's n JVPs pushed as one batch, its result built tangents first, (n, m), then
        transposed.  jax.jacfwd builds it (m, n) (vmap out_axes=-1), and XLA's CPU dot then
        reads the output layer's weight transposed (docs/costmodel.md, c3 · L).  Without the
        optimization barrier XLA folds the transpose back into that dot (measured: as slow as
        jax.jacfwd); with it the dot runs as the tangents' own and n m entries are copied."""
        jax = self.jax

        def jacobian(params, x):
            basis = jax.numpy.eye(x.shape[0], dtype=x.dtype)
            push = lambda t: jax.jvp(lambda z: f(params, z), (x,), (t,))[1]  # noqa: E731
            rows = jax.lax.optimization_barrier(jax.vmap(push)(basis))   # (n, m...)
            return jax.numpy.moveaxis(rows, 0, -1)                      # (m..., n), as jacfwd's
        return jax.jit(jacobian)

    def op_linearize_map(self, f):
        jax = self.jax

        def jacobian(params, x, eye):
            _, lin = jax.linearize(lambda z: f(params, z), x)
            return jax.lax.map(lin, eye).T  # one linearization, n compiled JVPs in sequence
        return jax.jit(jacobian)

    # -- second order --------------------------------------------------------------------
    def op_hvp_fwd_over_rev(self, f):
        jax = self.jax
        return jax.jit(lambda params, x, v: jax.jvp(jax.grad(lambda z: f(params, z)[0]),
                                                    (x,), (v,))[1])

    def op_hvp_rev_over_fwd(self, f):
        jax = self.jax

        def hvp(params, x, v):
            directional = lambda z: jax.jvp(lambda w: f(params, w)[0], (z,), (v,))[1]  # noqa: E731
            return jax.grad(directional)(x)
        return jax.jit(hvp)

    def op_hvp_rev_over_rev(self, f):
        jax = self.jax

        def hvp(params, x, v):
            return jax.vjp(jax.grad(lambda z: f(params, z)[0]), x)[1](v)[0]
        return jax.jit(hvp)

    def op_hvp_fwd_over_fwd(self, f):
        jax = self.jax

        def hvp(params, x, v):
            directional = lambda z: jax.jvp(lambda w: f(params, w)[0], (z,), (v,))[1]  # noqa: E731
            eye = jax.numpy.eye(x.shape[0], dtype=x.dtype)
            return jax.vmap(lambda e: jax.jvp(directional, (x,), (e,))[1])(eye)
        return jax.jit(hvp)

    def _hessian(self, f, outer, inner):
        jax = self.jax
        outer, inner = getattr(jax, outer), getattr(jax, inner)
        return jax.jit(lambda params, x: outer(inner(lambda z: f(params, z)[0]))(x))

    def op_hessian_jacfwd_jacrev(self, f): return self._hessian(f, "jacfwd", "jacrev")
    def op_hessian_jacrev_jacrev(self, f): return self._hessian(f, "jacrev", "jacrev")
    def op_hessian_jacfwd_jacfwd(self, f): return self._hessian(f, "jacfwd", "jacfwd")
    def op_hessian_jacrev_jacfwd(self, f): return self._hessian(f, "jacrev", "jacfwd")

    def op_pe_grad_vmap(self, f):
        """jit(vmap(grad)) over the examples: each example's loss as a batch of one."""
        jax = self.jax

        def per_example(params, x):
            loss, rows = self.example_loss(f, params)
            return jax.vmap(jax.grad(loss), in_axes=(None, 0))(x, rows)
        return jax.jit(per_example)

    def build(self, problem, op, x=None, v=None, u=None, **options):
        fn, args = super().build(problem, op, x=x, v=v, u=u, **options)
        if op == "linearize_map":
            args += (self.asarray(np.eye(problem.n)),)
        return fn, args

    # -- checkpointing -----------------------------------------------------------------
    def unsupported(self, problem, op, schedule=None):
        # the first layer may differ (features != width): it runs before the scan, in the first
        # segment; the other hidden layers are scanned, and need one shape (not the binomial
        # schedule's, which runs layer by layer)
        if (op == "ckpt_grad" and schedule != "binomial"
                and any(a != b for a, b in problem.layers.shapes[1:-1])):
            return ("jax scans the hidden layers after the first, which needs one shape for all "
                    "of them (width -> width)")
        return None

    @staticmethod
    def _peeled(layers) -> int:
        """1 when the first layer runs apart from the scanned ones (features != width: it is not
        square like them), else 0."""
        fan_in, fan_out = layers.shapes[0]
        return int(fan_in != fan_out)

    def _binomial_gradient(self, problem, slots):
        """The gradient under the binomial schedule (schedules.run_binomial, as the NumPy engine
        and torch run it), driven step by step from Python: the L hidden layers and the head
        with its loss are L + 1 steps; a step is advanced by one jitted layer, and a taped step
        is pulled back by one jitted VJP of the layer (its forward recomputed inside that
        program).  Under one jit, XLA would see the schedule's recomputations as common
        subexpressions of the forward pass and could merge them away; separate programs keep
        the schedule as written, at a dispatch per step.  Parameters per layer: {"layers":
        per-layer (W, b), "out": the head's}.  `stored_bytes` runs it once and returns what is
        held when the backward begins: the checkpoints kept then and the residuals of the head
        step's jax.vjp (unique buffers, the inputs excluded)."""
        jax, jnp, layers = self.jax, self.xp, problem.layers
        L, batch = layers.depth, problem.meta["batch"]

        def layer(p, h):
            return layers.apply(jnp, h, p)

        def head(p, h, target):
            return squared_loss(jnp, layers.apply(jnp, h, p, last=True), target, batch)[0]

        advance_one = jax.jit(layer)
        pull_layer = jax.jit(lambda p, h, g: jax.vjp(layer, p, h)[1](g))
        pull_head = jax.jit(jax.grad(head, argnums=(0, 1)))

        from ..measure.memory import jax_buffer_key, jax_residual_sizes
        meta = problem.meta      # the activations' and the residual's shapes (of the head step)
        shapes = {(meta["batch"], meta["width"]), (meta["batch"], meta["n_out"])}

        def run(data, theta, count=False):
            found = {}
            params = list(theta["layers"]) + [theta["out"]]
            held = Ledger([data["X"]], key=jax_buffer_key)

            def pull(k, h, g):
                if k < L:
                    return pull_layer(params[k], h, g)
                if count and "stored" not in found:   # the head step's residuals, eager
                    _, pullback = jax.vjp(lambda p, x: head(p, x, data["T"]), params[L], h)
                    residuals = jax_residual_sizes(pullback, (theta, data), shapes)
                    found["stored"] = sum({**held.size, **residuals}.values())
                return pull_head(params[L], h, data["T"])

            grads = binomial_pullbacks(L + 1, slots, data["X"],
                                       lambda k, h: advance_one(params[k], h), pull, held)
            return {"layers": tuple(grads[:L]), "out": grads[L]}, found

        def gradient(data, theta):
            return run(data, theta)[0]

        def stored_bytes(data, theta):
            with self.scope():
                return int(run(data, theta, count=True)[1]["stored"])
        gradient.stored_bytes = stored_bytes
        return gradient

    def op_ckpt_grad(self, problem, schedule, slots):
        """jit(grad) of the loss; the hidden layers run under lax.scan (weights stacked to
        (L, width, width)), so XLA sees one loop rather than L unrolled layers it could
        re-fuse; a schedule is an outer scan over segments whose body, wrapped in
        jax.checkpoint, scans its k layers."""
        jax, jnp, layers = self.jax, self.xp, problem.layers
        L, batch = layers.depth, problem.meta["batch"]
        per_layer = split_parameters(problem)
        data = self.params(problem)
        if schedule == "binomial":      # layer by layer: the parameters as they are
            theta = {"layers": tuple(tuple(self.asarray(a) for a in p) for p in per_layer[:L]),
                     "out": tuple(self.asarray(a) for a in per_layer[L])}
            gradient = self._binomial_gradient(problem, slots)
            gradient.problem = problem
            return gradient, (data, theta)
        first = self._peeled(layers)     # a first layer of its own shape runs before the scan
        theta = {"first": tuple(self.asarray(a) for a in per_layer[0]) if first else (),
                 "hidden": tuple(self.asarray(np.stack([p[i] for p in per_layer[first:L]]))
                                 for i in range(len(per_layer[0]))) if L > first else (),
                 "out": tuple(self.asarray(a) for a in per_layer[L])}

        def chain(h, hidden):
            if not hidden or not len(hidden[0]):     # no scanned layer (depth 1, first peeled)
                return h
            return jax.lax.scan(lambda h, p: (layers.apply(jnp, h, p), None), h, hidden)[0]

        def head(h, p0, hidden):
            """The first segment when the first layer is peeled: that layer, then the scan."""
            return chain(layers.apply(jnp, h, p0), hidden)

        def run_hidden(h, p0, hidden):
            if schedule == "none":
                return chain(layers.apply(jnp, h, p0) if first else h, hidden)
            policy = getattr(jax.checkpoint_policies, POLICIES.get(schedule, "nothing_saveable"))
            # prevent_cse=False is safe (and recommended) under scan, which already stops CSE
            segment = jax.checkpoint(chain, policy=policy, prevent_cse=False)
            k = segment_length("per_layer" if schedule == "per_layer_dots" else schedule, L)
            if first:     # the first segment, layers 0 .. k-1, checkpointed as one
                k0 = min(k, L)
                h = jax.checkpoint(head, policy=policy, prevent_cse=False)(
                    h, p0, tuple(a[:k0 - 1] for a in hidden))
                hidden, rest = tuple(a[k0 - 1:] for a in hidden), L - k0
            else:
                rest = L
            full, count = (rest // k) * k, rest // k
            if count:
                grouped = tuple(a[:full].reshape((count, k) + a.shape[1:]) for a in hidden)
                h = jax.lax.scan(lambda h, p: (segment(h, p), None), h, grouped)[0]
            if full < rest and hidden:  # the remainder: one shorter checkpointed segment
                h = segment(h, tuple(a[full:] for a in hidden))
            return h

        def loss(theta, data):
            h = run_hidden(data["X"], theta["first"], theta["hidden"])
            y = layers.apply(jnp, h, theta["out"], last=True)
            return squared_loss(jnp, y, data["T"], batch)[0]

        grad = jax.jit(lambda data, theta: jax.grad(loss)(theta, data))
        grad.loss, grad.problem = loss, problem
        return grad, (data, theta)

    def flat_gradient(self, out) -> np.ndarray:
        if "layers" in out:          # the binomial schedule's: per layer
            per_layer = [tuple(np.asarray(a) for a in p) for p in out["layers"]]
            per_layer.append(tuple(np.asarray(a) for a in out["out"]))
            return np.concatenate([a.ravel() for params in per_layer for a in params])
        hidden = [np.asarray(a) for a in out["hidden"]]
        per_layer = [tuple(np.asarray(a) for a in out["first"])] if out.get("first") else []
        per_layer += [tuple(a[k] for a in hidden) for k in range(len(hidden[0]) if hidden else 0)]
        per_layer.append(tuple(np.asarray(a) for a in out["out"]))
        return np.concatenate([a.ravel() for params in per_layer for a in params])

    def saved_bytes(self, case) -> int:
        """Bytes of the activation residuals jax.vjp keeps for the pullback (inputs excluded):
        activations only; reshaped weight stacks are residuals too in an eager vjp, but
        parameter-sized and aliased by XLA under jit: they are not what depth costs."""
        from ..measure.memory import jax_residual_bytes

        if hasattr(case.source, "stored_bytes"):      # binomial: held when the backward begins
            return case.source.stored_bytes(*case.args)
        data, theta = case.args
        meta = case.problem.meta
        with self.scope():
            _, pullback = self.jax.vjp(lambda t: case.source.loss(t, data), theta)
        return jax_residual_bytes(pullback, exclude=(theta, data),
                                  trailing={(meta["batch"], meta["width"]),
                                            (meta["batch"], meta["n_out"])})

    def temp_bytes(self, case) -> int | None:
        """XLA's own figure: temporary buffer bytes of the compiled program."""
        analysis = getattr(case.fn, "memory_analysis", None)
        return None if analysis is None else int(analysis().temp_size_in_bytes)

    def flops(self, case) -> float | None:
        """XLA's count of the compiled program; None where it holds a loop (lax.scan, lax.map,
        a fori_loop): XLA counts a while loop's body once, not once per trip (a scan over 16
        steps counted 937 FLOPs for its 16 steps' Jacobian)."""
        analysis = getattr(case.fn, "cost_analysis", None)
        if analysis is None:
            return None
        text = getattr(case.fn, "as_text", None)
        if text is None or re.search(r"\bwhile\(", text() or ""):
            return None
        cost = analysis()
        if isinstance(cost, (list, tuple)):   # older jax: one dict per device program
            cost = cost[0] if cost else {}
        flops = (cost or {}).get("flops")
        return None if flops is None or flops < 0 else float(flops)
