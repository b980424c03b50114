"""The small examples of the seed notebooks, with their evaluation points.

Each is a plain function of (xp, x, params); the scalar ones use only indexing,
arithmetic, sin/cos/exp/tanh and stack, so the pure-Python engines run them too.
"""
from __future__ import annotations

import numpy as np

from .spec import Problem, positive_int


def _scalar(name, n, m, x0, fn, **meta) -> Problem:
    return Problem(name, n, m, np.asarray(x0, dtype=float), lambda xp, x, p: fn(xp, x),
                   meta={"arch": "example", **meta}, scalar=True)


def polynomial() -> Problem:
    """R^4 -> R^3 monomials of notebook 003, at x = (1, 0.5, 1.5, 2)."""
    def fn(xp, x):
        return xp.stack([
            x[0] ** 6 * x[1] ** 4 * x[2] ** 9 * x[3] ** 2,
            x[0] ** 2 * x[1] ** 3 * x[2] ** 5 * x[3] ** 3,
            x[0] ** 5 * x[1] ** 7 * x[2] ** 7 * x[3] ** 6,
        ])
    return _scalar("polynomial", 4, 3, [1.0, 0.5, 1.5, 2.0], fn)


def xy_sin() -> Problem:
    """f(x, y) = x*y + sin(x) of notebook 004, at (x, y) = (2, 3)."""
    return _scalar("xy_sin", 2, 1, [2.0, 3.0],
                   lambda xp, x: xp.stack([x[0] * x[1] + xp.sin(x[0])]))


def chain_sin() -> Problem:
    """y = sin((2x)^2) of notebook 001, at x = 0.3."""
    return _scalar("chain_sin", 1, 1, [0.3], lambda xp, x: xp.stack([xp.sin((2.0 * x[0]) ** 2)]))


def chain_tanh() -> Problem:
    """y = tanh(exp(3x + 1)), the practice chain of notebook 001, at x = 0.3."""
    return _scalar("chain_tanh", 1, 1, [0.3],
                   lambda xp, x: xp.stack([xp.tanh(xp.exp(3.0 * x[0] + 1.0))]))


def sin_product() -> Problem:
    """[sin(x1*x2), x1^2 + x2] of notebook 002, at (1, 2)."""
    return _scalar("sin_product", 2, 2, [1.0, 2.0],
                   lambda xp, x: xp.stack([xp.sin(x[0] * x[1]), x[0] ** 2 + x[1]]))


def poly_sin() -> Problem:
    """[x0*x1 + x2, sin(x0) + x1^2] of notebook 002, at (1, 2, 3)."""
    return _scalar("poly_sin", 3, 2, [1.0, 2.0, 3.0],
                   lambda xp, x: xp.stack([x[0] * x[1] + x[2], xp.sin(x[0]) + x[1] ** 2]))


def affine(k=3, m=2, seed=0) -> Problem:
    """f(x, W, b) = W x + b of notebook 001, differentiated w.r.t. z = (x, vec(W), b).

    n = k + m*k + m inputs (x in R^k, W row-major m x k, b in R^m), m outputs.
    """
    k, m = positive_int("k", k, "affine"), positive_int("m", m, "affine")
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(k + m * k + m)

    def fn(xp, z, p):
        W = xp.reshape(z[k:k + m * k], (m, k))
        return xp.matmul(W, z[:k]) + z[k + m * k:]

    return Problem("affine", k + m * k + m, m, x0, fn,
                   meta={"arch": "affine", "k": k, "seed": seed})
