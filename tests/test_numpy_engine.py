"""The hand-written NumPy engine against torch and jax, the gate, its layer API and its limits."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import adcost
from adcost.frameworks import numpy_engine as ne
from adcost.problems.spec import Problem
from adcost.validate import relative_error

TOL = 1e-10
LAYER_CASES = {
    "mlp_tanh": ("mlp", dict(n=5, m=3, depth=2, width=7, activation="tanh")),
    "mlp_relu": ("mlp", dict(n=5, m=3, depth=3, width=7, activation="relu")),
    "mlp_tanh_batch": ("mlp", dict(n=4, m=2, depth=2, width=6, activation="tanh", batch=3)),
    "mlp_relu_batch": ("mlp", dict(n=4, m=2, depth=2, width=6, activation="relu", batch=3)),
    "mlp_loss": ("mlp_loss", dict(features=3, outputs=2, depth=2, width=5, batch=4)),
    "mlp_loss_relu": ("mlp_loss", dict(features=3, outputs=2, depth=1, width=5, activation="relu")),
    "linear_relu": ("linear_relu", {}),
    "affine": ("affine", dict(k=3, m=2)),
}


def _problem(case):
    name, sizes = LAYER_CASES[case]
    return adcost.make_problem(name, **sizes)


def _results(problem, framework):
    """Every operation's float64 output, as NumPy, keyed by op."""
    rng = np.random.default_rng(7)
    v, u = rng.standard_normal(problem.n), rng.standard_normal(problem.m)
    out = {"jvp": adcost.jvp(problem, framework, v)[1], "vjp": adcost.vjp(problem, framework, u)[1],
           "jacfwd": adcost.jacobian(problem, framework, "jacfwd"),
           "jacrev": adcost.jacobian(problem, framework, "jacrev"),
           "primal": adcost.jvp(problem, framework, v)[0]}
    if problem.m == 1:
        out["grad"] = adcost.grad(problem, framework)
    return out


@pytest.mark.parametrize("framework", ["torch", pytest.param("jax", marks=pytest.mark.slow)])
@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_engine_matches_frameworks(case, framework):
    if framework not in adcost.available_frameworks():
        pytest.skip(f"{framework} is not installed")
    problem = _problem(case)
    ours, theirs = _results(problem, "numpy"), _results(problem, framework)
    assert ours.keys() == theirs.keys()
    for op in ours:
        assert relative_error(ours[op], theirs[op]) < TOL, (case, framework, op)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", ["primal", "jvp", "vjp", "grad", "jacfwd", "jacrev",
                                "jacfwd_loop", "jacrev_loop"])
def test_validation_gate(op, dtype):
    problem = adcost.make_problem("mlp_loss") if op == "grad" else _problem("mlp_relu_batch")
    case = adcost.prepare(problem, "numpy", op, dtype=dtype, warmup=1)
    assert case.error is not None
    out = case.output()
    assert all(o.dtype == np.dtype(dtype) for o in (out if isinstance(out, tuple) else (out,)))


def test_op_level_engine_runs_the_layer_problems():
    """The generic traced engine (matmul, where, reshape, slices, sum) agrees with the layer rules."""
    x64 = ne.NumpyEngine("float64")
    for case in LAYER_CASES:
        problem = _problem(case)
        params, x = x64.params(problem), problem.point()
        layer, traced = ne.model(problem), ne.OpLevel(problem, "float64")
        for mode in ("jacfwd", "jacrev"):
            want = getattr(layer, mode)(params, x)
            assert relative_error(getattr(traced, mode)(params, x), want) < TOL, (case, mode)


def test_op_level_broadcasting_and_reductions_match_torch():
    def fn(xp, x, p):
        A = xp.reshape(x[:6], (2, 3))
        s = xp.sum(A * x[6:9], axis=1) / (1.0 + x[0] ** 2)    # row-vector broadcast, axis sum
        r = xp.where(x[2:5] > 0, x[2:5], 0 * x[2:5])
        return xp.stack([s[0] * xp.cos(x[1]), xp.exp(s[1]) - xp.sum(r),
                         -xp.tanh(xp.matmul(x[6:9], A[1]) - 2.0)])
    problem = Problem("broadcast", 9, 3, np.linspace(-1.0, 1.2, 9), fn)
    want = adcost.jacobian(problem, "torch", "jacrev")
    for mode in ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop"):
        assert relative_error(adcost.jacobian(problem, "numpy", mode), want) < TOL, mode


# The seed golden values (polynomial, xy_sin) for this engine's op-level half are checked in
# tests/test_python_engine.py, parametrized over both engines.


def test_saved_bytes_counts_the_cached_activations():
    depth, width, batch, outputs = 3, 16, 4, 2
    assert ne.saved_bytes(adcost.make_problem("mlp", depth=depth, width=width)) == depth * width * 8
    loss = adcost.make_problem("mlp_loss", depth=depth, width=width, batch=batch, outputs=outputs)
    assert ne.saved_bytes(loss, "float32") == (depth * batch * width + batch * outputs) * 4
    for name in ("affine", "polynomial"):
        with pytest.raises(ValueError, match="layered problems"):
            ne.saved_bytes(adcost.make_problem(name))


def test_the_reverse_chain_holds_one_activation_per_hidden_layer():
    """The reverse sweep (schedule none) holds h_1 .. h_depth, and its Jacobian is forward mode's."""
    from adcost.checkpoint.schedules import Ledger
    problem = adcost.make_problem("mlp", depth=3, width=5)
    params, layers = ne.NumpyEngine().params(problem), problem.layers
    chain = ne.Chain(layers, layers.split(params), Ledger(exclude=[problem.x0]), weights=False)
    g = ne.run_schedule(chain, problem.x0, np.eye(problem.m), "none")
    assert chain.ledger.stored == 3 * 5 * 8 and chain.ledger.held == 0
    np.testing.assert_allclose(g, adcost.jacobian(problem, "numpy", "jacfwd"), rtol=1e-12)


def test_unsupported_reason_names_the_missing_op():
    problem = Problem("uses_arcsinh", 2, 1, np.ones(2), lambda xp, x, p: xp.arcsinh(x[:1]))
    reason = ne.NumpyEngine().supports(problem, "jacrev")
    assert "xp.arcsinh" in reason and "uses_arcsinh" in reason
    with pytest.raises(adcost.Unsupported, match="xp.arcsinh"):
        adcost.prepare(problem, "numpy", "jacrev")


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), depth=st.integers(1, 3), width=st.integers(1, 6),
       activation=st.sampled_from(["tanh", "relu"]), batch=st.sampled_from([None, 2]),
       seed=st.integers(0, 2**16))
@example(n=3, m=1, depth=3, width=6, activation="relu", batch=None, seed=2904)   # at a kink
def test_dot_product(n, m, depth, width, activation, batch, seed):
    """<u, J v> = <J^T u, v> with the engine's own jvp and vjp. Unvalidated: this is the two
    rules' consistency at any point (the gate's own check at a relu kink, such as the example's,
    is tests/test_cases.py's)."""
    problem = adcost.make_problem("mlp", n=n, m=m, depth=depth, width=width, activation=activation,
                                  batch=batch, seed=seed)
    rng = np.random.default_rng(seed)
    v, u = rng.standard_normal(problem.n), rng.standard_normal(problem.m)
    jv = adcost.jvp(problem, "numpy", v, validate=False)[1]
    jtu = adcost.vjp(problem, "numpy", u, validate=False)[1]
    scale = max(1.0, np.linalg.norm(u) * np.linalg.norm(jv), np.linalg.norm(jtu) * np.linalg.norm(v))
    assert abs(u @ jv - jtu @ v) / scale < 1e-12
