"""The protocol every framework adapter implements, and the registry that finds them.

An adapter turns a Problem into native callables, one per operation.  Every callable
takes `(params, x, *extra)` with native arrays (params: the problem's parameters in the
adapter's dtype and device) and returns native arrays:

    primal(params, x)                 -> y                     shape (m,)
    jvp(params, x, v)                 -> (y, J v)
    vjp(params, x, u)                 -> (y, J^T u)
    grad(params, x)                   -> grad f               shape (n,), m == 1 only
    <jacobian mode>(params, x[, basis]) -> J                   shape (m, n)

The loops (`jacfwd_loop`: n JVPs, `jacrev_loop`: m VJPs, each a full single product with
its own primal) are written here once on top of the adapter's jvp and vjp.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Callable, ClassVar

import numpy as np

DTYPES = ("float32", "float64")
PRODUCTS = ("primal", "jvp", "vjp", "grad")
CORE_MODES = ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop")

# name -> (module holding the adapter, Python package the adapter needs or None)
ADAPTERS: dict[str, tuple[str, str | None]] = {
    "torch": ("adcost.frameworks.torch_adapter", "torch"),
    "jax": ("adcost.frameworks.jax_adapter", "jax"),
    "numpy": ("adcost.frameworks.numpy_engine", None),
    "python": ("adcost.frameworks.python_engine", None),
    "fd": ("adcost.frameworks.fd", None),
    "tf": ("adcost.frameworks.tf_adapter", "tensorflow"),
}
REGISTRY: dict[str, type["Framework"]] = {}


class Unsupported(Exception):
    """The adapter cannot run this (problem, operation); the message says why."""


class FrameworkMissing(Unsupported):
    """The framework's Python package is not installed."""


def register(name: str):
    """Class decorator: make an adapter findable by `get_framework(name)`."""
    def deco(cls):
        cls.name = name
        REGISTRY[name] = cls
        return cls
    return deco


def missing_reason(name: str) -> str | None:
    """Why framework `name` cannot be used here, or None when it can."""
    if name not in ADAPTERS:
        return f"unknown framework {name!r}; choose from {', '.join(ADAPTERS)}"
    package = ADAPTERS[name][1]
    if package and importlib.util.find_spec(package) is None:
        return f"{name}: Python package '{package}' is not installed"
    return None


def available_frameworks() -> list[str]:
    """Names of the frameworks usable in this environment, sorted."""
    return sorted(name for name in ADAPTERS if missing_reason(name) is None)


def framework_class(name: str) -> type["Framework"]:
    reason = missing_reason(name)
    if reason is not None:
        if name not in ADAPTERS:
            raise ValueError(reason)
        raise FrameworkMissing(reason)
    if name not in REGISTRY:
        importlib.import_module(ADAPTERS[name][0])
    return REGISTRY[name]


def get_framework(name: str, dtype: str = "float64", device: str = "cpu") -> "Framework":
    """An adapter instance; ValueError for unknown names or dtypes, FrameworkMissing if absent."""
    return framework_class(name)(dtype=dtype, device=device)


class Framework:
    """Base of all adapters: capability checks, the loops, and the build step."""

    name: ClassVar[str] = "?"
    modes: ClassVar[tuple[str, ...]] = CORE_MODES   # Jacobian modes this adapter offers
    dtypes: ClassVar[tuple[str, ...]] = DTYPES
    devices: ClassVar[tuple[str, ...]] = ("cpu", "cuda", "gpu")  # "cuda:1" counts as cuda
    mode_notes: ClassVar[dict[str, str]] = {}        # framework-specific modes -> what they call

    def __init__(self, dtype: str = "float64", device: str = "cpu"):
        if dtype not in self.dtypes:
            raise ValueError(f"{self.name}: dtype must be one of {', '.join(self.dtypes)}; got {dtype!r}")
        if device.split(":")[0] not in self.devices:
            raise ValueError(f"{self.name}: device must be one of {', '.join(self.devices)}; got {device!r}")
        self.dtype = dtype
        self.device = device

    # -- what an adapter provides -------------------------------------------------
    def asarray(self, a: np.ndarray) -> Any:
        """A NumPy array as a native array of this adapter's dtype and device."""
        raise NotImplementedError

    def to_numpy(self, out: Any) -> np.ndarray:
        return np.asarray(out)

    def stack(self, arrays: list, axis: int) -> Any:
        raise NotImplementedError

    def block(self, out: Any) -> None:
        """Wait until `out` is computed (the framework's sync); eager CPU code needs nothing."""

    def unsupported(self, problem, op: str) -> str | None:
        """Problem-specific reason this adapter cannot run `op`, or None."""
        return None

    def compile(self, fn: Callable, args: tuple) -> tuple[Callable, float | None]:
        """Compile ahead of time where the framework can; returns (callable, seconds or None)."""
        return fn, None

    # -- capabilities --------------------------------------------------------------
    @classmethod
    def ops(cls) -> tuple[str, ...]:
        return PRODUCTS + cls.modes

    def supports(self, problem, op: str) -> str | None:
        """None when `op` can run on `problem`, else the reason it cannot."""
        if op not in self.ops():
            return f"{self.name} has no operation {op!r} (it has {', '.join(self.ops())})"
        if op == "grad" and problem.m != 1:
            return f"grad needs a scalar output; {problem.name} has m = {problem.m}"
        return self.unsupported(problem, op)

    # -- building ------------------------------------------------------------------
    def params(self, problem) -> dict[str, Any]:
        return {k: self.asarray(np.asarray(v, dtype=self.dtype)) for k, v in problem.params.items()}

    def function(self, problem) -> Callable:
        """f(params, x) in this framework's namespace."""
        xp = self.xp
        return lambda params, x: problem.fn(xp, x, params)

    def build(self, problem, op: str, x=None, v=None, u=None) -> tuple[Callable, tuple]:
        """The native callable for `op` and its native arguments, ready to call as fn(*args)."""
        reason = self.supports(problem, op)
        if reason is not None:
            raise Unsupported(reason)
        f = self.function(problem)
        args: tuple = (self.params(problem), self.asarray(problem.point(x, self.dtype)))
        if op == "jvp":
            args += (self.asarray(direction(v, problem.n, "v", self.dtype)),)
        elif op == "vjp":
            args += (self.asarray(direction(u, problem.m, "u", self.dtype)),)
        elif op == "jacfwd_loop":
            args += (self.basis(problem.n),)
        elif op == "jacrev_loop":
            args += (self.basis(problem.m),)
        return getattr(self, "op_" + op)(f), args

    def basis(self, size: int) -> tuple:
        eye = np.eye(size, dtype=self.dtype)
        return tuple(self.asarray(row) for row in eye)

    # -- the loops, shared by every adapter ------------------------------------------
    def op_jacfwd_loop(self, f):
        jvp = self.op_jvp(f)
        return lambda params, x, basis: self.stack([jvp(params, x, e)[1] for e in basis], axis=1)

    def op_jacrev_loop(self, f):
        vjp = self.op_vjp(f)
        return lambda params, x, basis: self.stack([vjp(params, x, e)[1] for e in basis], axis=0)


def direction(value, size: int, name: str = "direction", dtype: str = "float64") -> np.ndarray:
    """The direction for a product: given, else a fixed seeded vector of the right size."""
    if value is None:
        value = np.random.default_rng(1234 + size).standard_normal(size)
    value = np.asarray(value, dtype=float).reshape(-1)
    if value.shape != (size,):
        raise ValueError(f"{name} must have {size} entries, got {value.size}")
    return value.astype(dtype)
