"""The pure-Python dual-number and tape engine: golden values, agreement, and its limits."""
from __future__ import annotations

import numpy as np
import pytest

import adcost
from adcost.frameworks.python_engine import Dual, Tape, xp
from adcost.problems.spec import Problem
from adcost.validate import relative_error
from golden import POLY_F, POLY_J, POLY_JTU, POLY_JV, POLY_U, POLY_V, XY_SIN_F, XY_SIN_GRAD

SCALAR = [name for name in adcost.PROBLEMS if adcost.make_problem(name).scalar]
MODES = ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop")


# The seed notebooks' printed values, reproduced by both hand-written engines.
ENGINES = ("python", "numpy")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", MODES)
def test_polynomial_golden_values(engine, mode):
    p = adcost.make_problem("polynomial")
    y, jv = adcost.jvp(p, engine, POLY_V)
    _, jtu = adcost.vjp(p, engine, POLY_U)
    np.testing.assert_allclose(y, POLY_F, rtol=1e-6)
    np.testing.assert_allclose(jv, POLY_JV, rtol=1e-6)
    np.testing.assert_allclose(jtu, POLY_JTU, rtol=1e-6)
    J = adcost.jacobian(p, engine, mode)
    np.testing.assert_allclose(J, POLY_J, rtol=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_xy_sin_golden_values(engine):
    p = adcost.make_problem("xy_sin")
    y, dfdx = adcost.jvp(p, engine, [1.0, 0.0])
    assert y[0] == pytest.approx(XY_SIN_F, rel=1e-15)
    assert dfdx[0] == pytest.approx(XY_SIN_GRAD[0], rel=1e-15)
    np.testing.assert_allclose(adcost.grad(p, engine), XY_SIN_GRAD, rtol=1e-15)


@pytest.mark.parametrize("name", SCALAR)
def test_matches_the_numpy_engine(name):
    p = adcost.make_problem(name)
    want = adcost.jacobian(p, "numpy", "jacrev")
    for mode in MODES:
        assert relative_error(adcost.jacobian(p, "python", mode), want) < 1e-12, mode


@pytest.mark.parametrize("op", ["primal", "jvp", "vjp", "jacfwd", "jacrev", "jacrev_loop"])
def test_validation_gate(op):
    case = adcost.prepare("poly_sin", "python", op, warmup=1)
    assert case.error < 1e-12


def test_reflected_operators_and_powers():
    """rsub, rtruediv, float powers, unary minus and the elementary functions, forward and reverse."""
    def fn(xp, x, p):
        return xp.stack([(3.0 - x[0]) / x[1] + 2.0 / x[0] - x[1] ** 1.5 + (-x[0]) * x[1],
                         xp.tanh(xp.exp(0.5 * x[0])) + xp.cos(x[1]) - 1 - x[0] / 4.0,
                         x[0] ** 0 + x[1] ** -2])
    p = Problem("reflected", 2, 3, np.array([0.7, 1.3]), fn, scalar=True)
    want = adcost.jacobian(p, "numpy", "jacrev")  # the op-level NumPy engine, a second opinion
    for mode in MODES:
        assert relative_error(adcost.jacobian(p, "python", mode), want) < 1e-12, mode
    adcost.prepare(p, "python", "vjp")  # also checks against central differences


def test_tape_accumulates_repeated_use():
    tape = Tape()
    x = tape.node(3.0)
    y = x * x + xp.sin(x) * x            # x feeds four partials
    adjoint = tape.sweep([y], [1.0])
    assert adjoint[x.index] == pytest.approx(6.0 + np.cos(3.0) * 3.0 + np.sin(3.0))
    d = Dual(3.0, 1.0) * Dual(3.0, 1.0) + xp.sin(Dual(3.0, 1.0)) * Dual(3.0, 1.0)
    assert d.dot == pytest.approx(adjoint[x.index])


def test_array_problems_are_unsupported_with_reason():
    fw = adcost.get_framework("python")
    reason = fw.supports(adcost.make_problem("mlp"), "jacrev")
    assert reason == "the pure-Python engine runs scalar chains only; mlp uses array operations"
    with pytest.raises(adcost.Unsupported, match="scalar chains only"):
        adcost.prepare("mlp_loss", "python", "grad")


def test_float64_only_and_missing_ops():
    with pytest.raises(ValueError, match="float64"):
        adcost.get_framework("python", "float32")
    with pytest.raises(AttributeError, match="xp.log"):
        xp.log(2.0)
