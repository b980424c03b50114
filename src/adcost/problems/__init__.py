"""Problem registry: `make_problem(name, **sizes)` and `custom_problem(...)`."""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from . import examples, mlp, workloads
from .spec import Problem, positive_int

PROBLEMS: dict[str, Callable[..., Problem]] = {
    "mlp": mlp.mlp,
    "mlp_loss": mlp.mlp_loss,
    "mlp_losses": mlp.mlp_losses,
    "linear_relu": mlp.linear_relu,
    "affine": examples.affine,
    "polynomial": examples.polynomial,
    "xy_sin": examples.xy_sin,
    "chain_sin": examples.chain_sin,
    "chain_tanh": examples.chain_tanh,
    "sin_product": examples.sin_product,
    "poly_sin": examples.poly_sin,
    "gmm": workloads.gmm,
    "lse": workloads.lse,
    "lstm": workloads.lstm,
    "ba": workloads.ba,
    "ba_blocks": workloads.ba_blocks,
    "trajectory": workloads.trajectory,
}


def size_names(name: str) -> tuple[str, ...]:
    """The keyword sizes a registered problem accepts."""
    return tuple(inspect.signature(PROBLEMS[name]).parameters)


def make_problem(name: str, **sizes) -> Problem:
    """Build a registered problem; unknown names or sizes raise ValueError naming the allowed ones."""
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose from {', '.join(sorted(PROBLEMS))}")
    allowed = size_names(name)
    extra = sorted(set(sizes) - set(allowed))
    if extra:
        raise ValueError(f"{name}: unknown size {', '.join(extra)}; "
                         f"allowed: {', '.join(allowed) or 'none'}")
    return PROBLEMS[name](**sizes)


def with_defaults(name: str, sizes: dict) -> dict:
    """`sizes` of a registered problem with its builder's defaults filled in."""
    import inspect as _inspect
    defaults = {k: p.default for k, p in _inspect.signature(PROBLEMS[name]).parameters.items()
                if p.default is not _inspect.Parameter.empty}
    return {**defaults, **sizes}


def estimate_bytes(name: str, sizes: dict) -> int | None:
    """Rough bytes a registered problem needs (parameters, its point and the Jacobian, float64)
    before it is built, from its sizes; None where nothing is known.  Lets the command line
    refuse sizes the machine cannot hold instead of failing inside NumPy."""
    if name not in PROBLEMS:
        return None
    s = with_defaults(name, sizes)
    try:
        if name == "mlp":
            rows = s.get("batch") or 1
            n, m, d, w = int(s["n"]), int(s["m"]), int(s["depth"]), int(s["width"])
            params = n * w + max(d - 1, 0) * w * w + w * m + d * w + m
            return 8 * (params + rows * (n + m) + rows * rows * n * m + rows * d * w)
        if name in ("mlp_loss", "mlp_losses", "linear_relu"):
            f, o, w = int(s["features"]), int(s["outputs"]), int(s["width"])
            d, b = int(s.get("depth", 1)), int(s.get("batch", 1))
            params = f * w + max(d - 1, 0) * w * w + w * o + d * w + o
            jacobian = b * params if name == "mlp_losses" else 0
            return 8 * (2 * params + b * (f + o) + b * d * w + jacobian)
    except (KeyError, TypeError, ValueError):
        return None
    return None


def register_problem(name: str, builder: Callable[..., Problem]) -> None:
    """Add a problem builder to the registry (replacing one of the same name)."""
    PROBLEMS[name] = builder


def custom_problem(name: str, fn: Callable, n: int, m: int, x0, data: dict | None = None,
                   scalar: bool = False, register: bool = False) -> Problem:
    """A user's problem: fn(xp, x) -> array of m values, at the point x0 in R^n (x0 of any
    shape: fn receives x in that shape; a result of any shape is flattened; the Jacobian's
    columns and rows follow both in C order); with `data`
    (a dict of NumPy arrays and Python scalars) fn is called as fn(xp, x, data), the arrays
    converted to the framework's own (floats in the case's dtype, integer arrays kept integer).

    register=True also adds it to the registry, so `make_problem(name)` and `adcost check`
    find it; otherwise the registry is left as it was.
    Set scalar=True when fn uses only indexing, arithmetic, sin/cos/exp/tanh and xp.stack
    (then the pure-Python engines can run it too).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a problem's name must be a non-empty string, got {name!r}")
    n, m = positive_int("n", n, name), positive_int("m", m, name)
    shape = np.shape(x0)
    x0 = np.asarray(x0, dtype=float).reshape(-1)
    if x0.shape != (n,):
        raise ValueError(f"{name}: x0 must have {n} entries, got {x0.size}")
    meta = {"arch": "custom"}
    if len(shape) != 1:    # fn takes x in x0's shape; the Jacobian's columns follow x0's C order
        meta["x_shape"] = list(shape)

        def given(xp, x):
            return xp.reshape(x, shape)
    else:
        def given(xp, x):
            return x
    if data is None:
        problem = Problem(name, n, m, x0, lambda xp, x, p: flat(xp, fn(xp, given(xp, x))),
                          meta=meta, scalar=scalar)
    else:
        problem = Problem(name, n, m, x0, lambda xp, x, d: flat(xp, fn(xp, given(xp, x), d)),
                          params=check_data(name, data), meta=meta, scalar=scalar)
    if register:
        register_problem(name, lambda: problem)
    return problem


def flat(xp, y):
    """A function's result as the vector (m,) the Jacobian's rows follow: an array of any other
    shape flattened in C order (a list, the pure-Python engines' result, as it is)."""
    return xp.reshape(y, (-1,)) if getattr(y, "ndim", 1) != 1 else y


def check_data(name: str, data) -> dict:
    """A problem's data: a dict of str -> NumPy array (numeric or boolean) or Python scalar."""
    if not isinstance(data, dict):
        raise ValueError(f"{name}: data must be a dict of arrays, got {type(data).__name__}")
    checked = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ValueError(f"{name}: data keys must be strings, got {key!r}")
        if isinstance(value, (bool, int, float)):
            checked[key] = value
            continue
        a = np.asarray(value)
        if a.dtype.kind not in "iubf":
            raise ValueError(f"{name}: data[{key!r}] must be numeric or boolean, got dtype {a.dtype}")
        checked[key] = a
    return checked


__all__ = ["PROBLEMS", "Problem", "custom_problem", "make_problem", "register_problem", "size_names"]
