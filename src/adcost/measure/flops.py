"""FLOPs of one call of a prepared Case, counted by the framework itself where it can.

Each adapter's `flops(case)` does the counting and its record says how (`adcost list`):
torch's FlopCounterMode counts matmul-like ops only; XLA's cost analysis every HLO op of the
compiled program (elementwise included; only modes compiled as one program); the NumPy engine
the analytic matmul FLOPs of the mlp problem, the same scope as torch's count.

omega = FLOPs(op) / FLOPs(primal) compares like with like only within one framework.
"""
from __future__ import annotations


def count_flops(case) -> float | None:
    """FLOPs of one call of `case`, or None where nobody counts them."""
    return case.framework.flops(case)
