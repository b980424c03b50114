"""Golden values, cross-framework agreement and the dot-product test for torch and jax."""
import os
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import adcost
from adcost import validate
from golden import (POLY_F, POLY_J, POLY_JTU, POLY_JV, POLY_U, POLY_V, PRINTED_RTOL,
                    XY_SIN_F, XY_SIN_GRAD, affine_jacobian, hand_jacobians)

AD = pytest.mark.parametrize("framework", [pytest.param("torch", marks=pytest.mark.needs("torch")),
                                           pytest.param("jax", marks=pytest.mark.needs("jax"))])


@AD
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_polynomial_golden_values_of_seed_003(framework, dtype):
    p = adcost.make_problem("polynomial")
    y, jv = adcost.jvp(p, framework, POLY_V, dtype=dtype)
    y2, jtu = adcost.vjp(p, framework, POLY_U, dtype=dtype)
    rtol = max(PRINTED_RTOL, 1e-6 if dtype == "float32" else 0)
    assert np.allclose(y, POLY_F, rtol=rtol) and np.allclose(y2, POLY_F, rtol=rtol)
    assert np.allclose(jv, POLY_JV, rtol=rtol)
    assert np.allclose(jtu, POLY_JTU, rtol=rtol)
    for mode in adcost.get_framework(framework).modes:
        assert np.allclose(adcost.jacobian(p, framework, mode, dtype=dtype), POLY_J, rtol=rtol), mode


@AD
def test_xy_sin_golden_values_of_seed_004(framework):
    p = adcost.make_problem("xy_sin")
    y, _ = adcost.jvp(p, framework, [1.0, 0.0])
    assert y[0] == pytest.approx(XY_SIN_F, rel=1e-15)
    assert np.allclose(adcost.grad(p, framework), XY_SIN_GRAD, rtol=1e-15, atol=0)


@AD
@pytest.mark.parametrize("name", sorted(hand_jacobians()))
def test_small_examples_match_hand_derivatives(framework, name):
    p = adcost.make_problem(name)
    want = hand_jacobians()[name]
    rtol = PRINTED_RTOL if name == "polynomial" else 1e-12  # seed 003 printed 7 digits
    for mode in ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop"):
        assert np.allclose(adcost.jacobian(p, framework, mode), want, rtol=rtol, atol=1e-12), mode


@AD
def test_affine_matches_closed_form(framework):
    p = adcost.make_problem("affine", k=3, m=2)
    assert np.allclose(adcost.jacobian(p, framework, "jacrev"), affine_jacobian(p.x0, 3, 2), atol=1e-14)


@pytest.mark.needs("torch", "jax")
@pytest.mark.parametrize("name, sizes", [
    ("mlp", {"n": 5, "m": 4, "depth": 3, "width": 7}),
    ("mlp", {"n": 3, "m": 2, "depth": 2, "width": 5, "activation": "relu", "batch": 3}),
    ("mlp_loss", {"depth": 2, "width": 6}),
    ("linear_relu", {}),
])
def test_torch_and_jax_agree_in_float64(name, sizes):
    p = adcost.make_problem(name, **sizes)
    J = adcost.jacobian(p, "torch", "jacrev")
    for fw in ("torch", "jax"):
        adapter = adcost.get_framework(fw)
        for mode in adapter.modes:
            if adapter.supports(p, mode) is None:
                assert validate.relative_error(adcost.jacobian(p, fw, mode), J) < 1e-12, (fw, mode)
    if p.m == 1:
        assert validate.relative_error(adcost.grad(p, "jax"), J[0]) < 1e-12


@pytest.mark.needs("torch", "jax")
@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), depth=st.integers(1, 3), width=st.integers(1, 6),
       seed=st.integers(0, 10_000))
@pytest.mark.slow
def test_dot_product_identity_random_mlps(n, m, depth, width, seed):
    p = adcost.make_problem("mlp", n=n, m=m, depth=depth, width=width, seed=seed)
    rng = np.random.default_rng(seed)
    v, u = rng.standard_normal(n), rng.standard_normal(m)
    for name in ("torch", "jax"):
        fw = adcost.get_framework(name, "float64")
        assert validate.dot_product_test(name, fw, p, p.x0, v, u) < 1e-12
        # and both products agree with the other framework's full Jacobian
        _, jv = adcost.jvp(p, name, v)
        _, jtu = adcost.vjp(p, name, u)
        J = adcost.jacobian(p, "jax" if name == "torch" else "torch", "jacfwd")
        assert np.allclose(jv, J @ v, atol=1e-12) and np.allclose(jtu, J.T @ u, atol=1e-12)


@pytest.mark.needs("jax")
def test_jax_float32_really_computes_in_float32_and_float64_in_float64():
    p = adcost.make_problem("mlp")
    assert adcost.jacobian(p, "jax", "jacrev", dtype="float32").dtype == np.float32
    assert adcost.jacobian(p, "jax", "jacrev", dtype="float64").dtype == np.float64


def test_fd_matches_hand_derivatives():
    for name, want in hand_jacobians().items():
        J = adcost.jacobian(adcost.make_problem(name), "fd", "fd")
        assert validate.relative_error(J, want) < (PRINTED_RTOL if name == "polynomial" else 1e-8), name


def test_available_frameworks_lists_the_dependency_free_engines():
    names = adcost.available_frameworks()
    assert {"fd", "numpy", "python"} <= set(names)
    assert names == sorted(names)


def test_a_quiet_import_holds_back_what_native_code_prints_unless_it_fails(tmp_path, monkeypatch, capfd):
    """TensorFlow writes its oneDNN notice to file descriptor 2 before any log setting applies:
    a record with quiet_import holds that back, and shows it when the import fails."""
    import sys

    from adcost.frameworks.base import Record, import_framework
    (tmp_path / "noisy_ok.py").write_text("import os\nos.write(2, b'native notice\\n')\n")
    (tmp_path / "noisy_bad.py").write_text("import os\nos.write(2, b'native clue\\n')\n"
                                          "raise ImportError('broken build')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("noisy_ok", "noisy_bad"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert import_framework(Record("x", package="noisy_ok", quiet_import=True)).__name__ == "noisy_ok"
    assert "native notice" not in capfd.readouterr().err
    with pytest.raises(ImportError, match="broken build"):
        import_framework(Record("y", package="noisy_bad", quiet_import=True))
    assert "native clue" in capfd.readouterr().err


def test_tensorflow_runs_with_its_own_kernels_and_every_result_records_the_choice(monkeypatch):
    """oneDNN is left as TensorFlow sets it (forcing it off made its jacrev up to 4.6x slower
    than the TensorFlow users run); the variable that chooses it is in every result's
    environment, None when unset."""
    from adcost.frameworks.base import records
    from adcost.measure.environment import thread_settings
    tf = records()["tf"]
    assert "TF_ENABLE_ONEDNN_OPTS" not in tf.environment and tf.quiet_import
    assert "TF_ENABLE_ONEDNN_OPTS" in tf.kernel_vars
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert thread_settings()["TF_ENABLE_ONEDNN_OPTS"] is None
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert thread_settings()["TF_ENABLE_ONEDNN_OPTS"] == "0"


@pytest.mark.needs("jax")
def test_jax_jacfwd_vmap_builds_the_tangents_first_behind_a_barrier():
    """jacfwd_vmap is jacfwd's Jacobian with the tangents' axis first until one transpose:
    without the barrier XLA folds the transpose into the output layer's dot (as jax.jacfwd)."""
    p = adcost.make_problem("mlp", n=3, m=40, depth=2, width=8)
    assert np.allclose(adcost.jacobian(p, "jax", "jacfwd_vmap"), adcost.jacobian(p, "jax", "jacfwd"),
                       rtol=1e-12, atol=1e-14)
    adapter = adcost.get_framework("jax", dtype="float32")
    fn, args = adapter.build(p, "jacfwd_vmap")
    text = fn.lower(*args).as_text()
    assert "optimization_barrier" in text and "transpose" in text
    assert "optimization_barrier" not in adapter.build(p, "jacfwd")[0].lower(*args).as_text()


def test_jax_async_cpu_dispatch_is_turned_off_where_the_variable_says_so(monkeypatch):
    """$JAX_CPU_ENABLE_ASYNC_DISPATCH (which JAX 0.10.2 does not read) is applied by the
    adapter: false or 0 turns JAX's asynchronous CPU dispatch off, anything else leaves JAX's
    own; the sweep's benchmark processes and `adcost profile` get false unless the caller set
    it, and every result records it."""
    from adcost import sweep
    from adcost.frameworks import jax_adapter
    from adcost.measure import environment

    class Config:
        def __init__(self):
            self.calls = []

        def update(self, name, value):
            self.calls.append((name, value))

    class FakeJax:
        config = Config()
    for value, applied in (("false", False), ("0", False), ("true", None), (None, None)):
        FakeJax.config = Config()
        if value is None:
            monkeypatch.delenv(jax_adapter.ASYNC_DISPATCH, raising=False)
        else:
            monkeypatch.setenv(jax_adapter.ASYNC_DISPATCH, value)
        assert jax_adapter.cpu_dispatch(FakeJax) is applied
        assert FakeJax.config.calls == ([("jax_cpu_enable_async_dispatch", False)]
                                        if applied is False else [])
    assert sweep.asv_environ({})[jax_adapter.ASYNC_DISPATCH] == "false"
    assert sweep.asv_environ({jax_adapter.ASYNC_DISPATCH: "true"})[jax_adapter.ASYNC_DISPATCH] == "true"
    assert jax_adapter.ASYNC_DISPATCH in environment.kernel_vars()


@pytest.mark.slow
def test_jax_runs_its_cpu_computations_on_the_calling_thread_in_a_fresh_process():
    """In a fresh process with the variable false, the adapter's first case starts JAX's CPU
    client with asynchronous dispatch off (the flag JAX reads when the client starts)."""
    import os
    import subprocess
    import sys
    code = ("import adcost, jax\n"
            "adcost.prepare('mlp', 'jax', 'jacrev', dtype='float32', n=3, m=2)\n"
            "from jax._src import xla_bridge\n"
            "print(xla_bridge._CPU_ENABLE_ASYNC_DISPATCH.value)\n")
    for value, expected in (("false", "False"), ("true", "True")):
        env = {**os.environ, "JAX_CPU_ENABLE_ASYNC_DISPATCH": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == expected


def test_torch_counts_matrix_vector_products_as_the_matmuls_it_counts():
    """FlopCounterMode has no formula for aten.mv or dot: f(x) = A x counted 0 FLOPs by
    reverse mode (matrix-vector products) where forward mode's vmapped matmul counted them.
    With the formulas the primal is 2 m n and no mode of A x counts 0."""
    pytest.importorskip("torch")
    A = np.arange(12.0).reshape(4, 3)
    p = adcost.custom_problem("ax", lambda xp, x, d: xp.matmul(d["A"], x), n=3, m=4,
                              x0=[1.0, 2.0, 3.0], data={"A": A})
    counts = {}
    for op in ("primal", "vjp", "jvp", "jacrev", "jacfwd"):
        case = adcost.prepare(p, "torch", op)
        counts[op] = case.framework.flops(case)
    assert counts["primal"] == 2 * 4 * 3
    assert all(c >= counts["primal"] for c in counts.values()), counts


def test_importing_any_framework_sets_every_frameworks_environment_defaults(monkeypatch):
    """torch imported before TensorFlow set up the C++ log TensorFlow shares, so TensorFlow's
    TF_CPP_MIN_LOG_LEVEL, set only when it was imported, came too late (its grappler then
    logged "Not handling type DT_DOUBLE" 284 times in one `adcost check`): every record's
    defaults are set at the first import, a variable the user set is kept."""
    pytest.importorskip("torch")
    from adcost.frameworks.base import framework_class, import_framework
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    import_framework(framework_class("torch").record)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == framework_class("tf").record.environment[
        "TF_CPP_MIN_LOG_LEVEL"]
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    import_framework(framework_class("torch").record)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
