"""adcost.analysis and `adcost advise/compare` on synthetic asv results with known constants."""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adcost import cli
from adcost.analysis import advise, compare, fit, load, plots, summary

ROOT = Path(__file__).resolve().parents[1]

spec = importlib.util.spec_from_file_location("asv_fixture", ROOT / "tests" / "fixtures" / "asv_fixture.py")
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)


@pytest.fixture(scope="module")
def asv_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("asv")
    fx.write_results(root)
    return root


@pytest.fixture(scope="module")
def tidy(asv_dir):
    return load.load_asv(asv_dir)


# -- load -------------------------------------------------------------------------------
def test_one_row_per_parameter_combination(tidy):
    expected = sum(math.prod(len(g) for g in entry["params"]) for entry, _ in fx.benchmark_specs())
    assert len(tidy) == expected
    assert list(tidy.columns[:4]) == ["benchmark", "suite", "metric", "kind"]
    jac = tidy[tidy["benchmark"] == "crossover.JacobianNM.time_jacobian"]
    assert set(jac["op"]) == set(fx.MODES) and set(jac["n"]) == set(fx.N_GRID)
    assert (jac["unit"] == "seconds").all() and (jac["depth"] == fx.FIXED_DEPTH).all()


def test_the_newest_run_of_each_measurement_wins(tmp_path):
    """Two commits measured on one machine: figures read the newer run, all_runs keeps both."""
    fx.write_results(tmp_path, commit="a" * 40, date=1700000000000)
    fx.write_results(tmp_path, commit="b" * 40, date=1800000000000, slow=2.0)
    every = load.load_asv(tmp_path, all_runs=True)
    newest = load.load_asv(tmp_path)
    assert len(every) == 2 * len(newest) and set(newest["commit"]) == {"b" * 40}
    key = ["benchmark"] + load.PARAM_COLUMNS
    jac = lambda df: load.measured(df, "JacobianNM.time_jacobian").set_index(key)["value"]  # noqa: E731
    old = jac(every[every["commit"] == "a" * 40])
    assert np.allclose((jac(newest) / old).median(), 2.0, rtol=0.2)


def test_values_and_stats_match_asv_own_reader(asv_dir, tidy):
    from asv.results import Results
    res = Results.load(str(next((asv_dir / "fixture").glob("c0ffee01-*.json"))))
    name = "crossover.JacobianNM.time_jacobian"
    values = res.get_result_value(name, res.get_result_params(name))
    stats = res.get_result_stats(name, res.get_result_params(name))
    rows = tidy[tidy["benchmark"] == name]   # same order: the cartesian product of the params
    np.testing.assert_allclose(rows["value"].to_numpy(float), np.array(values, float), equal_nan=True)
    q25 = [s["q_25"] if s else np.nan for s in stats]
    np.testing.assert_allclose(rows["q25"].to_numpy(float), q25, equal_nan=True)
    ok = rows[rows["status"] == "ok"]
    assert (ok["q25"] <= ok["value"]).all() and (ok["value"] <= ok["q75"]).all()
    assert (ok["ci_lo"] <= ok["ci_hi"]).all()


def test_skipped_combinations_are_kept_with_a_status(tidy):
    rows = tidy[(tidy["benchmark"] == "crossover.JacobianNM.time_jacobian") & (tidy["framework"] == "torch")
                & (tidy["op"] == "jacfwd_loop") & (tidy["n"] == 512)]
    assert len(rows) == 4 and (rows["status"] == "skipped").all() and rows["value"].isna().all()
    assert tidy.loc[tidy["strategy"] == "jax_nothing_saveable"].groupby("framework")["status"].first().to_dict() \
        == {"jax": "ok", "torch": "skipped"}


def test_environment_columns(tidy):
    row = tidy.iloc[0]
    assert row["machine"] == "fixture" and row["cpu"].startswith("Synthetic")
    assert row["commit"].startswith("c0ffee01") and row["date"].startswith("2023-11-14")
    assert '"torch": "2.5.1"' in row["versions"]


def test_tidy_export_round_trip(tidy, tmp_path):
    load.export(tidy, tmp_path)
    for name in ("tidy.csv.gz",):
        back = load.load(tmp_path / name)
        assert len(back) == len(tidy)
        np.testing.assert_allclose(back["value"].to_numpy(float), tidy["value"].to_numpy(float), equal_nan=True)


# -- fits -------------------------------------------------------------------------------
def test_proportional_fit_recovers_a_known_constant():
    x = np.array([1, 2, 4, 8, 16, 32, 64.0])
    exact = fit.fit_cost(x, 2.7 * x)
    assert exact.c == pytest.approx(2.7) and exact.r2 == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    noisy = fit.fit_cost(np.repeat(x, 5), 2.7 * np.repeat(x, 5) * np.exp(rng.normal(0, 0.05, 35)))
    assert noisy.c == pytest.approx(2.7, rel=0.03)
    assert noisy.ci_lo < noisy.c < noisy.ci_hi and noisy.ci_hi - noisy.ci_lo < 0.2
    assert noisy.r2 > 0.99


def test_linearity_is_an_affine_fit_over_the_slow_enough_points(tidy):
    x = np.array([1, 4, 16, 64, 256.0])
    assert fit.affine_r2(x, 5.0 + 2.0 * x) == pytest.approx(1.0)       # overhead + slope: linear
    assert fit.affine_r2(x, x ** 2) < 0.98                              # quadratic: not
    assert math.isnan(fit.affine_r2(x[:2], x[:2]))                      # two points prove nothing
    linear = fit.linearity(tidy)            # the fixture's times are c·n·T_f, with 5 % noise
    for fw in fx.FRAMEWORKS:
        r2, lines = linear[fw]["fwd"]
        assert lines >= 2 and r2 > 0.98
    assert fit.linearity(tidy, min_time=math.inf)["jax"]["fwd"][1] == 0


def test_cost_constants_from_results(tidy):
    constants = fit.cost_constants(tidy)
    for fw in fx.FRAMEWORKS:
        assert constants[fw]["fwd"].c == pytest.approx(fx.C_FWD[fw], rel=0.03)
        assert constants[fw]["rev"].c == pytest.approx(fx.C_REV[fw], rel=0.03)
        ratio = fit.crossover_ratio(constants[fw]["fwd"].c, constants[fw]["rev"].c)
        assert ratio == pytest.approx(fx.C_REV[fw] / fx.C_FWD[fw], rel=0.05)
    grid = fit.log2_fwd_over_rev(tidy, "jax")   # log2(c_fwd n / (c_rev m))
    assert grid.loc[512, 1] == pytest.approx(math.log2(2.0 * 512 / 4.0), abs=0.1)


def test_summary_table(tidy):
    table = summary.summary_table(tidy).set_index("framework")
    assert table.loc["torch", "omega_vjp"] == pytest.approx(3.0)
    assert table.loc["jax", "crossover_ratio"] == pytest.approx(2.0, rel=0.05)
    # best Jacobian rate: flops 3·n·F(n, m) over c_fwd·n·T_f, against the best matmul rate
    best_matmul = fx.PEAK_FLOPS["jax"] * 1024 / (1024 + 64)
    best = max(3 * (2 * 64 * (n + m) + 2 * 64 * 64 * 3) / (2.0 * fx.T_F["jax"]) for n in fx.N_GRID for m in fx.M_GRID)
    assert table.loc["jax", "matmul_fraction"] == pytest.approx(best / best_matmul, rel=0.1)


def test_memory_helpers(tidy):
    assert [fit.binomial_checkpoints(L, 3) for L in (1, 4, 5, 20, 21, 56)] == [0, 1, 2, 3, 4, 5]
    saved = load.measured(tidy, "Checkpoint.track_saved_bytes")
    none = saved[(saved["framework"] == "torch") & (saved["strategy"] == "none")]
    sqrt = saved[(saved["framework"] == "torch") & (saved["strategy"] == "sqrt")]
    assert fit.loglog_slope(none["depth"], none["value"]) == pytest.approx(1.0)
    assert fit.loglog_slope(sqrt["depth"], sqrt["value"]) == pytest.approx(0.5)
    pts = pd.DataFrame({"bytes": [1, 2, 3, 4], "seconds": [4, 5, 2, 1], "name": list("abcd")})
    assert list(fit.pareto_front(pts, "bytes", "seconds")["name"]) == ["a", "c", "d"]


def test_tradeoff_marks_one_more_forward_pass(tidy):
    from adcost.analysis import tradeoff
    points = tradeoff.tradeoff_points(tidy)
    theory = tradeoff.one_more_forward(tidy, points)
    for fw, seconds in theory.items():
        depth = int(points[points["framework"] == fw]["depth"].iat[0])
        expected = fx.gradient_time(fw, "none", depth) + fx.depth_loss_time(fw, depth)
        assert seconds == pytest.approx(expected, rel=0.05)
    assert theory
    assert tradeoff.one_more_forward(tidy[~tidy["benchmark"].str.endswith("Loss.time_loss")], points) == {}


# -- figures ----------------------------------------------------------------------------
@pytest.mark.slow
def test_every_figure_is_written(tidy, tmp_path, capsys):
    plots.build_all(tidy, tmp_path)
    for name in ("crossover_map", "cost_curves", "speedups", "memory_depth", "tradeoff"):
        assert (tmp_path / f"{name}.svg").read_text().lstrip().startswith("<?xml")
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "framework,c_fwd" in (tmp_path / "summary.csv").read_text()
    assert not (tmp_path / "summary.html").exists()   # the site renders the table itself


def test_cost_curves_draw_the_cost_models_ratio_beside_the_measured_one(tidy):
    """The cost curves draw, beside each measured T_J / T_f of the crossover grid, the cost
    model's ratio at the same sizes (a line per value of the other size), not a line through
    the origin; a run with no width study draws the points and says it has no model."""
    from adcost.analysis import cost_curves, fit
    fig = cost_curves.build(tidy)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert panels and all("cost model" in [t.get_text() for t in ax.get_legend().get_texts()]
                          for ax in panels)
    fits, (depth, width) = cost_curves.model_fits(tidy), cost_curves.grid_shape(tidy)
    ratios = fit.jacobian_ratios(tidy)
    r = ratios[ratios["op"] == fit.FORWARD].iloc[0]
    model = cost_curves.model_ratio(fits, r["framework"], fit.FORWARD, int(r["n"]), int(r["m"]),
                                    depth, width)
    line = next(line for ax in panels if ax.get_title().startswith(f"{r['framework']}: forward")
                for line in ax.get_lines() if line.get_linestyle() == "-" and len(line.get_xdata())
                and line.get_xdata()[0] == r["n"] and line.get_color() != "k"
                and np.isclose(line.get_ydata()[0], cost_curves.model_ratio(
                    fits, r["framework"], fit.FORWARD, int(r["n"]), int(r["m"]), depth, width)))
    assert line.get_ydata()[0] == pytest.approx(model)
    no_width = tidy[~tidy["benchmark"].astype(str).str.contains("Width|roofline")]
    texts = [t.get_text() for ax in cost_curves.build(no_width).axes for t in ax.texts]
    assert "no cost model for this run" in texts


def test_a_framework_whose_peak_rss_was_set_aside_gets_a_said_empty_panel(tidy):
    """Every peak-RSS figure of one framework set aside (load's "invalid"): the memory figure
    still draws, and that framework's panel says why instead of a log axis with no data."""
    from adcost.analysis import memory_depth
    rss = tidy["benchmark"].str.endswith(("PeakRSS.track_peak_rss_bytes", "Forward.track_jvp_bytes"))
    fw = sorted(set(tidy.loc[rss & (tidy["status"] == "ok"), "framework"]))[0]
    marked = tidy.assign(status=tidy["status"].astype(object), note=None)
    aside = rss & (marked["framework"] == fw)
    marked.loc[aside, "status"], marked.loc[aside, "note"] = "invalid", "set aside"
    fig = memory_depth.build(marked)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(f"no peak RSS of {fw}" in t and "set aside as wrong" in t for t in texts)
    assert memory_depth.rss_absence(tidy, fw) == "none measured in this run"


@pytest.mark.slow
def test_missing_data_skips_with_a_message(tidy, tmp_path, capsys):
    memory_only = tidy[tidy["suite"] == "memory"]
    plots.build_all(memory_only, tmp_path)
    out = capsys.readouterr().out
    assert "crossover_map: skipped" in out and "cost_curves: skipped" in out
    assert (tmp_path / "memory_depth.svg").exists() and not (tmp_path / "crossover_map.svg").exists()
    plots.build_all(tidy.iloc[0:0], tmp_path / "empty")
    assert "tradeoff: skipped" in capsys.readouterr().out


@pytest.mark.slow
def test_figures_drawn_on_forked_processes_match_one_process(asv_dir, tmp_path, monkeypatch):
    """`adcost plots` (a process without a framework imported) draws the figures on a process
    per CPU: the same files, and each figure's message in FIGURES' order; a process with a
    framework imported (this test's) draws them itself."""
    import subprocess
    code = ("import sys; from adcost.analysis import load, plots; "
            "df = load.load_asv(sys.argv[1]); assert not plots._fork_unsafe(); "
            "plots.FIGURES = plots.FIGURES[3:5]; plots.render_figures(df, sys.argv[2], workers=2)")
    out = subprocess.run([sys.executable, "-c", code, str(asv_dir), str(tmp_path / "forked")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    names = [line.split(":")[0] for line in out.stdout.splitlines()]
    assert names == [module.NAME for module in plots.FIGURES[3:5]]
    import jax  # noqa: F401  (a framework with threads of its own)
    assert plots._fork_unsafe()
    monkeypatch.setattr(plots, "FIGURES", plots.FIGURES[3:5])
    plots.render_figures(load.load_asv(asv_dir), tmp_path / "here", workers=2)
    forked = sorted(p.name for p in (tmp_path / "forked").iterdir())
    assert forked and forked == sorted(p.name for p in (tmp_path / "here").iterdir())


def test_plots_main_without_results(tmp_path, capsys):
    assert plots.main(["--results", str(tmp_path / "none")]) == 2
    assert "no asv results" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_tidy_and_site_main_without_results(tmp_path, capsys):
    """No results where --results points: one line on stderr, exit 2, no folder made."""
    from adcost.analysis import load, site
    assert load.main(["--results", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "no asv results" in err and len(err.strip().splitlines()) == 1
    assert site.main(["--results", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "no results folder at" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "none").exists()
    empty = tmp_path / "empty"                  # a folder that holds no run: nothing written in it
    empty.mkdir()
    assert site.main(["--results", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no results in" in err and len(err.strip().splitlines()) == 1
    assert list(empty.iterdir()) == []


# -- advisor ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grid_only(tidy):
    """The fixture run without its width study: advise falls back to the measured n x m grid."""
    return tidy[~tidy["benchmark"].str.contains("Width")]


@pytest.mark.parametrize("n, m, framework, mode", [
    (8, 512, "torch", "jacfwd"), (512, 8, "torch", "jacrev"), (64, 64, "torch", "jacfwd"),
    (64, 64, "jax", "jacfwd"), (100, 60, "jax", "jacfwd"), (150, 60, "jax", "jacrev"),
    (30, 40, "torch", "jacfwd"), (60, 40, "torch", "jacrev")])
def test_advisor_known_answers(grid_only, n, m, framework, mode):
    a = advise.advise(grid_only, n, m, framework=framework)
    assert a.best.mode == mode, advise.format_advice(a)
    pred = {p.mode: p.seconds for p in a.predictions}
    c = fx.C_FWD[framework] * n if mode == "jacfwd" else fx.C_REV[framework] * m
    assert pred[mode] == pytest.approx(c * fx.T_F[framework], rel=0.08)
    assert "torch.func" in a.best.api or "jax." in a.best.api


def test_advisor_extrapolation_and_depth(grid_only):
    a = advise.advise(grid_only, 2048, 2, depth=16, framework="jax")
    assert a.best.mode == "jacrev" and a.best.extrapolated
    assert any("outside the measured range" in note for note in a.notes)
    # depth 16 vs the sweep's depth 4: 4x the time; m = 2 extrapolates c_rev·m·T_f
    assert a.best.seconds == pytest.approx(4 * fx.C_REV["jax"] * 2 * fx.T_F["jax"], rel=0.1)


def test_advisor_offers_the_gradient_for_one_output(grid_only):
    """For m = 1 the Jacobian is the gradient: one VJP, measured by crossover.Products, is
    among the modes (for m > 1 it gives one row only and is not)."""
    a = advise.advise(grid_only, 64, 1, framework="jax")
    vjp = {p.mode: p for p in a.predictions}["vjp"]
    assert vjp.seconds == pytest.approx(fx.C_REV["jax"] * fx.T_F["jax"], rel=0.08)
    assert "the gradient" in vjp.api and not vjp.extrapolated
    assert "vjp" not in {p.mode for p in advise.advise(grid_only, 64, 2, framework="jax").predictions}


def test_advisor_does_not_extrapolate_the_grid_far(grid_only, tidy):
    """Beyond GRID_REACH x the measured n x m grid (512 here) a grid-only mode is left out with
    a note; with nothing else to predict from, one clear error.  The cost model's modes go on."""
    with pytest.raises(advise.NoResults, match="more than 4x beyond the n x m grid"):
        advise.advise(grid_only, 4096, 2, framework="jax")
    a = advise.advise(tidy, 4096, 2, framework="jax")
    assert {p.source for p in a.predictions} == {"cost model"}
    assert any("left out jax jacfwd_loop, jax jacrev_loop" in note for note in a.notes)


def test_advisor_scales_the_model_by_the_measured_depth_sweep_and_stops_beyond_it(tidy):
    """At another depth the cost model's prediction at its own depth is scaled by the mode's
    measured T(depth) / T(fitted depth); beyond DEPTH_REACH x the depths measured (1-64 here)
    nothing is predicted: one clear error."""
    from adcost.analysis import costmodel
    report = costmodel.report(tidy)
    fit = costmodel.fits_from(report)["jax", "jacrev"]
    at_fit = float(fit.predict(*costmodel.work("jacrev", 16, 64, report["depth"], 256)))
    sweep = advise._ok(tidy, "JacobianDepth.time_jacobian")
    rows = sweep[(sweep["framework"] == "jax") & (sweep["op"] == "jacrev")]
    a = advise.advise(tidy, 16, 64, depth=32, framework="jax", width=256)
    pred = {p.mode: p for p in a.predictions}
    assert pred["jacrev"].seconds == pytest.approx(
        at_fit * advise.depth_factor(rows, 32, report["depth"]), rel=1e-9)
    assert advise.advise(tidy, 16, 64, depth=100, framework="jax", width=256).best.extrapolated
    with pytest.raises(advise.NoResults, match="beyond the depths the run measured .1-64."):
        advise.advise(tidy, 16, 64, depth=1000, framework="jax", width=256)


def test_advisor_says_when_the_network_would_not_fit_in_memory(tidy, monkeypatch):
    from adcost import envvars
    monkeypatch.setattr(envvars, "available_memory", lambda: 2 ** 30)       # 1 GiB
    a = advise.advise(tidy, 16, 64, framework="jax", width=32768)          # 4 x 4 GiB of weights
    assert any("GiB of float32 weights, more than the 1 GiB" in note for note in a.notes)
    a = advise.advise(tidy, 16, 64, framework="jax", width=256)
    assert not any("float32 weights" in note for note in a.notes)


def test_advisor_with_a_dimension_measured_once(grid_only):
    """torch jacfwd_loop lost n = 512 (null); on the 8/512 grid it keeps n = 8 only: slope 1 in n assumed."""
    tidy = grid_only
    sub = tidy[(tidy["n"].isna() | tidy["n"].isin([8, 512])) & (tidy["m"].isna() | tidy["m"].isin([8, 512]))]
    a = advise.advise(sub, 100, 30, framework="torch")
    pred = {p.mode: p for p in a.predictions}
    assert a.best.mode == "jacrev" and pred["jacfwd_loop"].extrapolated
    assert pred["jacfwd_loop"].seconds == pytest.approx(fx.LOOP * fx.C_FWD["torch"] * 100 * fx.T_F["torch"], rel=0.1)


def test_the_cost_model_figure_has_a_row_per_framework_with_a_modelled_jacobian(tidy):
    """A framework with a batched primal and rates but no Jacobian (fd) gets no row: the row's
    panels would all be hidden, a blank band across the figure.  JAX's jacfwd_vmap has a row of
    its own, in jacfwd's place (its times over n, its regimes, its crossover with jacrev)."""
    import pandas as pd
    from adcost.analysis import cost_model
    extra = tidy[(tidy["framework"] == "torch") & tidy["benchmark"].isin(
        ["crossover.PrimalWidth.time_primal", "roofline.Matmul.track_flops_per_s",
         "roofline.Bandwidth.track_bytes_per_s"])].assign(framework="fd")
    fig = cost_model.build(pd.concat([tidy, extra]))
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 4 * 3 and not any(t.startswith("fd") for t in titles)
    assert any(t.startswith("jax jacfwd (") for t in titles) and any(t.startswith("torch") for t in titles)
    vmap = [t for t in titles if "jacfwd_vmap" in t]
    assert len(vmap) == 3 and all(t.startswith("jax") for t in vmap)   # over n, regimes, crossover


def test_advisor_uses_the_cost_model_of_the_width_study(tidy):
    """The fixture's width study was timed by the model with known constants: advise predicts
    jacfwd and jacrev from it (interval, regime), at the width asked."""
    from adcost.analysis import costmodel
    a = advise.advise(tidy, 16, 64, framework="torch", width=256)
    pred = {p.mode: p for p in a.predictions}
    truth = fx.model_time("torch", "jacfwd", 256, 16, 64)
    assert pred["jacfwd"].seconds == pytest.approx(truth, rel=0.1)
    assert pred["jacfwd"].low < pred["jacfwd"].seconds < pred["jacfwd"].high
    assert pred["jacfwd"].regime in costmodel.REGIMES and pred["jacfwd"].source == "cost model"
    assert not pred["jacfwd"].extrapolated and "jacfwd_loop" not in pred   # grid modes: width 64 only
    assert any("measured at width 64 only" in note for note in a.notes)
    far = advise.advise(tidy, 16, 64, framework="torch", width=4096)
    assert all(p.extrapolated for p in far.predictions)


def test_advise_json_lists_predictions_best_first(asv_dir, capsys):
    import json
    assert cli.main(["advise", "--n", "16", "--m", "64", "--width", "256", "--json",
                     "--results", str(asv_dir)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"framework", "mode", "predicted_s", "low_s", "high_s", "regime", "extrapolated"} <= set(rows[0])
    assert [r["predicted_s"] for r in rows] == sorted(r["predicted_s"] for r in rows)
    assert {r["mode"] for r in rows} == {"jacfwd", "jacfwd_vmap", "jacrev"}
    assert not any(r["extrapolated"] for r in rows)
    assert rows[0]["over_best"] == 1.0 and not rows[0]["tied_with_best"]
    best = rows[0]
    for r in rows[1:]:
        assert r["over_best"] == pytest.approx(r["predicted_s"] / best["predicted_s"])
        assert r["tied_with_best"] == (r["framework"] == best["framework"]
                                       and r["over_best"] <= advise.TIE)
    # the model's jacfwd_vmap: JAX's only (torch has no such mode), predicted as the fixture timed it
    vmap = [r for r in rows if r["mode"] == "jacfwd_vmap"]
    assert [r["framework"] for r in vmap] == ["jax"]
    assert vmap[0]["predicted_s"] == pytest.approx(fx.model_time("jax", "jacfwd_vmap", 256, 16, 64),
                                                   rel=0.1)
    # each row's work: the model's analytic count at these sizes (not the products' seconds)
    from adcost.analysis import costmodel
    for r in rows:
        assert r["flops"] == costmodel.work(r["mode"], 16, 64, 4, 256).flops
    assert cli.main(["advise", "--n", "16", "--m", "64", "--width", "256",
                     "--results", str(asv_dir)]) == 0
    (work,) = [line for line in capsys.readouterr().out.splitlines() if "work (the model" in line]
    fewer = "forward" if costmodel.work("jacfwd", 16, 64, 4, 256).flops < \
        costmodel.work("jacrev", 16, 64, 4, 256).flops else "reverse"
    assert f"{fewer} mode does" in work and "GFLOP/s" in work
    with pytest.raises(SystemExit) as info:
        cli.main(["advise", "--n", "16", "--m", "64", "--width", "0", "--results", str(asv_dir)])
    assert info.value.code == 2 and "--width" in capsys.readouterr().err


def test_advice_says_when_the_best_mode_is_not_told_apart_from_another():
    """Modes of the best's framework predicted within TIE of the best are named as fast: the
    side-by-side timings do not tell them apart; other frameworks and finite differences are
    not, and nothing is said when no mode is that close."""
    P = advise.Prediction
    fast = P("jax", "jacfwd", 1.0e-3, False, "jax.jacfwd")
    near = P("jax", "jacrev", 1.0e-3 * (advise.TIE - 0.01), False, "jax.jacrev")
    far = P("jax", "jacfwd_vmap", 1.0e-3 * (advise.TIE + 0.01), False, "vmap")
    other = P("torch", "jacrev", 1.01e-3, False, "torch.func.jacrev")
    fd = P("jax", "fd", 1.01e-3, False, "finite differences")
    a = advise.Advice(32, 64, None, [fast, near, other, fd, far], "fixture")
    assert a.best is fast and a.tied == [near]
    text = advise.format_advice(a)
    assert "as fast here: jacrev (1.14x)" in text and "does not tell jax's modes within" in text
    records = {(r["framework"], r["mode"]): r for r in a.as_records()}
    assert [k for k, r in records.items() if r["tied_with_best"]] == [("jax", "jacrev")]
    assert records["jax", "jacfwd_vmap"]["over_best"] == pytest.approx(advise.TIE + 0.01)
    alone = advise.Advice(32, 64, None, [fast, far, other], "fixture")
    assert alone.tied == [] and "as fast here" not in advise.format_advice(alone)


def test_a_tie_note_quotes_what_the_same_pair_of_modes_cost_when_tied_in_the_run():
    """The note under a tie quotes the run's `decisions` of the tied pair's forward mode
    against jacrev; a tie of two forward modes, or of modes from the measured grid, quotes none
    (the latter gets no note: the model did not call it)."""
    P = advise.Prediction

    def note(best, other, source="cost model"):
        a = advise.Advice(16, 64, None, [P("jax", best, 1e-3, False, best, source=source),
                                         P("jax", other, 1.1e-3, False, other, source=source)], "x")
        report = {"decisions": {"all": {"points": 460, "tied": 77, "worst_tied": 1.44}},
                  "other_forward": {"jacfwd_vmap": {"decisions": {
                      "all": {"points": 105, "tied": 15, "worst_tied": 1.5}}}}}
        advise._note_ties(a, report)
        return a.notes
    assert "jacfwd and jacrev tied (77 of 460" in note("jacrev", "jacfwd")[0]
    assert "jacfwd_vmap and jacrev tied (15 of 105" in note("jacfwd_vmap", "jacrev")[0]
    only = note("jacfwd", "jacfwd_vmap")
    assert len(only) == 1 and "tied (" not in only[0] and "adcost profile" in only[0]
    assert note("jacfwd_loop", "jacrev_loop", source="measured grid") == []


def test_advise_answers_for_a_framework_the_model_covers_without_n_x_m_results(asv_dir):
    """The full grid times torch_compile in the width study only: a framework with a cost model
    and no JacobianNM rows is advised from the model; one with neither is one clear error."""
    df = load.load_asv(asv_dir)
    df = df[~((df["framework"] == "jax") & df["benchmark"].astype(str).str.contains("JacobianNM"))]
    a = advise.advise(df, 16, 64, framework="jax", width=256)
    assert {(p.framework, p.mode) for p in a.predictions} == {("jax", "jacfwd"), ("jax", "jacfwd_vmap"),
                                                             ("jax", "jacrev")}
    assert all(p.source == "cost model" for p in a.predictions)
    with pytest.raises(advise.NoResults, match="framework 'nope'.*have: .*jax"):
        advise.advise(df, 16, 64, framework="nope")
    # your own run without the crossover study (a sweep --only of other groups): the message
    # names the committed reference run, which has it
    other = df[df["benchmark"].astype(str).str.startswith("roofline.")]
    with pytest.raises(advise.NoResults, match="no crossover.JacobianNM.*the committed reference "
                                               "run: --results "):
        advise.advise(other, 16, 64, source="results (your results: a partial run)")


def test_advise_cli(asv_dir, tmp_path, capsys):
    assert cli.main(["advise", "--n", "8", "--m", "512", "--framework", "jax", "--results", str(asv_dir)]) == 0
    out = capsys.readouterr().out
    assert "use jax jacfwd" in out and "jax.jit(jax.jacfwd(f))" in out and str(asv_dir) in out
    assert cli.main(["advise", "--n", "8", "--m", "5", "--results", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("adcost: error: no measured results") and "\n" not in err


def test_advise_outside_the_checkout_names_the_installed_reference(tmp_path, monkeypatch, capsys):
    """Run from another folder: nothing is read unasked, but the message names the checkout's
    committed reference run, which --results then reads."""
    from adcost import paths
    installed = paths.installed_reference()
    if installed is None:
        pytest.skip("not an editable install of a checkout with results/reference")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["advise", "--n", "8", "--m", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(tmp_path) in err
    assert err.endswith(f"the committed reference run: --results {installed})")


def test_advisor_leaves_out_what_cannot_run_the_problem(tidy):
    """A problem using an operation the NumPy engine lacks: numpy modes are left out, named."""
    import adcost
    p = adcost.custom_problem("uses_arcsinh", lambda xp, x: xp.arcsinh(x), 3, 3, [0.1, 0.2, 0.3])
    with_numpy = tidy.assign(framework=tidy["framework"].replace({"jax": "numpy"}))
    a = advise.advise(with_numpy, 0, 0, problem=p)
    assert (a.n, a.m) == (3, 3)
    assert all(pred.framework != "numpy" for pred in a.predictions)
    assert any("left out numpy" in note and "arcsinh" in note for note in a.notes)
    text = advise.format_advice(a)
    assert "predictions from the MLP crossover study" in text and "adcost profile" in text


def test_advise_cli_problem(asv_dir, capsys):
    assert cli.main(["advise", "--problem", "lse", "--size", "n=50", "--results", str(asv_dir)]) == 0
    out = capsys.readouterr().out
    assert "R^50 -> R^1" in out and "not measurements of lse" in out
    assert cli.main(["advise", "--problem", "lse", "--n", "3", "--results", str(asv_dir)]) == 2
    assert cli.main(["advise", "--m", "3", "--results", str(asv_dir)]) == 2



GMM = "gmm:d=2,k=5,points=200"


def workload_rows(label: str, n: int, m: int, times: dict, skipped=()) -> pd.DataFrame:
    """Rows of the workload study (workloads.Workload) at one label: (framework, op) -> seconds,
    with the samples' quartiles at 0.9 and 1.1 of it; `skipped`: (framework, op) skipped there."""
    rows = [{"framework": fw, "op": op, "value": t, "q25": 0.9 * t, "q75": 1.1 * t,
             "status": "ok"} for (fw, op), t in times.items()]
    rows += [{"framework": fw, "op": op, "value": np.nan, "q25": np.nan, "q75": np.nan,
              "status": "skipped"} for fw, op in skipped]
    return pd.DataFrame(rows).assign(benchmark="workloads.Workload.time_workload",
                                     workload=label, problem=label.partition(":")[0], n=n, m=m)


@pytest.fixture(scope="module")
def with_gmm(tidy):
    gmm = workload_rows(GMM, 30, 1, {("jax", "grad"): 1e-4, ("jax", "jacfwd"): 3e-3,
                                     ("numpy", "jacrev"): 2e-4, ("fd", "fd"): 1e-5,
                                     ("jax", "primal"): 5e-5, ("numpy", "primal"): 8e-5},
                        skipped=[("torch", "jacfwd"), ("fd", "jacfwd")])
    return pd.concat([tidy, gmm], ignore_index=True)


def test_advise_answers_a_measured_problem_from_its_own_times(with_gmm):
    """At sizes the run's workload study measured, advise answers from those times of the
    problem (best exact mode first, the samples' quartiles as the interval), not from the MLP
    study; the seed does not change what was timed; other sizes get the MLP study's
    predictions and a note naming the measured sizes."""
    from adcost.problems import make_problem
    sizes = {"d": 2, "k": 5, "points": 200}
    a = advise.advise(with_gmm, 0, 0, problem=make_problem("gmm", **sizes), sizes=sizes)
    assert a.measured == GMM and (a.n, a.m) == (30, 1)
    assert [(p.framework, p.mode) for p in a.predictions] == [
        ("fd", "fd"), ("jax", "grad"), ("numpy", "jacrev"), ("jax", "jacfwd")]
    assert (a.best.framework, a.best.mode) == ("jax", "grad")       # fd is never recommended
    assert a.best.low == pytest.approx(0.9e-4) and a.best.high == pytest.approx(1.1e-4)
    assert all(p.source == "measured workload" and not p.extrapolated for p in a.predictions)
    assert any("skipped in the run): torch jacfwd" in note for note in a.notes)
    assert any("0.05 ms in jax" in note for note in a.notes)
    text = advise.format_advice(a)
    assert "measurements of gmm at these sizes" in text and "MLP" not in text
    assert "use jax grad" in text and "measured 0.1 ms" in text
    seeded = advise.advise(with_gmm, 0, 0, problem=make_problem("gmm", seed=3, **sizes),
                           sizes={**sizes, "seed": 3})
    assert seeded.measured == GMM
    other = {"d": 2, "k": 4, "points": 200}
    b = advise.advise(with_gmm, 0, 0, problem=make_problem("gmm", **other), sizes=other)
    assert b.measured is None and b.predictions
    assert all(p.source != "measured workload" for p in b.predictions)
    assert any("measured gmm at d=2,k=5,points=200" in note for note in b.notes)
    assert "predictions from the MLP crossover study" in advise.format_advice(b)


def test_advise_leaves_the_gradient_out_for_several_outputs_and_falls_back_per_framework(with_gmm):
    """A measured problem with m > 1 is not offered a gradient; a framework the workload study
    did not measure there is answered from the MLP study, with a note."""
    from adcost.problems import make_problem
    sizes = {"systems": 2, "steps": 3}
    label = "trajectory:systems=2,steps=3"
    p = make_problem("trajectory", **sizes)
    df = pd.concat([with_gmm, workload_rows(label, p.n, p.m, {("jax", "jacfwd"): 2e-4,
                                                             ("jax", "grad"): 1e-4},
                                            skipped=[("torch", "jacfwd")])], ignore_index=True)
    a = advise.advise(df, 0, 0, problem=p, sizes=sizes)
    assert [(q.framework, q.mode) for q in a.predictions] == [("jax", "jacfwd")]
    b = advise.advise(df, 0, 0, problem=p, sizes=sizes, framework="torch")
    assert b.measured is None and any("but not with torch" in note for note in b.notes)


def test_advise_cli_answers_a_measured_problem(with_gmm, tmp_path, capsys):
    where = tmp_path / "tidy.csv.gz"
    with_gmm.to_csv(where, index=False)
    assert cli.main(["advise", "--problem", "gmm", "--size", "d=2", "--size", "k=5", "--size",
                     "points=200", "--json", "--results", str(where)]) == 0
    rows = __import__("json").loads(capsys.readouterr().out)
    assert [r["mode"] for r in rows] == ["fd", "grad", "jacrev", "jacfwd"]
    assert {r["from"] for r in rows} == {"measured workload"}
    assert rows[1]["low_s"] == pytest.approx(0.9e-4) and rows[1]["regime"] is None


# -- compare ----------------------------------------------------------------------------
def test_compare_flags_only_real_slowdowns(asv_dir, tmp_path, capsys):
    same = fx.write_results(tmp_path / "same", commit="1" * 40, seed=7)
    slow = fx.write_results(tmp_path / "slow", commit="2" * 40, seed=8, slow=1.5)
    base = load.load_asv(asv_dir)
    table = compare.compare(base, load.load(same))
    # every measurement but the side-by-side ratios (compared by where they cross 1)
    directed = (base["status"] == "ok") & ~base["unit"].isin(compare.NO_DIRECTION)
    assert (base["unit"] == "ratio").any()
    assert (table["change"] == "worse").sum() == 0 and len(table) == int(directed.sum())
    table = compare.compare(base, load.load(slow))
    worse = table[table["change"] == "worse"]
    assert set(worse["benchmark"]) == {"crossover.JacobianNM.time_jacobian"}
    assert len(worse) == len(load.measured(base, "JacobianNM.time_jacobian"))
    assert cli.main(["compare", str(asv_dir), str(slow), "--strict"]) == 1
    assert f"slower or bigger: {len(worse)}" in capsys.readouterr().out


def _side_by_side(ratios: pd.DataFrame, column: str) -> pd.DataFrame:
    """Tidy rows of crossover.SideBySide from a table of ratios (framework, width, n, m, column)."""
    from adcost.analysis.costmodel import SIDE_BY_SIDE
    return ratios.assign(benchmark=SIDE_BY_SIDE, status="ok", unit="ratio", value=ratios[column],
                         op="", problem="mlp", machine="vm", commit="0" * 40,
                         date="2026-12-03")[
        ["benchmark", "status", "unit", "value", "framework", "op", "problem", "n", "m", "width",
         "machine", "commit", "date"]]


def test_compare_tells_which_measured_crossovers_moved(tmp_path, capsys):
    ns = [4, 16, 64, 256, 1024]
    line = lambda fw, m, ratios: pd.DataFrame({"framework": fw, "width": 64, "n": ns, "m": m,
                                               "r": ratios})
    a = pd.concat([line("jax", 4, [0.5, 0.8, 1.5, 3, 9]),       # crosses between 16 and 64
                   line("tf", 64, [0.5, 0.8, 1.5, 3, 9]),
                   line("torch", 4, [1.01, 2, 3, 4, 5]),         # 1 at the grid's first n
                   line("numpy", 4, [2, 3, 4, 5, 6])])           # never crosses
    b = pd.concat([line("jax", 4, [0.5, 0.85, 1.4, 3, 9]),      # the same crossing, nearly
                   line("tf", 64, [0.3, 0.4, 0.5, 0.8, 1.5]),    # crosses near 600: moved
                   line("torch", 4, [0.97, 2, 3, 4, 5]),
                   line("numpy", 4, [2, 3, 4, 5, 6])])
    table = compare.crossover_changes(_side_by_side(a, "r"), _side_by_side(b, "r"))
    change = table.set_index("framework")["change"].to_dict()
    assert change == {"jax": "same", "tf": "moved", "torch": "one run", "numpy": "neither"}
    tf = table.set_index("framework").loc["tf"]
    assert 16 < tf["n_a"] < 64 and 256 < tf["n_b"] < 1024 and tf["ratio"] > 4
    text = compare.crossover_report(table)
    assert "4 lines, 2 cross in both, 1 of them within 1.5x" in text
    assert "moved beyond 1.5x: 1" in text and "tf width=64 m=64" in text
    assert "cross in one run only" in text and "torch width=64 m=4: n none -> " in text
    # another forward mode timed against jacrev (crossover.SideBySideForward): its lines apart
    from adcost.analysis.costmodel import SIDE_BY_SIDE_FORWARD
    vmap = [_side_by_side(line("jax", 64, ratios), "r").assign(benchmark=SIDE_BY_SIDE_FORWARD,
                                                                op="jacfwd_vmap")
            for ratios in ([0.5, 0.8, 1.5, 3, 9], [0.3, 0.4, 0.5, 0.8, 1.5])]
    both = compare.crossover_changes(pd.concat([_side_by_side(a, "r"), vmap[0]]),
                                     pd.concat([_side_by_side(b, "r"), vmap[1]]))
    assert both.set_index("forward").loc["jacfwd_vmap", "change"] == "moved"
    assert (both["forward"] == "jacfwd").sum() == len(table)
    text = compare.crossover_report(both)
    assert "measured crossovers of jacfwd_vmap against jacrev (side-by-side ratios in both runs): " \
           "1 lines, 1 cross in both, 0 of them within 1.5x" in text
    assert text.index("of jacfwd_vmap") > text.index("tf width=64 m=64")
    # from the shell: two tidy tables, the crossover lines after the measurements' table
    paths = []
    for name, frame in (("a", a), ("b", b)):
        paths.append(tmp_path / f"{name}.csv")
        _side_by_side(frame, "r").drop(columns="date" if name == "b" else []).to_csv(paths[-1], index=False)
    assert cli.main(["compare", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    assert "moved beyond 1.5x: 1" in out
    # a ratio of two modes' times is neither slower nor faster: never in the measurements' table
    assert "slower or bigger: 0" in out and "faster or smaller: 0" in out
    assert compare.compare(_side_by_side(a, "r"), _side_by_side(b, "r")).empty


def test_compare_finds_the_committed_side_by_side_repeat():
    """The AMD run's side-by-side group and its repeat (results/reference/machines): the
    figures docs/costmodel.md and the README quote, and compare's 1.5x."""
    ratios = pd.read_csv(ROOT / "results" / "reference" / "machines" / "vm-amd-epyc"
                         / "side_by_side_repeat.csv")
    table = compare.crossover_table(*(ratios.rename(columns={run: "ratio"})
                                      for run in ("ratio_sweep", "ratio_repeat")))
    counts = table["change"].value_counts().to_dict()
    assert len(table) == 65 and counts["same"] == 39 and counts["moved"] == 1
    assert counts["one run"] == 6
    moved = table[table["change"] == "moved"].iloc[0]
    assert (moved["framework"], moved["width"], moved["m"]) == ("jax", 16, 64)


def test_compare_higher_is_better_units():
    def frame(v):
        return load.tidy([{"benchmark": "roofline.Matmul.track_flops_per_s", "framework": "jax", "size": 64,
                           "value": v, "unit": "flop/s", "status": "ok"}])
    assert compare.compare(frame(1e10), frame(5e9))["change"].tolist() == ["worse"]
    assert compare.compare(frame(1e10), frame(2e10))["change"].tolist() == ["better"]


def test_workloads_figure_takes_the_best_mode_of_each_family():
    import pandas as pd
    from adcost.analysis import workloads as wfig
    rows = []
    for size, scale in ((10, 1.0), (100, 10.0)):
        for op, seconds in (("primal", 1e-4), ("jacfwd", 5e-3), ("jacrev", 8e-4), ("grad", 6e-4), ("fd", 2e-2)):
            rows.append({"benchmark": "workloads.Workload.time_workload", "problem": "gmm", "framework": "jax",
                         "op": op, "size": size, "value": seconds * scale, "status": "ok"})
        rows.append({"benchmark": "workloads.BABlocks.time_blocks", "problem": "ba_blocks", "framework": "jax",
                     "op": "jacfwd_seeded", "size": size, "value": 1e-3 * scale, "status": "ok"})
        rows.append({"benchmark": "workloads.BABlocks.time_blocks", "problem": "ba_blocks", "framework": "jax",
                     "op": "primal", "size": size, "value": 1e-4 * scale, "status": "ok"})
    df = pd.DataFrame(rows)
    best = wfig.best_per_family(load.measured(df, "Workload.time_workload"))
    reverse = best[best["family"] == "reverse"].sort_values("size")
    assert list(reverse["op"]) == ["grad", "grad"] and np.allclose(reverse["value"], [6e-4, 6e-3])
    fig = wfig.build(df)
    assert len(fig.axes) == 4     # gmm and BA by blocks, times and ratios


def test_every_figure_module_runs_as_its_usage_line_says(monkeypatch, capsys):
    """`python -m adcost.analysis.<figure>` (what each figure's --help prints) parses its
    arguments and runs: a module without a __main__ guard printed nothing and exited 0."""
    import runpy
    import warnings
    for module in plots.FIGURES:
        name = module.__name__
        monkeypatch.setattr(sys, "argv", [name, "--help"])
        with warnings.catch_warnings(), pytest.raises(SystemExit) as exit_:
            warnings.simplefilter("ignore", RuntimeWarning)   # runpy: the module is imported
            runpy.run_module(name, run_name="__main__")
        assert exit_.value.code in (0, None) and "usage:" in capsys.readouterr().out, name


def test_tensorflows_pool_blind_peak_rss_is_set_aside(tmp_path):
    """A run whose probes read TensorFlow's RSS while oneDNN's pool held its pages (oneDNN on,
    peak_rss_probe before 2) keeps those values as "invalid", with a note; every figure reads
    "ok" rows only.  Other frameworks, runs that ran TensorFlow without oneDNN (before
    946e3a2: no TF_ENABLE_ONEDNN_OPTS recorded) and runs whose probes read the pool keep them."""
    import json
    from adcost.analysis import load
    name = "memory.PeakRSS.track_peak_rss_bytes"

    def rows(env):
        path = tmp_path / "r.json"
        path.write_text(json.dumps({
            "commit_hash": "c" * 40, "env_name": "e", "date": 1, "python": "3.11",
            "params": {"machine": "m"}, "result_columns": ["result", "params"],
            "adcost_environment": env,
            "results": {name: [[1.1e6, 138e6], [["'tf'", "'torch'"], ["'none'"], ["64"]]]}}))
        df = load.tidy(load.result_rows(path, {name: {"param_names": ["framework", "strategy",
                                                                        "depth"]}}))
        return dict(zip(df["framework"], df["status"])), df

    status, df = rows({"threads": {"TF_ENABLE_ONEDNN_OPTS": None}})
    assert status == {"tf": "invalid", "torch": "ok"}
    assert "oneDNN" in df.loc[df["framework"] == "tf", "note"].iloc[0]
    assert load.measured(df, "PeakRSS.track_peak_rss_bytes")["framework"].tolist() == ["torch"]
    assert rows({"threads": {"TF_ENABLE_ONEDNN_OPTS": None}, "peak_rss_probe": 2})[0]["tf"] == "ok"
    assert rows({"threads": {}})[0]["tf"] == "ok"                       # before 946e3a2
    assert rows({"threads": {"TF_ENABLE_ONEDNN_OPTS": "0"}})[0]["tf"] == "ok"


def test_every_result_records_what_its_peak_rss_probes_read():
    from adcost.measure.environment import environment
    from adcost.measure.memory import PROBE_VERSION
    assert environment()["peak_rss_probe"] == PROBE_VERSION == 2
