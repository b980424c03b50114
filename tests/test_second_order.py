"""Second order (HVP compositions, Hessians), per-example gradients and the mixed-mode oracle."""
import dataclasses
import itertools

import numpy as np
import pytest

import adcost
from adcost import bracketing, ops, validate
from adcost.frameworks.base import get_framework, missing_reason

SECOND = [fw for fw in ("torch", "jax", "tf") if missing_reason(fw) is None]


def cubic_sin():
    """f(x) = sum(x^3) / 3 + sin(x0) x1 + x1 x2^2, with its Hessian by hand."""
    def fn(xp, x):
        return xp.reshape(xp.sum(x * x * x) / 3 + xp.sin(x[0]) * x[1] + x[1] * x[2] * x[2], (1,))
    x0 = np.array([0.3, -1.2, 0.7, 2.0])

    def hessian(x):
        H = np.diag(2 * x)
        H[0, 0] += -np.sin(x[0]) * x[1]
        H[0, 1] = H[1, 0] = np.cos(x[0])
        H[1, 2] = H[2, 1] = 2 * x[2]
        H[2, 2] += 2 * x[1]
        return H
    return adcost.custom_problem("cubic_sin", fn, 4, 1, x0), hessian


@pytest.mark.parametrize("framework", SECOND)
@pytest.mark.parametrize("mode", adcost.HVP_MODES)
def test_every_hvp_composition_matches_the_analytic_hessian(framework, mode):
    p, hessian = cubic_sin()
    v = np.array([1.0, -2.0, 0.5, 3.0])
    got = adcost.hvp(p, framework, v, mode=mode, validate=False)   # the analytic H is the check
    np.testing.assert_allclose(got, hessian(p.x0) @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("framework", SECOND)
@pytest.mark.parametrize("mode", adcost.HESSIAN_MODES)
def test_every_hessian_mode_matches_the_analytic_hessian(framework, mode):
    p, hessian = cubic_sin()
    x = np.array([-0.4, 0.9, 1.5, -0.2])
    got = adcost.hessian(p, framework, mode=mode, x=x, validate=False)
    np.testing.assert_allclose(got, hessian(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("framework", SECOND)
def test_second_order_of_the_mlp_loss_in_float32_passes_the_gate(framework):
    p = adcost.make_problem("mlp_loss", features=3, outputs=2, depth=2, width=4, batch=3)
    for op in ops.HVP_OPS + ("hessian_jacrev_jacrev",):   # every Hessian mode: above, float64
        case = adcost.prepare(p, framework, op, dtype="float32", warmup=0)
        assert case.error < 1e-4
        assert case.reference.endswith("+fd(numpy)") and not case.reference.startswith(framework)


def test_a_wrong_hvp_is_caught_by_the_gate(monkeypatch):
    fw = SECOND[0] if SECOND else pytest.skip("no second-order framework installed")
    cls = type(get_framework(fw))
    good = cls.op_hvp_rev_over_rev

    def wrong(self, f):
        hvp = good(self, f)
        return lambda params, x, v: hvp(params, x, v) * 1.001
    monkeypatch.setattr(cls, "op_hvp_rev_over_rev", wrong)
    p, _ = cubic_sin()
    with pytest.raises(validate.ValidationError, match="relative error"):
        adcost.hvp(p, fw, np.ones(4), mode="rev_over_rev")


def test_an_asymmetric_hessian_fails_the_gate():
    H = np.array([[1.0, 2.0], [2.1, 1.0]])
    with pytest.raises(validate.ValidationError, match="not symmetric"):
        validate.check_symmetric("h", H, "float64")
    assert validate.check_symmetric("h", (H + H.T) / 2, "float64") == 0.0


def test_engines_without_second_order_say_why():
    p, _ = cubic_sin()
    for name, word in (("numpy", "first order"), ("fd", "differences"), ("python", "first")):
        reason = get_framework(name).supports(p, "hvp_fwd_over_rev")
        assert reason and word in reason, reason
        with pytest.raises(adcost.Unsupported, match=word):
            adcost.hvp(p, name, np.ones(4))
    mlp = adcost.make_problem("mlp")
    for fw in SECOND:
        assert "scalar output" in get_framework(fw).supports(mlp, "hvp_fwd_over_rev")
    with pytest.raises(ValueError, match="unknown HVP mode"):
        adcost.hvp(p, "torch", np.ones(4), mode="sideways")


# -- per-example gradients ----------------------------------------------------------------
def loop_reference(problem):
    """Each example's gradient by torch.autograd, one example at a time (independent of adcost's
    per-example code): row i of the answer."""
    torch = pytest.importorskip("torch")
    rows = []
    for i in range(problem.meta["batch"]):
        data = {k: torch.as_tensor(v[i:i + 1] if k in ("X", "T") else v, dtype=torch.float64)
                for k, v in problem.params.items()}
        z = torch.as_tensor(problem.x0, dtype=torch.float64).requires_grad_(True)
        (g,) = torch.autograd.grad(problem.fn(torch, z, data)[0], z)
        rows.append(g.numpy())
    return np.stack(rows)


@pytest.mark.parametrize("framework", SECOND + ["numpy"])
def test_per_example_routes_match_a_loop_of_gradients(framework):
    p = adcost.make_problem("mlp_losses", features=3, outputs=2, depth=2, width=4, batch=5)
    want = loop_reference(p)
    fw = get_framework(framework)
    for op in ops.PER_EXAMPLE_OPS + ("jacrev",):
        if fw.supports(p, op) is not None:
            assert framework == "numpy" and op == "pe_grad_vmap"
            continue
        got = adcost.prepare(p, framework, op, warmup=0).output()
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"{framework} {op}")


def test_per_example_losses_sum_to_the_batch_loss():
    kw = dict(features=3, outputs=2, depth=2, width=4, batch=5)
    each, total = adcost.make_problem("mlp_losses", **kw), adcost.make_problem("mlp_loss", **kw)
    assert each.m == 5 and each.n == total.n
    np.testing.assert_allclose(each.f(np, each.x0).sum() / 5, total.f(np, total.x0)[0], rtol=1e-13)
    reason = get_framework("numpy").supports(total, "pe_grad_loop")
    assert "per-example losses" in reason


# -- the mixed-mode oracle ----------------------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_the_dynamic_program_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    L = int(rng.integers(1, 8))
    widths = [int(w) for w in rng.integers(1, 40, size=L + 1)]
    cost, best = adcost.optimal_bracketing(widths)
    every = list(bracketing.all_bracketings(1, L))
    catalan = [1, 1, 2, 5, 14, 42, 132, 429]
    assert len(every) == catalan[L - 1]
    costs = [adcost.bracketing_cost(widths, b) for b in every]
    assert cost == min(costs) == adcost.bracketing_cost(widths, best)
    assert cost <= adcost.bracketing_cost(widths, "forward")
    assert cost <= adcost.bracketing_cost(widths, "reverse")


def test_pure_modes_cost_what_the_textbook_says():
    w = [5, 7, 3, 9, 2]            # n = 5, m = 2
    fwd = sum(w[k] * w[k - 1] * w[0] for k in range(2, 5))
    rev = sum(w[-1] * w[k] * w[k - 1] for k in range(1, 4))
    assert adcost.bracketing_cost(w, "forward") == fwd
    assert adcost.bracketing_cost(w, "reverse") == rev
    assert bracketing.forward(4) == (4, (3, (2, 1))) and bracketing.reverse(4) == (((4, 3), 2), 1)


def test_an_hourglass_needs_a_mixed_bracketing():
    widths = bracketing.profile_widths("hourglass", 512)
    cost, best = adcost.optimal_bracketing(widths)
    assert min(adcost.bracketing_cost(widths, o) for o in ("forward", "reverse")) >= 2 * cost
    assert best == ((4, 3), (2, 1))


@pytest.mark.parametrize("bad", [(3, (2, 1)), ((2, 1), 3), (4, 2), "sideways", (1, 2, 3), 0])
def test_a_malformed_bracketing_is_refused(bad):
    with pytest.raises(ValueError):
        adcost.bracketing_cost([4, 5, 6, 7, 8], bad)


def test_every_bracketing_executes_to_the_chain_jacobian():
    widths = (7, 9, 3, 8, 5)
    p = bracketing.chain_problem(widths)
    J = adcost.jacobian(p, "numpy", "jacrev")
    Js = bracketing.layer_jacobians(p)
    for b in bracketing.all_bracketings(1, 4):
        np.testing.assert_allclose(bracketing.execute(Js, b), J, rtol=1e-12, atol=1e-13)
    product = bracketing.Product(widths, "optimal")
    assert product.error < 1e-12 and product.madds == adcost.optimal_bracketing(widths)[0]


def test_a_wrong_product_fails_its_validation(monkeypatch):
    real = bracketing.layer_jacobians
    monkeypatch.setattr(bracketing, "layer_jacobians",
                        lambda *a, **k: [j * 1.01 for j in real(*a, **k)])
    with pytest.raises(validate.ValidationError):
        bracketing.Product((6, 5, 4), "forward")


def test_the_time_model_adds_compute_and_bytes():
    rates = {"madds_per_s": 1e9, "bytes_per_s": 1e9, "itemsize": 8}
    widths = (10, 20, 30)                      # one product: (30 x 20) @ (20 x 10)
    want = 30 * 20 * 10 / 1e9 + (30 * 20 + 20 * 10 + 30 * 10) * 8 / 1e9
    assert bracketing.predicted_seconds(widths, "forward", rates) == pytest.approx(want)
    cost, best = adcost.optimal_bracketing(bracketing.profile_widths("hourglass", 256), rates)
    assert cost == pytest.approx(bracketing.predicted_seconds(
        bracketing.profile_widths("hourglass", 256), best, rates))


# -- figures and the oracle's table from tidy rows ------------------------------------------
def tidy_rows():
    import pandas as pd
    rows = []

    def add(benchmark, value, **params):
        rows.append({"benchmark": f"second_order.{benchmark}", "status": "ok", "value": value,
                     **params})
    for fw, scale in (("torch", 1.0), ("jax", 0.1)):
        for i, op in enumerate(ops.HVP_OPS):
            for width in (8, 32):
                add("HVP.time_hvp", scale * (i + 1) * width * 1e-5, framework=fw, op=op,
                    width=width, depth=4)
            add("SecondOrderRSS.track_peak_rss_bytes", (4 - i) * 2**20, framework=fw, op=op)
        for op in ops.HESSIAN_OPS:
            add("Hessian.time_hessian", scale * 1e-3, framework=fw, op=op, width=8, depth=2)
        for route in ("pe_grad_loop", "pe_grad_vmap", "jacrev"):
            for batch in (16, 256):
                add("PerExample.time_per_example", scale * batch * 1e-5, framework=fw, op=route,
                    width=32, batch=batch)
    for profile in ("hourglass", "funnel"):
        for order, t in (("forward", 6e-3), ("reverse", 5e-3), ("optimal", 1e-3)):
            add("Bracketing.time_product", t, profile=profile, scale=512, order=order)
    add("Rates.track_madds_per_s", 3e10)
    add("Rates.track_bytes_per_s", 1.3e10)
    return pd.DataFrame(rows)


def test_the_second_order_figures_build_from_tidy_rows():
    from adcost.analysis import hvp, oracle, per_example
    df = tidy_rows()
    for module in (hvp, per_example, oracle):
        fig = module.build(df)
        assert fig.axes
    found = hvp.winners(hvp.with_n(df[df["benchmark"] == "second_order.HVP.time_hvp"]),
                        df[df["benchmark"].str.endswith("track_peak_rss_bytes")], ops.HVP_OPS)
    assert found["torch"]["fastest"][0] == "hvp_fwd_over_rev"
    assert found["torch"]["least_memory"][0] == "hvp_fwd_over_fwd"
    assert hvp.parameter_count(8, 2) == adcost.make_problem(
        "mlp_loss", features=4, outputs=2, width=8, depth=2).n


def test_the_oracle_table_compares_prediction_and_measurement():
    from adcost.analysis import oracle
    table = oracle.oracle_table(tidy_rows()).set_index("profile")
    hourglass = table.loc["hourglass"]
    assert hourglass["measured_ratio"] == pytest.approx(5.0)
    assert hourglass["madds_ratio"] == pytest.approx(
        142606336 / adcost.optimal_bracketing(bracketing.profile_widths("hourglass", 512))[0])
    assert 1 < hourglass["model_ratio"] < hourglass["madds_ratio"]
    assert hourglass["optimal"] == "(J4 J3) (J2 J1)"


@pytest.mark.needs("tf")
def test_tensorflows_nested_forward_failure_on_relu_is_named():
    """TF 2.21 cannot trace nested ForwardAccumulators through relu's comparison: a named
    Unsupported (adcost check: skipped), not an IndexError; the other compositions run."""
    p = adcost.make_problem("linear_relu")
    for op in ("hvp_fwd_over_fwd", "hessian_jacfwd_jacfwd"):
        with pytest.raises(adcost.Unsupported, match="nested ForwardAccumulators"):
            adcost.prepare(p, "tf", op, warmup=0)
    with pytest.raises(adcost.Unsupported, match="nested ForwardAccumulators"):
        adcost.hessian(p, "tf", mode="jacfwd_jacfwd", validate=False)
    assert adcost.prepare(p, "tf", "hvp_fwd_over_rev", warmup=0).error < 1e-12


@pytest.mark.needs("jax")
@pytest.mark.parametrize("name, sizes", [("linear_relu", {}),
                                         ("mlp_loss", {"features": 5, "width": 8, "depth": 2}),
                                         ("mlp_loss", {"features": 11, "width": 8, "depth": 5})])
def test_jax_checkpoints_a_first_layer_of_another_shape(name, sizes):
    """features != width: the first layer runs before the scanned ones, inside the first
    segment; every schedule is validated against the float64 gradient by prepare."""
    import copy

    from adcost.frameworks.base import records
    p = adcost.make_problem(name, **sizes)
    assert p.layers.shapes[0][0] != p.layers.shapes[0][1]
    for schedule in records()["jax"].schedules:
        case = adcost.prepare(p, "jax", "ckpt_grad", schedule=schedule, slots=2, warmup=0)
        assert case.error < 1e-12, schedule
    uneven = copy.copy(p)          # hidden layers of two shapes after the first: no one scan
    object.__setattr__(uneven, "layers", dataclasses.replace(
        p.layers, shapes=((5, 8), (8, 6), (6, 6), (6, 6), (6, 3))))
    assert "one shape" in get_framework("jax").supports(uneven, "ckpt_grad", "sqrt")
    object.__setattr__(uneven, "layers", dataclasses.replace(p.layers, shapes=((5, 8), (8, 6), (6, 3))))
    assert "one shape" in get_framework("jax").supports(uneven, "ckpt_grad", "sqrt")
    assert get_framework("jax").supports(uneven, "ckpt_grad", "binomial") is None   # layer by layer


def test_adcost_list_names_the_second_order_and_per_example_operations(capsys):
    from adcost import cli
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mlp_losses" in out
    for fw in SECOND:
        block = out.split(f"  {fw} ", 1)[1].split("\n  ", 4)
        assert any("second order: hvp_fwd_over_rev" in line for line in block), fw
    numpy_lines = out.split("  numpy ", 1)[1].splitlines()[:3]
    assert "per-example: pe_grad_loop" in "\n".join(numpy_lines)
    assert "second order" not in "\n".join(numpy_lines[:2])


@pytest.mark.slow
@pytest.mark.needs("torch")
def test_the_second_order_probe_table_runs_each_probe_and_skips_with_reasons(monkeypatch):
    """SecondOrderRSS's setup_cache probes each (framework, op) of the studies the grid names,
    in fresh processes; the benchmark reads its figure, and skips the others with the reason."""
    bench = pytest.importorskip("benchmarks.second_order")
    monkeypatch.setitem(bench.GRID, "rss_studies", ("hessian",))
    op = next(op for op in ops.HESSIAN_OPS if bench._rss_skip_reason("torch", op) is None)
    monkeypatch.setattr(bench, "FRAMEWORKS", ("torch",))
    monkeypatch.setattr(bench.SecondOrderRSS, "params", (("torch",), (op, ops.PER_EXAMPLE_OPS[0])))
    probes = bench.SecondOrderRSS().setup_cache()
    assert set(probes) == {f"torch/{op}"}
    rss = bench.SecondOrderRSS()
    rss.setup(probes, "torch", op)
    assert rss.track_peak_rss_bytes(probes, "torch", op) > 0
    with pytest.raises(NotImplementedError, match="full grid"):
        rss.setup(probes, "torch", ops.PER_EXAMPLE_OPS[0])
