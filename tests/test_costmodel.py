"""The cost model: work counts, the fit on synthetic data with known constants and regimes, the
held-out split, the model's crossover."""
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from adcost.analysis import costmodel as cm

PEAK, BAND = 1e11, 2e10
# (c0, alpha, beta, delta, c1, c2, c3): jacrev passes over its weights three more times outside
# the roofline; jacfwd pays 0.5 us a tangent whatever the width, 3 ns an entry of its
# Jacobian (a transpose at about 1 GB/s, as TensorFlow's) and 2 ns an entry of the output
# layer's weight (read transposed, as JAX's on the AMD VM)
TRUE = {("fw", "jacfwd"): (20e-6, 1.5, 1.2, 0.0, 0.5e-6, 3e-9, 2e-9),
        ("fw", "jacrev"): (60e-6, 2.0, 1.1, 3.0, 0.0, 0.0, 0.0),
        ("fw", "primal"): (5e-6, 1.2, 1.0, 0.0, 0.0, 0.0, 0.0)}


def timed_grid(widths, noise, seed, compute=None, passes=None) -> pd.DataFrame:
    """The width grid (depth 4) timed by the model with the constants of TRUE, times noise;
    its compute term alpha F / P, or alpha times `compute(mode, n, m, width, batch)` seconds;
    its weight passes at BAND, or at `passes(B_w)` bytes/s."""
    rng = np.random.default_rng(seed)
    rows = []
    for (fw, mode), width, n, m in itertools.product(TRUE, widths, (4, 64, 1024), (4, 64, 1024)):
        batch = 1 if mode != "primal" else n
        moved = cm.work(mode, n, m, 4, width, batch)
        f, b, w, k, e, o = moved
        c0, alpha, beta, delta, c1, c2, c3 = TRUE[fw, mode]
        work_s = f / PEAK if compute is None else compute(mode, n, m, width, batch)
        rate = BAND if passes is None else float(passes(w))
        t = (c0 + c1 * k + max(alpha * work_s, beta * b / BAND) + delta * w / rate + c2 * e
             + c3 * o)
        rows.append({"framework": fw, "mode": mode, "n": n, "m": m, "width": width, "depth": 4,
                     "batch": batch, "seconds": t * math.exp(rng.normal(0, noise)),
                     **moved._asdict()})
    return pd.DataFrame(rows)


def synthetic(noise=0.03, seed=0) -> pd.DataFrame:
    """Points of the width grid timed by the model itself with known constants, times noise."""
    return timed_grid((16, 64, 256, 1024, 2048), noise, seed)


def test_work_counts_the_matmuls_and_the_weights_read():
    f, b, w, k, e, o = cm.work("primal", 8, 2, 1, 16)    # layers 8x16, 16x2
    assert k == 1 and cm.work("jacfwd", 8, 2, 1, 16).directions == 8
    assert cm.work("jacrev", 8, 2, 1, 16).directions == 2
    # the result's entries: the primal's m outputs per input, the Jacobian's n m
    assert e == 2 and cm.work("primal", 8, 2, 1, 16, batch=4).entries == 8
    assert cm.work("jacfwd", 8, 2, 1, 16).entries == cm.work("jacrev", 8, 2, 1, 16).entries == 16
    # the output layer's weight (16 x 2) counts in jacfwd only, whose result is laid out (m, n)
    assert cm.work("jacfwd", 8, 2, 1, 16).out_weight == 32
    assert o == cm.work("jacrev", 8, 2, 1, 16).out_weight == 0
    # but not with one tangent: its (m, 1) result is its (1, m) one
    assert cm.work("jacfwd", 1, 2, 1, 16).out_weight == 0 < cm.work("jacfwd", 2, 2, 1, 16).out_weight
    assert f == 2 * (8 * 16 + 16 * 2) + 3 * 18 and b == 4 * (160 + 18 + 8 + 3 * 18)
    assert w == 4 * (160 + 18) == cm.work("jacrev", 8, 2, 1, 16).weights   # weights and biases
    # JAX's jacfwd_vmap: jacfwd's products and directions, no transposed output layer, and its
    # (n, m) result copied once to (m, n): 2 n m values read and written more
    vmap, fwd = cm.work("jacfwd_vmap", 8, 2, 1, 16), cm.work("jacfwd", 8, 2, 1, 16)
    assert vmap._replace(bytes=fwd.bytes, out_weight=fwd.out_weight) == fwd
    assert vmap.out_weight == 0 and vmap.bytes - fwd.bytes == 4 * 2 * 8 * 2
    fwd_f = cm.work("jacfwd", 8, 2, 1, 16).flops
    rev_f = cm.work("jacrev", 8, 2, 1, 16).flops
    assert fwd_f - f == 2 * 8 * 160 + 2 * 8 * 18 and rev_f - f == 2 * 2 * 160 + 2 * 2 * 24
    assert cm.work("primal", 8, 2, 1, 16, batch=4)[0] == 4 * f
    with pytest.raises(ValueError, match="no cost model for 'hessian'"):
        cm.work("hessian", 1, 1, 1, 1)


def test_the_fit_recovers_known_constants_and_regimes():
    pts = synthetic(noise=0.0)
    fits = cm.fit_all(pts, pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND]}, index=["fw"]))
    for key, (c0, alpha, beta, delta, c1, c2, c3) in TRUE.items():
        fit = fits[key]
        assert fit.c0 == pytest.approx(c0, rel=0.05) and fit.alpha == pytest.approx(alpha, rel=0.05)
        assert fit.beta == pytest.approx(beta, rel=0.05) and fit.spread < 0.01
        assert fit.delta == pytest.approx(delta, abs=0.05)   # none where there is none
        assert fit.c1 == pytest.approx(c1, abs=0.02e-6)
        assert fit.c2 == pytest.approx(c2, abs=0.1e-9)
        assert fit.c3 == pytest.approx(c3, abs=0.1e-9)
    # a (framework, mode) with fewer points than the model's constants is left unfitted, and
    # the others fitted all the same (a run of a few groups: the quick grid's fd primal)
    few = pd.concat([pts, pts[pts["mode"] == "primal"].head(cm.FREE - 1).assign(framework="fd")])
    rates = pd.DataFrame({"peak": [PEAK] * 2, "bandwidth": [BAND] * 2}, index=["fw", "fd"])
    assert set(cm.fit_all(few, rates)) == set(fits)
    fwd = fits["fw", "jacfwd"]
    assert fwd.regime(*cm.work("jacfwd", 4, 4, 4, 16)) == "overhead"
    assert fwd.regime(*cm.work("jacfwd", 1024, 4, 4, 2048)) == "compute"
    # 4 tangents: the weights' bytes dominate
    assert fwd.regime(*cm.work("jacfwd", 4, 4, 4, 2048)) == "memory"
    # jacrev's extra weight passes count as memory traffic: memory-bound at 4 cotangents
    assert fits["fw", "jacrev"].regime(*cm.work("jacrev", 4, 4, 4, 2048)) == "memory"


def test_without_weight_bytes_the_fit_has_three_constants():
    pts = synthetic(noise=0.0)
    g = pts[(pts["mode"] == "jacfwd")]
    # where the tangents' 0.5 us each and the entries' 3 ns and 2 ns are a small part of the time
    g = g[(g["n"] < 1024) & (g["n"] * g["m"] < 2 ** 12) & (g["out_weight"] < 2 ** 12)]
    fit = cm.fit_mode(g["seconds"], g["flops"], g["bytes"], PEAK, BAND, "fw", "jacfwd")
    assert fit.delta == fit.c1 == fit.c2 == fit.c3 == 0.0
    assert fit.c0 == pytest.approx(20e-6, rel=0.3)


def test_held_out_widths_are_predicted_within_the_noise():
    pts = synthetic(noise=0.05, seed=1)
    train, held = cm.split(pts)
    assert sorted(held["width"].unique()) == [64, 1024]
    assert sorted(train["width"].unique()) == [16, 256, 2048]
    fits = cm.fit_all(train, pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND]}, index=["fw"]))
    table = cm.evaluate(fits, held)
    assert set(table["mode"]) == {"jacfwd", "jacrev", "primal"}
    assert (table["median_error"] < 0.08).all() and (table["p90_error"] < 0.15).all()
    assert (table["points"] > 5).all()
    assert not fits["fw", "jacfwd"].extrapolated(n=64, m=64, width=1024)
    assert fits["fw", "jacfwd"].extrapolated(width=4096)


def test_a_model_of_the_wrong_shape_shows_in_the_held_out_error():
    """Fit on data whose cost grows with width^3 (not what the roofline says): the held-out
    error is large, so the evaluation can fail."""
    pts = synthetic(noise=0.0)
    pts["seconds"] = pts["seconds"] * (pts["width"] / 256.0) ** 1.5
    train, held = cm.split(pts)
    fits = cm.fit_all(train, pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND]}, index=["fw"]))
    assert (cm.evaluate(fits, held)["p90_error"] > 0.3).any()


def test_the_models_crossover_is_where_the_two_predictions_meet():
    pts = synthetic(noise=0.0)
    fits = cm.fit_all(pts, pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND]}, index=["fw"]))
    n = cm.crossover_n(fits, "fw", 256, 4, 1024)
    fwd = fits["fw", "jacfwd"].predict(*cm.work("jacfwd", round(n), 256, 4, 1024))
    rev = fits["fw", "jacrev"].predict(*cm.work("jacrev", round(n), 256, 4, 1024))
    assert fwd == pytest.approx(rev, rel=0.05) and 16 < n < 4096
    assert math.isnan(cm.crossover_n(fits, "other", 256, 4, 1024))
    # forward mode's fixed cost far above reverse's: no crossing, forward dearer at every n
    fits["fw", "jacfwd"].c0 = 1.0
    assert cm.crossover_n(fits, "fw", 256, 4, 1024) == 0.0


def test_too_few_points_are_refused():
    with pytest.raises(ValueError, match="at least 3"):
        cm.fit_mode([1e-3, 2e-3], [1e6, 2e6], [1e5, 2e5], PEAK, BAND, "fw", "jacfwd")


def test_the_report_of_fixture_results_recovers_the_model_it_was_timed_with(tmp_path):
    """asv results timed by the model with known constants (tests/fixtures): the held-out
    errors are at the fixture's noise, the crossovers agree, the fits round-trip through JSON."""
    import json

    from adcost.analysis import load
    from fixtures import asv_fixture as fx
    df = load.load(fx.write_results(tmp_path / "asv"))
    rep = cm.report(df)
    assert rep["held_out_widths"] == [64] and rep["fitted_widths"] == [16, 256, 1024]
    table = pd.DataFrame(rep["held_out"])
    assert set(table["framework"]) == {"torch", "jax"} and (table["median_error"] < 0.1).all()
    cross = pd.DataFrame(rep["crossovers"]).dropna(subset=["n_model"])
    assert len(cross) >= 4 and (cross["ratio"] < 1.5).all() and cross["agrees"].all()
    # where the model is the one the times were made with, it has the two modes within 15 % of
    # each other where their measured ratio is 1 (the measured crossing is interpolated across a
    # factor of 4 in n, and the gap is not straight in log n)
    assert (np.abs(np.log(cross["model_ratio"])) < math.log(1.15)).all()
    near = np.abs(np.log(cross["model_ratio"])) <= np.log(cross["tolerance"])
    assert rep["crossover_counts"]["all"]["ratio_within"] == int(near.sum()) > len(cross) // 2
    every = pd.DataFrame(rep["crossovers"])
    assert set(every.loc[~every["width_fitted"], "width"]) <= {64}
    counts = rep["crossover_counts"]
    assert counts["held_out"]["cells"] == int((every["width"] == 64).sum()) > 0
    assert counts["fitted"]["cells"] + counts["held_out"]["cells"] == counts["all"]["cells"] == len(every)
    assert counts["all"]["within"] == counts["fitted"]["within"] + counts["held_out"]["within"]
    assert counts["all"]["within"] == int((every["ratio"] <= 1.5).sum())
    # each measured crossing's slope, and the counts over the lines steep enough to place it
    assert (every["slope"] > 0).all()
    steep = every[every["slope"] * math.log(1.5) >= np.log(every["tolerance"])]
    assert counts["steep"]["cells"] == len(steep) and counts["steep"]["within"] == int((steep["ratio"] <= 1.5).sum())
    fits = cm.fits_from(json.loads(json.dumps(rep)))
    # JAX's jacfwd_vmap, a mode of its own: fitted with no transposed output layer (c3 = 0),
    # judged on the held-out width, and its crossover with jacrev measured from its side-by-side
    # ratios (crossover.SideBySideForward) and reported apart from jacfwd's
    assert ("jax", "jacfwd_vmap") in fits and ("torch", "jacfwd_vmap") not in fits
    assert fits["jax", "jacfwd_vmap"].c3 == 0.0      # not fitted: its work has no such entries
    vmap = table[table["mode"] == "jacfwd_vmap"]
    assert list(vmap["framework"]) == ["jax"] and (vmap["median_error"] < 0.1).all()
    other = rep["other_forward"]["jacfwd_vmap"]
    found = pd.DataFrame(other["crossovers"]).dropna(subset=["n_model"])
    assert len(found) >= 2 and set(found["framework"]) == {"jax"}
    assert (found["source"] == "side by side").all() and (found["ratio"] < 1.5).all()
    assert other["crossover_counts"]["all"]["cells"] == len(other["crossovers"])
    assert set(every["framework"]) == {"torch", "jax"}     # jacfwd's own: unchanged by it
    some = found.iloc[0]
    assert some["n_model"] == pytest.approx(cm.crossover_n(fits, "jax", int(some["m"]), 4,
                                                           int(some["width"]), forward="jacfwd_vmap"))
    assert some["n_model"] != pytest.approx(cm.crossover_n(fits, "jax", int(some["m"]), 4,
                                                           int(some["width"])), rel=0.01)
    # the forward-or-reverse answer at every side-by-side point: the model the times were made
    # with never names the wrong mode (the fixture times only jacfwd_vmap side by side)
    dec = other["decisions"]
    assert dec["forward"] == "jacfwd_vmap" and rep["decisions"] == {}
    assert dec["all"]["points"] == dec["fitted"]["points"] + dec["held_out"]["points"]
    assert dec["all"]["wrong"] == 0 and dec["held_out"]["points"] > 0
    assert dec["all"]["named"] + dec["all"]["tied"] == dec["all"]["points"]
    assert dec["all"]["points"] == len(cm.side_by_side(df, "jacfwd_vmap")
                                       .drop_duplicates(["framework", "width", "n", "m"]))
    c0, alpha, beta, delta, c1, c2 = fx.MODEL["jacrev"]
    assert fits["torch", "jacrev"].c0 == pytest.approx(c0, rel=0.15)
    assert fits["torch", "jacrev"].beta == pytest.approx(beta, rel=0.15)
    assert fits["torch", "jacrev"].delta == pytest.approx(delta, rel=0.25)
    assert 0.5 < min(rep["compute_bound"].values()) and max(rep["compute_bound"].values()) < 3
    assert set(rep["compute_bound_rows"]) == set(rep["compute_bound"])
    for fw, rows in rep["compute_bound_rows"].items():
        medians = [r["median"] for r in rows]
        assert min(medians) <= rep["compute_bound"][fw] <= max(medians)


def test_break_even_pairs_each_variant_with_its_framework():
    """torch_compile (compiled) against torch (eager), jax (compiled) against jax_eager: the
    calls after which compiling paid, none when the compiled variant is not faster."""
    def row(bench, fw, op, n, m, value):
        return {"benchmark": bench, "framework": fw, "op": op, "n": n, "m": m, "value": value,
                "status": "ok"}
    J, C, P = ("crossover.JacobianNM.time_jacobian", "crossover.Compile.track_compile_s",
               "crossover.PrimalNM.time_primal")
    df = pd.DataFrame([
        row(C, "torch_compile", "jacrev", 4, 4, 2.0), row(J, "torch_compile", "jacrev", 4, 4, 1e-4),
        row(J, "torch", "jacrev", 4, 4, 6e-4),
        row(C, "torch_compile", "primal", 4, 4, 1.0), row(P, "torch_compile", None, 4, 4, 5e-5),
        row(P, "torch", None, 4, 4, 2e-5),                    # compiled slower: no break-even
        row(C, "jax", "jacfwd", 4, 4, 0.1), row(J, "jax", "jacfwd", 4, 4, 1e-5),
        row(J, "jax_eager", "jacfwd", 4, 4, 1e-3),
        row(C, "tf", "jacfwd", 4, 4, 0.2),                    # no tf_eager time: no row
    ])
    rows = {(r["compiled"], r["mode"]): r for r in cm.break_even(df)}
    assert set(rows) == {("torch_compile", "jacrev"), ("torch_compile", "primal"), ("jax", "jacfwd")}
    assert rows["torch_compile", "jacrev"]["break_even_calls"] == pytest.approx(2.0 / 5e-4)
    assert rows["torch_compile", "jacrev"]["eager"] == "torch"
    assert rows["torch_compile", "primal"]["break_even_calls"] is None
    assert rows["jax", "jacfwd"]["eager"] == "jax_eager"
    assert rows["jax", "jacfwd"]["break_even_calls"] == pytest.approx(0.1 / (1e-3 - 1e-5))
    # the break-even group, where it ran, is read before the n x m grid (both sides of a pair
    # timed in one run)
    B, BC = "crossover.BreakEven.time_call", "crossover.BreakEven.track_compile_s"
    more = pd.concat([df, pd.DataFrame([
        row(BC, "torch_compile", "jacrev", 4, 4, 3.0), row(B, "torch_compile", "jacrev", 4, 4, 2e-4),
        row(B, "torch", "jacrev", 4, 4, 8e-4),
        row(BC, "tf", "jacrev", 16, 256, 0.5), row(B, "tf", "jacrev", 16, 256, 1e-3),
        row(B, "tf_eager", "jacrev", 16, 256, 0.2)])])
    rows = {(r["compiled"], r["mode"], r["n"]): r for r in cm.break_even(more)}
    assert rows["torch_compile", "jacrev", 4]["break_even_calls"] == pytest.approx(3.0 / 6e-4)
    assert rows["tf", "jacrev", 16]["break_even_calls"] == pytest.approx(0.5 / (0.2 - 1e-3))
    assert rows["torch_compile", "primal", 4]["break_even_calls"] is None    # n x m grid's


def _pair(ratios, ns=(4, 16, 64, 256, 1024), width=16, m=64):
    """jacfwd and jacrev points whose ratio T_fwd / T_rev at each n is `ratios`."""
    rows = []
    for n, r in zip(ns, ratios):
        rows.append({"framework": "fw", "mode": "jacrev", "n": n, "m": m, "width": width,
                     "seconds": 1e-4})
        rows.append({"framework": "fw", "mode": "jacfwd", "n": n, "m": m, "width": width,
                     "seconds": 1e-4 * r})
    return pd.DataFrame(rows)


def test_the_measured_crossover_ignores_noise_below_it():
    """Measured: forward a little slower at n = 4 (noise), faster at 16 and 64, far slower from
    256 on. The first sign change (n about 5) is noise; the monotone gap crosses between 64
    and 256, and the modes are told apart (beyond 1.25x) at 64 and at 256."""
    cross = cm.measured_crossovers(_pair([1.05, 0.78, 0.56, 2.9, 13.6]), tolerance=1.25)
    row = cross.iloc[0]
    assert 64 < row["n_measured"] < 256
    assert row["n_low"] == 64 and row["n_high"] == 256
    # a gap of one sign over every measured n: no crossover
    assert cm.measured_crossovers(_pair([1.2, 1.5, 2, 4, 9]), tolerance=1.25).empty
    # forward and reverse within 1.25x from n = 16 to 256: the interval says so
    flat = cm.measured_crossovers(_pair([0.5, 1.1, 0.95, 1.05, 3.0]), tolerance=1.25).iloc[0]
    assert flat["n_low"] == 4 and flat["n_high"] == 1024


def test_the_crossings_slope_says_how_far_the_measurements_tolerance_moves_it():
    """The monotone gap's rise per unit of log n at the crossing: a steep line places its own
    crossing within 1.5x, a flat one does not, and the counts say how the model did on each."""
    ns = np.array([4.0, 16, 64, 256, 1024])
    steep = cm.crossing(ns, 0.5 * np.log(ns / 32), 1.15)
    assert steep["n_measured"] == pytest.approx(32) and steep["slope"] == pytest.approx(0.5)
    flat = cm.crossing(ns, 0.1 * np.log(ns / 32), 1.15)
    assert flat["slope"] == pytest.approx(0.1)
    edge = math.log(1.15) / math.log(1.5)          # the tolerance moves the crossing 1.5x
    rows = [{"ratio": 1.2, "agrees": True, "width_fitted": True, **steep},
            {"ratio": 3.0, "agrees": True, "width_fitted": False, **flat},
            {"ratio": 1.6, "agrees": False, "width_fitted": False, **steep, "slope": edge},
            {"ratio": 1.1, "agrees": True, "width_fitted": True, **steep, "slope": edge * 0.99}]
    counts = cm.crossover_counts(rows)
    assert counts["steep"]["cells"] == 2 and counts["steep"]["within"] == 1
    assert counts["steep"]["agrees"] == 1 and counts["all"]["cells"] == 4
    from adcost.analysis import site
    text = site.steep_text(counts, 4)
    assert "On the 2 of 4 lines steep enough" in text and "within 1.5× in 1;" in text
    assert "on the other 2 one run" in text and site.steep_text({}, 4) == ""


def test_decisions_count_the_models_answer_against_the_side_by_side_ratios(monkeypatch):
    """Each side-by-side point (its repeats' median) against the model's ratio there: named
    and right, named and wrong (the other mode faster beyond the tie), named where the
    measurement ties, tied by the model; fitted and held-out widths apart; a point the model
    cannot predict is left out."""
    def ratio_row(n, value, width=16):
        return {"benchmark": cm.SIDE_BY_SIDE, "status": "ok", "framework": "fw", "width": str(width),
                "n": str(n), "m": "64", "value": value, "machine": None}
    measured = {(16, 4): (0.5, 0.7), (16, 16): (1.3,), (16, 64): (1.4,), (16, 256): (1.1,),
                (64, 4): (0.7,), (64, 16): (2.0,)}
    model = {(16, 4): 0.5, (16, 16): 0.8, (16, 64): 1.05, (16, 256): 2.0, (64, 4): 0.5,
             (64, 16): math.nan}
    df = pd.DataFrame([ratio_row(n, v, w) for (w, n), values in measured.items() for v in values])
    monkeypatch.setattr(cm, "model_ratio", lambda fits, fw, n, m, depth, width, itemsize, forward:
                        model[width, n])
    dec = cm.decisions(df, pd.DataFrame({"width": [16, 64]}), {}, pd.DataFrame({"width": [16]}), 4)
    assert dec["tie"] == cm.PAIRED_TOLERANCE and dec["forward"] == "jacfwd"
    assert dec["all"] == {"points": 5, "named": 4, "wrong": 1, "worst_named": pytest.approx(1.3),
                          "tied": 1, "worst_tied": pytest.approx(1.4)}
    assert dec["fitted"]["points"] == 4 and dec["fitted"]["wrong"] == 1
    assert dec["held_out"] == {"points": 1, "named": 1, "wrong": 0, "worst_named": 1.0, "tied": 0,
                               "worst_tied": None}
    assert cm.decisions(df.iloc[:0], pd.DataFrame({"width": [16]}), {},
                        pd.DataFrame({"width": [16]}), 4) == {}


def test_the_side_by_side_ratios_place_the_crossover_where_the_run_has_them():
    """The width study's times apart cross between 4 and 16 (a process timed in a slow
    minute); the side-by-side ratios of the same line cross between 64 and 256, and they are
    the measured crossover: with their own tolerance, and named as the source.  A line with
    no ratios keeps the times apart; ratios that never reach 1 leave no row."""
    def ratio_row(n, value, width=16, m=64, status="ok", machine="a"):
        return {"benchmark": cm.SIDE_BY_SIDE, "status": status, "framework": "fw",
                "width": str(width), "n": str(n), "m": str(m), "value": value, "machine": machine}
    apart = pd.concat([_pair([0.5, 2.0, 2.1, 3.0, 13.6]), _pair([0.5, 0.6, 0.8, 2.0, 9.0], m=4)])
    df = pd.DataFrame([ratio_row(n, r) for n, r in zip((4, 16, 64, 256, 1024),
                                                        (0.6, 0.7, 0.8, 1.9, 11.0))]
                      + [ratio_row(4, 0.1, status="failed"),
                         *[ratio_row(n, 2.0, width=64) for n in (4, 16, 64)]])
    paired = cm.side_by_side(df)
    assert len(paired) == 8 and paired["ratio"].min() == 0.6
    assert paired[["width", "n", "m"]].dtypes.map(lambda d: d.kind).tolist() == ["i", "i", "i"]
    cross = cm.measured_crossovers(apart, tolerance=1.25, paired=paired).set_index("m")
    side, alone = cross.loc[64], cross.loc[4]
    assert side["source"] == "side by side" and 64 < side["n_measured"] < 256
    assert side["tolerance"] == cm.PAIRED_TOLERANCE and side["n_low"] == 64 and side["n_high"] == 256
    assert alone["source"] == "separate processes" and 64 < alone["n_measured"] < 256
    assert alone["tolerance"] == 1.25
    assert len(cross) == 2        # width 64: forward dearer at every n, side by side: no row
    assert cm.side_by_side(df.iloc[:0]).empty and cm.side_by_side(pd.DataFrame()).empty


def test_crossover_agreement_is_within_the_factor_of_the_point_or_of_the_interval():
    cross = pd.DataFrame([
        {"n_measured": 100.0, "n_low": 64.0, "n_high": 256.0, "n_model": 140.0},   # point
        {"n_measured": 20.0, "n_low": 4.0, "n_high": 256.0, "n_model": 200.0},     # interval
        {"n_measured": 20.0, "n_low": 16.0, "n_high": 64.0, "n_model": 200.0},     # neither
        {"n_measured": 20.0, "n_low": 16.0, "n_high": None, "n_model": 5000.0},    # open above
        {"n_measured": 20.0, "n_low": 16.0, "n_high": 64.0, "n_model": math.nan},  # no model
        # the model's forward dearer at every n: agrees only where forward is never clearly cheaper
        {"n_measured": 9.0, "n_low": None, "n_high": 64.0, "n_model": 0.0},
        {"n_measured": 9.0, "n_low": 4.0, "n_high": 64.0, "n_model": 0.0},
        # ... cheaper at every n: only where forward is never clearly dearer
        {"n_measured": 900.0, "n_low": 256.0, "n_high": None, "n_model": math.inf},
    ])
    assert cm.crossover_agreement(cross).tolist() == [True, True, False, True, False,
                                                      True, False, True]


def test_the_site_shows_the_other_forward_modes_crossovers_apart(tmp_path):
    """The fixture run's report (with JAX's jacfwd_vmap timed side by side with jacrev): the
    site has a table of jacfwd_vmap's crossovers after jacfwd's, with its own counts, said to be
    outside the counts the targets judge; a report without it (older runs) has no such table."""
    import json

    from adcost.analysis import load, site
    from fixtures import asv_fixture as fx
    rep = cm.report(load.load(fx.write_results(tmp_path / "asv")), measured_too=False)
    (tmp_path / "cost_model.json").write_text(json.dumps(rep, default=str))
    text = site.model_html(tmp_path)
    counts = rep["other_forward"]["jacfwd_vmap"]["crossover_counts"]["all"]
    assert "id='crossover-jacfwd_vmap'" in text
    assert (f"in {counts['within']} of {counts['cells']}, within 1.5× of the interval in "
            f"{counts['agrees']}") in text
    assert text.index("The same for jacfwd_vmap") > text.index("Crossover n (forward mode")
    del rep["other_forward"]
    (tmp_path / "cost_model.json").write_text(json.dumps(rep, default=str))
    assert "jacfwd_vmap against jacrev" not in site.model_html(tmp_path)


def test_the_site_says_which_frameworks_read_their_products_and_how_regimes_are_named():
    """site.compute_text: the frameworks whose F / P is their measured products, the two forms'
    errors, and, where any reads them, how the regime is named; no products, no such sentence."""
    from adcost.analysis import site
    both = {"torch": {"chosen": "products", "flops": 0.04, "products": 0.01},
            "jax": {"chosen": "flops", "flops": 0.01, "products": 0.04}}
    text = site.compute_text(both)
    assert "the products for torch (" in text and "torch: 0.200 from the FLOPs, 0.100 from" in text
    assert "the analytic roofline names the regime" in text
    none = site.compute_text({"jax": both["jax"]})
    assert "the products for none" in none and "names the regime" not in none
    plain = site.compute_text({"jax": {"chosen": "flops", "flops": 0.01}})
    assert "measured no row products" in plain
    assert site.compute_text(None) == "" and site.compute_text({}) == ""


def test_the_site_says_at_which_rate_each_framework_reads_its_weight_passes():
    """site.passes_text: the frameworks whose weight passes run at the copies' rate, both
    rates' errors; a run without copies says so; an older report, nothing."""
    from adcost.analysis import site
    both = {"tf": {"chosen": "copy", "read": 0.04, "copy": 0.01},
            "torch": {"chosen": "read", "read": 0.01, "copy": 0.04}}
    text = site.passes_text(both)
    assert "the copies for tf (" in text and "tf: 0.200 at W, 0.100 at the copies' rate" in text
    assert "the copies for none" in site.passes_text({"torch": both["torch"]})
    assert "at fewer than two sizes" in site.passes_text({"torch": {"chosen": "read"}})
    assert site.passes_text(None) == "" and site.passes_text({}) == ""


def test_the_site_gives_the_compute_bound_points_by_rows():
    """costmodel.compute_bound_rows on the site: each framework's rows, with its products' own
    ratio where the run measured them; nothing without it."""
    from adcost.analysis import site
    text = site.rows_text({"torch": [{"directions": 16, "points": 4, "median": 3.41,
                                      "products": 3.02},
                                     {"directions": 256, "points": 6, "median": 1.18,
                                      "products": 1.05}],
                           "jax": [{"directions": 256, "points": 5, "median": 1.21}]})
    assert "jax: 256 rows 1.21×;" in text
    assert "torch: 16 rows 3.41× (its products 3.02×), 256 rows 1.18× (its products 1.05×)." in text
    assert site.rows_text({}) == "" and site.rows_text(None) == "" and \
        site.rows_text({"jax": []}) == ""


def test_the_site_says_how_often_the_models_answer_was_wrong(tmp_path):
    """A report with the model's forward-or-reverse answers against the side-by-side points
    (costmodel.decisions): the site gives their counts and worst costs; without them, nothing."""
    import json

    from adcost.analysis import site
    found = {"tie": 1.15, "forward": "jacfwd",
             "all": {"points": 460, "named": 383, "wrong": 2, "worst_named": 1.31, "tied": 77,
                     "worst_tied": 1.44},
             "fitted": {"points": 276, "named": 230, "wrong": 2, "worst_named": 1.31, "tied": 46,
                        "worst_tied": 1.44},
             "held_out": {"points": 184, "named": 153, "wrong": 0, "worst_named": 1.0, "tied": 31,
                          "worst_tied": 1.36}}
    text = site.decisions_text(found)
    assert "each of the 460 points" in text and "(184 at held-out widths)" in text
    assert "by more than 1.15× at 2 (held out: 0 of 153)" in text
    assert "at most 1.31× the faster" in text and "77 points tied" in text and "at most 1.44×" in text
    assert site.decisions_text({}) == "" and site.decisions_text(None) == ""
    from adcost.analysis import load
    from fixtures import asv_fixture as fx
    rep = cm.report(load.load(fx.write_results(tmp_path / "asv")), measured_too=False)
    assert rep["decisions"] == {}       # the fixture times jacfwd_vmap only side by side
    (tmp_path / "cost_model.json").write_text(json.dumps(rep, default=str))
    assert "id='decisions'" not in site.model_html(tmp_path)
    rep["decisions"] = found
    (tmp_path / "cost_model.json").write_text(json.dumps(rep, default=str))
    page = site.model_html(tmp_path)
    assert "id='decisions'" in page and page.index("id='decisions'") > page.index("Crossover n (")


def test_the_site_says_when_no_width_is_held_out(tmp_path):
    """A run of two widths (the quick grid) fits on both: the site says nothing was held out
    and why, instead of "judged on widths ," over an empty table."""
    import json

    from adcost.analysis import site
    rep = {"fits": [{"framework": "jax", "mode": "jacfwd", "c0": 1e-5, "c1": 0.0, "alpha": 1.0,
                     "beta": 1.0, "delta": 0.0, "peak": 1e11, "bandwidth": 1e10, "points": 8,
                     "spread": 0.1}],
           "fitted_widths": [64, 1024], "held_out_widths": [], "held_out": [], "depth": 4,
           "min_seconds": 1e-4, "crossovers": []}
    (tmp_path / "cost_model.json").write_text(json.dumps(rep))
    text = site.model_html(tmp_path)
    assert "no width is held out" in text and "judged on widths" not in text
    assert "median_error" not in text
    rep["held_out_widths"], rep["fitted_widths"] = [64], [16, 256]
    rep["held_out"] = [{"framework": "jax", "mode": "jacfwd", "points": 3, "median_error": 0.1,
                        "p90_error": 0.2, "regimes": "compute 3"}]
    (tmp_path / "cost_model.json").write_text(json.dumps(rep))
    text = site.model_html(tmp_path)
    assert "judged on widths 64, points of at least 100 µs" in text and "median_error" in text
    assert "W at" not in text           # one matvec size: no curve to show
    rep["rates"] = [{"framework": "jax", "peak": 1e11, "bandwidth": 2e10,
                     "curve": [[4.0 * 512 ** 2, 5e10], [4.0 * 4096 ** 2, 2e10]]}]
    (tmp_path / "cost_model.json").write_text(json.dumps(rep))
    text = site.model_html(tmp_path)
    assert "W at 1 MiB" in text and "W at 64 MiB" in text and "50.0 GB/s" in text
    assert "held out of the fit" not in text     # a report from before the split: no counts
    rep["crossover_counts"] = {"all": {"cells": 5, "within": 3, "agrees": 4},
                               "fitted": {"cells": 3, "within": 1, "agrees": 2},
                               "held_out": {"cells": 2, "within": 2, "agrees": 2}}
    (tmp_path / "cost_model.json").write_text(json.dumps(rep))
    text = site.model_html(tmp_path)
    assert "fitted on (both modes' times; the side-by-side ratios are never fitted): 1 of 3" in text
    assert "held out of the fit, where it predicts: 2 of 2" in text


def test_crossover_counts_split_the_fitted_widths_from_the_held_out_ones():
    """Counted from a report's crossover records: within 1.5x of the point (a missing or
    infinite ratio is no agreement), within the interval, apart by the width's role; records
    without the role (older reports) count only in "all"."""
    rows = [{"ratio": 1.2, "agrees": True, "width_fitted": True},
            {"ratio": 3.0, "agrees": True, "width_fitted": True},
            {"ratio": None, "agrees": False, "width_fitted": False},
            {"ratio": float("nan"), "agrees": False, "width_fitted": False},
            {"ratio": 1.49, "agrees": True, "width_fitted": False},
            {"ratio": 1.0, "agrees": True}]
    # the model's T_fwd / T_rev at the measured crossing, against the row's tolerance
    for row, (value, tolerance) in zip(rows, [(1.1, 1.15), (0.85, 1.15), (None, 1.15),
                                              (1.05, 1.1), (1.2, 1.6), (1 / 1.14, 1.15)]):
        row.update(model_ratio=value, tolerance=tolerance)
    counts = cm.crossover_counts(rows)
    assert counts["all"] == {"cells": 6, "within": 3, "agrees": 4, "ratio_within": 4}
    assert counts["fitted"] == {"cells": 2, "within": 1, "agrees": 2, "ratio_within": 1}
    assert counts["held_out"] == {"cells": 3, "within": 1, "agrees": 1, "ratio_within": 2}
    # a record without them (an older report) counts in none
    assert cm.crossover_counts([{"ratio": 1.0}])["all"]["ratio_within"] == 0


def test_the_bandwidth_is_the_largest_matvecs_not_the_fastest_in_cache():
    """The full grid measures the matvec at 1 to 64 MiB; a small one reads from cache and runs
    faster: the model's W is the largest size's (memory), whatever the order of the rows."""
    import pandas as pd
    from adcost.analysis import costmodel
    rows = [{"benchmark": "roofline.Bandwidth.track_bytes_per_s", "status": "ok", "framework": "jax",
             "size": size, "value": value} for size, value in (("4096", 2e10), ("512", 9e10), ("1024", 6e10))]
    rows.append({"benchmark": "roofline.Matmul.track_flops_per_s", "status": "ok", "framework": "jax",
                 "size": "512", "value": 5e10})
    got = costmodel.rates(pd.DataFrame(rows))
    assert got.loc["jax", "bandwidth"] == 2e10 and got.loc["jax", "peak"] == 5e10
    # and the curve, smallest matrix first, in bytes of float32
    assert got.loc["jax", "curve"] == [[4.0 * 512 ** 2, 9e10], [4.0 * 1024 ** 2, 6e10],
                                       [4.0 * 4096 ** 2, 2e10]]


def test_every_framework_reads_its_weights_on_the_machines_curve():
    """A framework whose small matvec is mostly its call (TensorFlow: 1 MiB in 538 us, 1.9 GB/s,
    where NumPy read 32 GB/s) gets the machine's curve, the best rate of any framework at each
    size; its own curve is kept beside it, its peak and 64 MiB bandwidth stay its own."""
    rows = [{"benchmark": cm.BANDWIDTH, "status": "ok", "framework": fw, "size": size,
             "value": value}
            for fw, size, value in (("tf", "512", 1.9e9), ("tf", "4096", 8.5e9),
                                    ("numpy", "512", 3.2e10), ("numpy", "4096", 1.2e10))]
    rows += [{"benchmark": cm.MATMUL, "status": "ok", "framework": fw, "size": "512",
              "value": v} for fw, v in (("tf", 7e10), ("numpy", 9e10))]
    got = cm.rates(pd.DataFrame(rows))
    machine = [[4.0 * 512 ** 2, 3.2e10], [4.0 * 4096 ** 2, 1.2e10]]
    assert got.loc["tf", "curve"] == machine == got.loc["numpy", "curve"]
    assert got.loc["tf", "own_curve"] == [[4.0 * 512 ** 2, 1.9e9], [4.0 * 4096 ** 2, 8.5e9]]
    assert got.loc["tf", "bandwidth"] == 8.5e9 and got.loc["tf", "peak"] == 7e10
    # width-256 weights (under 1 MiB) read at the machine's cache rate, not TF's call-bound one
    weights = cm.work("jacrev", 4, 4, 4, 256).weights
    assert cm.bandwidth_at(8.5e9, got.loc["tf", "curve"], [weights])[0] == 3.2e10


def test_the_weights_are_read_at_the_speed_of_the_smallest_matvec_they_fit_in():
    """W(B_w): the best rate of the matvecs at least as large as the weights, the largest's
    beyond it; a small matvec slowed by its per-call cost does not lower W of smaller weights."""
    curve = [[1e6, 3e10], [4e6, 9e10], [16e6, 6e10], [64e6, 2e10]]
    got = cm.bandwidth_at(2e10, curve, [0.5e6, 2e6, 8e6, 16e6, 20e6, 1e9])
    assert list(got) == [9e10, 9e10, 6e10, 6e10, 2e10, 2e10]
    assert list(cm.bandwidth_at(2e10, [], [1e3, 1e9])) == [2e10, 2e10]


def test_the_fit_recovers_known_constants_with_the_weights_in_cache():
    """Times made with a cache-aware W (weights up to 8 MB read 4 x faster) are fitted
    exactly with the run's matvec curve, and worse with the one memory bandwidth."""
    curve = [[8e6, 4 * BAND], [64e6, BAND]]
    rows = synthetic(noise=0.0)
    rows = rows[rows["mode"] == "jacfwd"]
    c0, alpha, beta, delta, c1 = 20e-6, 1.5, 1.2, 2.0, 0.5e-6
    over, compute, memory, passes = cm.terms(c0, alpha, beta, delta, c1, PEAK, BAND, rows["flops"],
                                             rows["bytes"], rows["weights"], rows["directions"], curve)
    rows = rows.assign(seconds=cm.model_time(over, compute, memory, passes))
    assert (rows["weights"] <= 8e6).any() and (rows["weights"] > 8e6).any()
    args = (rows["seconds"], rows["flops"], rows["bytes"], PEAK, BAND, "fw", "jacfwd", None,
            rows["weights"], rows["directions"])
    fit = cm.fit_mode(*args, curve=curve)
    assert fit.spread < 0.01 and fit.delta == pytest.approx(delta, rel=0.05)
    assert fit.beta == pytest.approx(beta, rel=0.05) and fit.curve == curve
    assert cm.fit_mode(*args).spread > 10 * fit.spread
    again = cm.fits_from({"fits": [fit.to_dict()]})["fw", "jacfwd"]
    assert np.allclose(again.predict(rows["flops"], rows["bytes"], rows["weights"], rows["directions"]),
                       rows["seconds"], rtol=0.02)


def test_the_width_study_reads_the_points_the_n_x_m_group_measured():
    """Where the width study leaves a point to the n x m group (its width and depth), the
    model's points take jacfwd, jacrev and the single primal from JacobianNM and PrimalNM:
    at the width study's own widths, n, m and machine only, and never twice."""
    def row(bench, fw, op, n, m, width, value, machine="a", k=None):
        return {"benchmark": f"crossover.{bench}", "status": "ok", "framework": fw, "op": op,
                "n": n, "m": m, "width": width, "depth": 4, "value": value,
                "machine": machine, "k": k}
    df = pd.DataFrame([
        row("JacobianWidth.time_jacobian", "jax", "jacfwd", 4, 64, 16, 1e-4),
        row("JacobianWidth.time_jacobian", "jax", "jacfwd", 16, 64, 64, 2e-4),
        row("PrimalWidth.time_primal", "jax", "primal", 4, 64, 16, 1e-5, k="1"),
        row("JacobianNM.time_jacobian", "jax", "jacfwd", 4, 64, 64, 3e-4),     # shared
        row("JacobianNM.time_jacobian", "jax", "jacrev", 4, 64, 64, 4e-4),     # shared
        row("PrimalNM.time_primal", "jax", "primal", 4, 64, 64, 5e-5),         # shared, k = 1
        row("JacobianNM.time_jacobian", "jax", "jacfwd", 16, 64, 64, 9e-4),    # width has it
        row("JacobianNM.time_jacobian", "jax", "jacfwd", 512, 64, 64, 9e-4),   # n not in width
        row("JacobianNM.time_jacobian", "jax", "jacfwd_loop", 4, 64, 64, 9e-4),  # not modelled
        row("JacobianNM.time_jacobian", "jax", "jacfwd", 4, 64, 64, 9e-4, machine="b"),
        row("PrimalNM.time_primal", "fd", "primal", 4, 64, 64, 5e-5),   # no width-study framework
    ])
    pts = cm.points(df)
    at = pts.set_index(["mode", "n", "m", "width"])["seconds"]
    assert at[("jacfwd", 4, 64, 64)] == 3e-4 and at[("jacrev", 4, 64, 64)] == 4e-4
    assert at[("primal", 4, 64, 64)] == 5e-5 and at[("jacfwd", 16, 64, 64)] == 2e-4
    assert len(pts) == 6 and set(pts["machine"]) == {"a"} and (pts["batch"] == 1).all()
    assert set(pts["framework"]) == {"jax"}
    assert pts["flops"].notna().all()
    # the explorer's cost curves name the benchmarks they drew from, the n x m group's among them
    from adcost.analysis import explorer
    _, source = explorer.cost_view(df, fits={})
    assert source.split(", ") == [cm.WIDTH_JACOBIAN, cm.NM_JACOBIAN, "roofline.*"]
    _, alone = explorer.cost_view(df[~df["benchmark"].str.contains("NM")], fits={})
    assert alone.split(", ") == [cm.WIDTH_JACOBIAN, "roofline.*"]


def test_times_taken_at_other_speeds_are_read_at_one_speed(tmp_path):
    """The fixture's width study and roofline timed by the model with known constants, on a
    machine that runs at full speed for 25 cases, then at half speed for 25, and so on (the
    probe beside each case says which; one probe in nine reads 30 % off): read at one speed, the
    model is recovered as if the machine had never moved; read as measured, it is not."""
    import json

    from adcost.analysis import load
    from fixtures import asv_fixture as fx
    path = fx.write_results(tmp_path / "asv")
    data = json.loads(path.read_text())
    rng = np.random.default_rng(3)
    beside, case = {}, 0
    for name in ("crossover.JacobianWidth.time_jacobian", "crossover.PrimalWidth.time_primal",
                 "roofline.Matmul.track_flops_per_s", "roofline.Bandwidth.track_bytes_per_s"):
        entry = dict(zip(data["result_columns"], data["results"][name]))
        result = entry["result"]               # the same list as in data: changed in place
        for j, combo in enumerate(itertools.product(*entry["params"])):
            case += 1
            fast = 1e11 if case // 25 % 2 == 0 else 5e10     # the machine's speed then
            if result[j] is not None:
                slower = 1e11 / fast
                result[j] *= slower if name.startswith("crossover") else 1 / slower
            probe = fast * (0.7 if rng.random() < 1 / 9 else 1.0)
            beside[f"{name.rsplit('.', 1)[0]}({', '.join(combo)})"] = [probe, float(case)]
    data["adcost_environment"] = {"speed": beside}
    path.write_text(json.dumps(data))
    rep = cm.report(load.load(path))
    assert rep["speed"]["normalized"] and rep["speed"]["points_probed"] == rep["speed"]["points"]
    assert rep["speed"]["window"] == cm.SPEED_WINDOW
    table = pd.DataFrame(rep["held_out"])
    assert (table["median_error"] < 0.1).all()
    assert (pd.DataFrame(rep["as_measured"]["held_out"])["median_error"] > 0.2).any()
    cross = pd.DataFrame(rep["crossovers"]).dropna(subset=["n_model"])
    assert len(cross) >= 4 and cross["agrees"].all()
    pts, rate, speed = cm.inputs(load.load(path), normalize=False)    # as measured
    assert not speed["normalized"] and speed["p10"] <= 5e10 and speed["p90"] == 1e11
    fits = cm.fit_all(*cm.split(pts)[:1], rate)
    assert cm.evaluate(fits, cm.split(pts)[1])["median_error"].max() > 0.2
    del beside[next(k for k in beside if k.startswith("roofline.Matmul"))]   # one rate unprobed
    path.write_text(json.dumps(data))
    assert not cm.report(load.load(path))["speed"]["normalized"]


def test_the_jacobians_times_come_from_the_side_by_side_group_where_it_logged_them(tmp_path):
    """Where the side-by-side group logged both modes' seconds (its speed probe's `timed`), the
    model is fitted and judged on them, not on the width study's times apart: here the width
    study's times each carry a process's spread (0.6-1.6x, as on these VMs) and the side-by-side
    ones do not, and the model fitted on them recovers the crossovers the ratios place; with the
    logged seconds left out, the same run's fit falls back to the times apart and does worse."""
    import json

    from adcost.analysis import load
    from fixtures import asv_fixture as fx
    path = fx.write_results(tmp_path / "asv")
    data = json.loads(path.read_text())
    rng = np.random.default_rng(5)
    width = dict(zip(data["result_columns"], data["results"][cm.WIDTH_JACOBIAN]))
    grid = [list(fx.FRAMEWORKS), list(fx.WIDTHS), list(fx.WIDTH_N), list(fx.WIDTH_M)]
    combos = list(itertools.product(*grid))
    ratios, beside = [], {}
    for fw, w, n, m in combos:
        fwd, rev = fx.model_time(fw, "jacfwd", w, n, m), fx.model_time(fw, "jacrev", w, n, m)
        ratios.append(fwd / rev)
        beside[f"crossover.SideBySide({fw!r}, {w!r}, {n!r}, {m!r})"] = [
            1e11, 1.0, {"forward_s": fwd, "reverse_s": rev}]
    width["result"] = [v * float(rng.uniform(0.6, 1.6)) if v is not None else None
                       for v in width["result"]]          # each point timed in its own process
    data["results"][cm.WIDTH_JACOBIAN] = [width.get(c) for c in data["result_columns"]]
    side = {**width, "params": [[repr(v) for v in g] for g in grid], "result": ratios}
    for c in data["result_columns"]:
        if c.startswith("stats_") or c == "samples" or c == "number":
            side[c] = None
    data["results"][cm.SIDE_BY_SIDE] = [side.get(c) for c in data["result_columns"]]
    data["adcost_environment"] = {"speed": beside}
    path.write_text(json.dumps(data))
    bench = json.loads((tmp_path / "asv" / "benchmarks.json").read_text())
    bench[cm.SIDE_BY_SIDE] = {**bench[cm.WIDTH_JACOBIAN], "name": cm.SIDE_BY_SIDE, "type": "track",
                              "unit": "ratio", "param_names": ["framework", "width", "n", "m"],
                              "params": side["params"]}
    (tmp_path / "asv" / "benchmarks.json").write_text(json.dumps(bench))

    df = load.load(path)
    pts = cm.points(df)
    # jacfwd and jacrev (the fixture's jacfwd_vmap has ratios only, its times are the width study's)
    jac = pts[pts["mode"].isin(["jacfwd", "jacrev"])]
    vmap = int((pts["mode"] == "jacfwd_vmap").sum())
    assert vmap and (pts[pts["mode"] == "jacfwd_vmap"]["source"] == "apart").all()
    assert (jac["source"] == "side by side").all() and (pts[pts["mode"] == "primal"]["source"] == "apart").all()
    one = jac.set_index(["framework", "mode", "width", "n", "m"])["seconds"]
    assert one[("torch", "jacrev", 64, 16, 4)] == pytest.approx(fx.model_time("torch", "jacrev", 64, 16, 4))
    rep = cm.report(df)
    assert rep["jacobian_sources"] == {"side by side": len(jac), "apart": vmap}
    held = pd.DataFrame(rep["held_out"])
    assert (held[held["mode"].isin(["jacfwd", "jacrev"])]["median_error"] < 0.02).all()
    cross = pd.DataFrame(rep["crossovers"])
    assert (cross["source"] == "side by side").all() and len(cross) >= 4
    assert (cross["ratio"] < 1.25).all()    # the measured crossing interpolates between grid n
    from adcost.analysis import site
    assert "medians of the side-by-side group" in site.sources_text(rep["jacobian_sources"])

    for key in beside:                      # a run from before cd47208: the ratio only
        beside[key] = beside[key][:2]
    path.write_text(json.dumps(data))
    df = load.load(path)
    assert "paired_forward_s" not in df and (cm.points(df)["source"] == "apart").all()
    apart = cm.report(df)
    assert apart["jacobian_sources"] == {"apart": len(jac) + vmap}
    worse = pd.DataFrame(apart["held_out"])
    assert (worse[worse["mode"].isin(["jacfwd", "jacrev"])]["median_error"] > 0.05).any()
    assert "width study's" in site.sources_text(apart["jacobian_sources"])


def test_the_speed_window_counts_a_shared_probe_once():
    """A side-by-side point's two modes share one probe (one time): the median of the window
    counts it once, so the window spans as many probes as it says."""
    speed = pd.Series([1.0, 1.0, 1.0, 1.0, 5.0, 5.0], index=list("abcdef"))
    at = pd.Series([0.0, 0.0, 1.0, 1.0, 2.0, 2.0], index=speed.index)
    got = cm.smoothed(speed, at, window=3)
    assert got.to_dict() == {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 3.0, "f": 3.0}
    assert (cm.smoothed(speed, at.where(at > 0), window=3) == speed).all()   # a time missing


# -- the compute term from measured row products (roofline.RowProducts) ----------------------
ROWS, SIZES = (1, 4, 16, 64, 256, 1024), (16, 64, 256, 1024, 2048)


def slow_row(orient, k, s):
    """Seconds of k rows through an (s x s) weight that reads the weight once a row up to 16
    rows (as eager torch's few-row products at width 1024 and more, 1.3x for the transpose),
    and runs at the matmul rate beyond."""
    return max(2 * k * s * s / PEAK, min(k, 16) * 4 * s * s / BAND * (1.3 if orient == "T" else 1))


def slow_rows_table(call=5e-6) -> list:
    """[orient, rows, size, seconds] of slow_row products, each call `call` seconds more."""
    return [[o, k, s, call + slow_row(o, k, s)] for o in ("N", "T") for k in ROWS for s in SIZES]


def product_synthetic(table, noise=0.03, seed=0) -> pd.DataFrame:
    """The width grid timed by the model with its compute term from `table`'s products."""
    tab = cm.product_table(table)
    return timed_grid(SIZES, noise, seed, lambda mode, n, m, width, batch:
                      cm.product_work(tab, mode, n, m, 4, width, batch, PEAK))


def test_a_products_time_is_read_off_the_measured_grid_less_the_call():
    tab = cm.product_table(slow_rows_table())
    net = slow_row
    smallest = 5e-6 + net("N", 1, 16)             # the cheapest call: the call's own cost
    for o, k, s in (("N", 16, 256), ("T", 4, 2048), ("N", 1024, 64)):
        assert cm.product_seconds(tab, o, k, s, s, PEAK) == pytest.approx(
            max(5e-6 + net(o, k, s) - smallest, 2 * k * s * s / PEAK), rel=1e-9)
    # between grid points: between its neighbours; beyond the grid: rows and size^2 scale it
    mid = cm.product_seconds(tab, "N", 32, 512, 512, PEAK)
    assert cm.product_seconds(tab, "N", 16, 256, 256, PEAK) < mid < \
        cm.product_seconds(tab, "N", 64, 1024, 1024, PEAK)
    edge = cm.product_seconds(tab, "N", 1024, 2048, 2048, PEAK) + smallest
    assert cm.product_seconds(tab, "N", 4096, 2048, 2048, PEAK) == pytest.approx(4 * edge - smallest)
    # an (a x b) weight reads as the square one of the same multiply-adds
    assert cm.product_seconds(tab, "T", 16, 64, 1024, PEAK) == \
        cm.product_seconds(tab, "T", 16, 256, 256, PEAK)
    # a grid with a hole is no table: that orient is left out, and product_records gives none
    holed = [r for r in slow_rows_table() if not (r[0] == "T" and r[1] == 4 and r[2] == 64)]
    assert set(cm.product_table(holed)) == {"N", "call"} and cm.product_records(pd.DataFrame(
        holed, columns=["orient", "rows", "size", "value"])) == []
    assert len(cm.product_records(pd.DataFrame(slow_rows_table(),
                                               columns=["orient", "rows", "size", "value"]))) == 60


def test_compute_bound_points_by_rows_follow_their_products():
    """Times whose compute term is the products' (few rows read the weight once a row): the
    compute-bound points of few directions run further above the FLOPs' time at the matmul
    rate than those of many, and their products' own measured time says by about as much."""
    table = slow_rows_table()
    pts = product_synthetic(table, noise=0.0)
    rate = pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND], "products": [table]}, index=["fw"])
    fits = cm.fit_all(pts, rate)
    compute = cm.compute_points(cm.predictions(fits, pts), rate)
    by_rows = {r["directions"]: r for r in cm.compute_bound_rows(compute, rate)["fw"]}
    assert sum(r["points"] for r in by_rows.values()) == len(compute) > 0
    few, many = min(by_rows), max(by_rows)
    assert by_rows[few]["median"] > 2 * by_rows[many]["median"]
    for r in by_rows.values():
        assert r["median"] == pytest.approx(float(compute[compute["directions"] == r["directions"]]
                                                   ["flop_ratio"].median()))
    # the products say why: the few rows' products run as far above the matmul rate, and the
    # medians over the products vary less across the rows than the medians do
    assert by_rows[few]["products"] > 2 * by_rows[many]["products"]
    left = [r["median"] / r["products"] for r in by_rows.values()]
    medians = [r["median"] for r in by_rows.values()]
    assert max(left) / min(left) < max(medians) / min(medians)
    # without measured products: the medians only
    plain = cm.compute_bound_rows(compute, rate.drop(columns="products"))["fw"]
    assert [r["median"] for r in plain] == [by_rows[k]["median"] for k in sorted(by_rows)]
    assert all("products" not in r for r in plain)
    assert cm.compute_bound_rows(compute.iloc[:0], rate) == {}


def test_the_products_form_names_the_regime_by_the_roofline():
    """In the products form the compute term is the products' measured time, reads and FLOPs
    together: where it is the largest, the analytic roofline says compute or memory.  Few rows
    through a wide weight (the products read it once a row) are memory-bound, many compute-bound;
    the same point's products term is the largest in both."""
    table = slow_rows_table()
    rate = pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND], "products": [table]}, index=["fw"])
    fit = cm.fit_all(product_synthetic(table, noise=0.0), rate)["fw", "jacfwd"]
    assert fit.compute_from == "products"
    for n, regime in ((4, "memory"), (1024, "compute")):
        moved = fit.work("jacfwd", n, 4, 4, 2048)
        over, compute, memory, passes = fit.terms(*moved)
        assert compute > max(over, memory + passes)          # the products term is the largest
        assert fit.regime_at("jacfwd", n, 4, 4, 2048) == regime
    plain = cm.work("jacfwd", 4, 4, 4, 2048)
    assert plain.flops / PEAK < plain.bytes / BAND         # the roofline: memory-bound
    with pytest.raises(ValueError, match="roofline_flops"):
        fit.regime(*fit.work("jacfwd", 4, 4, 4, 2048))
    # predictions name the regimes the same way
    pts = product_synthetic(table, noise=0.0)
    pred = cm.predictions({("fw", "jacfwd"): fit}, pts[pts["mode"] == "jacfwd"])
    got = pred.set_index(["n", "m", "width"])["regime"]
    assert got[4, 4, 2048] == "memory" and got[1024, 4, 2048] == "compute"
    # a products term left of a call cost's spread (TensorFlow: 10-20 us a product at width 16,
    # its FLOPs 1.5 us) is the largest term, yet the call's own cost is larger than the
    # roofline's: overhead
    tiny = cm.work("jacfwd", 64, 4, 4, 16)
    over = float(fit.terms(*fit.work("jacfwd", 64, 4, 4, 16))[0])
    spread = tiny._replace(flops=3 * over * PEAK)              # the products' seconds times P
    assert fit.regime(*spread, roofline_flops=tiny.flops) == "overhead"
    assert max(tiny.flops / PEAK, tiny.bytes / BAND) < over
    assert fit.regime(*spread, roofline_flops=over * 2 * PEAK) == "compute"


def test_the_fit_reads_the_products_where_they_explain_the_times_better():
    """Times whose compute term is the measured products' (few rows slow): fit_all keeps the
    products form and predicts the held-out widths within the noise; without the products it
    cannot (the FLOPs at one rate).  Times of the FLOPs model with the same table at hand: it
    keeps the FLOPs."""
    table = slow_rows_table()
    train, held = cm.split(product_synthetic(table, seed=2))
    with_products = pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND], "products": [table]},
                                 index=["fw"])
    fits = cm.fit_all(train, with_products)
    assert {f.compute_from for f in fits.values()} == {"products"}
    errors = fits["fw", "jacfwd"].compute_errors
    assert errors["products"] < errors["flops"]
    good = cm.evaluate(fits, held)
    assert (good["median_error"] < 0.05).all() and (good["p90_error"] < 0.12).all()
    flops_only = cm.fit_all(train, pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND]},
                                                index=["fw"]))
    assert {f.compute_from for f in flops_only.values()} == {"flops"}
    worse = cm.evaluate(flops_only, held)
    assert worse["p90_error"].max() > 3 * good["p90_error"].max()
    # the crossover at a held-out width: the noise-free model's, where the products put it
    exact = cm.fit_all(product_synthetic(table, noise=0.0), with_products)
    true_n = cm.crossover_n(exact, "fw", 4, 4, 1024)
    assert cm.crossover_n(fits, "fw", 4, 4, 1024) == pytest.approx(true_n, rel=0.1)
    assert cm.crossover_n(flops_only, "fw", 4, 4, 1024) > 2 * true_n
    # the model's crossover and a saved report's fits read the products the same way
    restored = cm.fits_from({"fits": [f.to_dict() for f in fits.values()]})
    assert cm.crossover_n(restored, "fw", 64, 4, 1024) == cm.crossover_n(fits, "fw", 64, 4, 1024)
    flops_train, _ = cm.split(synthetic(noise=0.03, seed=3))
    plain = cm.fit_all(flops_train, with_products)
    assert {f.compute_from for f in plain.values()} == {"flops"}


# the run's copies (roofline.Copy) as rates() gives them: as fast as BAND up to 4 MiB (width
# 256's weights), half of it at 16 MiB (width 1024's), a fifth beyond (width 2048's)
COPIES = [[4.0 * 1024 ** 2, BAND], [4.0 * 2048 ** 2, BAND / 2], [4.0 * 4096 ** 2, BAND / 5]]


def test_the_run_times_copies_beside_its_matvecs():
    """rates(): the copies' curve is the machine's, the best of any framework at each size, in
    bytes of the float32 matrix read; a run without copies has none, and the copies change no
    other rate."""
    rows = [{"benchmark": cm.BANDWIDTH, "status": "ok", "framework": fw, "size": "4096",
             "value": 2e10} for fw in ("tf", "numpy")]
    rows += [{"benchmark": cm.MATMUL, "status": "ok", "framework": fw, "size": "512",
              "value": 9e10} for fw in ("tf", "numpy")]
    plain = cm.rates(pd.DataFrame(rows))
    assert list(plain["copy_curve"]) == [[], []]
    rows += [{"benchmark": cm.COPY, "status": "ok", "framework": fw, "size": size, "value": v}
             for fw, size, v in (("tf", "1024", 2e9), ("tf", "4096", 6e9),
                                 ("numpy", "1024", 1.4e10), ("numpy", "4096", 5e9))]
    got = cm.rates(pd.DataFrame(rows))
    machine = [[4.0 * 1024 ** 2, 1.4e10], [4.0 * 4096 ** 2, 6e9]]
    assert got.loc["tf", "copy_curve"] == machine == got.loc["numpy", "copy_curve"]
    assert got.drop(columns="copy_curve").equals(plain.drop(columns="copy_curve"))
    # the passes' rate: the best copy at least as large as the weights, the largest's beyond
    assert list(cm.pass_rate(machine, [1e6, 8e6, 1e9])) == [1.4e10, 6e9, 6e9]
    # read at one speed as the matvecs are: a copy timed at half the points' speed reads twice
    probed = pd.DataFrame(rows).assign(speed=1e11, speed_at=np.nan)
    probed.loc[probed["benchmark"] == cm.COPY, "speed"] = 5e10
    pts = pd.DataFrame({"seconds": [1.0, 2.0], "speed": [1e11, 1e11], "speed_at": np.nan})
    _, steady, record = cm.at_speed(pts, probed)
    assert record["normalized"]
    assert steady.loc["tf", "copy_curve"] == [[size, 2 * rate] for size, rate in machine]


def test_the_fit_reads_the_weight_passes_at_the_copies_rate_where_they_explain_the_times():
    """Times whose weight passes run at the copies' rate (slower for wider weights, where a
    matvec is not): fit_all keeps the copies' rate, recovers delta and predicts the held-out
    widths within the noise; at the matvecs' rate it cannot.  Times of passes at the matvecs'
    rate with the copies at hand: it keeps the matvecs'."""
    copied = timed_grid((16, 64, 256, 1024, 2048), 0.02, 4,
                        passes=lambda w: cm.pass_rate(COPIES, w))
    train, held = cm.split(copied)
    with_copies = pd.DataFrame({"peak": [PEAK], "bandwidth": [BAND], "copy_curve": [COPIES]},
                               index=["fw"])
    fits = cm.fit_all(train, with_copies)
    assert {f.passes_from for f in fits.values()} == {"copy"}
    errors = fits["fw", "jacrev"].pass_errors
    assert errors["copy"] < errors["read"]
    assert fits["fw", "jacrev"].delta == pytest.approx(TRUE["fw", "jacrev"][3], rel=0.15)
    good = cm.evaluate(fits, held)
    assert (good["median_error"] < 0.05).all() and (good["p90_error"] < 0.1).all()
    read_only = cm.fit_all(train, with_copies.drop(columns="copy_curve"))
    assert {f.passes_from for f in read_only.values()} == {"read"}
    assert all(f.pass_errors == {} for f in read_only.values())
    worse = cm.evaluate(read_only, held)
    assert worse.set_index("mode").loc["jacrev", "p90_error"] > 2 * good["p90_error"].max()
    # a saved report's fits read the copies the same way
    restored = cm.fits_from({"fits": [f.to_dict() for f in fits.values()]})
    point = cm.work("jacrev", 4, 64, 4, 1024)
    assert restored["fw", "jacrev"].predict(*point) == pytest.approx(
        fits["fw", "jacrev"].predict(*point), rel=1e-12)
    # the passes' term alone moves: the copies' rate divides delta B_w
    fit = fits["fw", "jacrev"]
    as_read = cm.ModeFit(**{**fit.to_dict(), "passes_from": "read"})
    over, compute, memory, passes = fit.terms(*point)
    assert as_read.terms(*point)[:3] == (over, compute, memory)
    assert float(passes) == pytest.approx(fit.delta * point.weights
                                          / float(cm.pass_rate(COPIES, point.weights)))
    # passes at the matvecs' rate, the copies at hand: the matvecs' rate is kept
    plain, _ = cm.split(synthetic(noise=0.02, seed=5))
    assert {f.passes_from for f in cm.fit_all(plain, with_copies).values()} == {"read"}


def test_a_stored_report_is_read_only_where_the_same_data_and_code_computed_it(tmp_path,
                                                                                monkeypatch, capsys):
    """`adcost plots` stores the report with its provenance; advise and the explorer read it
    instead of fitting again only where the run's data (read from asv or from the tidy CSV)
    and the model's code are the ones it was computed from, and the site says when they are
    not."""
    import json

    from adcost.analysis import advise, load, plots, site
    from fixtures import asv_fixture as fx
    fx.write_results(tmp_path / "asv")
    df = load.load_asv(tmp_path / "asv")
    load.export(df, tmp_path)
    tidy = load.load(tmp_path)
    key = cm.provenance(df)
    assert cm.provenance(tidy) == key and set(key) == {"data", "code", "itemsize", "normalize"}
    rep = cm.report(df)
    assert rep["provenance"] == key
    stored = tmp_path / "figures" / plots.MODEL_FILE
    stored.parent.mkdir()
    stored.write_text(json.dumps(rep))
    args = ["advise", "--n", "16", "--m", "64", "--width", "256", "--json", "--results",
            str(tmp_path)]
    from adcost import cli
    assert cli.main(args) == 0
    fitted = capsys.readouterr().out

    def refuse(*a, **k):
        raise AssertionError("fitted again")
    monkeypatch.setattr(cm, "fit_all", refuse)
    assert cm.cached_report(tidy, stored) == json.loads(stored.read_text())
    assert advise.stored_model(tmp_path) == advise.stored_model(tmp_path / "tidy.csv.gz") == stored
    assert cli.main(args) == 0 and capsys.readouterr().out == fitted    # read, not fitted
    from adcost.analysis import explorer
    assert explorer.build(tidy, tmp_path, tmp_path / "site").exists()     # its cost curves too
    assert site.stale_text(rep, tidy) == ""
    # the site (its page and its explorer) computes the data's provenance once
    calls = []
    monkeypatch.setattr(cm, "provenance", lambda *a, **k: calls.append(a) or key)
    page = site.build(tmp_path, tmp_path / "site", df=tidy).read_text()
    assert len(calls) == 1 and "class='stale'" not in page and "id='model'" in page
    monkeypatch.undo()
    monkeypatch.setattr(cm, "fit_all", refuse)
    # one measured time changed: the stored report is not this data's, so it is fitted again
    changed = tidy.copy()
    row = changed.index[changed["benchmark"] == cm.WIDTH_PRIMAL][0]
    changed.loc[row, "value"] *= 1.5
    assert cm.stored_report(changed, stored) is None
    with pytest.raises(AssertionError, match="fitted again"):
        cm.cached_report(changed, stored)
    with pytest.raises(AssertionError, match="fitted again"):
        explorer.build(changed, tmp_path, tmp_path / "site")
    assert "other results than this page" in site.stale_text(rep, changed)
    # the compile break-even `adcost plots` adds to the report is part of its data too
    pair = [{"benchmark": b, "framework": fw, "op": "jacrev", "n": 4, "m": 4, "value": v,
             "status": "ok"} for b, fw, v in (("crossover.Compile.track_compile_s", "jax", 0.1),
                                              ("crossover.JacobianNM.time_jacobian", "jax", 1e-5),
                                              ("crossover.JacobianNM.time_jacobian", "jax_eager", 1e-3))]
    paired = pd.concat([tidy, pd.DataFrame(pair)], ignore_index=True)
    slower = paired.copy()
    slower.loc[slower.index[-1], "value"] = 2e-3
    assert cm.break_even(paired) != cm.break_even(slower)
    assert cm.provenance(paired)["data"] != cm.provenance(slower)["data"] != key["data"]
    # older code, or a report from before provenance: not read either
    for older in ({**rep, "provenance": {**key, "code": "0" * 64}},
                  {k: v for k, v in rep.items() if k != "provenance"}):
        stored.write_text(json.dumps(older))
        assert cm.stored_report(tidy, stored) is None
    assert "the cost model's code" in site.stale_text({**rep, "provenance": {**key, "code": "0"}}, tidy)
    assert "record no provenance" in site.stale_text(older, tidy)
    stored.write_text("{not json")
    assert cm.stored_report(tidy, stored) is None


def test_restamp_stamps_a_stored_report_only_where_the_code_computes_the_same_figures(tmp_path):
    """After a change to the model's code that moves no figure, `restamp` writes the current
    code's provenance into the stored report (advise then reads it instead of fitting again);
    a report whose figures this code would not compute is left as it is."""
    import json

    from adcost.analysis import load, plots
    from fixtures import asv_fixture as fx
    fx.write_results(tmp_path / "asv")
    df = load.load(tmp_path)
    rep = cm.stored_report_file(df)
    stored = tmp_path / "figures" / plots.MODEL_FILE
    stored.parent.mkdir()
    older = {**rep, "provenance": {**rep["provenance"], "code": "0" * 64}}
    stored.write_text(json.dumps(older))
    assert cm.stored_report(df, stored) is None
    assert "stamped with this code's provenance" in cm.restamp(tmp_path)
    assert cm.stored_report(df, stored) == json.loads(json.dumps(rep))
    assert "already this code's" in cm.restamp(tmp_path)
    other = json.loads(json.dumps(older))
    other["min_seconds"] = 2 * rep["min_seconds"]
    stored.write_text(json.dumps(other))
    assert "left as it is" in cm.restamp(tmp_path) and "min_seconds" in cm.restamp(tmp_path)
    assert json.loads(stored.read_text()) == other


def test_the_committed_reference_report_is_this_codes():
    """The reference run's stored cost model carries the current code's digest, so `adcost
    advise` and the site read it rather than fitting the model again (14 s an advise).  After a
    change to costmodel.py: `python -m adcost.analysis.costmodel restamp results/reference`
    where no figure moves, else `make publish-reference`."""
    import json

    from adcost import paths
    stored = paths.reference() / "figures" / "cost_model.json"
    if not stored.is_file():
        pytest.skip("no committed reference run here")
    assert json.loads(stored.read_text())["provenance"]["code"] == cm.code_digest(), (
        "results/reference's cost_model.json was computed by other code: "
        "python -m adcost.analysis.costmodel restamp results/reference")
