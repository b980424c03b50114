"""JAX: every operation under jax.jit, compiled ahead of time so compile time stands apart."""
from __future__ import annotations

import time

import numpy as np

from .base import Framework, register


@register("jax")
class Jax(Framework):
    modes = ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop", "linearize_map")
    mode_notes = {
        "jacfwd": "jax.jit(jax.jacfwd(f))",
        "jacrev": "jax.jit(jax.jacrev(f))",
        "linearize_map": "jax.linearize once, then lax.map of the linear map over the n basis vectors, under jit",
    }

    def __init__(self, dtype="float64", device="cpu"):
        super().__init__(dtype, device)
        import jax  # lazy: no framework cost until used

        if dtype == "float64":
            # Without x64 JAX silently computes in float32; set here, when asked for, never at import.
            jax.config.update("jax_enable_x64", True)
        self.jax = jax
        self.xp = jax.numpy
        self.target = jax.devices(device)[0]

    def asarray(self, a):
        return self.jax.device_put(np.asarray(a, dtype=self.dtype), self.target)

    def to_numpy(self, out):
        return np.asarray(out)

    def stack(self, arrays, axis):
        return self.xp.stack(arrays, axis=axis)

    def block(self, out):
        self.jax.block_until_ready(out)

    def compile(self, fn, args):
        if not hasattr(fn, "lower"):
            return fn, None
        start = time.perf_counter()
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

    def op_linearize_map(self, f):
        jax = self.jax

        def jacobian(params, x, eye):
            _, lin = jax.linearize(lambda z: f(params, z), x)
            return jax.lax.map(lin, eye).T  # one linearization, n compiled JVPs in sequence
        return jax.jit(jacobian)

    def build(self, problem, op, x=None, v=None, u=None):
        fn, args = super().build(problem, op, x=x, v=v, u=u)
        if op == "linearize_map":
            args += (self.asarray(np.eye(problem.n)),)
        return fn, args
