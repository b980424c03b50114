"""The operations adcost prepares, validates and times: one descriptor each.

An operation knows its extra argument (a tangent, a cotangent, a basis), the reference value
the validation gate compares it with, its family (what its cost grows with) and whether it
needs a scalar output.  Jacobian modes an adapter adds (torch's `autograd_jacobian`, JAX's
`linearize_map`, ...) are described by `describe(mode)` from their family.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Op:
    name: str
    family: str            # primal | forward (cost grows with n) | reverse (with m) | fd
    extra: str | None      # "v" tangent (n,), "u" cotangent (m,), "basis_n", "basis_m", "seeds"
    reference: str         # what the gate compares with: primal, jvp, vjp, grad, jacobian, seeded
    scalar: bool = False   # needs m == 1
    doc: str = ""


OPS = {op.name: op for op in (
    Op("primal", "primal", None, "primal", doc="f(x)"),
    Op("jvp", "forward", "v", "jvp", doc="(f(x), J v)"),
    Op("vjp", "reverse", "u", "vjp", doc="(f(x), J^T u)"),
    Op("grad", "reverse", None, "grad", scalar=True, doc="the gradient of a scalar f"),
    Op("ckpt_grad", "reverse", None, "grad", scalar=True,
       doc="the gradient of a layered scalar f under a checkpoint schedule"),
    Op("jacfwd", "forward", None, "jacobian", doc="J by one vectorized forward sweep"),
    Op("jacrev", "reverse", None, "jacobian", doc="J by one vectorized reverse sweep"),
    Op("jacfwd_loop", "forward", "basis_n", "jacobian", doc="J by n JVPs"),
    # a structured Jacobian compressed by the problem's seed directions (meta "seeds", k x n):
    # bundle adjustment's independent residual blocks, all of them in k = 15 JVPs
    Op("jacfwd_seeded", "forward", "seeds", "seeded",
       doc="J S: one JVP per seed direction of the problem (meta 'seeds', k x n), in a loop"),
    Op("jacrev_loop", "reverse", "basis_m", "jacobian", doc="J by m VJPs"),
    Op("fd", "fd", None, "jacobian", doc="J by central differences"),
    # second order (m == 1): Hessian-vector products by each composition of the two modes, and
    # full Hessians.  "outer_over_inner": the outer transform differentiates the inner one.
    Op("hvp_fwd_over_rev", "second", "v", "hvp", scalar=True, doc="H v = jvp of grad"),
    Op("hvp_rev_over_fwd", "second", "v", "hvp", scalar=True, doc="H v = grad of <grad f, v> by jvp"),
    Op("hvp_rev_over_rev", "second", "v", "hvp", scalar=True, doc="H v = vjp of grad"),
    Op("hvp_fwd_over_fwd", "second", "v", "hvp", scalar=True,
       doc="H v by n nested JVPs e_i^T H v (vectorized): forward mode only, cost grows with n"),
    Op("hessian_jacfwd_jacrev", "second", None, "hessian", scalar=True, doc="jacfwd(jacrev(f))"),
    Op("hessian_jacrev_jacrev", "second", None, "hessian", scalar=True, doc="jacrev(jacrev(f))"),
    Op("hessian_jacfwd_jacfwd", "second", None, "hessian", scalar=True, doc="jacfwd(jacfwd(f))"),
    Op("hessian_jacrev_jacfwd", "second", None, "hessian", scalar=True, doc="jacrev(jacfwd(f))"),
    Op("hessian_hvp_loop", "second", "basis_n", "hessian", scalar=True,
       doc="H by n forward-over-reverse HVPs in a Python loop"),
    # per-example gradients of a problem whose outputs are per-example losses (meta
    # "per_example": the data entries batched along axis 0): the rows of its Jacobian
    Op("pe_grad_loop", "reverse", None, "jacobian",
       doc="per-example gradients: one backward pass per example, in a Python loop"),
    Op("pe_grad_vmap", "reverse", None, "jacobian",
       doc="per-example gradients: the gradient of one example's loss, vmapped over the batch"),
)}
HVP_OPS = tuple(op for op in OPS if op.startswith("hvp_"))
HESSIAN_OPS = tuple(op for op in OPS if op.startswith("hessian_"))
SECOND_ORDER_OPS = HVP_OPS + HESSIAN_OPS
PER_EXAMPLE_OPS = ("pe_grad_loop", "pe_grad_vmap")
# Adapter-specific Jacobian modes whose cost grows with n (every other one: with m).
FORWARD_MODES = ("linearize_map", "autograd_jacobian_forward")
# Jacobian modes that make one product per direction in sequence (n JVPs or m VJPs, in a Python
# or a compiled loop): their cost is the number of directions times one product's
LOOP_MODES = ("jacfwd_loop", "jacrev_loop", "autograd_jacobian", "backward_loop",
              "linearize_map", "jacrev_nopfor")


def directions(op: str, n: int, m: int) -> int:
    """How many products a Jacobian mode makes: n in the forward family, m otherwise."""
    return n if describe(op).family == "forward" else m


def describe(op: str) -> Op:
    """The descriptor of `op`; an adapter's own Jacobian mode gets one from its family."""
    if op in OPS:
        return OPS[op]
    family = "forward" if op in FORWARD_MODES or op.startswith("jacfwd") else "reverse"
    return Op(op, family, None, "jacobian", doc="J (an adapter's own mode)")


def direction(value, size: int, name: str = "direction", dtype: str = "float64") -> np.ndarray:
    """The direction for a product: given, else a fixed seeded vector of the right size."""
    if value is None:
        value = np.random.default_rng(1234 + size).standard_normal(size)
    value = np.asarray(value, dtype=float).reshape(-1)
    if value.shape != (size,):
        raise ValueError(f"{name} must have {size} entries, got {value.size}")
    return value.astype(dtype)


def extra_argument(op: str, problem, v=None, u=None, dtype: str = "float64") -> np.ndarray | None:
    """The NumPy value of `op`'s extra argument: a direction (1-d) or an identity basis (2-d)."""
    extra = describe(op).extra
    if extra == "v":
        return direction(v, problem.n, "v", dtype)
    if extra == "u":
        return direction(u, problem.m, "u", dtype)
    if extra == "seeds":
        return np.asarray(problem.meta["seeds"], dtype=dtype)
    if extra in ("basis_n", "basis_m"):
        return np.eye(problem.n if extra == "basis_n" else problem.m, dtype=dtype)
    return None
