"""FLOPs of one call of a prepared Case, counted by the framework itself where it can.

  torch  torch.utils.flop_counter.FlopCounterMode: matmul-like ops only (mm, addmm, bmm, ...);
         elementwise work (tanh, bias adds) is not counted.
  jax    XLA's `compiled.cost_analysis()["flops"]` of the ahead-of-time compiled program:
         every HLO op, elementwise included (transcendentals are counted apart); only modes
         compiled as one program (not the Python loops over jitted products).
  numpy  analytic, matmul FLOPs only (2 * fan_in * fan_out per vector per layer), the same
         scope as torch's count; see `analytic_mlp`.

omega = FLOPs(op) / FLOPs(primal) compares like with like only within one framework.
"""
from __future__ import annotations

from ..problems.mlp import layer_shapes


def torch_flops(case) -> float | None:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        case.fn(*case.args)
    return float(counter.get_total_flops())


def xla_flops(case) -> float | None:
    analysis = getattr(case.fn, "cost_analysis", None)
    if analysis is None:
        return None
    cost = analysis()
    if isinstance(cost, (list, tuple)):   # older jax: one dict per device program
        cost = cost[0] if cost else {}
    flops = (cost or {}).get("flops")
    return None if flops is None or flops < 0 else float(flops)


def analytic_mlp(case) -> float | None:
    """Matmul FLOPs of the mlp problem by the textbook cost model: a JVP or a VJP is one
    primal plus one pass of the same matmuls; vectorised modes push n (or m) tangents
    through one primal; the loops repeat a full product n (or m) times."""
    meta = case.problem.meta
    if meta.get("arch") != "mlp" or meta.get("batch") is not None:
        return None
    n, m = case.problem.n, case.problem.m
    f = sum(2.0 * a * b for a, b in layer_shapes(n, m, meta["depth"], meta["width"]))
    model = {"primal": f, "jvp": 2 * f, "vjp": 2 * f, "jacfwd": f + n * f, "jacrev": f + m * f,
             "jacfwd_loop": n * 2 * f, "jacrev_loop": m * 2 * f}
    return model.get(case.op)


COUNTERS = {"torch": torch_flops, "jax": xla_flops, "numpy": analytic_mlp}


def count_flops(case) -> float | None:
    """FLOPs of one call of `case`, or None where nobody counts them."""
    counter = COUNTERS.get(case.framework.name)
    return None if counter is None else counter(case)

