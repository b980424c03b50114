"""TensorFlow: every operation a `tf.function`, traced ahead of time so tracing stands apart.

Problems run unchanged on `tf.experimental.numpy` *without* `experimental_enable_numpy_behavior`
(global state): they only use functions of that namespace and tf.Tensor operators, which
already convert Python numbers to the tensor's dtype.
"""
from __future__ import annotations

import functools
import os
import time

import numpy as np

from .base import Framework, Unsupported, register

DEVICES = {"cpu": "CPU", "cuda": "GPU", "gpu": "GPU"}   # adcost's device kinds -> TF's names


def _quiet_environment() -> None:
    """Silence TensorFlow's C++ start-up banner (oneDNN notice, info logs) unless the user chose."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _placed(tf, device, body, *args):
    with tf.device(device):
        return body(*args)


@register("tf")
class TensorFlow(Framework):
    modes = ("jacfwd", "jacrev", "jacrev_nopfor", "jacfwd_loop", "jacrev_loop")
    mode_notes = {
        "jacfwd": "tf.vectorized_map (pfor) of a ForwardAccumulator JVP over the n basis tangents; "
                  "the primal does not depend on the tangent, so pfor leaves it unbatched",
        "jacrev": "GradientTape.jacobian (pfor: the m VJPs vectorized)",
        "jacrev_nopfor": "GradientTape.jacobian(experimental_use_pfor=False): a tf.while_loop of m VJPs",
        "jacfwd_loop": "a Python loop of n calls of one traced tf.function JVP",
        "jacrev_loop": "a Python loop of m calls of one traced tf.function VJP",
    }

    def __init__(self, dtype="float64", device="cpu"):
        super().__init__(dtype, device)
        kind, _, index = device.partition(":")
        if kind not in DEVICES or not (index or "0").isdigit():
            raise ValueError(f"tf: device must be one of {', '.join(DEVICES)} (optionally ':N'); "
                             f"got {device!r}")
        _quiet_environment()
        import tensorflow as tf  # lazy: no framework cost until used

        self.tf = tf
        self.xp = tf.experimental.numpy
        self.tf_device = f"/{DEVICES[kind]}:{index or 0}"
        # TF's soft placement would silently run "/GPU:0" ops on the CPU: refuse instead
        found = len(tf.config.list_physical_devices(DEVICES[kind]))
        if int(index or 0) >= found:
            raise ValueError(f"tf: no device {self.tf_device} (TensorFlow sees {found} {DEVICES[kind]})")

    # -- arrays --------------------------------------------------------------------
    def asarray(self, a):
        with self.tf.device(self.tf_device):
            # identity copies the host constant onto the device once, outside any timed call
            return self.tf.identity(self.tf.constant(np.asarray(a, dtype=self.dtype)))

    def to_numpy(self, out):
        return out.numpy()

    def stack(self, arrays, axis):
        return self.tf.stack(arrays, axis=axis)

    def block(self, out):
        """CPU: a returned eager tensor is already computed.  GPU: kernels run asynchronously,
        so wait for every device (`out.numpy()` would add a device-to-host copy to the timing)."""
        if not self.tf_device.startswith("/CPU"):
            self.tf.test.experimental.sync_devices()

    def compile(self, fn, args):
        """Trace and build the graph once; returns (fn, seconds).  The timed calls then hit the
        trace cache; TF's graph optimization (grappler) still runs at the first call, which
        the case records as first_call_s."""
        product = getattr(fn, "product", None)   # the loops: trace their single product
        target = fn if product is None else product
        if not hasattr(target, "get_concrete_function"):
            return fn, None
        trace_args = args if product is None else args[:2] + (args[2][0],)
        start = time.perf_counter()
        target.get_concrete_function(*trace_args)
        return fn, time.perf_counter() - start

    # -- building blocks -------------------------------------------------------------
    def _function(self, body):
        """`body` as a tf.function whose ops are placed on this adapter's device."""
        # A partial, not a closure: TF's frequent-retracing detector keys plain functions by
        # their __code__, so the many one-trace functions built here (one per case, all from
        # the same closure) would be reported as retracing; a partial is keyed per instance,
        # and a real retrace of one function still warns.  reduce_retracing: a call with new
        # shapes generalizes the trace instead of piling up traces.  autograph=False: every
        # loop here is a Python loop to unroll, and AutoGraph's source rewriting cost about
        # 0.8 s per process (measured), most of a TF case's setup.
        return self.tf.function(functools.partial(_placed, self.tf, self.tf_device, body),
                                reduce_retracing=True, autograph=False)

    def _jvp(self, f, params, x, v):
        tf = self.tf
        with tf.autodiff.ForwardAccumulator(primals=x, tangents=v) as acc:
            y = f(params, x)
        return y, acc.jvp(y, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    # -- operations ------------------------------------------------------------------
    def op_primal(self, f):
        return self._function(f)

    def op_jvp(self, f):
        return self._function(lambda params, x, v: self._jvp(f, params, x, v))

    def op_vjp(self, f):
        tf = self.tf

        def product(params, x, u):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = f(params, x)
            return y, tape.gradient(y, x, output_gradients=u,
                                    unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return self._function(product)

    def op_grad(self, f):
        tf = self.tf

        def grad(params, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = f(params, x)[0]
            return tape.gradient(y, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return self._function(grad)

    def _jacobian(self, f, use_pfor: bool):
        tf = self.tf

        def jacobian(params, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = f(params, x)
            return tape.jacobian(y, x, unconnected_gradients=tf.UnconnectedGradients.ZERO,
                                 experimental_use_pfor=use_pfor)
        return self._function(jacobian)

    def op_jacrev(self, f):
        return self._jacobian(f, use_pfor=True)

    def op_jacrev_nopfor(self, f):
        return self._jacobian(f, use_pfor=False)

    def op_jacfwd(self, f):
        tf = self.tf

        def jacobian(params, x):
            eye = tf.eye(tf.size(x), dtype=x.dtype)
            columns = tf.vectorized_map(lambda e: self._jvp(f, params, x, e)[1], eye)
            return tf.transpose(columns)   # rows of `columns` are J e_i, i.e. J's columns
        return self._function(jacobian)

    # The loops repeat base.py's two lines only to expose their single product, so that
    # `compile` can trace it ahead of time; if base.py attached `.product` these could go.
    def op_jacfwd_loop(self, f):
        jvp = self.op_jvp(f)

        def loop(params, x, basis):
            return self.stack([jvp(params, x, e)[1] for e in basis], axis=1)
        loop.product = jvp
        return loop

    def op_jacrev_loop(self, f):
        vjp = self.op_vjp(f)

        def loop(params, x, basis):
            return self.stack([vjp(params, x, e)[1] for e in basis], axis=0)
        loop.product = vjp
        return loop

    # -- the checkpointing study -------------------------------------------------------
    def checkpointed_grad_fn(self, problem, segments: int):
        """(fn, args) for the gradient (n,) of an `mlp_loss` problem whose layers are split into
        `segments` consecutive groups, each wrapped in `tf.recompute_grad`: the backward pass
        recomputes a group's activations instead of keeping them.  fn(*args) -> tf.Tensor (n,);
        fn is a tf.function, so `compile(fn, args)` traces it ahead of time like any case."""
        from ..problems.mlp import activate

        if problem.meta.get("arch") != "mlp_loss":
            raise Unsupported(f"checkpointed_grad_fn needs an mlp_loss problem, got {problem.name}")
        tf, xp, meta = self.tf, self.xp, problem.meta
        count = meta["depth"] + 1                      # linear layers, the output one included
        if not 1 <= segments <= count:
            raise ValueError(f"segments must be between 1 and {count} (the layers); got {segments}")
        bounds = np.linspace(0, count, segments + 1).round().astype(int)
        groups = [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        per_layer = ("W", "b") if meta["bias"] else ("W",)

        def group_fn(layers):
            # the group's parameters are explicit inputs, so recompute_grad differentiates them
            def run(h, *theta):
                for k, i in zip(layers, range(0, len(theta), len(per_layer))):
                    h = xp.matmul(h, theta[i])
                    if meta["bias"]:
                        h = h + theta[i + 1]
                    if k < count - 1:
                        h = activate(xp, h, meta["activation"])
                return h
            return tf.recompute_grad(run)

        stages = [([f"{p}{k}" for k in layers for p in per_layer], group_fn(layers)) for layers in groups]

        def grad(params, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                part = {k: tf.reshape(x[o:o + int(np.prod(s))], s) for k, s, o in meta["layout"]}
                h = params["X"]
                for names, run in stages:
                    h = run(h, *[part[name] for name in names])
                r = h - params["T"]
                loss = tf.reduce_sum(r * r) / meta["batch"]
            return tape.gradient(loss, x)

        args = (self.params(problem), self.asarray(problem.point(None, self.dtype)))
        return self._function(grad), args
