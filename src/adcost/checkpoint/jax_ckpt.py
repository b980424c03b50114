"""Checkpointed gradients of the deep MLP in JAX: jax.checkpoint over lax.scan segments.

The hidden layers run under lax.scan (weights stacked to (L, width, width)), so XLA sees
one loop rather than L unrolled layers it could re-fuse; a segment strategy is an outer
scan over segments whose body, wrapped in jax.checkpoint, scans its k layers.
"""
from __future__ import annotations

import numpy as np

from . import SUPPORTED
from .strategies import DeepMLP, flat_gradient, segment_length, tangents

POLICIES = {"per_layer_dots": "dots_saveable"}  # every other strategy: nothing_saveable


class JaxCheckpoint:
    """jax.jit(jax.grad) of the loss under each strategy; saved bytes = vjp residuals."""

    name = "jax"
    strategies = SUPPORTED["jax"]  # one list, in the package, that asv reads too

    def __init__(self, model: DeepMLP, slots: int = 4):
        import jax  # lazy: no framework cost until used

        if model.dtype == "float64":
            jax.config.update("jax_enable_x64", True)  # asked for: else JAX computes in float32
        self.jax, self.jnp, self.model = jax, jax.numpy, model
        a = model.arrays()
        put = jax.device_put
        self.params = {"Ws": put(np.stack(a["Ws"])), "bs": put(np.stack(a["bs"])),
                       "W_out": put(a["W_out"]), "b_out": put(a["b_out"])}
        self.X, self.T = put(a["X"]), put(a["T"])
        self._compiled: dict = {}

    # -- the model -----------------------------------------------------------------------
    def _chain(self, h, Ws, bs):
        """Hidden layers Ws[i], bs[i] in order, under lax.scan."""
        jnp = self.jnp

        def layer(h, wb):
            return jnp.tanh(h @ wb[0] + wb[1]), None
        return self.jax.lax.scan(layer, h, (Ws, bs))[0]

    def _hidden(self, strategy, h, Ws, bs):
        if strategy == "none":
            return self._chain(h, Ws, bs)
        jax = self.jax
        policy = getattr(jax.checkpoint_policies, POLICIES.get(strategy, "nothing_saveable"))
        # prevent_cse=False is safe (and recommended) under scan, which already stops CSE
        segment = jax.checkpoint(self._chain, policy=policy, prevent_cse=False)
        L = self.model.depth
        k = segment_length("per_layer" if strategy == "per_layer_dots" else strategy, L)
        full = (L // k) * k
        W, n = Ws.shape[-1], L // k

        def body(h, wbs):
            return segment(h, *wbs), None
        h = jax.lax.scan(body, h, (Ws[:full].reshape(n, k, W, W), bs[:full].reshape(n, k, W)))[0]
        if full < L:  # the remainder: one shorter checkpointed segment
            h = segment(h, Ws[full:], bs[full:])
        return h

    def loss_fn(self, strategy):
        """loss(params) under `strategy`: sum((y - T)^2) / batch."""
        def loss(params):
            h = self._hidden(strategy, self.X, params["Ws"], params["bs"])
            r = h @ params["W_out"] + params["b_out"] - self.T
            return self.jnp.sum(r * r) / self.model.batch
        return loss

    # -- operations -----------------------------------------------------------------------
    def compiled(self, strategy):
        """jit(grad(loss)) lowered and compiled ahead of time (cached per strategy)."""
        if strategy not in self._compiled:
            if strategy not in self.strategies:
                raise ValueError(f"jax has no strategy {strategy!r}")
            fn = self.jax.jit(self.jax.grad(self.loss_fn(strategy)))
            self._compiled[strategy] = fn.lower(self.params).compile()
        return self._compiled[strategy]

    def gradient(self, strategy: str):
        """A callable returning the gradient pytree (compiled; call block() on it)."""
        fn, params = self.compiled(strategy), self.params
        return lambda: fn(params)

    def to_flat(self, g) -> np.ndarray:
        Ws, bs = np.asarray(g["Ws"]), np.asarray(g["bs"])
        return flat_gradient(list(Ws), list(bs), np.asarray(g["W_out"]), np.asarray(g["b_out"]))

    def block(self, out) -> None:
        self.jax.block_until_ready(out)

    def saved_bytes(self, strategy: str) -> int:
        """Bytes of the activation residuals jax.vjp keeps for the pullback (inputs excluded)."""
        from ..measure.memory import jax_residual_bytes

        m = self.model
        _, pullback = self.jax.vjp(self.loss_fn(strategy), self.params)
        # activations only: reshaped weight stacks are residuals too in eager vjp, but
        # parameter-sized and aliased by XLA under jit; they are not what depth costs
        return jax_residual_bytes(pullback, exclude=(self.params, self.X, self.T),
                                  trailing={(m.batch, m.width), (m.batch, m.outputs)})

    def xla_temp_bytes(self, strategy: str) -> int:
        """XLA's own figure: temporary buffer bytes of the compiled gradient."""
        return int(self.compiled(strategy).memory_analysis().temp_size_in_bytes)

    def forward(self):
        """The loss alone, jit-compiled ahead of time (no derivative)."""
        params = self.params
        fn = self.jax.jit(self.loss_fn("none")).lower(params).compile()
        return lambda: fn(params)

    def jvp(self):
        """A compiled callable: (loss, its derivative along a fixed parameter direction)."""
        jax = self.jax
        t = tangents(self.model)
        tangent = {"Ws": jax.device_put(np.stack(t["Ws"])), "bs": jax.device_put(np.stack(t["bs"])),
                   "W_out": jax.device_put(t["W_out"]), "b_out": jax.device_put(t["b_out"])}
        loss, params = self.loss_fn("none"), self.params
        fn = jax.jit(lambda p, t: jax.jvp(loss, (p,), (t,))).lower(params, tangent).compile()
        return lambda: fn(params, tangent)
