"""Bad input on the API, and a user-defined problem."""
import numpy as np
import pytest

import adcost


@pytest.mark.parametrize("call, message", [
    (lambda: adcost.make_problem("nope"), "unknown problem 'nope'; choose from .*mlp"),
    (lambda: adcost.make_problem("mlp", n=0), "n must be an integer >= 1, got 0"),
    (lambda: adcost.make_problem("mlp", depth=2.5), "depth must be an integer >= 1"),
    (lambda: adcost.make_problem("mlp", width=True), "width must be an integer >= 1"),
    (lambda: adcost.make_problem("mlp", activation="sigmoid"), "activation must be one of tanh, relu"),
    (lambda: adcost.make_problem("mlp", colour=1), "unknown size colour; allowed: n, m, depth"),
    (lambda: adcost.get_framework("nope"), "unknown framework .nope.; choose from torch, torch_compile, jax"),
    (lambda: adcost.get_framework("numpy", "float16"), "dtype must be one of float32, float64"),
    (lambda: adcost.jacobian(adcost.make_problem("mlp"), "fd", "jacrev"), "unknown mode 'jacrev'; choose from fd"),
    (lambda: adcost.jvp(adcost.make_problem("mlp", n=3), "fd", [1.0, 2.0]), "v must have 3 entries, got 2"),
    (lambda: adcost.jacobian(adcost.make_problem("mlp", n=3), "fd", "fd", x=[1.0]), r"x must have shape \(3,\)"),
    (lambda: adcost.custom_problem("bad", lambda xp, x: x, n=2, m=2, x0=[1.0]), "x0 must have 2 entries"),
])
def test_bad_input_raises_value_error_naming_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def rosenbrock_residuals(xp, x):
    """r(x) = (1 - x0, 10 (x1 - x0^2)): the residuals of Rosenbrock's function."""
    return xp.stack([1.0 - x[0], 10.0 * (x[1] - x[0] ** 2)])


@pytest.mark.slow
def test_user_defined_problem_through_every_engine():
    p = adcost.custom_problem("rosenbrock", rosenbrock_residuals, n=2, m=2, x0=[-1.2, 1.0], scalar=True)
    want = np.array([[-1.0, 0.0], [-20.0 * -1.2, 10.0]])
    assert "rosenbrock" not in adcost.PROBLEMS   # registered only when asked
    engines = [f for f in adcost.available_frameworks() if f != "tf"]
    for fw in engines:
        for mode in adcost.get_framework(fw).modes:
            if adcost.get_framework(fw).supports(p, mode) is None:
                assert np.allclose(adcost.jacobian(p, fw, mode), want, rtol=1e-8), (fw, mode)
        case = adcost.prepare(p, fw, adcost.get_framework(fw).modes[0])  # through the gate
        assert case.reference in ("numpy", "python") and case.error is not None


def test_a_custom_problem_is_registered_when_asked(monkeypatch):
    monkeypatch.setattr(adcost.problems, "PROBLEMS", dict(adcost.PROBLEMS))
    p = adcost.custom_problem("rosen", rosenbrock_residuals, n=2, m=2, x0=[-1.2, 1.0], register=True)
    assert adcost.make_problem("rosen") is p


@pytest.mark.needs("torch")
def test_user_defined_array_problem():
    def softplus_sum(xp, x):
        return xp.reshape(xp.sum(xp.exp(x) * x), (1,))

    p = adcost.custom_problem("xexp", softplus_sum, n=3, m=1, x0=[0.1, -0.2, 0.3])
    g = adcost.grad(p, "torch")
    assert np.allclose(g, np.exp(p.x0) * (1 + p.x0))


def test_public_api_reuses_the_prepared_case_at_new_points():
    """Two calls on one problem: one prepared case, the second at its own point (checked)."""
    import adcost
    from adcost.frameworks.fd import central_jacobian
    p = adcost.make_problem("mlp", n=3, m=2, depth=1, width=4, activation="tanh")
    J0 = adcost.jacobian(p, "numpy", "jacrev")
    x1 = p.x0 + 0.3
    J1 = adcost.jacobian(p, "numpy", "jacrev", x=x1)
    assert len(adcost._PREPARED[p]) == 1
    fd = central_jacobian(lambda z: p.f(np, z), x1)
    np.testing.assert_allclose(J1, fd, atol=1e-7)
    assert not np.allclose(J0, J1)
    y, jv = adcost.jvp(p, "numpy", [1.0, 0.0, 0.0], x=x1)
    np.testing.assert_allclose(jv, fd[:, 0], atol=1e-7)
    y, jtu = adcost.vjp(p, "numpy", [0.0, 1.0], x=x1)
    np.testing.assert_allclose(jtu, fd[1], atol=1e-7)


def test_public_api_spot_check_catches_a_wrong_result_at_a_new_point():
    import adcost
    p = adcost.make_problem("mlp", n=3, m=2, depth=1, width=4)
    adcost.jacobian(p, "numpy", "jacfwd")
    case = adcost._PREPARED[p][("numpy", "jacfwd", "float64", "cpu")]
    right = case.fn
    case.fn = lambda *args: right(*args) * 1.01
    with pytest.raises(adcost.ValidationError, match="new point"):
        adcost.jacobian(p, "numpy", "jacfwd", x=p.x0 + 0.1)
    wrong = adcost.jacobian(p, "numpy", "jacfwd", x=p.x0 + 0.1, validate=False)   # asked for
    assert np.allclose(wrong, 1.01 * right(*case.args[:1], case.framework.asarray(p.x0 + 0.1)))
