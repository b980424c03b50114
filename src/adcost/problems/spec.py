"""The framework-neutral problem record and the size checks every problem shares."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np


@dataclass(frozen=True, eq=False)
class Problem:
    """A function f: R^n -> R^m written once against an array namespace.

    `fn(xp, x, params)` computes f with the namespace `xp` (numpy, torch, jax.numpy,
    tf.experimental.numpy or adcost's pure-Python scalar namespace); `params` holds the
    seeded parameters, already converted to that framework's arrays by the caller.
    """

    name: str
    n: int
    m: int
    x0: np.ndarray
    fn: Callable[..., Any]
    params: Mapping[str, np.ndarray] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    # True when f uses only indexing, +, -, *, **, sin, cos, exp, tanh and stack on
    # scalars, so the pure-Python dual-number and tape engines can run it.
    scalar: bool = False
    # The chain structure of a layered problem (problems.mlp.Layers), read by checkpointing,
    # the NumPy engine's layer rules and the cost figures; None for every other problem.
    layers: Any = None

    def f(self, xp, x):
        """Evaluate f at x with namespace xp, converting the parameters on the fly."""
        dtype = getattr(x, "dtype", None)
        params = {k: xp.asarray(v, dtype=dtype) for k, v in self.params.items()}
        return self.fn(xp, x, params)

    def point(self, x=None, dtype="float64") -> np.ndarray:
        """The evaluation point as a 1-D NumPy array: x0 unless x is given."""
        pt = self.x0 if x is None else np.asarray(x, dtype=float)
        if pt.shape != (self.n,):
            raise ValueError(f"{self.name}: x must have shape ({self.n},), got {pt.shape}")
        return pt.astype(dtype)

    @property
    def sizes(self) -> dict[str, Any]:
        return {"n": self.n, "m": self.m, **{k: v for k, v in self.meta.items() if k != "arch"}}


def positive_int(name: str, value: Any, problem: str) -> int:
    """Check a size argument: an integer >= 1, else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{problem}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def choice(name: str, value: Any, allowed: tuple[str, ...], problem: str) -> str:
    if value not in allowed:
        raise ValueError(f"{problem}: {name} must be one of {', '.join(allowed)}; got {value!r}")
    return value
