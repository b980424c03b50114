"""Checkpointed gradients of the deep MLP in PyTorch (torch.utils.checkpoint, non-reentrant)."""
from __future__ import annotations

import numpy as np

from . import SUPPORTED
from .strategies import DeepMLP, flat_gradient, segments, sequential_segments, tangents


class TorchCheckpoint:
    """torch.autograd.grad of the loss under each strategy; saved bytes via tensor hooks."""

    name = "torch"
    strategies = SUPPORTED["torch"]  # one list, in the package, that asv reads too

    def __init__(self, model: DeepMLP, slots: int = 4):
        import torch  # lazy: no framework cost until used
        from torch.utils import checkpoint as ckpt

        self.torch, self.ckpt, self.model = torch, ckpt, model
        a = model.arrays()
        leaf = lambda v: torch.from_numpy(v).requires_grad_(True)  # noqa: E731
        self.Ws, self.bs = [leaf(W) for W in a["Ws"]], [leaf(b) for b in a["bs"]]
        self.W_out, self.b_out = leaf(a["W_out"]), leaf(a["b_out"])
        self.X, self.T = torch.from_numpy(a["X"]), torch.from_numpy(a["T"])
        self.params = [t for pair in zip(self.Ws + [self.W_out], self.bs + [self.b_out]) for t in pair]
        # d(sum r^2 / batch) = (1 / batch) d(sum r^2): seeding the backward with 1 / batch
        # keeps a 0-d divisor tensor out of the saved tensors, so the counts stay exact
        self.seed = torch.tensor(1.0 / model.batch, dtype=self.X.dtype)
        self.layers = [self._layer(W, b) for W, b in zip(self.Ws, self.bs)]

    def _layer(self, W, b):
        return lambda h: self.torch.tanh(h @ W + b)

    def _run(self, start, stop):
        layers = self.layers[start:stop]

        def run(h):
            for layer in layers:
                h = layer(h)
            return h
        return run

    def loss(self, strategy: str):
        """The forward pass under `strategy`: sum((y - T)^2), graph attached (not yet / batch)."""
        L = self.model.depth
        if strategy == "sqrt_sequential":
            h = self.ckpt.checkpoint_sequential(self.layers, sequential_segments(L), self.X,
                                                use_reentrant=False, preserve_rng_state=False)
        else:
            h = self.X
            for start, stop, checkpointed in segments(strategy, L):
                if checkpointed:
                    h = self.ckpt.checkpoint(self._run(start, stop), h, use_reentrant=False,
                                             preserve_rng_state=False)
                else:
                    h = self._run(start, stop)(h)
        r = h @ self.W_out + self.b_out - self.T
        return (r * r).sum()

    def gradient(self, strategy: str):
        """A callable returning the gradients (a tuple of tensors, mlp_loss order)."""
        if strategy not in self.strategies:
            raise ValueError(f"torch has no strategy {strategy!r}")
        grad = self.torch.autograd.grad
        return lambda: grad(self.loss(strategy), self.params, grad_outputs=self.seed)

    def to_flat(self, grads) -> np.ndarray:
        g = [t.detach().numpy() for t in grads]
        return flat_gradient(g[0:-2:2], g[1:-2:2], g[-2], g[-1])

    def block(self, out) -> None:
        """CPU tensors are ready when the call returns."""

    def saved_bytes(self, strategy: str) -> int:
        """Bytes of unique storages autograd saved in the forward pass, the inputs excluded."""
        from ..measure.memory import torch_saved_bytes

        inputs = self.params + [self.X, self.T]
        with torch_saved_bytes(exclude=inputs) as saved:
            loss = self.loss(strategy)
        self.torch.autograd.grad(loss, self.params, grad_outputs=self.seed)
        return saved.nbytes

    def forward(self):
        """A callable: the loss alone, under no_grad (no graph, nothing saved)."""
        torch = self.torch

        def run():
            with torch.no_grad():
                return self.loss("none") / self.model.batch
        return run

    def jvp(self):
        """A callable: (loss, its derivative along a fixed direction) by forward-mode AD."""
        torch = self.torch
        fwAD = torch.autograd.forward_ad
        t = tangents(self.model)
        primals = [p.detach() for p in self.params]
        directions = [torch.from_numpy(a) for pair in zip(t["Ws"] + [t["W_out"]], t["bs"] + [t["b_out"]])
                      for a in pair]

        def run():
            with torch.no_grad(), fwAD.dual_level():
                duals = [fwAD.make_dual(p, t) for p, t in zip(primals, directions)]
                h = self.X
                for W, b in zip(duals[0:-2:2], duals[1:-2:2]):
                    h = torch.tanh(h @ W + b)
                r = h @ duals[-2] + duals[-1] - self.T
                loss = fwAD.unpack_dual((r * r).sum() / self.model.batch)
                return loss.primal, loss.tangent
        return run
