"""The compiled frameworks without their compiler: JAX op by op (no jax.jit) and TensorFlow eager
(no tf.function). They exist to measure what compiling buys: the break-even number of calls
after which jax.jit or tf.function has paid for its compile time (adcost.analysis.costmodel).

Each is its framework's adapter with the one compiling call taken out, so the operations are
the same transforms (jax.jacfwd, GradientTape.jacobian, ...) dispatched op by op. TensorFlow's
vectorized_map (jacfwd, jacrev) still wraps its loop body in a tf.function of its own; JAX's
lax.scan compiles its body: both are their APIs' behaviour without a user-level compile.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import replace

from .base import Variant, register
from .jax_adapter import Jax
from .tf_adapter import TensorFlow, _placed



class _Unjitted:
    """The jax module with jit as the identity: everything else passes through."""

    def __init__(self, jax):
        self._jax = jax

    def jit(self, fn, **_):
        return fn

    def __getattr__(self, name):
        return getattr(self._jax, name)


class _PforRetracing(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning about its own pfor body.

    Called eagerly, GradientTape.jacobian and vectorized_map wrap their loop body in a new
    tf.function at every call (`pfor.<locals>.f`), so from the fifth call of a tf_eager case on
    TensorFlow warns of retracing, with advice for code the user did not write.  That tracing is
    part of what an eager call costs, and it is timed; the warning about any other function
    still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("pfor.<locals>.f" in message and "retracing" in message)


# each record is its framework's, less what the compiler gave (checkpointing, FLOPs, saved bytes)
WITHOUT_COMPILER = {"schedules": (), "saved_bytes": None, "flops": None, "compiled": False,
                    "check_problems": ("mlp",), "studies": ("crossover",)}


@register(replace(
    Jax.record, name="jax_eager", order=21, variant_of="jax", **WITHOUT_COMPILER,
    notes={"primal": "f, op by op (no jax.jit)", "jacfwd": "jax.jacfwd(f), op by op (no jax.jit)",
           "jacrev": "jax.jacrev(f), op by op (no jax.jit)", "grad": "jax.grad(f), op by op"}))
class JaxEager(Variant, Jax):
    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        self.jax = _Unjitted(self.jax)


@register(replace(
    TensorFlow.record, name="tf_eager", order=31, variant_of="tf", **WITHOUT_COMPILER,
    notes={"primal": "f eagerly (no tf.function)",
           "jacfwd": "tf.vectorized_map of a ForwardAccumulator JVP, eagerly (no tf.function "
                     "around it; vectorized_map compiles its own loop body)",
           "jacrev": "GradientTape.jacobian, eagerly (no tf.function around it)"}))
class TensorFlowEager(Variant, TensorFlow):
    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        logger = self.tf.get_logger()
        if not any(isinstance(f, _PforRetracing) for f in logger.filters):
            logger.addFilter(_PforRetracing())

    def _function(self, body):
        """`body` placed on the device, not traced: every call dispatches op by op."""
        return functools.partial(_placed, self.tf, self.tf_device, body)
