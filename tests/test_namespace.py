"""The shared namespace: every operation, every engine, the same values and derivatives.

Each case is a small f: R^n -> R^m built around one operation of adcost.namespace.OPS (with a
broadcast where the operation has one); every engine's primal must match plain NumPy and its
jacfwd and jacrev must match central differences of that primal.
"""
import numpy as np
import pytest

import adcost
from adcost.frameworks.base import MissingOperation, Unsupported, missing_reason
from adcost.frameworks.fd import central_jacobian
from adcost.namespace import OPS, numpy_xp
from adcost.problems import custom_problem

N = 6
RNG = np.random.default_rng(3)
DATA = {
    "A": RNG.standard_normal((2, 3, N)),       # a batch of matrices (matmul's broadcast)
    "B": RNG.standard_normal((N, 4)),
    "c": RNG.standard_normal((3, 1)),          # broadcasts against (1, N)
    "idx": np.array([4, 0, 4, 2, 5]),          # integer gather, with a repeat
    "mask": np.array([True, False, True, True, False, True]),
    "s": 0.5,                                  # a Python scalar
}


def row(xp, x):
    return xp.reshape(x, (1, N))


def grid(xp, x):
    """(3, N): x broadcast against the data column c, so rows differ."""
    return row(xp, x) * 1.5 + xp.asarray(DATA["c"]) * 0 + x * x * 0.1


CASES = {
    "broadcast_add": lambda xp, x, d: xp.sum(xp.ones_like(d["c"]) + row(xp, x), axis=0),
    "log": lambda xp, x, d: xp.log(x * x + 1.0),
    "exp": lambda xp, x, d: xp.exp(x) * d["s"],
    "sqrt": lambda xp, x, d: xp.sqrt(x * x + 2.0),
    "sin": lambda xp, x, d: xp.sin(x),
    "cos": lambda xp, x, d: xp.cos(x),
    "tanh": lambda xp, x, d: xp.tanh(x),
    "maximum": lambda xp, x, d: xp.reshape(xp.maximum(row(xp, x), d["c"]), (-1,)),
    "minimum": lambda xp, x, d: xp.reshape(xp.minimum(d["c"], row(xp, x)), (-1,)),
    "sum": lambda xp, x, d: xp.reshape(xp.sum(row(xp, x) * d["c"], axis=1, keepdims=True), (-1,)),
    "mean": lambda xp, x, d: xp.mean(row(xp, x) * d["c"], axis=0),
    "amax": lambda xp, x, d: xp.amax(row(xp, x) * d["c"] + row(xp, x) ** 2, axis=1),
    "max": lambda xp, x, d: xp.reshape(xp.max(xp.reshape(x, (2, 3)), axis=0, keepdims=True), (-1,)),
    "amin": lambda xp, x, d: xp.amin(row(xp, x) * d["c"] + row(xp, x) ** 2, axis=1),
    "min": lambda xp, x, d: xp.reshape(xp.min(xp.reshape(x, (2, 3))), (1,)),
    "logsumexp": lambda xp, x, d: xp.logsumexp(row(xp, x) * d["c"] * 30.0, axis=1),
    "logsumexp_all": lambda xp, x, d: xp.reshape(xp.logsumexp(xp.reshape(x, (2, 3))), (1,)),
    "matmul": lambda xp, x, d: xp.reshape(xp.matmul(d["A"], x), (-1,)),
    "matmul_batched": lambda xp, x, d: xp.reshape(
        xp.matmul(d["A"][:, :, :3], xp.reshape(x, (3, 2))), (-1,)),
    "einsum": lambda xp, x, d: xp.reshape(xp.einsum("ij,jk->ik", xp.reshape(x, (2, 3)),
                                                    xp.reshape(x, (3, 2))), (-1,)),
    "einsum_sum_one": lambda xp, x, d: xp.einsum("bij,j->b", d["A"], x),
    "einsum_implicit": lambda xp, x, d: xp.reshape(xp.einsum("ij,jk", xp.reshape(x, (1, N)),
                                                             d["B"]), (-1,)),
    "transpose": lambda xp, x, d: xp.reshape(xp.transpose(xp.reshape(x, (2, 3))) * d["c"], (-1,)),
    "transpose_axes": lambda xp, x, d: xp.reshape(
        xp.transpose(xp.reshape(x, (1, 2, 3)), (2, 0, 1)) * xp.reshape(x[:3], (3, 1, 1)), (-1,)),
    "take": lambda xp, x, d: xp.take(x, d["idx"]) * 2.0,
    "take_axis": lambda xp, x, d: xp.reshape(xp.take(xp.reshape(x, (2, 3)), d["idx"][:3] % 3,
                                                     axis=1), (-1,)),
    "take_rows": lambda xp, x, d: xp.reshape(xp.take(grid(xp, x), d["idx"][:4] % 3, axis=0), (-1,)),
    "where": lambda xp, x, d: xp.where(d["mask"], x * x, 0.0),
    "concatenate": lambda xp, x, d: xp.concatenate([x, xp.sin(x[:2])], axis=0),
    "concat": lambda xp, x, d: xp.concat([x[3:], x * x], axis=0),
    "flip": lambda xp, x, d: xp.reshape(xp.flip(grid(xp, x), axis=1) * x, (-1,)),
    "flip_all": lambda xp, x, d: xp.reshape(xp.flip(xp.reshape(x, (2, 3))) * d["c"][:2], (-1,)),
    "cumsum": lambda xp, x, d: xp.reshape(xp.cumsum(grid(xp, x) * x, axis=0), (-1,)),
    "cumsum_last": lambda xp, x, d: xp.reshape(xp.cumsum(xp.reshape(x * x, (2, 3)), axis=-1), (-1,)),
    "cumsum_flat": lambda xp, x, d: xp.cumsum(xp.reshape(x, (3, 2)) * d["c"]),
    "abs": lambda xp, x, d: xp.abs(x - 0.3) * x,
    "square": lambda xp, x, d: xp.square(row(xp, x) * d["c"])[1],
    "log1p": lambda xp, x, d: xp.log1p(x * x),
    "expm1": lambda xp, x, d: xp.expm1(x) * x,
    "tan": lambda xp, x, d: xp.tan(x * 0.5),
    "arctan": lambda xp, x, d: xp.arctan(x * 3.0),
    "sinh": lambda xp, x, d: xp.sinh(x),
    "cosh": lambda xp, x, d: xp.cosh(x),
    "stack": lambda xp, x, d: xp.reshape(xp.stack([x, x * x], axis=1), (-1,)),
    "reshape": lambda xp, x, d: xp.reshape(xp.reshape(x, (3, 2)) ** 3, (-1,)),
    "zeros_like": lambda xp, x, d: x + xp.zeros_like(x),
    "asarray": lambda xp, x, d: x * xp.asarray(d["B"][:, 0], dtype=x.dtype),
    "scan": lambda xp, x, d: xp.reshape(xp.scan(
        lambda c, r: (c * xp.sin(r) + r, c * c), x[:3], xp.reshape(x, (2, 3)))[1], (-1,)),
    "scan_length": lambda xp, x, d: xp.scan(lambda c, _: ((c[0] * 0.9 + c[1], xp.tanh(c[0])), None),
                                            (x[:3], x[3:]), length=4)[0][1],
}
ENGINES = ("numpy", "torch", "jax", "tf")
X0 = np.linspace(-0.9, 1.1, N) + 0.05 * np.arange(N) ** 2


def problem(name):
    fn = CASES[name]
    m = np.asarray(fn(numpy_xp(), X0, DATA)).size
    return custom_problem(name, fn, N, m, X0, data=DATA)


def test_every_operation_has_a_case():
    """The table covers OPS (a new operation must be added here)."""
    covered = {name.split("_")[0] for name in CASES} | {"ones", "zeros", "asarray"}
    assert {op.split("_")[0] for op in OPS} <= covered


def every_case(xp, x, d):
    """All cases in one function (one trace per engine and mode); a failure is then narrowed
    down to the operation by `disagreements`."""
    return xp.concatenate([xp.reshape(fn(xp, x, d), (-1,)) for fn in CASES.values()], axis=0)


def disagreements(engine, names) -> list[str]:
    """Which cases' primal, jacfwd or jacrev differ from NumPy and central differences."""
    failures = []
    for name in names:
        p = problem(name)
        want = p.f(np, X0)
        fd = central_jacobian(lambda z: np.asarray(p.f(np, z)), X0)
        try:
            got = adcost.compute(p, engine, "primal")
            if not np.allclose(got, want, rtol=1e-12, atol=1e-12):
                failures.append(f"{name}: primal {got} != {want}")
            for mode in ("jacfwd", "jacrev"):
                J = adcost.jacobian(p, engine, mode, validate=False)
                err = np.max(np.abs(J - fd)) / max(1.0, np.max(np.abs(fd)))
                if not err < 1e-6:
                    failures.append(f"{name}: {mode} error {err:.2e}")
        except Unsupported as exc:
            failures.append(f"{name}: {exc}")
    return failures


@pytest.mark.parametrize("engine", ENGINES)
def test_operations_agree_with_numpy_and_central_differences(engine):
    if missing_reason(engine):
        pytest.skip(missing_reason(engine))
    m = np.asarray(every_case(numpy_xp(), X0, DATA)).size
    p = custom_problem("every_op", every_case, N, m, X0, data=DATA)
    want = p.f(np, X0)
    fd = central_jacobian(lambda z: np.asarray(p.f(np, z)), X0)
    try:
        ok = np.allclose(adcost.compute(p, engine, "primal"), want, rtol=1e-12, atol=1e-12)
        for mode in ("jacfwd", "jacrev"):
            J = adcost.jacobian(p, engine, mode, validate=False)
            ok = ok and np.max(np.abs(J - fd)) / max(1.0, np.max(np.abs(fd))) < 1e-6
    except Unsupported:
        ok = False
    if not ok:
        failures = disagreements(engine, CASES)
        assert failures, f"{engine}: the combined function failed but no single case did"
        pytest.fail(f"{engine}:\n" + "\n".join(failures))


def test_a_wrong_rule_is_named(monkeypatch):
    """The table can fail: a broken partial of sin is caught and named."""
    from adcost.frameworks import _numpy_ops
    monkeypatch.setattr(_numpy_ops.SIN, "jvp", lambda dots, vals, out: dots[0] * 0.0)
    failures = disagreements("numpy", ["sin", "cos"])
    assert len(failures) == 1 and failures[0].startswith("sin: jacfwd error")


def test_broadcast_tangent_regression():
    """f(x) = sum(ones((4,1)) + reshape(x, (1,2)), axis=0): the Jacobian is 4 I, not I."""
    p = custom_problem("bcast", lambda xp, x: xp.sum(xp.ones_like(np.ones((4, 1))) + xp.reshape(x, (1, 2)),
                                                     axis=0), 2, 2, [0.3, 0.5])
    for mode in ("jacfwd", "jacrev"):
        np.testing.assert_allclose(adcost.jacobian(p, "numpy", mode), 4 * np.eye(2))
    np.testing.assert_allclose(adcost.jvp(p, "numpy", [1.0, 0.0])[1], [4.0, 0.0])
    np.testing.assert_allclose(adcost.vjp(p, "numpy", [0.0, 1.0])[1], [0.0, 4.0])


def test_numpy_engine_names_a_missing_operation():
    p = custom_problem("no_arcsinh", lambda xp, x: xp.arcsinh(x), 2, 2, [0.1, 0.2])
    with pytest.raises(MissingOperation, match=r"xp\.arcsinh"):
        p.f(adcost.frameworks.numpy_engine._numpy_ops.xp, np.zeros(2))
    with pytest.raises(Unsupported, match="arcsinh"):
        adcost.jacobian(p, "numpy", "jacrev")


@pytest.mark.parametrize("engine", ["torch", "jax", "tf"])
def test_a_name_the_frameworks_module_lacks_is_named(engine):
    """Other names fall through to the framework's module; one it lacks is a MissingOperation
    naming the engine (TensorFlow's numpy module has no `concat` of its own: ours is offered)."""
    if missing_reason(engine):
        pytest.skip(missing_reason(engine))
    from adcost.frameworks.base import get_framework
    xp = get_framework(engine, "float64", "cpu").xp
    with pytest.raises(MissingOperation, match=rf"{engine} has no xp\.no_such_op"):
        xp.no_such_op
    assert callable(xp.concat) and callable(xp.flip)
    with pytest.raises(AttributeError):
        xp.__no_such_dunder__


def test_numpy_engine_refuses_a_diagonal_einsum():
    p = custom_problem("trace", lambda xp, x: xp.reshape(xp.einsum("ii->", xp.reshape(x, (2, 2))), (1,)),
                       4, 1, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(Unsupported, match="repeated"):
        adcost.jacobian(p, "numpy", "jacrev")


def test_engine_transpose_attribute():
    from adcost.frameworks._numpy_ops import pull, push
    fn = lambda xp, x: xp.reshape(xp.reshape(x, (2, 3)).T * 2.0, (-1,))   # noqa: E731
    y, dots = push(fn, np.arange(6.0), np.eye(6))
    assert np.allclose(y, 2 * np.arange(6.0).reshape(2, 3).T.ravel())
    J = dots.reshape(6, 6).T
    _, adj = pull(fn, np.arange(6.0), np.eye(6))
    assert np.allclose(J, adj) and np.allclose(np.abs(J).sum(axis=0), 2.0)


def test_torch_compile_traces_a_name_that_falls_through():
    """A name outside OPS (xp.clip) falls through to torch's module under torch.compile too:
    Dynamo traces the namespace's lookup (it could not trace object.__getattribute__, and every
    such function was skipped with `__getattribute__ of class type`)."""
    if missing_reason("torch_compile"):
        pytest.skip(missing_reason("torch_compile"))
    p = custom_problem("clipped", lambda xp, x: xp.clip(x, -0.5, 0.5) ** 2, 3, 3, [-0.9, 0.2, 0.7])
    J = adcost.jacobian(p, "torch_compile", "jacrev")
    np.testing.assert_allclose(J, np.diag([0.0, 0.4, 0.0]), atol=1e-12)
