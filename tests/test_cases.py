"""The validation gate and the prepared cases."""
import numpy as np
import pytest

import adcost
from adcost.frameworks.fd import FiniteDifferences


class WrongJvp(FiniteDifferences):
    """Central differences with a JVP that is off by 1% — the gate must refuse it."""

    def op_jvp(self, f):
        right = super().op_jvp(f)

        def jvp(params, x, v):
            y, jv = right(params, x, v)
            return y, jv * 1.01
        return jvp


def test_a_wrong_derivative_is_never_timed():
    fw = WrongJvp(dtype="float64")
    fw.name = "wrongfd"
    with pytest.raises(adcost.ValidationError, match=r"polynomial/wrongfd/jvp/float64: max relative error"):
        adcost.prepare("polynomial", fw, "jvp")


def test_the_gate_reports_the_error_size():
    fw = WrongJvp(dtype="float64")
    with pytest.raises(adcost.ValidationError) as info:
        adcost.prepare("sin_product", fw, "jvp")
    err = float(str(info.value).split("error ")[1].split()[0])
    assert 1e-3 < err < 1e-1


KINK = dict(n=3, m=1, depth=3, width=6, activation="relu", seed=2904)   # a relu kink near x0


def test_a_correct_derivative_at_a_relu_kink_passes_the_gate():
    """At this point a relu's kink lies within one central-difference step along the seeded
    direction: the difference at the usual step is off by about 4e-3, and the gate, which
    then repeats the check at smaller steps (settings.FD_KINK_STEPS), accepts the engine's
    correct JVP and Jacobians (it refused them before)."""
    from adcost import validate
    from adcost.settings import FD_TOLERANCE
    p = adcost.make_problem("mlp", **KINK)
    ref = validate.Reference(p)
    v = adcost.ops.direction(None, p.n, "v")
    jv = ref.engine.to_numpy(ref._run("jvp", p.x0, v=v)[1])
    assert validate.relative_error(jv, validate.directional(ref.primal, p.x0, v)) > 100 * FD_TOLERANCE
    assert validate.fd_error(jv, lambda s: validate.directional(ref.primal, p.x0, v, s)) < 1e-8
    for op in ("jvp", "jacfwd", "jacrev"):
        assert adcost.prepare(p, "numpy", op).error < 1e-12


def test_a_wrong_derivative_disagrees_at_every_step_and_is_refused_at_a_kink_too():
    """The smaller steps only undo a kink's spoiled difference: a derivative off by 1 %
    disagrees at every step (each tried), and a wrong JVP at the kink's point is refused."""
    from adcost import validate
    from adcost.settings import FD_KINK_STEPS, FD_TOLERANCE
    p = adcost.make_problem("mlp", **KINK)
    ref = validate.Reference(p)
    v = np.ones(p.n)
    steps = []

    def difference(scale):
        steps.append(scale)
        return validate.directional(ref.primal, p.x0, v, scale)
    right = ref.engine.to_numpy(ref._run("jvp", p.x0, v=v)[1])
    assert validate.fd_error(right * 1.01, difference) > 10 * FD_TOLERANCE
    assert steps == [1.0, *FD_KINK_STEPS]
    fw = WrongJvp(dtype="float64")
    with pytest.raises(adcost.ValidationError, match="max relative error"):
        adcost.prepare(p, fw, "jvp")


@pytest.mark.needs("torch")
def test_prepared_case_runs_the_operation_and_records_figures():
    case = adcost.prepare("mlp", "torch", "jacrev", dtype="float32", n=4, m=3)
    assert case.error is not None   # recorded (the gate enforced its bound)
    assert case.reference in ("numpy", "torch", "jax")
    assert case.first_call_s > 0
    case()  # returns nothing, runs the op
    J = case.output()
    assert J.shape == (3, 4) and J.dtype == np.float32
    described = case.describe()
    assert described["framework"] == "torch" and described["n"] == 4 and described["op"] == "jacrev"


@pytest.mark.needs("jax")
def test_jax_compile_time_is_its_own_figure():
    case = adcost.prepare("mlp", "jax", "jacfwd", n=4, m=3)
    assert case.compile_s is not None and case.compile_s > 0
    assert case.first_call_s < case.compile_s  # the first call no longer compiles


@pytest.mark.needs("torch")
def test_jvp_and_vjp_cases_pass_the_dot_product_test():
    case = adcost.prepare("mlp", "torch", "vjp", n=5, m=4)
    assert case.dot_error is not None and case.dot_error < 1e-12


def test_the_dot_product_test_reuses_the_cases_own_product_and_still_catches_a_wrong_one(monkeypatch):
    """A jvp case's test builds the vjp only (its own J v is validated already); a wrong J v
    given as known fails it."""
    from adcost import validate
    from adcost.frameworks.numpy_engine import NumpyEngine
    built = []
    real = NumpyEngine.build
    monkeypatch.setattr(NumpyEngine, "build",
                        lambda self, p, op, **kw: built.append((self, op)) or real(self, p, op, **kw))
    case = adcost.prepare("mlp", "numpy", "jvp", n=5, m=4, warmup=0)
    # the case's framework builds its jvp, then the vjp alone (the reference engine its own)
    assert [op for fw, op in built if fw is case.framework] == ["jvp", "vjp"]
    assert case.dot_error < 1e-12
    p, fw = case.problem, case.framework
    v, u = np.asarray(case.args[2]), validate.ops.direction(None, p.m, "u")
    jv = case.output()[1]
    assert validate.dot_product_test("ok", fw, p, p.point(None), v, u, known={"jvp": jv}) < 1e-12
    with pytest.raises(validate.ValidationError, match="dot-product test"):
        validate.dot_product_test("wrong", fw, p, p.point(None), v, u, known={"jvp": 2 * jv})


def test_unsupported_operation_says_why():
    with pytest.raises(adcost.Unsupported, match="grad needs a scalar output"):
        adcost.prepare("polynomial", "fd", "grad")
    with pytest.raises(adcost.Unsupported, match="J\\^T u needs the whole Jacobian"):
        adcost.prepare("polynomial", "fd", "vjp")


def test_fd_refuses_float32():
    with pytest.raises(ValueError, match="dtype must be one of float64"):
        adcost.get_framework("fd", "float32")


@pytest.mark.needs("jax")
def test_a_float64_jax_case_leaves_the_process_in_float32():
    """float64 is scoped to the case (jax.enable_x64 around its build), never switched for good."""
    import jax
    case = adcost.prepare("mlp", "jax", "jacrev", dtype="float64", n=3, m=2)
    loop = adcost.prepare("mlp", "jax", "jacrev_loop", dtype="float64", n=3, m=2)
    assert case.output().dtype == np.float64 and loop.output().dtype == np.float64
    assert not jax.config.jax_enable_x64
    assert jax.numpy.ones(2).dtype == np.float32


def test_a_wide_reference_is_checked_along_directions(monkeypatch):
    """Past FD_FULL_MAX_N inputs, the reference Jacobian is checked along a few directions
    (not 2n evaluations), and a wrong one still fails."""
    import adcost
    from adcost import validate
    p = adcost.make_problem("lse", n=400)
    calls = []
    real = validate.Reference.primal
    monkeypatch.setattr(validate.Reference, "primal", lambda self, z: calls.append(1) or real(self, z))
    J = validate.Reference(p).jacobian(p.x0)
    assert J.shape == (1, 400) and len(calls) <= 2 * validate.FD_DIRECTIONS
    ref = validate.Reference(p)
    monkeypatch.setattr(ref, "_run", lambda op, x, **kw: np.ones((1, 400)))
    with pytest.raises(validate.ValidationError, match="central differences"):
        ref.jacobian(p.x0)


def test_a_checked_reference_is_kept_for_the_runs_later_processes(monkeypatch, tmp_path):
    """With $ADCOST_REFERENCE_CACHE (the sweep's), a reference Jacobian or Hessian checked once
    is read back by a later Reference of the same problem (no central differences again); a
    problem with other data, or another point, computes and checks its own."""
    from adcost import validate
    monkeypatch.setenv(validate.CACHE_VARIABLE, str(tmp_path))
    p = adcost.make_problem("mlp", n=6, m=3, width=8, depth=2)
    J = validate.Reference(p).jacobian(p.x0)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    calls = []
    real = validate.central_jacobian
    monkeypatch.setattr(validate, "central_jacobian", lambda *a: calls.append(1) or real(*a))
    assert np.array_equal(validate.Reference(p).jacobian(p.x0), J) and calls == []
    validate.Reference(p).jacobian(p.x0 + 0.5)                           # another point
    other = adcost.make_problem("mlp", n=6, m=3, width=8, depth=2, seed=1)   # other weights
    assert validate.fingerprint(other) != validate.fingerprint(p)
    validate.Reference(other).jacobian(other.x0)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.npy"))) == 3
    loss = adcost.make_problem("mlp_loss", width=4, depth=1, features=2, outputs=1, batch=4)
    H = validate.Reference(loss).hessian(loss.x0, exclude="torch")
    assert np.array_equal(validate.Reference(loss).hessian(loss.x0, exclude="torch"), H)
    assert len(calls) == 3 and not list(tmp_path.glob("*.tmp"))


def _reversed_arcsinh(xp, x):
    """The NumPy engine has no arcsinh (it says so before running), torch no negative-step
    slice (it raises when run): the reference must come from JAX."""
    return xp.arcsinh(x) * x[::-1]


def test_a_reference_engine_that_cannot_run_the_function_gives_way(monkeypatch):
    from adcost import validate
    from adcost.frameworks.base import missing_reason
    for name in ("torch", "jax"):
        if missing_reason(name):
            pytest.skip(missing_reason(name))
    p = adcost.custom_problem("rev", _reversed_arcsinh, 4, 4, np.linspace(0.2, 0.8, 4))
    case = adcost.prepare(p, "jax", "jacrev")
    assert case.reference == "jax" and case.error < 1e-12
    ref = validate.Reference(p)
    assert ref.engine.name == "torch"          # it says it can, until it runs
    ref.jacobian(p.x0)
    assert ref.engine.name == "jax" and len(ref.failed) == 1
    assert ref.failed[0].startswith("torch: ValueError: step must be greater than zero")
    # with no engine left, the row is skipped naming what each raised, never timed unchecked
    monkeypatch.setattr(validate, "REFERENCE_ORDER", ("numpy", "torch"))
    with pytest.raises(adcost.Unsupported, match=r"no reference engine can run rev: torch: "
                                                 r"ValueError: step must be .*xp\.flip"):
        adcost.prepare(p, "jax", "jacrev")


@pytest.mark.parametrize("error, framework, line", [
    (ValueError("plain"), None, "ValueError: plain"),
    (KeyError(), "torch", "KeyError"),
    (AttributeError("in user code:\n\n  File 'f.py', line 2\n\n  AttributeError: no concat\n"),
     "tf", "AttributeError: no concat"),
    (RuntimeError("RuntimeError when making fake tensor call\n  Explanation: Dynamo failed: got "
                  "ValueError('step must be greater than zero')\n  Hint: ..."), "torch_compile",
     "RuntimeError: RuntimeError when making fake tensor call: Dynamo failed: got "
     "ValueError('step must be greater than zero') (torch tensors have no negative-step slices "
     "such as x[::-1]: xp.flip(x, axis) reverses an axis in every engine)"),
    (RuntimeError("Unsupported Tensor.item() call\n  Explanation: got tensor([[1., 2.],\n"
                  "        [3., 4.]])\n  Hint: avoid .item()"), "torch_compile",
     "RuntimeError: Unsupported Tensor.item() call: got tensor([[1., 2.], [3., 4.]])"),
    (RuntimeError("failed\n  Explanation: " + "x" * 400), None,
     "RuntimeError: failed: " + "x" * 299 + "…"),
    (ValueError("step must be greater than zero"), "jax", "ValueError: step must be greater than zero"),
    (TypeError("unsupported operand type(s) for *: 'numpy.ndarray' and 'Tensor'"), "torch",
     "TypeError: unsupported operand type(s) for *: 'numpy.ndarray' and 'Tensor' (a NumPy array "
     "the function closes over meets a torch tensor: pass it as data, fn(xp, x, data) (--data "
     "FILE.npz), or write xp.asarray(a, dtype=x.dtype))"),
])
def test_an_error_is_said_in_one_line(error, framework, line):
    from adcost.frameworks.base import error_line
    assert error_line(error, framework) == line


def test_a_kink_at_the_point_is_named_when_the_gate_refuses(monkeypatch):
    """|x| at 0: JAX's derivative there is 1, the reference's 0; both are choices. The refusal
    says so; a wrong derivative of a smooth function is refused without it."""
    from adcost import validate
    from adcost.frameworks.base import missing_reason
    assert validate.kink(lambda z: np.abs(z), np.array([0.5, 0.0, -0.2])).startswith(
        "f is not differentiable at this point: along x[1] output 1 changes at the rate -1 on one "
        "side and 1 on the other")
    steep = lambda z: 1e3 * z ** 2 + np.sin(40 * z)   # noqa: E731  smooth, strongly curved
    assert validate.kink(steep, np.array([0.3, -0.1])) is None
    assert validate.kink(lambda z: np.abs(z), np.zeros(300)).startswith(
        "f is not differentiable at this point: along a random direction")
    fw = WrongJvp(dtype="float64")
    with pytest.raises(adcost.ValidationError) as info:
        adcost.prepare("polynomial", fw, "jvp")
    assert "differentiable" not in str(info.value)
    if missing_reason("jax"):
        pytest.skip(missing_reason("jax"))
    p = adcost.custom_problem("absolute", lambda xp, x: xp.abs(x) * 2.0, 3, 3, [0.5, 0.0, -0.2])
    with pytest.raises(adcost.ValidationError, match=r"max relative error .*: f is not "
                                                     r"differentiable at this point: along x\[1\]"):
        adcost.prepare(p, "jax", "jacfwd")
    q = adcost.custom_problem("absolute", lambda xp, x: xp.abs(x) * 2.0, 3, 3, [0.5, 0.1, -0.2])
    assert adcost.prepare(q, "jax", "jacfwd").error < 1e-12
    # the public API's later calls at a new point (a spot check) say it too
    adcost.jacobian(q, "jax", "jacfwd")
    with pytest.raises(adcost.ValidationError, match=r"at the new point.*: f is not "
                                                     r"differentiable at this point: along x\[2\]"):
        adcost.jacobian(q, "jax", "jacfwd", x=[0.5, 0.1, 0.0])
