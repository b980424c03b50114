"""Mixed-mode oracle: the cheapest bracketing of a chain of layer Jacobians.

A chain of dense layers with widths w_0 = n, w_1, ..., w_L = m has the Jacobian
J = J_L ... J_2 J_1, J_i of shape (w_i, w_(i-1)).  Forward mode multiplies from the right
(J_L (... (J_3 (J_2 J_1)))), reverse mode from the left ((((J_L J_(L-1)) ...) J_1)); any other
bracketing mixes the two.  Multiplying a (p, q) by a (q, r) matrix costs p q r multiply-adds,
and the cheapest order is the matrix-chain problem (dynamic programming, O(L^3)).

A bracketing is written as nested pairs of layer indices (1-based, as J_i): a leaf `i` is J_i,
a pair `(A, B)` is the product A @ B, A covering the later layers.  For L = 3:
forward is (3, (2, 1)), reverse ((3, 2), 1).

`execute` multiplies given layer Jacobians in a given bracketing (NumPy), and `chain_problem`
builds the MLP whose Jacobian the NumPy engine then measures (adcost.bench: Bracketing).
"""
from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Sequence, Union

import numpy as np

from .problems.mlp import Layers, activate, init_layers
from .problems.spec import Problem

Bracketing = Union[int, tuple]

# Width profiles of the study's figure: name -> widths for a scale s (the chain's widest layer).
PROFILES = {
    # wide in, narrow waist, wide out: neither end-first order avoids the wide-wide products
    "hourglass": lambda s: (s, s, s // 32, s, s),
    # narrow in and out, wide in the middle
    "diamond": lambda s: (s // 16, s // 4, s, s // 4, s // 16),
    # wide to narrow: reverse mode's shape
    "funnel": lambda s: (s, s // 2, s // 4, s // 8, s // 16),
    # seeded random widths between s/32 and s
    "random": lambda s: tuple(int(w) for w in
                              np.random.default_rng(7).integers(max(1, s // 32), s + 1, size=6)),
}


def _widths(widths: Sequence[int]) -> tuple[int, ...]:
    ws = tuple(int(w) for w in widths)
    if len(ws) < 2:
        raise ValueError(f"a chain needs at least two widths (n and m); got {list(widths)}")
    if any(w < 1 for w in ws) or any(w != v for w, v in zip(ws, widths)):
        raise ValueError(f"widths must be integers >= 1; got {list(widths)}")
    return ws


def forward(L: int) -> Bracketing:
    """Forward mode: J_L (J_(L-1) (... (J_2 J_1)))."""
    b: Bracketing = 1
    for i in range(2, L + 1):
        b = (i, b)
    return b


def reverse(L: int) -> Bracketing:
    """Reverse mode: (((J_L J_(L-1)) J_(L-2)) ...) J_1."""
    b: Bracketing = L
    for i in range(L - 1, 0, -1):
        b = (b, i)
    return b


def _span(b: Bracketing, L: int) -> tuple[int, int]:
    """The layers (lo, hi) a well-formed bracketing covers; ValueError otherwise."""
    if isinstance(b, (int, np.integer)) and not isinstance(b, bool):
        if not 1 <= b <= L:
            raise ValueError(f"layer index {b} outside 1..{L}")
        return int(b), int(b)
    if not (isinstance(b, (tuple, list)) and len(b) == 2):
        raise ValueError(f"a bracketing is a layer index or a pair (A, B); got {b!r}")
    lo_a, hi_a = _span(b[0], L)
    lo_b, hi_b = _span(b[1], L)
    if lo_a != hi_b + 1:
        raise ValueError(f"in {b!r} the left factor must cover the layers right after the right "
                         f"one's (J_{hi_b + 1} next), not J_{lo_a}")
    return lo_b, hi_a


def _cost(widths, b: Bracketing) -> tuple[int, int, int]:
    """(multiply-adds, lo, hi) of bracketing b."""
    if not isinstance(b, (tuple, list)):
        return 0, int(b), int(b)
    ca, lo_a, hi_a = _cost(widths, b[0])
    cb, lo_b, hi_b = _cost(widths, b[1])
    # (w_hi x w_(lo_a - 1)) @ (w_(lo_a - 1) x w_(lo_b - 1))
    return ca + cb + widths[hi_a] * widths[lo_a - 1] * widths[lo_b - 1], lo_b, hi_a


def resolve(widths: Sequence[int], bracketing) -> Bracketing:
    """'forward', 'reverse', 'optimal' or a bracketing, as a checked bracketing of all L layers."""
    ws = _widths(widths)
    L = len(ws) - 1
    if isinstance(bracketing, str):
        named = {"forward": forward, "reverse": reverse,
                 "optimal": lambda _: optimal_bracketing(ws)[1]}
        if bracketing not in named:
            raise ValueError(f"bracketing must be 'forward', 'reverse', 'optimal' or nested "
                             f"pairs of layer indices; got {bracketing!r}")
        return named[bracketing](L)
    if _span(bracketing, L) != (1, L):
        raise ValueError(f"{bracketing!r} does not cover layers 1..{L}")
    return bracketing


def bracketing_cost(widths: Sequence[int], bracketing="forward") -> int:
    """Multiply-adds of J_L ... J_1 in `bracketing` ('forward', 'reverse', or nested pairs)."""
    ws = _widths(widths)
    return _cost(ws, resolve(ws, bracketing))[0]


def optimal_bracketing(widths: Sequence[int], rates: dict | None = None) -> tuple[float, Bracketing]:
    """(fewest multiply-adds, a bracketing reaching it) over all bracketings of J_L ... J_1.

    With `rates` (measure_rates()), the least predicted seconds instead (predicted_seconds)."""
    ws = _widths(widths)
    L = len(ws) - 1

    def product(p, q, r):
        if rates is None:
            return p * q * r
        return (p * q * r / rates["madds_per_s"]
                + (p * q + q * r + p * r) * rates["itemsize"] / rates["bytes_per_s"])

    @lru_cache(maxsize=None)
    def best(lo: int, hi: int) -> tuple[int, Bracketing]:
        if lo == hi:
            return 0, lo
        found = None
        for k in range(lo, hi):   # split: (J_hi ... J_(k+1)) @ (J_k ... J_lo)
            left, right = best(k + 1, hi), best(lo, k)
            cost = left[0] + right[0] + product(ws[hi], ws[k], ws[lo - 1])
            if found is None or cost < found[0]:
                found = (cost, (left[1], right[1]))
        return found

    return best(1, L)


def all_bracketings(lo: int, hi: int):
    """Every bracketing of J_hi ... J_lo (Catalan(hi - lo) of them): for tests and figures."""
    if lo == hi:
        yield lo
        return
    for k in range(lo, hi):
        for left, right in itertools.product(all_bracketings(k + 1, hi), all_bracketings(lo, k)):
            yield (left, right)


def execute(jacobians: Sequence[np.ndarray], bracketing: Bracketing) -> np.ndarray:
    """The product of the layer Jacobians (jacobians[i - 1] is J_i) in `bracketing`."""
    if not isinstance(bracketing, (tuple, list)):
        return jacobians[int(bracketing) - 1]
    return execute(jacobians, bracketing[0]) @ execute(jacobians, bracketing[1])


def describe(bracketing: Bracketing) -> str:
    """A bracketing as text: J3 (J2 J1)."""
    if not isinstance(bracketing, (tuple, list)):
        return f"J{bracketing}"
    parts = []
    for side in bracketing:
        text = describe(side)
        parts.append(f"({text})" if isinstance(side, (tuple, list)) else text)
    return " ".join(parts)


def profile_widths(name: str, scale: int) -> tuple[int, ...]:
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {name!r}")
    return tuple(max(1, w) for w in PROFILES[name](int(scale)))


# -- the chain as an MLP, its layer Jacobians, and their measured product -------------------
def chain_problem(widths: Sequence[int], activation: str = "tanh", seed: int = 0):
    """The MLP x (w_0) -> w_1 -> ... -> w_L whose Jacobian is the chain (not registered)."""

    ws = _widths(widths)
    rng = np.random.default_rng(seed)
    shapes = tuple(zip(ws[:-1], ws[1:]))
    params = init_layers(rng, shapes, bias=True, scale=None)
    layers = Layers(shapes, activation, bias=True)

    def fn(xp, x, p):
        return layers.run(xp, x, layers.split(p))

    meta = {"arch": "mlp", "widths": ws, "activation": activation, "batch": None, "seed": seed,
            "depth": len(shapes) - 1, "width": max(ws[1:-1], default=ws[0]),
            "n_in": ws[0], "n_out": ws[-1]}
    return Problem("mlp_chain", ws[0], ws[-1], rng.standard_normal(ws[0]), fn, params, meta,
                   layers=layers)


def layer_jacobians(problem, x=None, dtype: str = "float64") -> list[np.ndarray]:
    """J_i = diag(act'(z_i)) W_i^T (the output layer: W_L^T) at x, from one primal pass."""
    layers = problem.layers
    per_layer = layers.split({k: np.asarray(v, dtype=dtype) for k, v in problem.params.items()})
    h = problem.point(x, dtype)
    found = []
    for k, params in enumerate(per_layer):
        z = h @ params[0] + (params[1] if layers.bias else 0)
        if k == layers.count - 1:
            found.append(np.ascontiguousarray(params[0].T))
            break
        h = activate(np, z, layers.activation)
        slope = 1.0 - h * h if layers.activation == "tanh" else (z > 0).astype(z.dtype)
        found.append(np.ascontiguousarray(slope[:, None] * params[0].T))
    return found


class Product:
    """The chain's Jacobian multiplied in one bracketing, validated and ready to time.

    Setup (untimed): one primal pass gives the layer Jacobians; the product is checked
    against the NumPy engine's own JVP and VJP of the chain (J v and u^T J for seeded u, v:
    cheap at any size, independent of the bracketing).  Calling it runs the matrix products
    only (one thread or more, as NumPy's BLAS is set)."""

    def __init__(self, widths: Sequence[int], bracketing="optimal", dtype: str = "float64",
                 x=None):
        from . import ops, validate
        from .frameworks.base import get_framework

        self.widths = _widths(widths)
        self.bracketing = resolve(self.widths, bracketing)
        self.madds = _cost(self.widths, self.bracketing)[0]
        self.problem = chain_problem(self.widths)
        self.jacobians = layer_jacobians(self.problem, x, dtype)
        J = execute(self.jacobians, self.bracketing)
        engine = get_framework("numpy", dtype, "cpu")
        point = self.problem.point(x, dtype)
        v = ops.direction(None, self.problem.n, "v", dtype)
        u = ops.direction(None, self.problem.m, "u", dtype)
        errors = []
        for op, extra, got in (("jvp", {"v": v}, J @ v), ("vjp", {"u": u}, u @ J)):
            fn, args = engine.build(self.problem, op, x=point, **extra)
            errors.append(validate.check_output(f"{self.label}/{op}", got, fn(*args)[1], dtype))
        self.error = max(errors)

    @property
    def label(self) -> str:
        return f"chain{list(self.widths)}/{describe(self.bracketing)}"

    def __call__(self) -> None:
        execute(self.jacobians, self.bracketing)


# -- time model: multiply-adds at the machine's matmul rate, plus the bytes each product moves --
def _products(widths, b: Bracketing, out: list) -> tuple[int, int]:
    """Append (p, q, r) of every product in b; returns b's (lo, hi)."""
    if not isinstance(b, (tuple, list)):
        return int(b), int(b)
    lo_a, hi_a = _products(widths, b[0], out)
    lo_b, _ = _products(widths, b[1], out)
    out.append((widths[hi_a], widths[lo_a - 1], widths[lo_b - 1]))
    return lo_b, hi_a


def measure_rates(dtype: str = "float64", size: int = 1024, repeats: int = 5) -> dict:
    """This machine's NumPy rates: multiply-adds per second of a (size x size) matmul and bytes
    per second of a 64 MiB copy (read + write), best of `repeats`."""
    import time

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((size, size)).astype(dtype), rng.standard_normal((size, size)).astype(dtype)
    src = np.ones(2 ** 26 // np.dtype(dtype).itemsize, dtype=dtype)
    dst = np.empty_like(src)
    best_mm = best_copy = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best_mm = min(best_mm, time.perf_counter() - start)
        start = time.perf_counter()
        np.copyto(dst, src)
        best_copy = min(best_copy, time.perf_counter() - start)
    return {"madds_per_s": size ** 3 / best_mm, "bytes_per_s": 2 * src.nbytes / best_copy,
            "itemsize": np.dtype(dtype).itemsize}


def predicted_seconds(widths: Sequence[int], bracketing, rates: dict) -> float:
    """Each product A (p x q) @ B (q x r): p q r / madds_per_s + (pq + qr + pr) itemsize /
    bytes_per_s (its compute and the bytes it reads and writes, added: a skinny product is
    bound by the memory it touches, a square one by its multiply-adds)."""
    ws = _widths(widths)
    found: list = []
    _products(ws, resolve(ws, bracketing), found)
    return sum(p * q * r / rates["madds_per_s"]
               + (p * q + q * r + p * r) * rates["itemsize"] / rates["bytes_per_s"]
               for p, q, r in found)
