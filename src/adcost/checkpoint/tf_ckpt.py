"""Checkpointed gradients of the deep MLP in TensorFlow: tf.recompute_grad over segments.

Each checkpointed segment is a function of its input and of its layers' parameters (passed
as explicit arguments, so recompute_grad differentiates them), wrapped in tf.recompute_grad;
the whole gradient runs as one tf.function traced before anything is timed.  TensorFlow has
no hook that lists what GradientTape keeps, so this engine reports no saved bytes: its memory
figures are the analytic bytes and the peak RSS of a fresh process.
"""
from __future__ import annotations

import numpy as np

from ..frameworks.base import Unsupported
from . import NO_SAVED_BYTES, SUPPORTED
from .strategies import DeepMLP, flat_gradient, segments, tangents


class TfCheckpoint:
    """GradientTape gradient of the loss under each strategy, in a traced tf.function."""

    name = "tf"
    strategies = SUPPORTED["tf"]  # one list, in the package, that asv reads too

    def __init__(self, model: DeepMLP, slots: int = 4):
        from ..frameworks.tf_adapter import _quiet_environment

        _quiet_environment()
        import tensorflow as tf  # lazy: no framework cost until used

        self.tf, self.model = tf, model
        a = model.arrays()
        self.Ws = [tf.constant(W) for W in a["Ws"]]
        self.bs = [tf.constant(b) for b in a["bs"]]
        self.W_out, self.b_out = tf.constant(a["W_out"]), tf.constant(a["b_out"])
        self.X, self.T = tf.constant(a["X"]), tf.constant(a["T"])
        self.params = [t for pair in zip(self.Ws + [self.W_out], self.bs + [self.b_out]) for t in pair]
        self._traced: dict = {}

    def _run(self, start, stop):
        tf = self.tf

        def run(h, *wb):
            for W, b in zip(wb[0::2], wb[1::2]):
                h = tf.tanh(h @ W + b)
            return h
        return run

    def _loss(self, strategy, params):
        tf, L = self.tf, self.model.depth
        Ws, bs = params[0:-2:2], params[1:-2:2]
        h = self.X
        for start, stop, checkpointed in segments(strategy, L):
            run = self._run(start, stop)
            if checkpointed:
                run = tf.recompute_grad(run)
            wb = [t for pair in zip(Ws[start:stop], bs[start:stop]) for t in pair]
            h = run(h, *wb)
        r = h @ params[-2] + params[-1] - self.T
        return tf.reduce_sum(r * r) / self.model.batch

    def gradient(self, strategy: str):
        """A callable returning the gradients (a list of tensors, mlp_loss order)."""
        if strategy not in self.strategies:
            raise ValueError(f"tf has no strategy {strategy!r}")
        if strategy not in self._traced:
            tf = self.tf

            @tf.function(autograph=False)   # Python loops only: nothing to convert
            def grad(params):
                with tf.GradientTape() as tape:
                    tape.watch(params)
                    loss = self._loss(strategy, params)
                return tape.gradient(loss, params)
            grad.get_concrete_function(self.params)   # trace now, not in the timed call
            self._traced[strategy] = grad
        fn, params = self._traced[strategy], self.params
        return lambda: fn(params)

    def to_flat(self, grads) -> np.ndarray:
        g = [t.numpy() for t in grads]
        return flat_gradient(g[0:-2:2], g[1:-2:2], g[-2], g[-1])

    def block(self, out) -> None:
        """Eager results are computed when the call returns; .numpy() would add a copy."""

    def saved_bytes(self, strategy: str) -> int:
        raise Unsupported(NO_SAVED_BYTES["tf"])

    def forward(self):
        """The loss alone, a tf.function traced ahead of time (no tape)."""
        run = self.tf.function(lambda params: self._loss("none", params), autograph=False)
        run.get_concrete_function(self.params)
        params = self.params
        return lambda: run(params)

    def jvp(self):
        """A traced callable: (loss, its derivative along a fixed direction), ForwardAccumulator."""
        tf = self.tf
        t = tangents(self.model)
        direction = [tf.constant(a) for pair in zip(t["Ws"] + [t["W_out"]], t["bs"] + [t["b_out"]])
                     for a in pair]

        @tf.function(autograph=False)
        def run(params, direction):
            with tf.autodiff.ForwardAccumulator(params, direction) as acc:
                loss = self._loss("none", params)
            return loss, acc.jvp(loss)
        run.get_concrete_function(self.params, direction)
        params = self.params
        return lambda: run(params, direction)
