"""The TensorFlow adapter: seed golden values, the validation gate, compile-once, and absence."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

if importlib.util.find_spec("tensorflow") is None:   # found, not imported: collection stays fast
    pytest.skip("tensorflow is not installed", allow_module_level=True)

import adcost  # noqa: E402
from adcost import cli  # noqa: E402
from adcost.frameworks.base import get_framework  # noqa: E402

from golden import (POLY_F, POLY_JTU, POLY_JV, POLY_U, POLY_V, POLY_X, PRINTED_RTOL,  # noqa: E402
                    XY_SIN_F, XY_SIN_GRAD)

pytestmark = pytest.mark.slow   # TensorFlow: a 4 s import, and every op of every problem through the gate

# first order here; the second-order operations and per-example routes: test_second_order.py
OPS = tuple(op for op in adcost.framework_class("tf").ops()
            if op not in adcost.ops.SECOND_ORDER_OPS + adcost.ops.PER_EXAMPLE_OPS)
JACOBIAN_MODES = adcost.framework_class("tf").modes
SMALL = {
    "mlp_tanh": ("mlp", {"activation": "tanh"}),
    "mlp_relu": ("mlp", {"activation": "relu"}),
    "mlp_batch": ("mlp", {"batch": 3}),
    "mlp_loss": ("mlp_loss", {}),
    "linear_relu": ("linear_relu", {}),
    "affine": ("affine", {}),
    "polynomial": ("polynomial", {}),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_seed_003_polynomial(dtype):
    p = adcost.make_problem("polynomial")
    y, jv = adcost.jvp(p, "tf", POLY_V, x=POLY_X, dtype=dtype)
    y2, jtu = adcost.vjp(p, "tf", POLY_U, x=POLY_X, dtype=dtype)
    for got, want in ((y, POLY_F), (jv, POLY_JV), (y2, POLY_F), (jtu, POLY_JTU)):
        np.testing.assert_allclose(got, want, rtol=PRINTED_RTOL)


def test_seed_004_xy_sin():
    p = adcost.make_problem("xy_sin")
    y, _ = adcost.vjp(p, "tf", [1.0], x=[2.0, 3.0])
    np.testing.assert_allclose(y, [XY_SIN_F], rtol=1e-14)
    np.testing.assert_allclose(adcost.grad(p, "tf", x=[2.0, 3.0]), XY_SIN_GRAD, rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("key", sorted(SMALL))
def test_every_op_passes_the_gate(key, dtype):
    name, sizes = SMALL[key]
    problem = adcost.make_problem(name, **sizes)
    fw = get_framework("tf", dtype)
    ran = []
    for op in OPS:
        if fw.supports(problem, op) is None:
            adcost.prepare(problem, fw, op, warmup=0)   # raises ValidationError on a miss
            ran.append(op)
    assert set(JACOBIAN_MODES) <= set(ran)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_jacobians_agree_with_torch(activation):
    pytest.importorskip("torch")
    p = adcost.make_problem("mlp", n=6, m=5, depth=3, width=7, activation=activation)
    want = adcost.jacobian(p, "torch", "jacrev")
    for mode in JACOBIAN_MODES:
        np.testing.assert_allclose(adcost.jacobian(p, "tf", mode), want, rtol=0, atol=1e-10,
                                   err_msg=mode)


@pytest.mark.parametrize("op", ["jvp", "jacrev", "jacfwd", "jacfwd_loop"])
def test_compile_time_recorded_and_one_trace(op):
    case = adcost.prepare("mlp", "tf", op, dtype="float32", warmup=2)
    assert isinstance(case.compile_s, float) and case.compile_s > 0
    traced = getattr(case.fn, "product", case.fn)   # the loops trace their single product
    assert traced.experimental_get_tracing_count() == 1
    case()
    assert traced.experimental_get_tracing_count() == 1


def test_mode_notes_cover_every_mode():
    assert set(JACOBIAN_MODES) <= set(adcost.framework_class("tf").record.notes)


def test_check_skips_tf_when_hidden(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    assert cli.main(["check", "--framework", "tf"]) == 0
    out = capsys.readouterr().out
    assert "tensorflow" in out and "not installed" in out
    assert "0 ok, 1 skipped, 0 failed" in out


def test_quiet_on_stderr():
    """Import banner, oneDNN notice and retracing warnings stay off stderr (a fresh process)."""
    code = ("import adcost\n"
            "fw = adcost.get_framework('tf', 'float32')\n"
            "for op in ('primal', 'jvp', 'vjp', 'jacrev', 'jacfwd', 'jacrev_nopfor', 'jacfwd_loop'):\n"
            "    fn, args = fw.build(adcost.make_problem('polynomial'), op)\n"
            "    fw.compile(fn, args)[0](*args)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items()
                               if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_devices():
    assert get_framework("tf", "float32", "cpu").tf_device == "/CPU:0"
    with pytest.raises(ValueError, match="device must be one of"):
        get_framework("tf", "float32", "tpu")
    import tensorflow as tf
    if not tf.config.list_physical_devices("GPU"):   # soft placement must not hide a missing GPU
        with pytest.raises(ValueError, match="no device /GPU:0"):
            get_framework("tf", "float32", "cuda")


def test_tf_eager_does_not_warn_of_retracing_its_own_pfor_body():
    """Called eagerly, GradientTape.jacobian wraps its pfor body in a new tf.function each call;
    TensorFlow's retracing warning about that body (advice for code the user did not write) is
    dropped, while one about any other function still passes the logger."""
    import logging

    tf = pytest.importorskip("tensorflow")
    case = adcost.prepare(adcost.make_problem("mlp", n=3, m=2, depth=1, width=4), "tf_eager",
                          "jacrev")
    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger = tf.get_logger()
    logger.addHandler(handler)
    try:
        for _ in range(8):
            case()
        logger.warning("7 out of the last 7 calls to <function mine at 0x1> triggered "
                       "tf.function retracing.")
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in seen]
    assert not [m for m in messages if "pfor" in m], messages
    assert any("<function mine" in m for m in messages)


def test_tensorflow_counts_the_flops_of_the_graph_its_optimizer_makes():
    """tf's FLOPs: the profiler over the grappler-optimized graph.  On the MLP the primal and
    jacrev counts are the matmul count within 2 % (elementwise arithmetic beside it), jacfwd
    grows with its n tangents; a graph with a loop (jacrev_nopfor's while loop, counted once
    per body) and an eager case get none."""
    from adcost.frameworks.numpy_engine import analytic_flops
    p = adcost.make_problem("mlp", n=16, m=64, depth=2, width=32)
    counts = {}
    for mode in ("primal", "jacfwd", "jacrev", "jacrev_nopfor"):
        case = adcost.prepare(p, "tf", mode, dtype="float32")
        counts[mode] = case.framework.flops(case)
    for mode in ("primal", "jacrev", "jacfwd"):
        assert counts[mode] == pytest.approx(analytic_flops(p, mode), rel=0.1), mode
    assert counts["primal"] == pytest.approx(analytic_flops(p, "primal"), rel=0.02)
    assert counts["jacrev_nopfor"] is None
    eager = adcost.prepare(p, "tf_eager", "jacrev", dtype="float32")
    assert eager.framework.flops(eager) is None
    assert "grappler" in adcost.framework_class("tf").record.flops
