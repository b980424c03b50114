"""Checkpointing as an operation: the analytic bytes against torch's saved tensors and the
NumPy engine's ledger, every schedule's gradient against the plain one, skips and probes."""
import inspect
import sys
import time

import numpy as np
import pytest

from adcost import checkpoint, prepare
from adcost.checkpoint import analytic_bytes, saved_bytes, study_case, unsupported_reason
from adcost.checkpoint.schedules import Sizes, analytic, binomial_cost, segments, stored_indices
from adcost.frameworks.base import REGISTRY, FrameworkMissing, Unsupported, missing_reason
from adcost.validate import ValidationError

SMALL = {"width": 8, "batch": 5, "outputs": 3, "slots": 2}
PRESENT = [f for f in checkpoint.frameworks() if missing_reason(f) is None]
# TensorFlow's import and tracing alone take seconds: its cases run in the slow tier
EACH = [pytest.param(f, marks=pytest.mark.slow) if f == "tf" else f for f in PRESENT]


def schedules(framework):
    return REGISTRY[framework].record.schedules


@pytest.mark.needs("torch")
@pytest.mark.parametrize("depth", [1, 2, 5, 9, 16])
@pytest.mark.parametrize("strategy", ["none", "every_2", "every_4", "sqrt", "per_layer",
                                      "sqrt_sequential", "binomial"])
def test_analytic_equals_torch_saved_bytes(strategy, depth):
    case = study_case("torch", strategy, depth, dtype="float64", **SMALL)
    assert saved_bytes(case) == analytic_bytes(case)["stored_bytes"]


@pytest.mark.parametrize("depth", [1, 4, 7, 12])
@pytest.mark.parametrize("strategy", schedules("numpy"))
def test_analytic_equals_numpy_ledger(strategy, depth):
    case = study_case("numpy", strategy, depth, dtype="float64", **SMALL)
    assert saved_bytes(case) == analytic_bytes(case)["stored_bytes"]
    assert case.source.rules.last_ledger.peak == analytic_bytes(case)["peak_bytes"]


@pytest.mark.parametrize("framework", EACH)
@pytest.mark.parametrize("depth", [1, pytest.param(6, marks=pytest.mark.slow),
                                   pytest.param(13, marks=pytest.mark.slow)])
def test_every_strategy_matches_the_plain_gradient(framework, depth):
    """prepare validates each schedule against the float64 reference gradient; the output
    agrees with the framework's own plain gradient of the same problem too."""
    plain = prepare(checkpoint.study_problem(depth, **{k: v for k, v in SMALL.items() if k != "slots"}),
                    framework, "grad", warmup=0).output()
    for strategy in schedules(framework):
        case = study_case(framework, strategy, depth, dtype="float64", warmup=0, **SMALL)
        np.testing.assert_allclose(case.output(), plain, rtol=0, atol=1e-12)


def test_the_layer_loop_is_the_problem_itself():
    """The checkpointed gradient differentiates the registered mlp_loss problem: torch
    autograd of the problem's own function gives the same gradient."""
    torch = pytest.importorskip("torch")
    problem = checkpoint.study_problem(3, width=8, batch=5, outputs=3)
    x = torch.tensor(problem.x0, requires_grad=True)
    params = {k: torch.tensor(v) for k, v in problem.params.items()}
    (g,) = torch.autograd.grad(problem.fn(torch, x, params)[0], x)
    case = study_case("numpy", "sqrt", 3, dtype="float64", **SMALL)
    np.testing.assert_allclose(case.output(), g.numpy(), atol=1e-12)


def test_a_wrong_gradient_is_refused(monkeypatch):
    from adcost.frameworks import numpy_engine
    original = numpy_engine.Loss.gradient

    def off_by_one_percent(self, schedule, slots):  # the reference (plain grad) stays right
        f = original(self, schedule, slots)
        return lambda params, x: 1.01 * f(params, x)
    monkeypatch.setattr(numpy_engine.Loss, "gradient", off_by_one_percent)
    with pytest.raises(ValidationError, match="ckpt_grad/sqrt"):
        study_case("numpy", "sqrt", 4, **SMALL)


def test_formula_shapes():
    assert segments("every_4", 10) == [(0, 4, True), (4, 8, True), (8, 10, True)]
    assert segments("sqrt_sequential", 9) == [(0, 3, True), (3, 6, True), (6, 9, False)]
    assert stored_indices(segments("none", 5), 5) == {1, 2, 3, 4, 5}
    m = Sizes(depth=64, activation_bytes=512 * 64 * 4, residual_bytes=512 * 16 * 4)
    ratio = analytic("sqrt", m)["stored_bytes"] / analytic("none", m)["stored_bytes"]
    assert ratio <= 2 * 8 / 64
    assert binomial_cost(1, 3) == (1, 0) and binomial_cost(4, 0)[0] == 10


@pytest.mark.parametrize("framework", EACH)
def test_jvp_matches_the_directional_derivative(framework):
    """Forward mode's contrast: one JVP of the loss along the seeded direction = <grad, v>."""
    from adcost.checkpoint.schedules import tangent
    problem = checkpoint.study_problem(5, **{k: v for k, v in SMALL.items() if k != "slots"})
    want = adcost_grad(problem) @ tangent(problem)
    case = study_case(framework, "jvp", 5, dtype="float64", **SMALL)
    assert case.op == "jvp"
    assert case.output()[1][0] == pytest.approx(want, rel=1e-12)


def adcost_grad(problem):
    import adcost
    return adcost.grad(problem, "numpy")


@pytest.mark.parametrize("framework", EACH)
def test_forward_pass_is_the_loss_and_keeps_nothing(framework):
    case = study_case(framework, "forward", 5, dtype="float64", **SMALL)
    assert case.op == "primal" and case.error < 1e-12
    with pytest.raises(Unsupported, match="keeps nothing"):
        saved_bytes(case)


def test_an_unknown_schedule_is_refused_by_name():
    with pytest.raises(Unsupported, match="numpy has no 'sqrt_sequential' checkpoint schedule"):
        study_case("numpy", "sqrt_sequential", 4, **SMALL)
    with pytest.raises(Unsupported, match="mlp has no layers to checkpoint|needs a scalar output"):
        prepare("mlp", "numpy", "ckpt_grad", schedule="none")


def test_report_counts_the_overhead_in_forward_passes():
    """targets(): sqrt at depth 64 costs (T_sqrt - T_none) / T_forward recomputed passes."""
    from adcost.checkpoint.report import targets
    rows = [{"framework": "numpy", "strategy": s, "depth": 64, "saved_bytes": b,
             "stored_bytes": b, "time_s": t, "forward_s": 0.25, "time_overhead": t - 1,
             "recomputed_passes": (t - 1.0) / 0.25}
            for s, b, t in (("none", 640, 1.0), ("sqrt", 80, 1.3))]
    got = targets(rows, [])["numpy_sqrt_at_64"]
    assert got["saved_ratio"] == 0.125 and got["saved_met"]
    assert got["one_forward_overhead"] == 0.25
    assert got["recomputed_passes"] == pytest.approx(1.2)
    assert got["time_overhead"] == pytest.approx(0.3) and got["time_met"]


def test_missing_framework_skips(monkeypatch):
    import dataclasses
    record = dataclasses.replace(REGISTRY["torch"].record, package="adcost_no_such_package")
    monkeypatch.setattr(REGISTRY["torch"], "record", record)
    assert "not installed" in unsupported_reason("torch", "none")
    with pytest.raises(FrameworkMissing):
        study_case("torch", "none", 2, **SMALL)
    bench = pytest.importorskip("benchmarks.memory")
    with pytest.raises(NotImplementedError, match="not installed"):
        bench.Checkpoint().setup("torch", "none", 4)


def test_unsupported_pair_skips():
    bench = pytest.importorskip("benchmarks.memory")
    with pytest.raises(NotImplementedError, match="no 'per_layer_dots'"):
        bench.Checkpoint().setup("torch", "per_layer_dots", 4)


def test_asv_params_agree_with_param_names():
    bench = pytest.importorskip("benchmarks.memory")
    classes = [c for _, c in inspect.getmembers(bench, inspect.isclass) if hasattr(c, "params")]
    assert {c.__name__ for c in classes} >= {"Checkpoint", "PeakRSS", "PeakMem", "Forward", "Loss"}
    for cls in classes:
        assert len(cls.params) == len(cls.param_names), cls.__name__
        cached = 2 if hasattr(cls, "setup_cache") else 1   # asv passes setup_cache's value first
        for method in [m for m in dir(cls) if m.startswith(("time_", "track_", "peakmem_"))]:
            args = list(inspect.signature(getattr(cls, method)).parameters)[cached:]
            assert args == cls.param_names, (cls.__name__, method)
        assert list(inspect.signature(cls.setup).parameters)[cached:] == cls.param_names


@pytest.mark.needs("jax")
def test_jax_recomputes_under_its_checkpointed_schedules():
    """XLA keeps jax.checkpoint's second forward pass: each scanned schedule's optimized module
    holds more tanh computations than the plain gradient's (a CSE that folded the segments'
    recomputation back into the forward pass would leave as many), and runs more loops."""
    import re

    def compiled(strategy):
        case = study_case("jax", strategy, 16, **SMALL)
        text = case.fn.as_text()     # the case holds jit(grad) compiled ahead of its calls
        return len(re.findall(r" tanh\(", text)), len(re.findall(r" while\(", text))
    plain_tanh, plain_loops = compiled("none")
    assert plain_tanh >= 1
    for strategy in ("sqrt", "every_2", "per_layer"):
        tanh, loops = compiled(strategy)
        assert tanh > plain_tanh, (strategy, tanh, plain_tanh)
    assert compiled("sqrt")[1] > plain_loops


@pytest.mark.needs("tf")
def test_tf_recomputes_and_reports_no_saved_bytes():
    """tf.recompute_grad really recomputes (twice the tanh ops under sqrt) and the saved-bytes
    benchmark skips TensorFlow with the reason instead of failing."""
    def tanh_ops(strategy):
        case = study_case("tf", strategy, 9, **SMALL)
        graph = case.fn.get_concrete_function(*case.args).graph
        gd = graph.as_graph_def()
        nodes = list(gd.node) + [n for f in gd.library.function for n in f.node_def]
        return case, sum(n.op == "Tanh" for n in nodes)
    plain, plain_count = tanh_ops("none")
    assert plain_count == 9
    assert tanh_ops("sqrt")[1] == 18
    with pytest.raises(Unsupported, match="GradientTape"):
        saved_bytes(plain)
    bench = pytest.importorskip("benchmarks.memory")
    with pytest.raises(NotImplementedError, match="GradientTape"):
        bench.Checkpoint.track_saved_bytes.setup("tf", "none", 4)


@pytest.mark.slow
def test_every_memory_benchmark_runs_its_setup_and_methods(monkeypatch):
    """What asv does with each memory class, at the grid's smallest depth (numpy, `none`):
    class setup, the method's own setup, the method; tracks return positive figures. The
    fresh-process probes run at depth 4 and batch 512 here (the grid's RSS sizes cost seconds
    a probe), for NumPy's `none` only (the probe table's setup_cache runs every framework's)."""
    bench = pytest.importorskip("benchmarks.memory")
    monkeypatch.setattr(bench, "RSS_DEPTHS", (min(bench.DEPTHS),))
    monkeypatch.setattr(bench, "RSS_SIZES", {**bench.RSS_SIZES, "batch": 512})
    monkeypatch.setattr(bench, "FRAMEWORKS", ("numpy",))
    monkeypatch.setattr(bench, "STRATEGIES", ("none",))
    classes = [c for _, c in inspect.getmembers(bench, inspect.isclass)
               if c.__module__ == bench.__name__ and hasattr(c, "params")]
    if min(bench.RSS_DEPTHS) not in bench.GRID["asv_peakmem_depths"]:   # asv's own peakmem
        with pytest.raises(NotImplementedError, match="asv's own peakmem runs .*fresh-process"):
            bench.PeakMem().setup("numpy", "none", min(bench.RSS_DEPTHS))
        monkeypatch.setitem(bench.GRID, "asv_peakmem_depths", (min(bench.RSS_DEPTHS),))
    probes = bench.RSSProbes().setup_cache()
    assert set(probes) == {"numpy/none/4", "numpy/jvp/4"}
    for cls in classes:
        rss = cls.__name__ in ("PeakRSS", "PeakMem", "PeakForward")
        depth = min(bench.RSS_DEPTHS if rss else bench.DEPTHS)
        params = {"framework": "numpy", "strategy": "none", "depth": depth}
        args = ([probes] if hasattr(cls, "setup_cache") else []) + [
            params[name] for name in cls.param_names]
        for method in [m for m in dir(cls) if m.startswith(("time_", "track_", "peakmem_"))]:
            instance = cls()
            instance.setup(*args)
            own = getattr(getattr(cls, method), "setup", None)
            if own is not None:
                own(*args)
            out = getattr(instance, method)(*args)
            if method.startswith("track_"):
                assert out > 0, (cls.__name__, method)


def test_probe_table_raises_a_failed_probe_and_skips_other_depths():
    """A probe that failed in the table fails its benchmark with the child's error; depths the
    grid does not probe skip with the reason."""
    bench = pytest.importorskip("benchmarks.memory")
    probes = {"numpy/none/64": {"peak_rss_bytes": 7}, "numpy/jvp/64": {"error": "probe died"}}
    assert bench.peak_rss_bytes(probes, "numpy", "none", 64) == 7
    with pytest.raises(RuntimeError, match="probe died"):
        bench.PeakForward().track_jvp_bytes(probes, "numpy", 64)
    depth = next(d for d in bench.DEPTHS if d not in bench.RSS_DEPTHS)
    with pytest.raises(NotImplementedError, match="probed at depths"):
        bench.PeakRSS().setup(probes, "numpy", "none", depth)
    assert all(spec["depth"] in bench.RSS_DEPTHS for spec in bench.probe_specs().values())


def test_probes_side_by_side_get_a_cpu_group_each(monkeypatch):
    """peak_rss_many runs one probe per CPU group at a time, each child pinned to its group
    (its environment names the CPUs), and keeps a failed probe's error by its key."""
    from adcost import threads
    from adcost.measure import memory
    monkeypatch.setenv(threads.MACHINE_VARIABLE, "4,5,6,7")   # the run's CPUs, before its limit
    monkeypatch.setattr(threads, "requested", lambda: 2)
    assert memory.probe_cpu_sets() == [[4, 5], [6, 7]]
    monkeypatch.setattr(threads, "requested", lambda: 1)
    assert memory.probe_cpu_sets() == [[4], [5], [6], [7]]
    monkeypatch.setattr(threads, "requested", lambda: None)   # no limit: one CPU and thread each
    assert memory.probe_cpu_sets() == [[4], [5], [6], [7]]
    monkeypatch.setenv(threads.MACHINE_VARIABLE, "0,1,2")
    monkeypatch.setattr(threads, "requested", lambda: 1)
    seen = []

    def fake(spec, timeout=300, cpus=None):
        seen.append((spec["k"], tuple(cpus)))
        if spec["k"] == 2:
            raise RuntimeError("child failed")
        return {"peak_rss_bytes": spec["k"]}
    monkeypatch.setattr(memory, "peak_rss", fake)
    got = memory.peak_rss_many({k: {"k": k} for k in range(6)}, workers=2)
    assert got[2] == {"error": "child failed"} and got[5] == {"peak_rss_bytes": 5}
    assert {cpus for _, cpus in seen} <= {(0,), (1,)} and len(seen) == 6


@pytest.mark.slow
def test_a_probe_runs_on_the_cpus_it_is_given(tmp_path):
    """The child pins itself to ADCOST_PROBE_CPUS before it imports a framework, and a probe
    given CPUs runs one thread per CPU with TensorFlow's one inter-op thread (PROBE_ENV)."""
    import os
    import subprocess
    import sys
    from adcost.measure import memory
    cpu = max(os.sched_getaffinity(0))
    code = ("import os; from adcost.measure import memory; memory._pin_from_environment(); "
            "print(sorted(os.sched_getaffinity(0)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, memory.CPUS_VARIABLE: str(cpu)}, check=True)
    assert out.stdout.strip() == f"[{cpu}]"
    got = memory.peak_rss({"framework": "numpy", "strategy": "none", "depth": 2, **SMALL},
                          cpus=[cpu])
    assert got["env"] == memory.PROBE_ENV and got["threads"] == {"ADCOST_THREADS": "1",
                                                                  "OMP_NUM_THREADS": "1"}


def test_peak_rss_reports_the_median_window(monkeypatch):
    """One spiking window (as JAX's now and then) does not move the reported peak."""
    from adcost.measure import memory
    peaks = iter([10, 11, 17, 10, 12])
    monkeypatch.setattr(memory, "peak_above_baseline",
                        lambda run, **k: {"peak_rss_bytes": next(peaks), "baseline_bytes": 5})
    got = memory.median_window(lambda: None, windows=5)
    assert got["peak_rss_bytes"] == 11
    assert got["window_peaks_bytes"] == [10, 10, 11, 12, 17]


@pytest.mark.slow
def test_peak_rss_probe_runs_under_its_environment(monkeypatch):
    """The fresh process gets MALLOC_MMAP_THRESHOLD_ and one TF inter-op thread, and not the
    malloc thresholds the timing processes run with (sweep.timing_environ); glibc's other
    tunables pass."""
    from adcost.measure.memory import PROBE_ENV, peak_rss
    from adcost.measure.timing import TUNABLES, steady_tunables
    other = "glibc.malloc.tcache_count=7"
    monkeypatch.setenv(TUNABLES, steady_tunables(other))
    got = peak_rss({"framework": "numpy", "strategy": "none", "depth": 2, **SMALL})
    assert got["env"] == PROBE_ENV and got["tunables"] == other
    assert got["peak_rss_bytes"] >= 0 and got["validated_error"] < 1e-3


def test_paired_timing_takes_the_median_of_per_round_ratios():
    """Round r times a at (1 + r) s and b at 1.5 (1 + r) s: the machine drifts, the ratio not."""
    from adcost.measure.timing import measure_paired
    now = [0.0]
    cost = {"a": 1.0, "b": 1.5}
    calls = []

    def clock():
        return now[0]

    def runner(name):
        def run():
            calls.append(name)
            now[0] += cost[name] * (1 + (len(calls) - 1) // 2)   # round r: (1 + r) x cost
        return run
    got = measure_paired({"a": runner("a"), "b": runner("b")}, baseline="a", rounds=4,
                         number=1, clock=clock)
    assert calls == ["a", "b"] * 4                      # interleaved, not in blocks
    assert got["b"]["overhead"] == pytest.approx(0.5) and got["a"]["overhead"] == 0
    assert got["a"]["min_s"] == 1.0 and got["a"]["max_s"] == 4.0
    with pytest.raises(ValueError, match="baseline"):
        measure_paired({"a": runner("a")}, baseline="none", number=1, clock=clock)


@pytest.mark.slow
def test_overhead_by_width_rows_and_target():
    """Each width gets sqrt-vs-none with its floor T_forward / T_none; targets() reads them."""
    from adcost.checkpoint import report
    grid = {**SMALL, "slots": 2, "overhead_widths": (4, 8), "overhead_batch": 9}
    rows = report.overhead_by_width(grid, names=("numpy",), depth=4)
    assert [(r["width"], r["batch"]) for r in rows] == [(4, 9), (8, 9)]
    for r in rows:
        assert r["forward_s"] < r["none_s"] and 0 < r["floor"] < 1
        assert r["recomputed_passes"] == pytest.approx(r["overhead"] / r["floor"], rel=1e-9)
    base = [{"framework": "numpy", "strategy": s, "depth": 64, "saved_bytes": b,
             "stored_bytes": b, "time_s": t, "forward_s": 0.25, "time_overhead": t - 1,
             "recomputed_passes": (t - 1.0) / 0.25} for s, b, t in (("none", 640, 1.0), ("sqrt", 80, 1.3))]
    widths = [{"framework": "numpy", "width": 64, "overhead": 0.5, "floor": 0.3},
              {"framework": "numpy", "width": 1024, "overhead": 0.35, "floor": 0.3}]
    got = report.targets(base, [], widths)["numpy_sqrt_at_64"]
    assert got["time_met_by_width"] == {64: False, 1024: True}
    assert got["floor_by_width"][1024] == 0.3


def test_memory_setup_builds_each_case_once_per_process(monkeypatch):
    """asv re-runs setup before every sample; the samples must time the one warm case, and the
    byte counts build only what they read (no case for the analytic count, none for a
    framework that reports no saved bytes)."""
    bench = pytest.importorskip("benchmarks.memory")
    import adcost.bench
    built = []
    monkeypatch.setattr(adcost.bench, "_PREPARED", {})
    monkeypatch.setattr(bench, "_GRADIENT", {})
    monkeypatch.setattr(bench, "study_case", lambda *args, **sizes: built.append(args) or object())
    bench.Checkpoint().setup("numpy", "none", 4)
    assert bench.Checkpoint().track_analytic_bytes("numpy", "sqrt", 4) > 0 and built == []
    with pytest.raises(NotImplementedError):
        bench.Checkpoint.track_saved_bytes.setup("tf", "none", 4)
    assert built == []
    bench.Checkpoint.time_gradient.setup("numpy", "none", 4)
    first = bench._GRADIENT["case"]
    bench.Checkpoint.time_gradient.setup("numpy", "none", 4)
    assert bench._GRADIENT["case"] is first and built == [("numpy", "none", 4)]
    bench.Loss().setup("numpy", 4)
    assert built[-1] == ("numpy", "forward", 4)


@pytest.mark.parametrize("framework", [pytest.param("torch", marks=pytest.mark.needs("torch")),
                                       pytest.param("jax", marks=pytest.mark.needs("jax"))])
@pytest.mark.parametrize("depth, slots", [(1, 1), (6, 1), (6, 2), (11, 3)])
def test_binomial_holds_what_the_numpy_ledger_holds(framework, depth, slots):
    """The same schedule in each: the bytes held when the backward begins (torch: the
    checkpoints kept and what autograd saved for the step taped last; JAX: the checkpoints and
    the residuals of the head step's vjp), the gradient alike."""
    sizes = {**SMALL, "slots": slots}
    case = study_case(framework, "binomial", depth, dtype="float64", **sizes)
    numpy_case = study_case("numpy", "binomial", depth, dtype="float64", **sizes)
    assert saved_bytes(case) == saved_bytes(numpy_case) == analytic_bytes(case)["stored_bytes"]
    np.testing.assert_allclose(case.output(), numpy_case.output(), rtol=0, atol=1e-12)


def test_the_analytic_count_from_sizes_is_the_cases_own():
    from adcost.checkpoint import analytic_bytes, analytic_bytes_at, study_case
    sizes = {"width": 8, "batch": 4, "outputs": 2, "slots": 2}
    for strategy in ("none", "sqrt", "binomial", "every_2"):
        case = study_case("numpy", strategy, 6, **sizes)
        assert analytic_bytes_at(strategy, 6, **sizes) == analytic_bytes(case)


def test_peak_window_is_one_call_with_the_kernel_mark_and_repeats_without(monkeypatch):
    """Back-to-back JAX calls overlap; with the kernel's mark one call is exact, without it
    the sampler needs the call repeated for MIN_SAMPLE_S."""
    import memory_profiler
    from adcost.measure import memory
    monkeypatch.setattr(memory_profiler, "memory_usage",
                        lambda proc, **k: (1.0, proc[0]()))  # run the window, report its calls
    monkeypatch.setattr(memory, "MIN_SAMPLE_S", 0.02)
    monkeypatch.setattr(memory, "_hwm_bytes", lambda: None)
    monkeypatch.setattr(memory, "_reset_hwm", lambda: True)
    assert memory.peak_above_baseline(lambda: None)["calls"] == 1
    monkeypatch.setattr(memory, "_reset_hwm", lambda: False)
    assert memory.peak_above_baseline(lambda: time.sleep(0.001))["calls"] > 1


def test_peak_takes_the_kernel_mark_where_sampling_missed_the_top(monkeypatch):
    """memory-profiler samples every 2 ms; the kernel's high-water mark sees every page."""
    import memory_profiler
    from adcost.measure import memory
    MiB = 2 ** 20
    monkeypatch.setattr(memory, "rss_bytes", lambda: 100 * MiB)
    monkeypatch.setattr(memory, "_reset_hwm", lambda: True)
    monkeypatch.setattr(memory_profiler, "memory_usage", lambda *a, **k: (130.0, 4))
    monkeypatch.setattr(memory, "_hwm_bytes", lambda: 132 * MiB)     # sampling missed 2 MiB
    got = memory.peak_above_baseline(lambda: None)
    assert (got["peak_rss_bytes"], got["sampled_rss_bytes"], got["hwm_rss_bytes"]) == (32 * MiB, 30 * MiB, 32 * MiB)
    monkeypatch.setattr(memory, "_hwm_bytes", lambda: 129 * MiB)     # counters lag a little
    assert memory.peak_above_baseline(lambda: None)["peak_rss_bytes"] == 30 * MiB
    monkeypatch.setattr(memory, "_reset_hwm", lambda: False)         # no kernel mark: sampled
    got = memory.peak_above_baseline(lambda: None)
    assert got["peak_rss_bytes"] == 30 * MiB and got["hwm_rss_bytes"] is None


def test_a_pooling_allocators_peak_counts_where_the_rss_does_not_move(monkeypatch):
    """A framework that keeps its freed pages (TensorFlow with oneDNN) serves a warm call from
    resident pages: the RSS hardly moves, and the pool's peak above its bytes in use before the
    call (reset first) is the call's peak."""
    import memory_profiler
    from adcost.frameworks.base import MemoryPool
    from adcost.measure import memory
    MiB = 2 ** 20
    state = {"in_use": 7 * MiB, "peak": 50 * MiB, "resets": 0}

    def reset():
        state["resets"] += 1
        state["peak"] = state["in_use"]

    def call():
        assert state["resets"] == 1            # reset before the call, not after
        state["peak"] = max(state["peak"], state["in_use"] + 40 * MiB)

    pool = MemoryPool(in_use=lambda: state["in_use"], peak=lambda: state["peak"], reset=reset)
    monkeypatch.setattr(memory, "rss_bytes", lambda: 900 * MiB)
    monkeypatch.setattr(memory, "_reset_hwm", lambda: True)
    monkeypatch.setattr(memory, "_hwm_bytes", lambda: 901 * MiB)
    monkeypatch.setattr(memory_profiler, "memory_usage", lambda proc, **k: (900.5, proc[0]()))
    got = memory.peak_above_baseline(call, pool=pool)
    assert got["pool_peak_bytes"] == 40 * MiB and got["rss_peak_bytes"] == MiB
    assert got["peak_rss_bytes"] == 40 * MiB
    state.update(resets=0)                     # a cold pool: the RSS grows more than the pool
    monkeypatch.setattr(memory, "_hwm_bytes", lambda: 960 * MiB)
    assert memory.peak_above_baseline(call, pool=pool)["peak_rss_bytes"] == 60 * MiB
    assert memory.peak_above_baseline(lambda: None)["pool_peak_bytes"] is None


@pytest.mark.slow
@pytest.mark.skipif("tf" not in PRESENT, reason="TensorFlow is not installed")
def test_tensorflows_gradient_probe_reads_at_least_what_its_tape_keeps():
    """TensorFlow's plain gradient keeps every layer's activations; its probe must read at
    least those bytes whether oneDNN's pool holds the pages (the RSS read 1.1 MB of 138 MB at
    depth 64 before the probe read the pool) or not."""
    from adcost.checkpoint import analytic_bytes_at
    from adcost.measure.memory import peak_rss
    sizes = {"width": 64, "batch": 2048, "outputs": 16, "slots": 4}
    kept = analytic_bytes_at("none", 16, **sizes)["stored_bytes"]
    got = peak_rss({"framework": "tf", "strategy": "none", "depth": 16, **sizes})
    assert kept > 8 * 2 ** 20
    assert got["peak_rss_bytes"] >= kept, got
    assert got["peak_rss_bytes"] < 4 * kept, got


def test_asvs_own_peakmem_runs_at_depths_the_probes_measure():
    """memory.PeakMem cross-checks the fresh-process probes: at some of their depths, never
    at one they skip (the quick grid at none)."""
    from adcost import grids
    assert grids.checkpoint("quick")["asv_peakmem_depths"] == ()
    for name in grids.GRID_NAMES:
        grid = grids.checkpoint(name)
        assert set(grid["asv_peakmem_depths"]) <= set(grid["rss_depth"])


def test_every_grid_probes_peak_rss_at_depths_it_times_and_the_report_target():
    """The peak-RSS probes run at depths the timings and byte counts have (the figure puts them
    side by side), the full grid at the report's target depth and at two more (a power law over
    depth needs its ends), the timings at enough depths to draw one on log axes."""
    from adcost import grids
    from adcost.checkpoint.report import TARGET_DEPTH
    for name in grids.GRID_NAMES:
        grid = grids.checkpoint(name)
        assert set(grid["rss_depth"]) <= set(grid["depth"])
        assert TARGET_DEPTH in grid["rss_depth"]
    full = grids.checkpoint("full")
    assert len(full["rss_depth"]) >= 3 and len(full["depth"]) >= 5
    assert min(full["depth"]) == 1 and max(full["depth"]) >= 2 * TARGET_DEPTH


def test_the_report_times_with_the_sweeps_defaults_unless_the_caller_set_them(tmp_path, monkeypatch):
    """The checkpoint report runs JAX on the calling thread as the sweep does (sweep.
    TIMING_DEFAULTS), and records it; a value the caller set is kept."""
    import json
    import os

    from adcost import sweep
    from adcost.checkpoint import report
    from adcost.frameworks.jax_adapter import ASYNC_DISPATCH
    from adcost.measure.timing import TUNABLES, steady_tunables
    monkeypatch.delenv(TUNABLES, raising=False)
    seen = []
    monkeypatch.setattr(report, "measure_rows", lambda *a, **k: seen.append(os.environ.get(ASYNC_DISPATCH)) or [])
    monkeypatch.setattr(report, "jvp_rows", lambda *a, **k: [])
    monkeypatch.setattr(report, "overhead_by_width", lambda *a, **k: [])
    monkeypatch.delenv("ADCOST_THREADS", raising=False)
    for given, expected in ((None, sweep.TIMING_DEFAULTS[ASYNC_DISPATCH]), ("true", "true")):
        if given is None:
            monkeypatch.delenv(ASYNC_DISPATCH, raising=False)
        else:
            monkeypatch.setenv(ASYNC_DISPATCH, given)
        out = tmp_path / f"{given}.json"
        assert report.main(["--grid", "quick", "--out", str(out)]) == 0
        assert seen[-1] == expected
        recorded = json.loads(out.read_text())["environment"]["threads"]
        assert recorded[ASYNC_DISPATCH] == expected
        # its probes and its own process time under the sweep's malloc thresholds, recorded
        assert recorded[TUNABLES] == steady_tunables()


def test_a_gradient_probe_below_what_its_schedule_keeps_is_refused():
    """A checkpointed gradient holds at least its schedule's kept bytes when its backward
    starts: a probe that reads less missed the memory, and says so instead of a figure."""
    from adcost.measure import memory
    memory.below_floor(10_000, 10_000, "x")
    memory.below_floor(int(memory.KEPT_FLOOR * 10_000), 10_000, "x")
    with pytest.raises(RuntimeError, match="below the 10,000 its schedule must keep"):
        memory.below_floor(1_100, 10_000, "mlp/tf/ckpt_grad")


def test_the_report_says_which_probe_failed_and_goes_on(monkeypatch):
    """A refused probe leaves the row without a figure and with the reason; the report runs on."""
    from adcost.checkpoint import report

    def refuse(spec, **k):
        raise RuntimeError("peak-RSS probe failed:\nTraceback ...\nRuntimeError: below the floor")
    monkeypatch.setattr(report, "peak_rss", refuse)
    monkeypatch.setattr(report, "frameworks", lambda: ["numpy"])
    grid = {"width": 8, "batch": 5, "outputs": 3, "slots": 2, "rss_batch": 5}
    rows = report.measure_rows(grid, [2], {2}, 1)
    assert rows and all(r["peak_rss_error"] == "RuntimeError: below the floor" for r in rows)
    assert all("peak_rss_bytes" not in r for r in rows)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_report_fixes_mallocs_thresholds_and_records_them(monkeypatch, tmp_path):
    """The report builds every case in one process; glibc's adaptive thresholds let what ran
    before hand a call's temporaries back to the OS at every call (JAX's plain gradient: 3,848
    page faults a call).  The report fixes them (STEADY_MALLOC) and its summary says so."""
    import json
    from adcost.checkpoint import report
    from adcost.measure import timing
    assert timing.steady_malloc() == timing.STEADY_MALLOC
    for name in ("measure_rows", "jvp_rows", "overhead_by_width"):
        monkeypatch.setattr(report, name, lambda *a, **k: [])
    monkeypatch.setattr(report, "targets", lambda *a: {})
    out = tmp_path / "summary.json"
    assert report.main(["--out", str(out)]) == 0
    assert json.loads(out.read_text())["environment"]["malloc"] == timing.STEADY_MALLOC


_FAULTS = """
import ctypes, resource
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
def block(size):
    p = libc.malloc(size); libc.memset(p, 1, size); return p
libc.free(block(1 << 20))   # a mapped block freed: glibc's default raises its thresholds to it
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):        # 2.7 MB of temporaries a call: above the adapted trim threshold
    blocks = [block(900 * 1024) for _ in range(3)]
    for p in reversed(blocks):
        libc.free(p)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's tunables")
def test_the_sweeps_processes_start_with_the_fixed_malloc_thresholds():
    """asv's processes get STEADY_MALLOC's thresholds in $GLIBC_TUNABLES (sweep.asv_environ),
    where glibc reads them at start: a call's temporaries above the threshold it adapted to
    are handed back and faulted in at every call without them (the page faults say which).
    A caller's own malloc thresholds and other tunables are kept; applied twice, once."""
    import os
    import subprocess

    from adcost import sweep
    from adcost.measure.timing import STEADY_MALLOC, TUNABLES, steady_tunables
    env = sweep.asv_environ({k: v for k, v in os.environ.items() if k != TUNABLES})
    assert env[TUNABLES] == steady_tunables() and steady_tunables(env[TUNABLES]) == env[TUNABLES]
    assert [int(item.split("=")[1]) for item in env[TUNABLES].split(":")] == list(STEADY_MALLOC.values())

    def faults(environ):
        out = subprocess.run([sys.executable, "-c", _FAULTS], env=environ, check=True,
                             capture_output=True, text=True)
        return int(out.stdout)
    default = {k: v for k, v in env.items() if k != TUNABLES}
    assert faults(env) * 5 < faults(default)

    own = sweep.asv_environ({TUNABLES: "glibc.malloc.mmap_threshold=1048576:glibc.malloc.tcache_count=7"})
    assert own[TUNABLES] == ("glibc.malloc.mmap_threshold=1048576:glibc.malloc.tcache_count=7:"
                             f"glibc.malloc.trim_threshold={STEADY_MALLOC['M_TRIM_THRESHOLD']}")
