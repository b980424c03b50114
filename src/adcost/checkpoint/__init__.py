"""Activation checkpointing: memory and time of a deep MLP's gradient versus depth.

`prepare(framework, strategy, depth, **sizes)` gives a validated, warmed CheckpointCase:
`case.run()` computes the gradient once (and waits), `case.saved_bytes()` is what the
framework reports keeping for the backward, `case.analytic` what the strategy must keep.
`prepare(framework, "jvp", depth)` gives forward mode's directional derivative instead, and
`prepare(framework, "forward", depth)` the loss alone: one forward pass, the cost a
checkpointed segment pays again in the backward.
Frameworks load lazily; a missing one raises FrameworkMissing, an unsupported
(framework, strategy) pair raises Unsupported, both with the reason.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from ..frameworks.base import FrameworkMissing, Unsupported, missing_reason
from .strategies import STRATEGIES, DeepMLP, analytic

# framework -> (module, class, Python package it needs)
ENGINES = {
    "numpy": ("adcost.checkpoint.numpy_ckpt", "NumpyCheckpoint", None),
    "torch": ("adcost.checkpoint.torch_ckpt", "TorchCheckpoint", "torch"),
    "jax": ("adcost.checkpoint.jax_ckpt", "JaxCheckpoint", "jax"),
    "tf": ("adcost.checkpoint.tf_ckpt", "TfCheckpoint", "tf"),
}
FRAMEWORKS = tuple(ENGINES)
PASSES = ("jvp", "forward")   # not strategies: forward mode, and the loss alone
SUPPORTED = {  # kept here so asv can skip a pair without importing the framework
    "numpy": ("none", "every_2", "every_4", "sqrt", "per_layer", "binomial"),
    "torch": ("none", "every_2", "every_4", "sqrt", "per_layer", "sqrt_sequential"),
    "jax": ("none", "every_2", "every_4", "sqrt", "per_layer", "per_layer_dots"),
    "tf": ("none", "every_2", "every_4", "sqrt", "per_layer"),
}
# frameworks with no record of what their backward pass keeps (analytic and RSS figures only)
NO_SAVED_BYTES = {"tf": "TensorFlow has no hook listing what GradientTape keeps; "
                        "its memory figures are the analytic bytes and peak RSS"}


def unsupported_reason(framework: str, strategy: str) -> str | None:
    """Why (framework, strategy) cannot run here, or None when it can."""
    if framework not in ENGINES:
        return f"no checkpointing engine for {framework!r}; choose from {', '.join(ENGINES)}"
    package = ENGINES[framework][2]
    if package and missing_reason(framework) is not None:
        return missing_reason(framework)
    if strategy not in PASSES and strategy not in SUPPORTED[framework]:
        return f"{framework} has no {strategy!r} strategy (it has {', '.join(SUPPORTED[framework])})"
    return None


def engine(framework: str, model: DeepMLP, slots: int = 4):
    """The framework's checkpointing engine for `model`; FrameworkMissing if absent."""
    reason = unsupported_reason(framework, "none")
    if reason is not None:
        raise FrameworkMissing(reason) if framework in ENGINES else ValueError(reason)
    module, cls, _ = ENGINES[framework]
    return getattr(importlib.import_module(module), cls)(model, slots=slots)


@lru_cache(maxsize=8)
def reference_gradient(model: DeepMLP) -> np.ndarray:
    """The plain (strategy none) gradient in float64 from the NumPy loop: the golden value."""
    from .numpy_ckpt import NumpyCheckpoint

    golden = DeepMLP(**{**model.__dict__, "dtype": "float64"})
    return NumpyCheckpoint(golden).gradient("none")()


@dataclass(eq=False)
class CheckpointCase:
    """One (framework, strategy, depth), validated and warm; run() is the timed call."""

    framework: str
    strategy: str
    model: DeepMLP
    engine: Any
    fn: Callable
    error: float | None = None
    analytic: dict = field(default_factory=dict)

    def run(self) -> None:
        self.engine.block(self.fn())

    def saved_bytes(self) -> int:
        """Bytes the framework reports keeping for the backward pass (see each engine)."""
        if self.strategy in PASSES:
            raise Unsupported(f"{self.strategy!r} keeps nothing for a backward pass")
        return int(self.engine.saved_bytes(self.strategy))


def prepare(framework: str, strategy: str, depth: int, *, width: int = 64, batch: int = 512,
            outputs: int = 16, dtype: str = "float32", slots: int = 4, seed: int = 0,
            validate_output: bool = True, warmup: int = 1) -> CheckpointCase:
    """A validated, warmed case; raises Unsupported / FrameworkMissing / ValidationError."""
    from .. import validate

    reason = unsupported_reason(framework, strategy)
    if reason is not None:
        raise (FrameworkMissing if missing_reason(framework) else Unsupported)(reason)
    model = DeepMLP(depth=depth, width=width, batch=batch, outputs=outputs, seed=seed, dtype=dtype)
    eng = engine(framework, model, slots)
    label = f"checkpoint/{framework}/{strategy}/L={depth}/{dtype}"
    if strategy == "forward":
        fn = eng.forward()
        case = CheckpointCase(framework, strategy, model, eng, fn)
        if validate_output:
            case.error = validate.check_output(label, np.asarray(float(fn())),
                                               np.asarray(loss_reference(model)), dtype)
    elif strategy == "jvp":
        fn = eng.jvp()
        case = CheckpointCase(framework, strategy, model, eng, fn)
        if validate_output:
            _, dloss = fn()
            case.error = validate.check_output(label, np.asarray(float(dloss)),
                                               np.asarray(jvp_reference(model)), dtype)
    else:
        fn = eng.gradient(strategy)
        case = CheckpointCase(framework, strategy, model, eng, fn,
                              analytic=analytic(strategy, model, slots))
        if validate_output:  # against the plain gradient, before anything is measured
            out = fn()
            flat = out if isinstance(out, np.ndarray) else eng.to_flat(out)
            case.error = validate.check_output(label, flat, reference_gradient(model), dtype)
    for _ in range(warmup):
        case.run()
    return case


CHECK_BATCH = 8   # a case built for a large batch is validated at this one (same code, depth)


def prepare_at_scale(framework: str, strategy: str, depth: int, **sizes) -> CheckpointCase:
    """A case at `sizes` (a large batch), validated at batch CHECK_BATCH and not yet run.

    Same code and depth as the validated one, without the float64 reference at full size
    (2.2 s of each peak-RSS probe at depth 128, batch 8192, measured); not run, so for JAX it
    is compiled ahead of time without executing.  `error` is the small case's."""
    checked = prepare(framework, strategy, depth, **{**sizes, "batch": CHECK_BATCH}, warmup=0)
    case = prepare(framework, strategy, depth, **sizes, validate_output=False, warmup=0)
    case.error = checked.error
    return case


def loss_reference(model: DeepMLP) -> float:
    """The loss at the seeded parameters, in float64."""
    from .numpy_ckpt import NumpyCheckpoint

    return float(NumpyCheckpoint(DeepMLP(**{**model.__dict__, "dtype": "float64"})).forward()())


def jvp_reference(model: DeepMLP) -> float:
    """<grad, v> for the seeded direction the engines' jvp() use, in float64."""
    from .numpy_ckpt import NumpyCheckpoint

    golden = NumpyCheckpoint(DeepMLP(**{**model.__dict__, "dtype": "float64"}))
    return float(golden.jvp()()[1])


__all__ = ["FRAMEWORKS", "NO_SAVED_BYTES", "STRATEGIES", "SUPPORTED", "CheckpointCase", "DeepMLP", "analytic",
           "prepare", "prepare_at_scale", "reference_gradient", "unsupported_reason"]
