"""PyTorch: torch.func transforms, the torch.autograd API and torch.utils.checkpoint."""
from __future__ import annotations

import numpy as np

from ..checkpoint.schedules import (SEGMENT_STRATEGIES, Ledger, run_binomial, segments,
                                    sequential_segments)
from ..problems.mlp import split_parameters, squared_loss
from ..namespace import torch_namespace
from ..ops import PER_EXAMPLE_OPS, SECOND_ORDER_OPS
from .base import Framework, NoDevice, Record, import_framework, register


def vector_flops(torch) -> dict:
    """FLOP formulas (of shapes, as FlopCounterMode's own) for the matrix-vector and vector
    products it does not count: 2 m n for (m, n) @ (n,), 2 n for a dot."""
    aten = torch.ops.aten

    def mv(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
        return 2 * a_shape[0] * a_shape[1]

    def addmv(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
        return 2 * a_shape[0] * a_shape[1]

    def dot(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
        return 2 * a_shape[0]
    return {aten.mv: mv, aten.addmv: addmv, aten.dot: dot, aten.vdot: dot}


@register(Record(
    "torch", package="torch", distributions=("torch",), order=10,
    hints=(("step must be greater than zero",
            "torch tensors have no negative-step slices such as x[::-1]: xp.flip(x, axis) "
            "reverses an axis in every engine"),
           ("'numpy.ndarray' and 'Tensor'",
            "a NumPy array the function closes over meets a torch tensor: pass it as data, "
            "fn(xp, x, data) (--data FILE.npz), or write xp.asarray(a, dtype=x.dtype)")),
    # torch.func's first jvp imports torch._dynamo (1.6 s, measured on the reference machine);
    # forward mode's first dual tensor imports (and jit-scripts) the JVP decompositions: 0.14 s
    # of every forked case's first jacfwd or jvp (measured 2026-12-02)
    lazy_imports=("torch._dynamo", "torch.func", "torch.utils.checkpoint", "torch.utils.flop_counter",
                  "torch._decomp.decompositions_for_jvp"),
    thread_vars=("OMP_NUM_THREADS", "MKL_NUM_THREADS"),
    schedules=SEGMENT_STRATEGIES + ("binomial",),
    saved_bytes="saved_tensors_hooks: unique storages autograd packs, the inputs excluded "
                "(binomial: those of the step taped when the backward begins, and the "
                "checkpoints the schedule holds then)",
    flops="torch.utils.flop_counter.FlopCounterMode: matmul-like ops only (with adcost's "
          "formulas for matrix-vector and dot products)",
    notes={
        "jacfwd": "torch.func.jacfwd (vmap over JVPs)",
        "jacrev": "torch.func.jacrev (vmap over VJPs)",
        "autograd_jacobian": "torch.autograd.functional.jacobian (a Python loop of m VJPs)",
        "autograd_jacobian_vectorized": "torch.autograd.functional.jacobian(vectorize=True)",
        "autograd_jacobian_forward":
            "torch.autograd.functional.jacobian(vectorize=True, strategy='forward-mode')",
        "backward_loop": "one forward, then m torch.autograd.grad calls with retain_graph",
        "hvp_fwd_over_rev": "torch.func.jvp(torch.func.grad(f), (x,), (v,))",
        "hvp_rev_over_fwd": "torch.func.grad of the directional derivative torch.func.jvp(f, (x,), (v,))",
        "hvp_rev_over_rev": "torch.func.vjp(torch.func.grad(f), x) applied to v",
        "hvp_fwd_over_fwd": "torch.func.vmap over e_i of jvp(jvp(f)(v))(e_i)",
        "hessian_jacfwd_jacrev": "torch.func.jacfwd(torch.func.jacrev(f)) (= torch.func.hessian)",
        "hessian_hvp_loop": "a Python loop of n forward-over-reverse HVPs",
        "pe_grad_loop": "a Python loop of torch.autograd.grad, one example's loss each",
        "pe_grad_vmap": "torch.func.vmap(torch.func.grad(loss of one example))",
        "ckpt_grad": "torch.autograd.grad with torch.utils.checkpoint(use_reentrant=False) per "
                     "segment (sqrt_sequential: checkpoint_sequential; binomial: the revolve-style "
                     "schedule run step by step, each step taped and pulled back by "
                     "torch.autograd.grad)",
    }))
class Torch(Framework):
    modes = ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop",
             "autograd_jacobian", "autograd_jacobian_vectorized", "autograd_jacobian_forward",
             "backward_loop")
    second_order = SECOND_ORDER_OPS      # every composition and Hessian mode (adcost.ops)
    per_example = PER_EXAMPLE_OPS

    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        device = self.device   # None: $ADCOST_DEVICE, else the CPU
        torch = import_framework(self.record)  # lazy: no framework cost until used

        self.torch = torch
        self.xp = torch_namespace(torch)
        self.torch_dtype = getattr(torch, dtype)
        kind, _, index = device.partition(":")
        if kind in ("cuda", "gpu"):
            self.device = f"cuda:{index or 0}"
            found = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if int(index or 0) >= found:
                raise NoDevice(f"torch: no CUDA device {self.device} here (torch {torch.__version__} "
                               f"sees {found})")

    def asarray(self, a):
        return self.torch.as_tensor(np.asarray(a), dtype=self.torch_dtype, device=self.device)

    def asindex(self, a):
        return self.torch.as_tensor(a, device=self.device)

    def to_numpy(self, out):
        return out.detach().cpu().numpy()

    def stack(self, arrays, axis):
        return self.torch.stack(arrays, dim=axis)

    def block(self, out):
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize(self.device)

    def unsupported(self, problem, op, schedule=None):
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

    # -- second order (torch.func) ------------------------------------------------------
    def op_hvp_fwd_over_rev(self, f):
        tf_ = self.torch.func
        return lambda params, x, v: tf_.jvp(tf_.grad(lambda z: f(params, z)[0]), (x,), (v,))[1]

    def op_hvp_rev_over_fwd(self, f):
        tf_ = self.torch.func

        def hvp(params, x, v):
            def directional(z):
                return tf_.jvp(lambda w: f(params, w)[0], (z,), (v,))[1]
            return tf_.grad(directional)(x)
        return hvp

    def op_hvp_rev_over_rev(self, f):
        tf_ = self.torch.func

        def hvp(params, x, v):
            _, pullback = tf_.vjp(tf_.grad(lambda z: f(params, z)[0]), x)
            return pullback(v)[0]
        return hvp

    def op_hvp_fwd_over_fwd(self, f):
        torch, tf_ = self.torch, self.torch.func

        def hvp(params, x, v):
            def directional(z):
                return tf_.jvp(lambda w: f(params, w)[0], (z,), (v,))[1]
            eye = torch.eye(x.shape[0], dtype=x.dtype, device=x.device)
            return tf_.vmap(lambda e: tf_.jvp(directional, (x,), (e,))[1])(eye)
        return hvp

    def _hessian(self, f, outer, inner):
        outer, inner = getattr(self.torch.func, outer), getattr(self.torch.func, inner)
        return lambda params, x: outer(inner(lambda z: f(params, z)[0]))(x)

    def op_hessian_jacfwd_jacrev(self, f): return self._hessian(f, "jacfwd", "jacrev")
    def op_hessian_jacrev_jacrev(self, f): return self._hessian(f, "jacrev", "jacrev")
    def op_hessian_jacfwd_jacfwd(self, f): return self._hessian(f, "jacfwd", "jacfwd")
    def op_hessian_jacrev_jacfwd(self, f): return self._hessian(f, "jacrev", "jacfwd")

    # -- per-example gradients ---------------------------------------------------------
    def op_pe_grad_vmap(self, f):
        """torch.func.vmap(grad) over the examples: each example's loss as a batch of one."""
        tf_ = self.torch.func

        def per_example(params, x):
            loss, rows = self.example_loss(f, params)
            return tf_.vmap(tf_.grad(loss), in_dims=(None, 0))(x, rows)
        return per_example

    # -- checkpointing -----------------------------------------------------------------
    def op_ckpt_grad(self, problem, schedule, slots):
        """autograd.grad of the loss with respect to one leaf tensor per parameter; the hidden
        layers run in segments, each checkpointed one under torch.utils.checkpoint."""
        torch, layers = self.torch, problem.layers
        ckpt, L = torch.utils.checkpoint, problem.layers.depth
        data = self.params(problem)
        theta = [tuple(self.asarray(np.array(a)).requires_grad_(True) for a in params)
                 for params in split_parameters(problem)]
        leaves = [t for params in theta for t in params]
        batch = problem.meta["batch"]

        def run(start, stop):
            return lambda h: layers.run(torch, h, theta[start:stop], start, stop)

        def loss(data, theta):
            if schedule == "sqrt_sequential":
                hidden = [run(k, k + 1) for k in range(L)]
                h = ckpt.checkpoint_sequential(hidden, sequential_segments(L), data["X"],
                                               use_reentrant=False, preserve_rng_state=False)
            else:
                h = data["X"]
                for start, stop, checkpointed in segments(schedule, L):
                    h = (ckpt.checkpoint(run(start, stop), h, use_reentrant=False,
                                         preserve_rng_state=False)
                         if checkpointed else run(start, stop)(h))
            y = layers.apply(torch, h, theta[L], last=True)
            return squared_loss(torch, y, data["T"], batch)[0]

        def gradient(data, theta):
            return torch.autograd.grad(loss(data, theta), leaves)
        if schedule == "binomial":
            gradient = self._binomial_gradient(problem, slots)
        gradient.loss, gradient.problem = loss, problem
        gradient.inputs = leaves + list(data.values())
        return gradient, (data, theta)

    def _binomial_gradient(self, problem, slots):
        """The gradient under the binomial schedule (schedules.run_binomial, as the NumPy engine
        runs it): the L hidden layers and the head with its loss are L + 1 steps; a step is
        advanced under no_grad, or taped (its input detached into a leaf that requires grad)
        and pulled back at once by torch.autograd.grad.  `stored_bytes` runs it once and
        returns what is held when the backward begins: the checkpoints kept then and what
        autograd saved for the step taped last (unique storages, the inputs excluded)."""
        import contextlib

        from ..measure.memory import torch_saved_bytes

        torch, layers = self.torch, problem.layers
        L, batch = layers.depth, problem.meta["batch"]

        def run(data, theta, inputs=None):
            """The gradient; with `inputs`, also the bytes held when the backward begins."""
            grads, found = {}, {}
            held = Ledger([data["X"]], key=lambda t: t.untyped_storage().data_ptr(),
                          nbytes=lambda t: t.untyped_storage().nbytes())

            def advance(k, h):
                with torch.no_grad():
                    return layers.apply(torch, h, theta[k])

            def taped(k, h):
                x = h if k == 0 else h.detach().requires_grad_(True)
                counting = (torch_saved_bytes(inputs) if inputs is not None
                            else contextlib.nullcontext())
                with torch.enable_grad(), counting as saved:
                    if k < L:
                        out = layers.apply(torch, x, theta[k])
                    else:
                        y = layers.apply(torch, x, theta[L], last=True)
                        out = squared_loss(torch, y, data["T"], batch)[0]
                return x, out, saved

            def backprop(k, tape, g):
                x, out, saved = tape
                if saved is not None and "stored" not in found:
                    found["stored"] = sum({**held.size, **saved.storages}.values())
                wrt = tuple(theta[k]) + ((x,) if k > 0 else ())
                got = torch.autograd.grad(out, wrt, grad_outputs=g)
                grads[k] = got[:len(theta[k])]
                return got[-1] if k > 0 else None

            run_binomial(L + 1, slots, data["X"], advance, taped, backprop, None, held)
            return tuple(g for k in range(L + 1) for g in grads[k]), found.get("stored")

        def gradient(data, theta):
            return run(data, theta)[0]

        def stored_bytes(data, theta):
            inputs = [t for params in theta for t in params] + list(data.values())
            return int(run(data, theta, inputs)[1])
        gradient.stored_bytes = stored_bytes
        return gradient

    def flat_gradient(self, out) -> np.ndarray:
        return np.concatenate([self.to_numpy(t).ravel() for t in out])

    def saved_bytes(self, case) -> int:
        """Bytes of unique storages autograd saved in the forward pass, the inputs excluded
        (binomial: held when the backward begins, `_binomial_gradient`)."""
        from ..measure.memory import torch_saved_bytes

        if hasattr(case.source, "stored_bytes"):
            return case.source.stored_bytes(*case.args)
        with torch_saved_bytes(exclude=case.source.inputs) as saved:
            loss = case.source.loss(*case.args)
        self.torch.autograd.grad(loss, case.source.inputs[:1], allow_unused=True)
        return saved.nbytes

    def flops(self, case) -> float | None:
        """FlopCounterMode's count of one call, with the matrix-vector and vector products it
        has no formula for (aten.mv, addmv, dot, vdot) counted as the matmuls it counts: without
        them a Hessian-vector product of A x by reverse over reverse (matrix-vector products)
        counted 0, by forward over forward (vmapped into a matmul) 131,072."""
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False, custom_mapping=vector_flops(self.torch)) as counter:
            case.fn(*case.args)
        return float(counter.get_total_flops())
