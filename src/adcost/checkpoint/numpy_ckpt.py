"""Checkpointed gradients of the deep MLP in NumPy, with explicit VJP rules.

adcost's NumPy engine (frameworks/numpy_engine.py) records a generic tape of primitives
and has no notion of layers or segments, so the schedules run on this small layer loop
instead: linear + tanh hidden layers, a linear head and the squared loss, each with its
hand-written VJP.  A Ledger counts the bytes the loop holds for the backward pass.
"""
from __future__ import annotations

import numpy as np

from . import SUPPORTED
from .strategies import DeepMLP, Ledger, flat_gradient, run_binomial, segments, tangents


class NumpyCheckpoint:
    """The gradient under each strategy; `last_ledger` holds the bytes of the last run."""

    name = "numpy"
    strategies = SUPPORTED["numpy"]  # one list, in the package, that asv reads too

    def __init__(self, model: DeepMLP, slots: int = 4):
        self.model, self.slots = model, slots
        a = model.arrays()
        self.Ws, self.bs, self.W_out, self.b_out = a["Ws"], a["bs"], a["W_out"], a["b_out"]
        self.X, self.T = a["X"], a["T"]
        self.scale = np.asarray(2.0 / model.batch, dtype=model.dtype)
        self.last_ledger: Ledger | None = None

    # -- one step and its VJP -----------------------------------------------------------
    def advance(self, k, h):
        """h_{k+1} = tanh(h_k W_k + b_k) for a hidden layer k < L, untaped."""
        return np.tanh(h @ self.Ws[k] + self.bs[k])

    def taped(self, k, h, ledger):
        """Step k keeping what its VJP needs: (h_k, h_{k+1}), or (h_L, r) for the head."""
        if k == self.model.depth:
            tape = (h, h @ self.W_out + self.b_out - self.T)
        else:
            tape = (h, self.advance(k, h))
        ledger.hold(*tape)
        return tape

    def backprop(self, k, tape, g, grads, ledger):
        """Adjoint of step k's input from the adjoint g of its output; fills grads[k]."""
        h, out = tape
        if k == self.model.depth:      # head: loss = sum(r^2) / batch, r = out
            dz = self.scale * out
            W = self.W_out
        else:                          # tanh' = 1 - tanh^2, from the kept output
            dz = g * (1 - out * out)
            W = self.Ws[k]
        grads[k] = (h.T @ dz, dz.sum(axis=0))
        ledger.release(*tape)
        return dz @ W.T

    # -- the strategies ------------------------------------------------------------------
    def gradient(self, strategy: str):
        """A callable returning the flat gradient (float array, mlp_loss layout)."""
        if strategy not in self.strategies:
            raise ValueError(f"numpy has no strategy {strategy!r}")
        if strategy == "binomial":
            return self._binomial
        segs = segments(strategy, self.model.depth)
        return lambda: self._segmented(segs)

    def _finish(self, grads, ledger):
        self.last_ledger = ledger
        L = self.model.depth
        return flat_gradient([grads[k][0] for k in range(L)], [grads[k][1] for k in range(L)],
                             grads[L][0], grads[L][1])

    def _segmented(self, segs):
        L = self.model.depth
        ledger, grads = Ledger(exclude=[self.X]), {}
        h, tapes, starts = self.X, {}, {}
        for start, stop, checkpointed in segs:
            if checkpointed:
                starts[start] = h
                ledger.hold(h)
                for k in range(start, stop):
                    h = self.advance(k, h)
            else:
                for k in range(start, stop):
                    tapes[k] = self.taped(k, h, ledger)
                    h = tapes[k][1]
        head = self.taped(L, h, ledger)
        ledger.stored = ledger.held  # what stays between the forward and the backward
        g = self.backprop(L, head, None, grads, ledger)
        for start, stop, checkpointed in reversed(segs):
            if checkpointed:           # recompute the segment taped, from its kept input
                h = starts.pop(start)
                for k in range(start, stop):
                    tapes[k] = self.taped(k, h, ledger)
                    h = tapes[k][1]
                ledger.release(tapes[start][0])  # the checkpoint's own hold; the tape keeps it
            for k in reversed(range(start, stop)):
                g = self.backprop(k, tapes.pop(k), g, grads, ledger)
        return self._finish(grads, ledger)

    def _binomial(self):
        ledger, grads = Ledger(exclude=[self.X]), {}
        L = self.model.depth

        def backprop(k, tape, g):
            if not hasattr(ledger, "stored"):
                ledger.stored = ledger.held
            return self.backprop(k, tape, g, grads, ledger)

        run_binomial(L + 1, self.slots, self.X, self.advance,
                     lambda k, h: self.taped(k, h, ledger), backprop, None, ledger)
        return self._finish(grads, ledger)

    def block(self, out) -> None:
        """NumPy is eager: the result is ready when the call returns."""

    def saved_bytes(self, strategy: str) -> int:
        """Bytes the loop held when its backward began (one run of the gradient)."""
        self.gradient(strategy)()
        return int(self.last_ledger.stored)

    # -- the forward pass alone: what one recomputation costs ------------------------------
    def forward(self):
        """A callable: the loss alone, no derivative (the cost a checkpoint recomputes)."""
        def run():
            h = self.X
            for k in range(self.model.depth):
                h = self.advance(k, h)
            r = h @ self.W_out + self.b_out - self.T
            return np.sum(r * r) / self.model.batch
        return run

    # -- forward mode, for the contrast ----------------------------------------------------
    def jvp(self):
        """A callable: (loss, its derivative along the seeded direction of `tangents`)."""
        t = tangents(self.model)
        return self._jvp_loop(t["Ws"], t["bs"], t["W_out"], t["b_out"])

    def _jvp_loop(self, dWs, dbs, dWo, dbo):
        def run():
            h, dh = self.X, np.zeros_like(self.X)
            for W, b, dW, db in zip(self.Ws, self.bs, dWs, dbs):
                dz = dh @ W + h @ dW + db
                h = np.tanh(h @ W + b)               # only the current (h, dh) stays alive
                dh = (1 - h * h) * dz
            r = h @ self.W_out + self.b_out - self.T
            dr = dh @ self.W_out + h @ dWo + dbo
            return np.sum(r * r) / self.model.batch, self.scale * np.sum(r * dr)
        return run
