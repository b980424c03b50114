"""PyTorch: torch.func transforms and the torch.autograd API."""
from __future__ import annotations

import numpy as np

from .base import Framework, register


@register("torch")
class Torch(Framework):
    modes = ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop",
             "autograd_jacobian", "autograd_jacobian_vectorized", "autograd_jacobian_forward",
             "backward_loop")
    mode_notes = {
        "jacfwd": "torch.func.jacfwd (vmap over JVPs)",
        "jacrev": "torch.func.jacrev (vmap over VJPs)",
        "autograd_jacobian": "torch.autograd.functional.jacobian (a Python loop of m VJPs)",
        "autograd_jacobian_vectorized": "torch.autograd.functional.jacobian(vectorize=True)",
        "autograd_jacobian_forward":
            "torch.autograd.functional.jacobian(vectorize=True, strategy='forward-mode')",
        "backward_loop": "one forward, then m torch.autograd.grad calls with retain_graph",
    }

    def __init__(self, dtype="float64", device="cpu"):
        super().__init__(dtype, device)
        import torch  # lazy: no framework cost until used

        self.torch = torch
        self.xp = torch
        self.torch_dtype = getattr(torch, dtype)

    def asarray(self, a):
        return self.torch.as_tensor(np.asarray(a), dtype=self.torch_dtype, device=self.device)

    def to_numpy(self, out):
        return out.detach().cpu().numpy()

    def stack(self, arrays, axis):
        return self.torch.stack(arrays, dim=axis)

    def block(self, out):
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize(self.device)

    def unsupported(self, problem, op):
        if (op == "autograd_jacobian_forward" and problem.meta.get("arch") == "mlp"
                and problem.meta.get("batch") is None):
            # torch 2.13 raises "Trying to set a forward gradient that has a different size"
            # for vector @ matrix under this API's batched forward mode; torch.func.jacfwd works.
            return ("torch 2.13: autograd.functional.jacobian(strategy='forward-mode') fails on "
                    "vector @ matrix (unbatched mlp); use jacfwd")
        return None

    # -- torch.func ----------------------------------------------------------------
    def op_primal(self, f):
        torch = self.torch

        def primal(params, x):
            with torch.no_grad():
                return f(params, x)
        return primal

    def op_jvp(self, f):
        jvp = self.torch.func.jvp
        return lambda params, x, v: jvp(lambda z: f(params, z), (x,), (v,))

    def op_vjp(self, f):
        vjp = self.torch.func.vjp

        def product(params, x, u):
            y, pullback = vjp(lambda z: f(params, z), x)
            return y, pullback(u)[0]
        return product

    def op_jacfwd(self, f):
        jacfwd = self.torch.func.jacfwd
        return lambda params, x: jacfwd(lambda z: f(params, z))(x)

    def op_jacrev(self, f):
        jacrev = self.torch.func.jacrev
        return lambda params, x: jacrev(lambda z: f(params, z))(x)

    # -- torch.autograd --------------------------------------------------------------
    def op_grad(self, f):
        """The training path: a graph built with requires_grad, then torch.autograd.grad."""
        torch = self.torch

        def grad(params, x):
            z = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(f(params, z)[0], z)
            return g
        return grad

    def _autograd_jacobian(self, f, **options):
        jacobian = self.torch.autograd.functional.jacobian
        return lambda params, x: jacobian(lambda z: f(params, z), x, **options)

    def op_autograd_jacobian(self, f):
        return self._autograd_jacobian(f)

    def op_autograd_jacobian_vectorized(self, f):
        return self._autograd_jacobian(f, vectorize=True)

    def op_autograd_jacobian_forward(self, f):
        return self._autograd_jacobian(f, vectorize=True, strategy="forward-mode")

    def op_backward_loop(self, f):
        torch = self.torch

        def jacobian(params, x):
            z = x.detach().requires_grad_(True)
            y = f(params, z)
            rows = [torch.autograd.grad(y[i], z, retain_graph=True)[0] for i in range(y.shape[0])]
            return torch.stack(rows)
        return jacobian
