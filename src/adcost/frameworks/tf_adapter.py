"""TensorFlow: every operation a `tf.function`, traced ahead of time so tracing stands apart.

Problems run unchanged on `tf.experimental.numpy` *without* `experimental_enable_numpy_behavior`
(global state): they only use functions of that namespace and tf.Tensor operators, which
already convert Python numbers to the tensor's dtype.
"""
from __future__ import annotations

import functools
import time

import numpy as np

from ..checkpoint.schedules import Ledger, binomial_pullbacks, segments
from ..problems.mlp import split_parameters, squared_loss
from ..namespace import tf_namespace
from ..ops import PER_EXAMPLE_OPS, SECOND_ORDER_OPS
from .base import (TRACED_BRANCH, Framework, MemoryPool, NoDevice, Record, Unsupported,
                   holding_stderr, import_framework, register)

DEVICES = {"cpu": "CPU", "cuda": "GPU", "gpu": "GPU"}   # adcost's device kinds -> TF's names
# Measured with TensorFlow 2.21: a ForwardAccumulator nested in another one fails while tracing
# a comparison (relu's z > 0; the max inside logsumexp, 2026-12-05) with IndexError in
# concrete_function._backward_function.
NESTED_FORWARD_FAILURE = ("TensorFlow 2.21 fails to trace nested ForwardAccumulators through a "
                          "comparison (relu's z > 0, a max, logsumexp's): IndexError in "
                          "concrete_function; use fwd_over_rev or jacfwd_jacrev")


# ops of a graph whose count would not be one call's: a loop's frame (counted once), a call
# into a function the profiler does not enter
UNCOUNTED_OPS = ("Enter", "Exit", "NextIteration", "LoopCond", "While", "StatelessWhile",
                 "PartitionedCall", "StatefulPartitionedCall", "If", "StatelessIf")


def graph_flops(tf, concrete) -> float | None:
    """The FLOPs TensorFlow's profiler counts in the graph grappler optimizes from `concrete`
    (TensorFlow.flops); None where it holds UNCOUNTED_OPS."""
    from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
    from tensorflow.python.grappler import tf_optimizer
    from tensorflow.python.util import deprecation

    graph = concrete.graph
    meta = tf.compat.v1.train.export_meta_graph(graph_def=graph.as_graph_def(add_shapes=True),
                                                graph=graph)
    for out in concrete.outputs:       # grappler keeps what these need
        meta.collection_def["train_op"].node_list.value.append(out.name)
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.remapping = rewriter_config_pb2.RewriterConfig.OFF
    # grappler logs what it leaves alone ("Not handling type DT_DOUBLE", once per node of a
    # float64 graph) past sys.stderr: held, and dropped
    with holding_stderr(show_on_error=False):
        optimized = tf_optimizer.OptimizeGraph(config, meta)
        if any(node.op in UNCOUNTED_OPS for node in optimized.node):
            return None
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        with tf.Graph().as_default() as counted, deprecation.silence():
            tf.import_graph_def(optimized, name="")
            flops = tf.compat.v1.profiler.profile(counted, options=options).total_float_ops
    return float(flops) if flops > 0 else None


def _placed(tf, device, body, *args):
    with tf.device(device):
        return body(*args)


@register(Record(
    "tf", package="tensorflow", distributions=("tensorflow-cpu", "tensorflow"), order=30, compiled=True,
    hints=(("as a Python `bool` is not allowed", TRACED_BRANCH),),
    thread_vars=("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"),
    # silence TensorFlow's C++ start-up banner (oneDNN notice, info logs) unless the user chose;
    # the notices written before absl's log set-up are held back by quiet_import.
    # oneDNN stays as TensorFlow sets it (on for x86 Linux since 2.9): until 2026-12-03 this set
    # TF_ENABLE_ONEDNN_OPTS=0 to silence the notice, and so timed a TensorFlow nobody runs: its
    # jacrev at width 1024, n = 4, m = 4 took 11.1 ms against 2.4 with oneDNN (docs/costmodel.md)
    environment={"TF_CPP_MIN_LOG_LEVEL": "2"},
    kernel_vars=("TF_ENABLE_ONEDNN_OPTS",), quiet_import=True,
    schedules=("none", "every_2", "every_4", "sqrt", "per_layer", "binomial"),
    saved_bytes=None,
    flops="TensorFlow's profiler on the graph grappler optimizes (remapper off): ops with "
          "registered statistics, matmuls and elementwise arithmetic; none for a graph with a loop",
    notes={
        "jacfwd": "tf.vectorized_map (pfor) of a ForwardAccumulator JVP over the n basis tangents; "
                  "the primal does not depend on the tangent, so pfor leaves it unbatched",
        "jacrev": "GradientTape.jacobian (pfor: the m VJPs vectorized)",
        "jacrev_nopfor": "GradientTape.jacobian(experimental_use_pfor=False): a tf.while_loop of m VJPs",
        "jacfwd_loop": "a Python loop of n calls of one traced tf.function JVP",
        "jacrev_loop": "a Python loop of m calls of one traced tf.function VJP",
        "hvp_fwd_over_rev": "a ForwardAccumulator around a GradientTape gradient",
        "hvp_rev_over_fwd": "a GradientTape around a ForwardAccumulator directional derivative",
        "hvp_rev_over_rev": "nested GradientTapes: the outer one's gradient of g with output_gradients=v",
        "hvp_fwd_over_fwd": "nested ForwardAccumulators, vectorized_map over e_i",
        "hessian_jacfwd_jacrev": "vectorized_map over e_i of a ForwardAccumulator around a tape gradient",
        "hessian_jacrev_jacrev": "GradientTape.jacobian of a tape gradient",
        "hessian_hvp_loop": "a Python loop of n calls of one traced forward-over-reverse HVP",
        "pe_grad_loop": "a Python loop of one traced tape gradient, one example each",
        "pe_grad_vmap": "tf.vectorized_map (pfor) over the examples of one example's tape gradient",
        "ckpt_grad": "GradientTape gradient with each checkpointed segment in tf.recompute_grad, "
                     "one traced tf.function; binomial: the revolve-style schedule driven from "
                     "Python, one traced layer or one traced layer VJP a step",
        "saved_bytes": "TensorFlow has no hook listing what GradientTape keeps",
    }))
class TensorFlow(Framework):
    modes = ("jacfwd", "jacrev", "jacrev_nopfor", "jacfwd_loop", "jacrev_loop")
    second_order = SECOND_ORDER_OPS      # every composition and Hessian mode (adcost.ops)
    per_example = PER_EXAMPLE_OPS

    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        device = self.device   # None: $ADCOST_DEVICE, else the CPU
        kind, _, index = device.partition(":")
        if kind not in DEVICES or not (index or "0").isdigit():
            raise ValueError(f"tf: device must be one of {', '.join(DEVICES)} (optionally ':N'); "
                             f"got {device!r}")
        tf = import_framework(self.record)  # lazy: no framework cost until used

        self.tf = tf
        self.xp = tf_namespace(tf)
        self.tf_device = f"/{DEVICES[kind]}:{index or 0}"
        # TF's soft placement would silently run "/GPU:0" ops on the CPU: refuse instead
        found = len(tf.config.list_physical_devices(DEVICES[kind]))
        if int(index or 0) >= found:
            raise NoDevice(f"tf: no device {self.tf_device} here (TensorFlow sees {found} {DEVICES[kind]})")

    # -- arrays --------------------------------------------------------------------
    def asindex(self, a):
        with self.tf.device(self.tf_device):
            return self.tf.identity(self.tf.constant(a))

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

    def flops(self, case) -> float | None:
        """FLOPs of one call: TensorFlow's profiler over the graph its optimizer (grappler)
        makes of the traced function, with the remapper off so that fused kernels count as the
        arithmetic they do.  The traced graph itself is no count: its jacfwd holds the vectorized
        body in a function the profiler does not enter (41 kFLOP of 2.7 M), and grappler inlines
        it and prunes what the outputs do not need.  Only ops with registered statistics count
        (matmuls and elementwise arithmetic; not tanh or exp).  None where the optimized graph
        still holds a loop (tf.while_loop's frames: the profiler counts its body once) or a
        function call, or where the case is not a traced tf.function (tf_eager)."""
        concrete = getattr(case.fn, "get_concrete_function", None)
        if concrete is None:
            return None
        try:
            return graph_flops(self.tf, concrete(*case.args))
        except Exception:    # a graph the optimizer or importer refuses (a nested pfor's
            return None      # gradient, hessian_jacfwd_jacrev): no count rather than a guess

    def memory_pool(self):
        """With oneDNN (TensorFlow's default on x86 Linux) tensors come from its MklCPUAllocator,
        a BFC pool that keeps every page it once used: after the probes' warm-up calls a
        gradient at depth 64 (batch 8192) moved the RSS by 1.1 MB, its allocator's peak by
        138.4 MB, what the same probe's RSS reads with oneDNN off (138.3 MB; measured,
        2026-12-04).  Its statistics are TensorFlow's get_memory_info; without oneDNN the CPU
        allocator keeps none (ValueError) and hands memory back: None."""
        exp = self.tf.config.experimental
        name = self.tf_device.lstrip("/")
        try:
            exp.get_memory_info(name)
        except ValueError:
            return None
        return MemoryPool(in_use=lambda: int(exp.get_memory_info(name)["current"]),
                          peak=lambda: int(exp.get_memory_info(name)["peak"]),
                          reset=lambda: exp.reset_memory_stats(name))

    def compile(self, fn, args):
        """Trace and build the graph once; returns (fn, seconds).  The timed calls then hit the
        trace cache; TF's graph optimization (grappler) still runs at the first call, which
        the case records as first_call_s."""
        product = getattr(fn, "product", None)   # the loops: trace their single product
        target = fn if product is None else product
        if not hasattr(target, "get_concrete_function"):
            return fn, None
        if product is None:
            trace_args = args
        else:   # a loop over basis vectors (or examples): trace one call of its product
            trace_args = getattr(fn, "product_args", lambda a: a[:2] + (a[2][0],))(args)
        start = time.perf_counter()
        try:
            target.get_concrete_function(*trace_args)
        except IndexError as exc:
            if getattr(target, "nested_forward", False):   # a TensorFlow failure, named
                raise Unsupported(NESTED_FORWARD_FAILURE) from exc
            raise
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

    # -- second order: nested tapes and accumulators ------------------------------------
    def _gradient(self, f, params, x):
        tf = self.tf
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(params, x)[0]
        return tape.gradient(y, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def _directional(self, f, params, x, v):
        """<grad f(x), v> by a ForwardAccumulator (forward mode)."""
        tf = self.tf
        with tf.autodiff.ForwardAccumulator(primals=x, tangents=v) as acc:
            y = f(params, x)[0]
        return acc.jvp(y, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def _fwd_over_rev(self, f, params, x, v):
        tf = self.tf
        with tf.autodiff.ForwardAccumulator(primals=x, tangents=v) as acc:
            g = self._gradient(f, params, x)
        return acc.jvp(g, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def _fwd_over_fwd(self, f, params, x, v):
        tf = self.tf
        eye = tf.eye(tf.size(x), dtype=x.dtype)

        def column(e):
            with tf.autodiff.ForwardAccumulator(primals=x, tangents=e) as acc:
                d = self._directional(f, params, x, v)
            return acc.jvp(d, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return tf.vectorized_map(column, eye)

    def op_hvp_fwd_over_rev(self, f):
        return self._function(lambda params, x, v: self._fwd_over_rev(f, params, x, v))

    def op_hvp_rev_over_fwd(self, f):
        tf = self.tf

        def hvp(params, x, v):
            with tf.GradientTape() as tape:
                tape.watch(x)
                d = self._directional(f, params, x, v)
            return tape.gradient(d, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return self._function(hvp)

    def op_hvp_rev_over_rev(self, f):
        tf = self.tf

        def hvp(params, x, v):
            with tf.GradientTape() as tape:
                tape.watch(x)
                g = self._gradient(f, params, x)
            return tape.gradient(g, x, output_gradients=v,
                                 unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return self._function(hvp)

    def op_hvp_fwd_over_fwd(self, f):
        fn = self._function(lambda params, x, v: self._fwd_over_fwd(f, params, x, v))
        fn.nested_forward = True
        return fn

    def _gradient_forward(self, f, params, x):
        """The gradient by forward mode: n JVPs, vectorized (pfor)."""
        tf = self.tf
        eye = tf.eye(tf.size(x), dtype=x.dtype)
        return tf.vectorized_map(lambda e: self._directional(f, params, x, e), eye)

    def _forward_jacobian(self, inner):
        """vectorized_map over e_i of a ForwardAccumulator JVP of inner(params, x): columns."""
        tf = self.tf

        def hessian(params, x):
            eye = tf.eye(tf.size(x), dtype=x.dtype)

            def column(e):
                with tf.autodiff.ForwardAccumulator(primals=x, tangents=e) as acc:
                    g = inner(params, x)
                return acc.jvp(g, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return tf.transpose(tf.vectorized_map(column, eye))
        return self._function(hessian)

    def op_hessian_jacfwd_jacrev(self, f):
        return self._forward_jacobian(lambda params, x: self._gradient(f, params, x))

    def op_hessian_jacrev_jacrev(self, f):
        return self._jacobian(lambda params, x: self._gradient(f, params, x), use_pfor=True)

    def op_hessian_jacfwd_jacfwd(self, f):
        fn = self._forward_jacobian(lambda params, x: self._gradient_forward(f, params, x))
        fn.nested_forward = True
        return fn

    def op_hessian_jacrev_jacfwd(self, f):
        return self._jacobian(lambda params, x: self._gradient_forward(f, params, x), use_pfor=True)

    # -- per-example gradients ---------------------------------------------------------
    def op_pe_grad_vmap(self, f):
        """tf.vectorized_map (pfor) over the examples of one example's GradientTape gradient."""
        tf = self.tf

        def per_example(params, x):
            loss, rows = self.example_loss(f, params)

            def one(row):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = loss(x, row)
                return tape.gradient(y, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return tf.vectorized_map(one, rows)
        return self._function(per_example)

    # -- checkpointing -----------------------------------------------------------------
    def op_ckpt_grad(self, problem, schedule, slots):
        """The loss's gradient with respect to one tensor per parameter; each checkpointed
        segment is a function of its input and of its layers' parameters (explicit arguments,
        so recompute_grad differentiates them) wrapped in tf.recompute_grad."""
        tf, xp, layers = self.tf, self.xp, problem.layers
        L, batch = layers.depth, problem.meta["batch"]
        data = self.params(problem)
        theta = [tuple(self.asarray(a) for a in params) for params in split_parameters(problem)]
        width = len(theta[0])

        def segment(start, stop, checkpointed):
            def run(h, *flat):
                per_layer = [flat[i:i + width] for i in range(0, len(flat), width)]
                return layers.run(xp, h, per_layer, start, stop)
            return tf.recompute_grad(run) if checkpointed else run

        if schedule == "binomial":
            return self._binomial_gradient(problem, slots), (data, theta)
        stages = [(start, stop, segment(start, stop, c)) for start, stop, c in segments(schedule, L)]

        def gradient(data, theta):
            leaves = [t for params in theta for t in params]
            with tf.GradientTape() as tape:
                tape.watch(leaves)
                h = data["X"]
                for start, stop, run in stages:
                    h = run(h, *[t for params in theta[start:stop] for t in params])
                y = layers.apply(xp, h, theta[L], last=True)
                loss = squared_loss(xp, y, data["T"], batch)[0]
            return tape.gradient(loss, leaves)
        return self._function(gradient), (data, theta)

    def _binomial_gradient(self, problem, slots):
        """The gradient under the binomial schedule (schedules.run_binomial, as the NumPy engine,
        torch and JAX run it), driven step by step from Python: a step is advanced by one traced
        layer, and a taped step pulled back by one traced VJP of the layer (its forward
        recomputed inside that graph), so grappler never sees the schedule's recomputations
        beside the forward pass they repeat.  No saved bytes: TensorFlow lists none."""
        tf, xp, layers = self.tf, self.xp, problem.layers
        L, batch = layers.depth, problem.meta["batch"]

        def layer(p, h):
            return layers.apply(xp, h, p)

        def pull_layer(p, h, g):
            with tf.GradientTape() as tape:
                tape.watch((p, h))
                out = layer(p, h)
            return tape.gradient(out, (p, h), output_gradients=g)

        def pull_head(p, h, target):
            with tf.GradientTape() as tape:
                tape.watch((p, h))
                loss = squared_loss(xp, layers.apply(xp, h, p, last=True), target, batch)[0]
            return tape.gradient(loss, (p, h))

        advance_one, pull_one, pull_last = (self._function(f) for f in (layer, pull_layer, pull_head))
        nothing = Ledger(nbytes=lambda t: 0)    # the schedule's bookkeeping; TF lists no bytes

        def gradient(data, theta):
            def pull(k, h, g):
                return pull_last(theta[L], h, data["T"]) if k == L else pull_one(theta[k], h, g)
            grads = binomial_pullbacks(L + 1, slots, data["X"],
                                       lambda k, h: advance_one(theta[k], h), pull, nothing)
            return [t for step in grads for t in step]
        return gradient

    def flat_gradient(self, out) -> np.ndarray:
        return np.concatenate([t.numpy().ravel() for t in out])

