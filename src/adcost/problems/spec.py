"""The framework-neutral problem record and the size checks every problem shares."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np


@dataclass(frozen=True, eq=False)
class Problem:
    """A function f: R^n -> R^m written once against an array namespace.

    `fn(xp, x, data)` computes f with the namespace `xp` (adcost.namespace: the same operations
    with the same meaning in NumPy, torch, JAX, TensorFlow and the NumPy engine; the pure-Python
    engine's scalar subset); `data` (also `params`) holds the problem's seeded constants,
    already converted by the caller: float arrays to the case's dtype and device, integer and
    boolean arrays kept integer (indices for `xp.take`), Python scalars passed as they are.
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

    @property
    def data(self) -> Mapping[str, Any]:
        """The constants f reads besides x (NumPy arrays and Python scalars)."""
        return self.params

    @property
    def bound(self) -> Callable[..., Any]:
        """fn(xp, x, arrays) with the Python-scalar data bound in: adapters pass only arrays
        through their compiled calls (a traced scalar could not size a reshape)."""
        scalars = {k: v for k, v in self.params.items() if isinstance(v, (bool, int, float))}
        if not scalars:
            return self.fn
        fn = self.fn
        return lambda xp, x, arrays: fn(xp, x, {**arrays, **scalars})

    def f(self, xp, x):
        """Evaluate f at x with namespace xp (the numpy module means adcost's NumPy namespace),
        converting the data on the fly as an adapter does."""
        if xp is np:
            from ..namespace import numpy_xp
            xp = numpy_xp()
        dtype = getattr(x, "dtype", None)
        return self.fn(xp, x, {k: convert(xp, v, dtype) for k, v in self.params.items()})

    def point(self, x=None, dtype="float64") -> np.ndarray:
        """The evaluation point as a 1-D NumPy array: x0 unless x is given."""
        pt = self.x0 if x is None else np.asarray(x, dtype=float)
        if pt.shape != (self.n,):
            raise ValueError(f"{self.name}: x must have shape ({self.n},), got {pt.shape}")
        return pt.astype(dtype)

    @property
    def sizes(self) -> dict[str, Any]:
        return {"n": self.n, "m": self.m,
                **{k: v for k, v in self.meta.items() if k not in ("arch", "seeds")}}


def is_index(value) -> bool:
    """Integer or boolean data: kept as it is (indices), never cast to the float dtype."""
    return np.asarray(value).dtype.kind in "iub"


def convert(xp, value, dtype):
    """One data entry for namespace xp: scalars as they are, integer arrays kept integer."""
    if isinstance(value, (bool, int, float)):
        return value
    return xp.asarray(value) if is_index(value) else xp.asarray(value, dtype=dtype)


def positive_int(name: str, value: Any, problem: str) -> int:
    """Check a size argument: an integer >= 1, else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{problem}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def choice(name: str, value: Any, allowed: tuple[str, ...], problem: str) -> str:
    if value not in allowed:
        raise ValueError(f"{problem}: {name} must be one of {', '.join(allowed)}; got {value!r}")
    return value
