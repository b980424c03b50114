"""The asv benchmarks: params agree with param_names, setups run at the smallest sizes, skips."""
import contextlib
import importlib.util
import inspect
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adcost import bench, grids, threads
from adcost.frameworks.base import REGISTRY, names
from benchmarks import crossover, roofline, second_order, workloads

ROOT = Path(__file__).resolve().parents[1]
MODULES = (crossover, roofline, second_order, workloads)


def benchmark_classes():
    for module in MODULES:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and benchmark_methods(cls):
                yield cls


def benchmark_methods(cls):
    return [name for name in dir(cls) if name.startswith(("time_", "track_", "peakmem_", "mem_"))]


@pytest.fixture(autouse=True)
def fresh_state(tmp_path, monkeypatch):
    """Each test: its own state file, no cases remembered from another test, and a quiet
    machine (a skip noted under load expires: tests/test_runs.py checks that on purpose)."""
    from adcost.measure import load as machine_load
    monkeypatch.setenv("ADCOST_BENCH_STATE", str(tmp_path / "state.json"))
    monkeypatch.setattr(bench, "_PREPARED", {})
    monkeypatch.setattr(machine_load, "overloaded", lambda *a, **k: False)


def test_the_benchmark_names_the_analysis_relies_on_exist():
    names = {f"{cls.__module__.split('.')[-1]}.{cls.__name__}.{m}"
             for cls in benchmark_classes() for m in benchmark_methods(cls)}
    assert names >= {"crossover.PrimalNM.time_primal", "crossover.JacobianNM.time_jacobian",
                     "crossover.PrimalDepth.time_primal", "crossover.JacobianDepth.time_jacobian",
                     "crossover.Products.time_jvp", "crossover.Products.time_vjp",
                     "crossover.Compile.track_compile_s", "crossover.Flops.track_flops",
                     "roofline.Matmul.track_flops_per_s"}


@pytest.mark.parametrize("cls", list(benchmark_classes()), ids=lambda c: c.__name__)
def test_params_agree_with_param_names(cls):
    if not hasattr(cls, "params"):       # one measurement, no parameters (second_order.Rates)
        return
    assert len(cls.params) == len(cls.param_names)
    for values in cls.params:
        assert len(values) == len(set(values)) > 0
    cached = 1 if hasattr(cls, "setup_cache") else 0   # setup and methods get the cache first
    for method in ["setup"] + benchmark_methods(cls):
        args = list(inspect.signature(getattr(cls, method)).parameters)[1 + cached:]
        assert args == cls.param_names, f"{cls.__name__}.{method}"
    if cls.param_names[0] == "framework":   # the sweep's frameworks of the class's study
        assert set(cls.params[0]) <= set(bench.FRAMEWORKS) and list(cls.params[0]) == sorted(
            cls.params[0], key=list(bench.FRAMEWORKS).index)


def smallest(cls, **fixed):
    """The parameter tuple at the smallest size, with `fixed` names set."""
    return tuple(fixed.get(name, min(values) if name in ("n", "m", "depth", "size", "width", "batch",
                                                         "scale") else values[0])
                 for name, values in zip(cls.param_names, cls.params))


def run(cls, method, params, cache=()):
    """What asv does: class setup, then the method's own setup, then the method."""
    instance = cls()
    instance.setup(*cache, *params)
    own = getattr(getattr(cls, method), "setup", None)
    if own is not None:
        own(*params)
    return getattr(instance, method)(*cache, *params)


REPRESENTATIVE = [
    (crossover.PrimalNM, "time_primal", {"framework": "numpy"}),
    (crossover.PrimalNM, "time_primal", {"framework": "fd"}),
    (crossover.JacobianNM, "time_jacobian", {"framework": "torch", "mode": "jacfwd"}),
    (crossover.JacobianNM, "time_jacobian", {"framework": "torch", "mode": "jacrev_loop"}),
    (crossover.JacobianNM, "time_jacobian", {"framework": "jax", "mode": "jacrev"}),
    (crossover.JacobianNM, "time_jacobian", {"framework": "numpy", "mode": "jacfwd_loop"}),
    (crossover.JacobianNM, "time_jacobian", {"framework": "fd", "mode": "fd"}),
    (crossover.PrimalDepth, "time_primal", {"framework": "jax"}),
    (crossover.JacobianDepth, "time_jacobian", {"framework": "numpy", "mode": "jacrev"}),
    (crossover.Products, "time_jvp", {"framework": "torch"}),
    (crossover.Products, "time_vjp", {"framework": "jax"}),
    (roofline.Matmul, "track_flops_per_s", {"framework": "numpy"}),
    (roofline.Copy, "track_bytes_per_s", {"framework": "jax"}),
    (roofline.RowProducts, "track_seconds", {"framework": "jax", "orient": "T"}),
    (roofline.RowProducts, "track_seconds", {"framework": "torch", "orient": "N"}),
    (second_order.HVP, "time_hvp", {"framework": "torch", "mode": "hvp_rev_over_fwd"}),
    (second_order.HVPTempBytes, "track_temp_bytes", {"framework": "jax", "mode": "hvp_fwd_over_rev"}),
    (second_order.Hessian, "time_hessian", {"framework": "tf", "mode": "hessian_jacrev_jacrev"}),
    (second_order.PerExample, "time_per_example", {"framework": "jax", "route": "pe_grad_vmap"}),
    (second_order.PerExample, "time_per_example", {"framework": "numpy", "route": "pe_grad_loop"}),
    (second_order.Bracketing, "time_product", {"profile": "hourglass", "order": "optimal"}),
    (workloads.Workload, "time_workload", {"framework": "jax", "mode": "jacrev"}),
    (workloads.Workload, "time_workload", {"framework": "numpy", "mode": "jacfwd",
                                           "workload": grids.workloads()["labels"][-1]}),
    (workloads.Workload, "time_workload", {"framework": "fd", "mode": "fd"}),
    (workloads.BABlocks, "time_blocks", {"framework": "jax", "mode": "jacfwd_seeded"}),
]


@pytest.mark.parametrize("cls, method, fixed", REPRESENTATIVE,
                         ids=[f"{c.__name__}.{m}-{'-'.join(f.values())}" for c, m, f in REPRESENTATIVE])
def test_setup_validates_and_runs_at_the_smallest_size(cls, method, fixed):
    name = fixed.get("framework")
    if name and bench.missing_reason(name):
        pytest.skip(bench.missing_reason(name))
    out = run(cls, method, smallest(cls, **fixed))
    if method.startswith("track_"):
        assert out > 0


@pytest.mark.slow
@pytest.mark.needs("torch", "jax")
def test_the_cost_table_gives_compile_seconds_and_flops():
    n, m = min(crossover.N), min(crossover.M)
    table = bench.cost_table(("torch", "jax", "numpy", "fd"), ("primal", "jacrev", "fd"), (n,), (m,))
    assert run(crossover.Compile, "track_compile_s", ("jax", "jacrev", n, m), (table,)) > 0
    with pytest.raises(NotImplementedError, match="no ahead-of-time compile"):
        run(crossover.Compile, "track_compile_s", ("torch", "jacrev", n, m), (table,))
    with pytest.raises(NotImplementedError, match="has no operation 'fd'"):
        run(crossover.Flops, "track_flops", ("torch", "fd", n, m), (table,))
    torch_f = run(crossover.Flops, "track_flops", ("torch", "primal", n, m), (table,))
    numpy_f = run(crossover.Flops, "track_flops", ("numpy", "primal", n, m), (table,))
    assert torch_f == numpy_f  # both count matmul FLOPs only
    assert run(crossover.Flops, "track_flops", ("jax", "primal", n, m), (table,)) >= torch_f
    omega = run(crossover.Flops, "track_flops", ("torch", "jacrev", n, m), (table,)) / torch_f
    assert m <= omega <= 3 * (m + 1)


def test_a_mode_the_framework_lacks_is_skipped():
    with pytest.raises(NotImplementedError, match="numpy has no operation 'linearize_map'"):
        run(crossover.JacobianNM, "time_jacobian", ("numpy", "linearize_map", 4, 4))


def test_fd_has_no_vjp_but_times_its_jvp():
    params = smallest(crossover.Products, framework="fd")
    run(crossover.Products, "time_jvp", params)
    with pytest.raises(NotImplementedError, match="J\\^T u needs the whole Jacobian"):
        run(crossover.Products, "time_vjp", params)


def test_a_missing_framework_is_skipped(monkeypatch):
    import dataclasses
    record = dataclasses.replace(REGISTRY["jax"].record, package="adcost_no_such_package")
    monkeypatch.setattr(REGISTRY["jax"], "record", record)
    with pytest.raises(NotImplementedError, match="'adcost_no_such_package' is not installed"):
        run(crossover.JacobianNM, "time_jacobian", ("jax", "jacfwd", 4, 4))


def test_a_case_over_the_memory_budget_is_skipped(monkeypatch):
    monkeypatch.setenv("ADCOST_MEMORY_BUDGET", "1000")
    with pytest.raises(NotImplementedError, match="over the .* budget"):
        bench.prepare_or_skip("numpy", "jacfwd", n=64, m=64)


def test_sizes_above_one_over_the_time_budget_are_skipped():
    bench.prepare_or_skip("numpy", "jacrev", n=4, m=8, call_budget_s=0.0)   # runs, but "too slow"
    with pytest.raises(NotImplementedError, match=r"size \(4, 8\).*took .*larger sizes skipped"):
        bench.prepare_or_skip("numpy", "jacrev", n=16, m=8)
    bench.prepare_or_skip("numpy", "jacrev", n=16, m=4)    # not larger in every size: runs
    bench.prepare_or_skip("numpy", "jacfwd", n=16, m=8)    # another computation: runs


def test_a_size_predicted_far_over_the_time_budget_is_skipped_unbuilt():
    """Finite differences of log-sum-exp: n = 1000's one call, times the growth in n (the work
    is at least linear in it), predicts n = 100,000 over twice the budget: skipped before it is
    built; a budget the prediction fits under runs it, and without `linear_in` nothing is
    predicted."""
    state = bench.BenchState()
    case = bench.prepare_or_skip("fd", "fd", grow=("n",), problem="lse", n=1000, linear_in="n")
    key = next(k for k in state._load()[state.scope]["seconds"] if k.startswith("lse/fd/fd/"))
    seconds = state._load()[state.scope]["seconds"][key]["[1000]"]
    assert case is not None and seconds > 0
    budget = seconds * 100 / (2 * bench.PREDICTED_OVER)    # n = 100,000: 100 x, twice over
    with pytest.raises(bench.Skip, match=r"size \(100000,\).*at least .* s \(size \(1000,\) took"):
        bench.prepare_or_skip("fd", "fd", grow=("n",), problem="lse", n=100000, linear_in="n",
                              call_budget_s=budget)
    guess, base, _ = state.predicted(key, (100000,), 0)
    assert base == (1000,) and guess == pytest.approx(seconds * 100)
    assert state.predicted(key, (500,), 0) is None          # nothing smaller was timed
    assert state.predicted(key.replace("/fd/fd/", "/fd/jvp/"), (100000,), 0) is None


@pytest.mark.slow
def test_sizes_above_one_that_timed_out_are_skipped():
    """asv killed the process while it prepared (4, 4): its pending mark names a dead process."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    state = bench.BenchState()
    key = "mlp/numpy/jacfwd/float32/depth=4,width=64"
    state.start(key, (4, 4))
    data = state._load()
    for mark in data[state.scope]["pending"].values():
        mark["pid"] = int(dead)
    state._save(data)
    with pytest.raises(NotImplementedError, match="process died"):
        bench.prepare_or_skip("numpy", "jacfwd", n=8, m=4, depth=4, width=64)
    assert state.blocked(key, (2, 4)) is None


def test_the_state_is_kept_per_grid_and_commit(tmp_path):
    a = bench.BenchState(tmp_path / "s.json", scope="quick@abc")
    a.finish("k", (4,), over="slow")
    assert a.blocked("k", (8,))
    assert bench.BenchState(tmp_path / "s.json", scope="quick@def").blocked("k", (8,)) is None


def test_memory_estimates_grow_with_the_batch_of_tangents():
    fwd = bench.estimate_bytes("jacfwd", 1024, 1, 4, 64)
    rev = bench.estimate_bytes("jacrev", 1024, 1, 4, 64)
    assert fwd > 10 * rev and bench.estimate_bytes("primal", 1, 1, 1, 1) < 1000


@pytest.mark.slow
def test_asv_finds_the_benchmarks_well_formed():
    env = {**os.environ, "ADCOST_GRID": "quick"}
    out = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=ROOT,
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and "No problems found" in out.stdout, out.stdout + out.stderr


@pytest.mark.slow
def test_benchmark_import_imports_no_framework_outside_asvs_forkserver():
    """Importing the suite (asv's discovery, a test) imports no framework; asv's forkserver
    imports the installed ones once, quietly (forced here: the test is not the forkserver);
    ADCOST_PREIMPORT=0 leaves them out even there."""
    code = ("import sys, benchmarks.crossover, benchmarks.memory, benchmarks.roofline; "
            "from adcost.bench import preimport; before = sorted({'torch', 'jax', 'tensorflow'} & set(sys.modules)); "
            "preimport(force=True); "
            "print(before, sorted({'torch', 'jax', 'tensorflow'} & set(sys.modules)))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ADCOST_PREIMPORT"))}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env=env)
    installed = sorted(m for m in ("torch", "jax", "tensorflow") if importlib.util.find_spec(m))
    assert out.stdout.strip() == f"[] {installed}", out.stderr
    assert "oneDNN" not in out.stderr and "cuda" not in out.stderr.lower(), out.stderr
    off = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**env, "ADCOST_PREIMPORT": "0"})
    assert off.stdout.strip() == "[] []", off.stderr
    # the noise probe's: only the frameworks it times
    only = subprocess.run([sys.executable, "-c", code.replace("force=True", "force=True, "
                                                              "frameworks=['numpy']")],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    assert only.stdout.strip() == "[] []", only.stderr


def test_the_grids_ascend_so_smaller_sizes_run_first():
    """asv runs the parameter product in order: a size runs after every size below it."""
    for name in ("quick", "full"):
        grid = grids.crossover(name)
        for key in ("n", "m", "depth", "matmul"):
            assert list(grid[key]) == sorted(set(grid[key])), (name, key)
        assert set(grid["modes"] or ()) <= set(bench.jacobian_modes())
    assert set(bench.FRAMEWORKS) <= set(names())


def test_the_state_file_lives_in_the_checkout_even_from_asvs_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("ADCOST_BENCH_STATE")
    monkeypatch.delenv("ADCOST_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert bench.BenchState().path == ROOT / "results" / "bench_state.json"


def test_every_benchmark_class_runs_in_exactly_one_sweep_group():
    """adcost.sweep runs asv once per group: a class in no group would never run."""
    import re

    from adcost import sweep
    from benchmarks import memory
    classes = [f"{mod.__name__.split('.')[-1]}.{name}." for mod in (crossover, roofline, memory,
                                                                    second_order)
               for name, cls in inspect.getmembers(mod, inspect.isclass)
               if cls.__module__ == mod.__name__ and any(
                   a.startswith(("time_", "track_", "peakmem_")) for a in dir(cls))]
    assert len(classes) >= 12
    for name in classes:
        hits = [label for label, pattern in sweep.GROUPS if re.search(pattern, name)]
        assert len(hits) == 1, (name, hits)


@pytest.mark.slow
def test_sweep_refuses_an_unknown_group():
    out = subprocess.run([sys.executable, "-m", "adcost.sweep", "--only", "nothing"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "matches no group" in out.stderr


def test_sweep_stamps_the_environment_into_the_result_files(tmp_path, monkeypatch):
    """asv under --python=same records no package versions: the sweep writes them in, and the
    tidy loader reads them (and the thread settings) back."""
    import json

    from adcost import sweep
    from adcost.analysis import load
    monkeypatch.setenv("ADCOST_RESULTS", str(tmp_path))
    folder = tmp_path / "asv" / "box"
    folder.mkdir(parents=True)
    result = {"commit_hash": "abcdef1234", "env_name": "existing", "date": 0, "params": {"machine": "box"},
              "python": "3.11", "requirements": {}, "env_vars": {}, "version": 2,
              "result_columns": ["result", "params"], "durations": {},
              "results": {"roofline.Matmul.track_flops_per_s": [[1e9], [["'numpy'"], ["512"]]]}}
    (folder / "abcdef12-existing.json").write_text(json.dumps(result))
    (folder / "0000aaaa-existing.json").write_text(json.dumps(result))   # another commit: untouched
    stamped = sweep.stamp_environment("box", "abcdef1234")
    assert [p.name for p in stamped] == ["abcdef12-existing.json"]
    data = json.loads(stamped[0].read_text())
    assert data["requirements"]["numpy"] and data["adcost_environment"]["threads"]["cpu_count"]
    rows = load.result_rows(stamped[0])
    assert json.loads(rows[0]["versions"])["numpy"] == data["requirements"]["numpy"]
    assert json.loads(rows[0]["threads"])["cpu_count"] == os.cpu_count()
    assert json.loads((folder / "0000aaaa-existing.json").read_text())["requirements"] == {}


@pytest.mark.needs("torch")
def test_second_order_memory_estimates_count_the_tangents_pushed_at_once():
    from adcost import make_problem
    p = make_problem("mlp_loss", features=4, outputs=2, batch=16, width=64, depth=16)
    forward = bench.estimate_problem_bytes("hvp_fwd_over_fwd", p)
    assert forward > 4 * bench.GiB > 100 * bench.estimate_problem_bytes("hvp_rev_over_rev", p)
    with pytest.raises(bench.Skip, match="over the .* budget"):
        bench.prepare_or_skip("torch", "hvp_fwd_over_fwd", grow=("width", "depth"),
                              problem="mlp_loss", features=4, outputs=2, batch=16, width=64,
                              depth=16)


def test_workload_labels_name_their_sizes_and_skip_mismatched_fd():
    label = grids.workloads("full")["labels"][0]
    problem, sizes = grids.workload_sizes(label)
    assert label == grids.workload_label(problem, sizes) and problem == "gmm"
    from adcost.bench import Skip
    with pytest.raises(Skip, match="fd"):
        workloads.Workload().setup("numpy", "fd", label)
    with pytest.raises(Skip, match="only mode"):
        workloads.Workload().setup("fd", "jacrev", label)


def test_the_quick_grid_leaves_tfs_traced_trajectory_jacobians_to_the_full_grid(monkeypatch):
    """Left out by (framework, mode, workload), with the reason, before anything is built;
    the full grid leaves nothing out."""
    from adcost.bench import Skip
    quick = grids.workloads("quick")
    label = next(l for l in quick["labels"] if l.startswith("trajectory:"))
    monkeypatch.setattr(workloads, "GRID", quick)
    monkeypatch.setattr(workloads, "_case", lambda *a: pytest.fail("built a left-out case"))
    for mode in ("jacfwd", "jacrev"):
        with pytest.raises(Skip, match="left out of the .* grid .*ADCOST_GRID=full"):
            workloads.Workload().setup("tf", mode, label)
    assert grids.workloads("full")["leave_out"] == ()


def test_the_full_grid_runs_tfs_traced_workload_jacobians_at_the_smallest_size_only(monkeypatch):
    """smallest_only: skipped, unbuilt, with the reason, at every size but the workload's
    first; the first is built; other frameworks and modes at every size."""
    from adcost.bench import Skip
    full = grids.workloads("full")
    labels = [l for l in full["labels"] if l.startswith("trajectory:")]
    assert len(labels) >= 3 and ("tf", "jacfwd", "trajectory") in full["smallest_only"]
    built = []
    monkeypatch.setattr(workloads, "GRID", full)
    monkeypatch.setattr(workloads, "_case", lambda *a: built.append(a))
    for label in labels[1:]:
        with pytest.raises(Skip, match="smallest size only"):
            workloads.Workload().setup("tf", "jacfwd", label)
    assert built == []
    workloads.Workload().setup("tf", "jacfwd", labels[0])
    workloads.Workload().setup("jax", "jacfwd", labels[-1])
    workloads.Workload().setup("tf", "primal", labels[-1])
    assert [a[0] for a in built] == ["tf", "jax", "tf"]


def test_a_case_the_gate_refuses_is_a_noted_skip_not_a_failure(monkeypatch, tmp_path):
    """A wrong answer is not timed; it does not fail the sweep either: the benchmark skips with
    the gate's reason, the state notes it, and the sweep stamps it into the results."""
    import json

    from adcost import cases, sweep
    from adcost.validate import ValidationError

    def wrong(*args, **kwargs):
        raise ValidationError("mlp/numpy/jacrev/float32: max relative error 0.5 > 1e-4\nmore")
    monkeypatch.setattr(cases, "prepare", wrong)
    with pytest.raises(bench.Skip, match="refused by the validation gate: .*max relative error 0.5"):
        bench.prepare_or_skip("numpy", "jacrev", n=4, m=8)
    (refused,) = bench.BenchState().refusals()
    assert refused["size"] == [4, 8] and refused["reason"].endswith("> 1e-4")
    assert "numpy/jacrev" in refused["key"]
    assert bench.BenchState().refusals(since=refused["time"] + 1) == []
    monkeypatch.setenv("ADCOST_RESULTS", str(tmp_path))
    folder = tmp_path / "asv" / "box"
    folder.mkdir(parents=True)
    (folder / "abcdef12-adcost.json").write_text(json.dumps({"results": {}, "requirements": {}}))
    sweep.stamp_environment("box", "abcdef1234", refused=[refused])
    (path,) = sweep.stamp_environment("box", "abcdef1234", refused=[refused])   # merged, once
    assert json.loads(path.read_text())["adcost_environment"]["refused"] == [refused]


def test_the_sweep_points_asv_at_the_results_folder_it_was_given(tmp_path, monkeypatch):
    """ADCOST_RESULTS elsewhere: asv gets a config whose results and html folders are there."""
    import json

    from adcost import sweep
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ADCOST_RESULTS", raising=False)
    assert sweep.asv_config() == []
    monkeypatch.setenv("ADCOST_RESULTS", str(tmp_path / "mine"))
    flag, path = sweep.asv_config()
    conf = json.loads(Path(path).read_text())
    assert flag == "--config" and conf["results_dir"] == str((tmp_path / "mine" / "asv").resolve())
    assert conf["html_dir"] == str((tmp_path / "mine" / "html").resolve())
    assert conf["plugins"] == [".benchmarks.asv_plugin"] and conf["repo"] == str(ROOT)
    assert str(ROOT) in sweep.asv_environ({"PYTHONPATH": "x"})["PYTHONPATH"].split(os.pathsep)[0]


def test_shards_split_the_groups_once_each_and_alike_everywhere():
    from adcost import sweep
    for grid in ("quick", "full"):
        for count in (1, 2, 3, 5):
            parts = [sweep.shard_of(sweep.GROUPS, i, count, grid) for i in range(1, count + 1)]
            labels = [g[0] for part in parts for g in part]
            assert sorted(labels) == sorted(g[0] for g in sweep.GROUPS) and all(parts)
            assert parts == [sweep.shard_of(sweep.GROUPS, i, count, grid) for i in range(1, count + 1)]
    two = [sum(sweep.GROUP_SECONDS[g[0]][1] for g in sweep.shard_of(sweep.GROUPS, i, 2, "full"))
           for i in (1, 2)]
    assert max(two) / min(two) < 1.4         # balanced by the measured seconds, whole studies
    assert set(sweep.GROUP_SECONDS) == {g[0] for g in sweep.GROUPS}
    for count in (2, 3):                     # the cost model's width-64 points are the n x m group's
        for i in range(1, count + 1):
            labels = {g[0] for g in sweep.shard_of(sweep.GROUPS, i, count, "full")}
            assert ("Jacobians over n and m" in labels) == (
                "Jacobians and batched primals over width" in labels)
    for part in parts:                       # a study never split over two shards
        studies = {sweep.group_study(g[1]) for g in part}
        others = {sweep.group_study(g[1]) for p in parts if p is not part for g in p}
        assert not studies & others


@pytest.mark.parametrize("spec", ["0/2", "3/2", "x", "1/0"])
def test_a_bad_shard_is_one_line_and_exit_2(spec, capsys):
    from adcost import sweep
    with pytest.raises(SystemExit) as info:
        sweep.main(["--shard", spec])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "--shard" in err and "\n" not in err


def test_the_break_even_group_pairs_each_variant_and_runs_in_the_full_grid_only():
    from adcost import sweep
    from adcost.frameworks.base import variant_pairs
    from adcost.bench import FRAMEWORKS, Skip
    fws = crossover.BreakEven.params[0]
    for compiled, eager in variant_pairs():
        if compiled in FRAMEWORKS and eager in FRAMEWORKS:
            assert compiled in fws and eager in fws
    assert crossover.BreakEven.params[1] == ("primal", "jacfwd", "jacrev")
    with pytest.raises(Skip, match="full grid"):
        crossover.BreakEven().setup("torch", "jacfwd", 16, 16)
    # an eager framework's compile seconds skip in the method's own setup (a skip raised in the
    # benchmark itself is a failure to asv); a compiled one's run
    own = crossover.BreakEven.track_compile_s.setup
    with pytest.raises(Skip, match="compiles nothing"):
        own("torch", "jacfwd", 16, 16)
    own("jax", "jacfwd", 16, 16)
    assert "compile break-even" in sweep.FULL_ONLY
    # a study of its own: a newer break-even run does not hide another machine's n x m grid
    assert sweep.study_of("crossover.BreakEven.time_call") == "compile break-even"
    assert sweep.study_of("crossover.JacobianNM.time_jacobian") == "crossover"
    assert any(label == "compile break-even" for label, _ in sweep.GROUPS)


def test_each_runs_load_mark_survives_asvs_next_save(tmp_path, monkeypatch):
    """asv rewrites a results file without adcost_environment when it saves the next group
    into it: the sweep reads the stamps before each run and keeps every group's mark."""
    import json
    from adcost import sweep
    monkeypatch.setenv("ADCOST_RESULTS", str(tmp_path))
    folder = tmp_path / "asv" / "box"
    folder.mkdir(parents=True)
    result = {"commit_hash": "abcdef1234", "env_name": "existing", "date": 0, "params": {"machine": "box"},
              "python": "3.11", "requirements": {}, "env_vars": {}, "version": 2,
              "result_columns": ["result", "params"], "durations": {}, "results": {}}
    path = folder / "abcdef12-existing.json"
    path.write_text(json.dumps(result))
    first = {"group": "one", "under_load": True}
    sweep.stamp_environment("box", "abcdef1234", first)
    kept = sweep.stamps_before("box", "abcdef1234")
    path.write_text(json.dumps(result))              # asv's next save: our key is gone
    sweep.stamp_environment("box", "abcdef1234", {"group": "two", "under_load": False},
                            before=kept)
    marks = json.loads(path.read_text())["adcost_environment"]["load"]
    assert [m["group"] for m in marks] == ["one", "two"] and marks[0]["under_load"]


def test_the_environment_records_the_cpu_caches(tmp_path):
    """sysfs's cache sizes in bytes by level (L1d, L1i, L2, L3); an unreadable entry is left
    out, a machine without sysfs records none."""
    from adcost.measure.environment import cpu_caches, environment
    for i, (level, kind, size) in enumerate([("1", "Data", "32K"), ("1", "Instruction", "32K"),
                                             ("2", "Unified", "1024K"), ("3", "Unified", "32M"),
                                             ("4", "Unified", "junk")]):
        index = tmp_path / f"index{i}"
        index.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (index / name).write_text(value + "\n")
    assert cpu_caches(tmp_path) == {"L1d": 32 << 10, "L1i": 32 << 10, "L2": 1 << 20, "L3": 32 << 20}
    assert cpu_caches(tmp_path / "none") == {}
    assert isinstance(environment()["caches"], dict)
    from adcost.analysis.load import caches_label
    assert caches_label(cpu_caches(tmp_path)) == "L1d 32 KiB, L1i 32 KiB, L2 1 MiB, L3 32 MiB"
    assert caches_label(None) is None and caches_label({}) is None


def test_the_full_grid_times_compiled_and_eager_variants_where_they_say_something(monkeypatch):
    """Full grid: torch_compile in the width study and the roofline, not the crossover study's
    n x m grids; the eager variants in the compile break-even only, which builds them though
    the grid leaves them out; the quick grid leaves all three out."""
    import importlib
    monkeypatch.setenv("ADCOST_GRID", "full")
    assert "torch_compile" not in bench.frameworks_for("crossover")
    assert "torch_compile" in bench.frameworks_for("width") and "torch_compile" in bench.frameworks_for("roofline")
    assert not {"jax_eager", "tf_eager"} & set(bench.frameworks_for("crossover"))
    with pytest.raises(bench.Skip, match="left out of the full grid .*compile break-even"):
        bench.prepare_or_skip("jax_eager", "primal", n=4, m=4)
    if bench.missing_reason("jax") is None:
        case = bench.prepare_or_skip("jax_eager", "primal", n=4, m=4, left_out_ok=True)
        assert case.framework.name == "jax_eager"
        crossover = importlib.import_module("benchmarks.crossover")
        try:
            crossover = importlib.reload(crossover)
            assert {"jax_eager", "tf_eager", "torch_compile"} <= set(crossover.BreakEven.params[0])
            assert "torch_compile" not in crossover.JacobianNM.params[0]
        finally:
            monkeypatch.setenv("ADCOST_GRID", "quick")
            importlib.reload(crossover)   # the other tests read the quick grid's classes
    monkeypatch.setenv("ADCOST_GRID", "quick")
    assert not {"torch_compile", "jax_eager", "tf_eager"} & set(bench.frameworks_for("width"))


def test_the_sweep_gives_torch_compile_a_fresh_warmed_cache_folder(tmp_path, monkeypatch):
    """Compile seconds depend on inductor's on-disk cache: the sweep sets a fresh
    TORCHINDUCTOR_CACHE_DIR for its run (the user's value back after it, the folder removed),
    and warms torch.compile's toolchain there in a child process when the grid runs
    torch_compile; a failed warm-up is noted with its reason, not fatal."""
    import subprocess
    from adcost import sweep
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ADCOST_RESULTS", str(tmp_path))
    monkeypatch.setenv(sweep.INDUCTOR_CACHE, "/users/own")
    seen = {}

    def fake_sweep(args, parser, groups, commit, env):
        seen["folder"] = os.environ[sweep.INDUCTOR_CACHE]
        seen["env"] = env[sweep.INDUCTOR_CACHE]
        assert Path(seen["folder"]).is_dir()
        return 0
    monkeypatch.setattr(sweep, "_sweep", fake_sweep)
    assert sweep.main(["--grid", "quick", "--only", "roofline", "--noise-processes", "0"]) == 0
    assert seen["folder"] == seen["env"] != "/users/own" and not Path(seen["folder"]).exists()
    assert os.environ[sweep.INDUCTOR_CACHE] == "/users/own"

    calls = []

    def run(cmd, env, **kw):
        calls.append((cmd, env))
        return subprocess.CompletedProcess(cmd, 0, "noise\n14.25\n", "")
    env = {sweep.INDUCTOR_CACHE: str(tmp_path)}
    assert sweep.warm_compiler("quick", env, run=run) is None and calls == []   # left out there
    if bench.missing_reason("torch") is None:
        note = sweep.warm_compiler("full", env, run=run)
        assert note["warmed"] and note["warm_up_s"] == 14.25
        assert calls[0][1] is env and "warm_toolchain" in calls[0][0][-1]
        failed = sweep.warm_compiler("full", env, run=lambda cmd, env, **kw: subprocess.CompletedProcess(
            cmd, 1, "", "Traceback\nInvalidCxxCompiler: no working C++ compiler found"))
        assert not failed["warmed"] and failed["reason"].startswith("InvalidCxxCompiler")


def test_the_full_width_study_leaves_the_n_x_m_groups_points_to_it_and_compiles_torch_on_every_cpu(
        monkeypatch):
    """In the full grid the width study skips, unbuilt, the points the n x m group times (its
    width and depth, its frameworks, n and m), times torch_compile at compiled_width_m only,
    and lets inductor build on the machine's CPUs; the single products run at product_n x
    product_m."""
    import importlib
    monkeypatch.setenv("ADCOST_GRID", "full")
    crossover = importlib.import_module("benchmarks.crossover")
    from adcost.frameworks import torch_compile
    monkeypatch.setattr(torch_compile.TorchCompiled, "compile_cpus", None)
    try:
        crossover = importlib.reload(crossover)
        g = crossover.GRID
        built = []
        monkeypatch.setattr(crossover, "prepare_or_skip", lambda fw, mode, **kw: built.append((fw, mode)))
        w = crossover.JacobianWidth()
        shared = [n for n in g["width_n"] if n in g["n"]]
        assert shared and g["width"] in g["widths"]
        with pytest.raises(bench.Skip, match="JacobianNM"):
            w.setup("jax", "jacfwd", g["width"], shared[0], g["width_m"][-1])
        with pytest.raises(bench.Skip, match="PrimalNM"):
            crossover.PrimalWidth().setup("numpy", g["width"], shared[0], g["width_m"][-1], "1")
        assert built == []
        crossover.PrimalWidth().setup("numpy", g["width"], shared[0], g["width_m"][-1], "n")  # batched
        other = next(x for x in g["widths"] if x != g["width"])
        w.setup("jax", "jacfwd", other, shared[0], g["width_m"][-1])
        w.setup("torch_compile", "jacfwd", g["width"], shared[0], g["compiled_width_m"][0])  # not in n x m
        assert built == [("numpy", "primal"), ("jax", "jacfwd"), ("torch_compile", "jacfwd")]
        assert torch_compile.TorchCompiled.compile_cpus == tuple(threads.machine_cpus())
        # torch_compile's measured crossover (n = m, roughly) lies inside the n grid
        assert all(min(g["width_n"]) < m < max(g["width_n"]) for m in g["compiled_width_m"])
        left = next(m for m in g["width_m"] if m not in g["compiled_width_m"])
        with pytest.raises(bench.Skip, match="torch_compile's width study at m in"):
            w.setup("torch_compile", "jacrev", other, shared[0], left)
        assert crossover.Products.params[1:] == (g["product_n"], g["product_m"])
        assert set(g["product_n"]) <= set(g["n"]) and set(g["product_m"]) <= set(g["m"])
    finally:
        monkeypatch.setenv("ADCOST_GRID", "quick")
        importlib.reload(crossover)


@contextlib.contextmanager
def full_crossover(monkeypatch):
    """benchmarks.crossover reloaded under the full grid; under the quick grid again after."""
    monkeypatch.setenv("ADCOST_GRID", "full")
    module = importlib.import_module("benchmarks.crossover")
    try:
        yield importlib.reload(module)
    finally:
        monkeypatch.setenv("ADCOST_GRID", "quick")
        importlib.reload(module)


def test_the_side_by_side_ratio_times_both_modes_in_one_process_in_the_full_grid_only(monkeypatch):
    """crossover.SideBySide: skipped in the quick grid with the reason; in the full grid it
    builds jacfwd and jacrev of one width-study point (torch_compile at compiled_width_m only)
    and returns the median ratio of interleaved rounds: about 1 for two equal cases, about 3
    where forward mode's case does three times the work."""
    from adcost import sweep
    with pytest.raises(bench.Skip, match="full grid"):
        crossover.SideBySide().setup("numpy", 64, 16, 16)
    assert "forward against reverse, side by side" in sweep.FULL_ONLY
    assert sweep.study_of("crossover.SideBySide.track_fwd_over_rev") == "cost model"
    with full_crossover(monkeypatch) as full:
        g = full.GRID
        assert full.SideBySide.params == (full.WIDTH_FRAMEWORKS, g["widths"], g["side_by_side_n"],
                                          g["width_m"])
        # every n of the width study, and n between them at small m only
        assert set(g["width_n"]) < set(g["side_by_side_n"])
        between = next(n for n in g["side_by_side_n"] if n not in g["width_n"])
        assert full.SideBySide.skip_reason("numpy", 16, between, g["side_by_side_fine_m"]) is None
        large = next(m for m in g["width_m"] if m > g["side_by_side_fine_m"])
        with pytest.raises(bench.Skip, match="n between the width study's"):
            full.SideBySide().setup("numpy", 16, between, large)
        assert full.SideBySide.skip_reason("numpy", 16, g["width_n"][0], large) is None
        left = next(m for m in g["width_m"] if m not in g["compiled_width_m"])
        with pytest.raises(bench.Skip, match="torch_compile's width study at m in"):
            full.SideBySide().setup("torch_compile", 16, 4, left)
        calls = {"jacfwd": 0, "jacrev": 0}

        def fake(fw, mode, **sizes):
            assert sizes == {"grow": ("width", "n", "m"), "n": 4, "m": 16, "width": 16}
            spin = 3 if mode == "jacfwd" else 1

            def call():
                calls[mode] += 1
                x = 0
                for _ in range(spin * 20000):
                    x += 1
            return call
        monkeypatch.setattr(full, "prepare_or_skip", fake)
        b = full.SideBySide()
        b.setup("numpy", 16, 4, 16)
        assert 2.0 < b.track_fwd_over_rev("numpy", 16, 4, 16) < 4.5
        assert calls["jacfwd"] > 7 and calls["jacrev"] > 7           # calibrated, 7 rounds each
        b.cases["jacfwd"] = b.cases["jacrev"]
        assert 0.7 < b.track_fwd_over_rev("numpy", 16, 4, 16) < 1.4


def test_jacfwd_vmap_is_timed_over_width_and_side_by_side_by_the_frameworks_that_have_it(monkeypatch):
    """JAX's jacfwd_vmap is a mode of the width study (both grids) and of its own side-by-side
    group against jacrev (crossover.SideBySideForward, full grid only, in the side-by-side
    sweep group): a framework without it skips by name, before anything is built, even at the
    points the n x m group times; its side-by-side case times jacfwd_vmap against jacrev."""
    import re
    from adcost import sweep
    assert "jacfwd_vmap" in crossover.JacobianWidth.params[1]
    assert "has no operation 'jacfwd_vmap'" in crossover.JacobianWidth.skip_reason(
        "numpy", "jacfwd_vmap", crossover.GRID["width"], crossover.WIDTH_N[0], crossover.WIDTH_M[0])
    with pytest.raises(bench.Skip, match="full grid"):
        crossover.SideBySideForward().setup("jax", "jacfwd_vmap", 64, 16, 16)
    pattern = dict(sweep.GROUPS)["forward against reverse, side by side"]
    assert re.match(pattern, "crossover.SideBySideForward.track_fwd_over_rev")
    assert sweep.study_of("crossover.SideBySideForward.track_fwd_over_rev") == "cost model"
    with full_crossover(monkeypatch) as full:
        g = full.GRID
        assert full.SideBySideForward.params == (("jax",), ("jacfwd_vmap",), g["widths"],
                                                 g["side_by_side_n"], g["width_m"])
        built = []

        def fake(fw, mode, **sizes):
            built.append(mode)
            return lambda: None
        monkeypatch.setattr(full, "prepare_or_skip", fake)
        b = full.SideBySideForward()
        b.setup("jax", "jacfwd_vmap", 16, 4, 64)
        assert sorted(built) == ["jacfwd_vmap", "jacrev"] and set(b.cases) == set(built)


def test_the_full_break_even_group_leaves_the_n_x_m_groups_points_to_it(monkeypatch):
    """In the full grid the compile break-even group skips, unbuilt, the points the n x m group
    times (jax, tf, torch: their times are read there) and builds the others (torch_compile and
    the eager variants); the compile/FLOPs table holds every skipped point's compile seconds
    (costmodel.break_even reads them there: test_costmodel)."""
    import importlib
    import itertools
    monkeypatch.setenv("ADCOST_GRID", "full")
    crossover = importlib.import_module("benchmarks.crossover")
    try:
        crossover = importlib.reload(crossover)
        g = crossover.GRID
        built = []
        monkeypatch.setattr(crossover, "prepare_or_skip",
                            lambda fw, mode, **kw: built.append((fw, mode, kw["n"], kw["m"])))
        fws, modes, ns, ms = crossover.BreakEven.params
        skipped = []
        for fw, mode, n, m in itertools.product(fws, modes, ns, ms):
            try:
                crossover.BreakEven().setup(fw, mode, n, m)
            except bench.Skip as e:
                assert ("PrimalNM" if mode == "primal" else "JacobianNM") in str(e)
                skipped.append((fw, mode, n, m))
        assert {s[0] for s in skipped} == {"jax", "tf", "torch"} & set(fws)
        assert {b[0] for b in built} == set(fws) - {"jax", "tf", "torch"}
        assert len(skipped) + len(built) == len(fws) * len(modes) * len(ns) * len(ms)
        table_fws, table_modes, table_n, table_m = crossover.Compile.params
        for fw, mode, n, m in skipped:
            assert n in crossover.PrimalNM.params[1] and m in crossover.PrimalNM.params[2]
            if fw in ("jax", "tf"):      # compiled: the table has its compile seconds
                assert fw in table_fws and mode in table_modes and n in table_n and m in table_m
    finally:
        monkeypatch.setenv("ADCOST_GRID", "quick")
        importlib.reload(crossover)


def test_compile_workers_use_the_cpus_given_and_hand_them_back():
    """Inside the block inductor may build on every CPU given, with forked workers; after it
    the process is on its own CPUs again with inductor's settings as they were, also after an
    error; one CPU or None changes nothing."""
    import os
    pytest.importorskip("torch")
    from torch._inductor import config
    from adcost.frameworks.torch_compile import compile_workers
    start = os.sched_getaffinity(0)
    every = set(threads.machine_cpus()) | start
    if len(every) < 2:
        pytest.skip("one CPU here: nothing to widen")
    own = {min(every)}
    before = config.compile_threads, config.worker_start_method
    os.sched_setaffinity(0, own)
    try:
        with compile_workers(None), compile_workers((min(every),)):
            assert os.sched_getaffinity(0) == own
        with pytest.raises(RuntimeError):
            with compile_workers(tuple(every)):
                assert os.sched_getaffinity(0) == every
                assert (config.compile_threads, config.worker_start_method) == (len(every), "fork")
                raise RuntimeError("a compile that fails")
        assert os.sched_getaffinity(0) == own
        assert (config.compile_threads, config.worker_start_method) == before
    finally:
        os.sched_setaffinity(0, start)


def test_the_full_grid_times_loop_modes_up_to_its_directions_and_keeps_them_out_of_the_table(monkeypatch):
    """A loop mode (n JVPs or m VJPs in sequence) in the full n x m grid: skipped, unbuilt,
    past loop_directions in its own family's size only; the compile/FLOPs table has no loop.
    The quick grid times the loops at every size."""
    import importlib
    from adcost import ops
    assert ops.directions("jacfwd_loop", 1024, 4) == 1024 and ops.directions("jacrev_loop", 1024, 4) == 4
    assert ops.directions("linearize_map", 8, 2) == 8 and ops.directions("backward_loop", 8, 2) == 2
    monkeypatch.setenv("ADCOST_GRID", "full")
    crossover = importlib.import_module("benchmarks.crossover")
    try:
        crossover = importlib.reload(crossover)
        most = crossover.GRID["loop_directions"]
        assert most is not None and most < max(crossover.N)
        built = []
        monkeypatch.setattr(crossover, "prepare_or_skip", lambda fw, mode, **kw: built.append(mode))
        case = crossover.JacobianNM()
        with pytest.raises(bench.Skip, match=f"up to {most} directions"):
            case.setup("torch", "jacfwd_loop", 2 * most, 4)
        with pytest.raises(bench.Skip, match="one product per direction"):
            case.setup("jax", "jacrev_loop", 4, 2 * most)
        assert built == []
        case.setup("torch", "jacrev_loop", 2 * most, 4)      # 4 VJPs
        case.setup("torch", "jacfwd", 2 * most, 2 * most)    # vectorized: every size
        assert built == ["jacrev_loop", "jacfwd"]
        table_modes = set(crossover.CostTable.params[1])
        assert {"jacfwd", "jacrev", "jvp", "vjp"} <= table_modes
        assert not table_modes & set(ops.LOOP_MODES)
    finally:
        monkeypatch.setenv("ADCOST_GRID", "quick")
        importlib.reload(crossover)   # the other tests read the quick grid's classes
    assert crossover.GRID["loop_directions"] is None


def _static_skips(module_names=("crossover", "memory", "roofline", "second_order", "workloads")):
    """(benchmark dict as asv gives it, param index, combination, reason) of every combination
    whose skip the plugin knows before the fork."""
    import itertools
    from benchmarks.asv_plugin import skip_reason_of
    for mod_name in module_names:
        module = sys.modules[f"benchmarks.{mod_name}"]
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not getattr(cls, "params", None):
                continue
            for method in benchmark_methods(cls):
                bm = {"name": f"{mod_name}.{cls.__name__}.{method}",
                      "params": [[repr(v) for v in values] for values in cls.params]}
                for idx, combo in enumerate(itertools.product(*cls.params)):
                    reason = skip_reason_of(bm, idx)
                    if reason:
                        yield cls, method, combo, reason


@pytest.mark.parametrize("grid", ["quick", "full"])
def test_a_skip_known_before_the_fork_is_the_one_setup_raises_unbuilt(grid, monkeypatch):
    """benchmarks/asv_plugin.py skips, without forking, the combinations a class's (or
    method's) `skip_reason` names; setup (the class's, then the method's own) raises that same
    reason before it builds anything, so a run without the plugin skips alike.  About half the
    full grid skips this way."""
    import importlib
    from benchmarks import memory
    monkeypatch.setenv("ADCOST_GRID", grid)
    modules = [importlib.reload(m) for m in (crossover, memory, roofline, second_order, workloads)]
    try:
        def built(*a, **k):
            raise AssertionError(f"built a case for a combination skipped before the fork: {a}")
        for mod in modules:
            for name in ("prepare_or_skip", "prepare_some", "_case", "_loss_case", "study_case",
                         "study_case_at_scale", "roofline_case"):
                if hasattr(mod, name):
                    monkeypatch.setattr(mod, name, built)
        found = list(_static_skips())
        total = sum(math.prod(len(v) for v in cls.params) * len(benchmark_methods(cls))
                    for mod in modules for _, cls in inspect.getmembers(mod, inspect.isclass)
                    if cls.__module__ == mod.__name__ and getattr(cls, "params", None))
        assert len(found) > (0.4 if grid == "full" else 0.3) * total
        checked = 0
        for cls, method, combo, reason in found:
            if cls.__name__ in ("Compile", "Flops"):   # they read the table: the next test
                continue
            # the class's reason: its setup raises it; else the method's: its own setup does
            # (asv runs the class's setup first: in a process the case may be built before)
            if getattr(cls, "skip_reason", None) and cls.skip_reason(*combo):
                cached = (None,) if hasattr(cls, "setup_cache") else ()
                setup = lambda *p: cls().setup(*cached, *p)   # noqa: E731
            else:
                setup = getattr(cls, method).setup
            with pytest.raises(NotImplementedError) as exc:
                setup(*combo)
            assert str(exc.value) == reason, (cls.__name__, method, combo)
            checked += 1
        assert checked > 0.5 * len(found)
    finally:
        monkeypatch.setenv("ADCOST_GRID", "quick")
        for m in (crossover, memory, roofline, second_order, workloads):
            importlib.reload(m)


def test_the_cost_tables_skips_known_before_the_fork_are_the_tables_own():
    """Compile and Flops read one table built in one process (bench.cost_table): a combination
    skipped before the fork is one the table skips too, with the same reason (an operation
    the framework lacks), or, for compile seconds, a framework that compiles nothing ahead
    (the table holds None: no ahead-of-time step)."""
    from adcost.frameworks.base import records
    table_skip = bench._prepare_or_skip
    fw, mode = "numpy", "linearize_map"
    assert crossover.Flops.skip_reason(fw, mode, 4, 4) == f"numpy has no operation {mode!r}"
    with pytest.raises(bench.Skip, match=f"numpy has no operation {mode!r}"):
        table_skip(fw, mode, ("n", "m"), bench.PROBLEM, None, None, {"n": 4, "m": 4})
    eager = [name for name in crossover.FRAMEWORKS if not records()[name].compiled]
    assert "numpy" in eager
    for name in eager:
        if crossover.Compile.skip_reason(name, "primal", 4, 4) is None:
            continue
        case = bench.prepare_or_skip(name, "primal", n=4, m=4)
        assert case.compile_s is None, name
    assert crossover.Compile.skip_reason("numpy", "primal", 4, 4) == \
        "numpy compiles nothing ahead of the first call"


def test_the_plugin_runs_a_skip_known_before_the_fork_without_a_process(monkeypatch):
    """asv's run of one combination: a skip known before the fork is recorded as asv records a
    skip (NaN, the reason in its output) and spawns nothing; any other combination, and any
    benchmark of another suite folder, goes to asv as before."""
    import itertools
    from benchmarks import asv_plugin
    from asv import runner
    assert runner._run_benchmark_single_param is asv_plugin._single_param
    passed = []
    monkeypatch.setattr(asv_plugin, "_asv_single", lambda bm, spawner, idx, *a: passed.append(idx) or "ran")

    class Spawner:
        benchmark_dir = str(ROOT / "benchmarks")

        def run(self, **kw):
            raise AssertionError("forked")
    params = [[repr(v) for v in values] for values in crossover.JacobianNM.params]
    bm = {"name": "crossover.JacobianNM.time_jacobian", "params": params}
    combos = list(itertools.product(*crossover.JacobianNM.params))
    lacks = next(i for i, (fw, mode, n, m) in enumerate(combos)
                 if fw == "numpy" and mode not in REGISTRY["numpy"].modes)
    runs = next(i for i, (fw, mode, n, m) in enumerate(combos) if fw == "numpy" and mode == "jacrev")
    out = runner._run_benchmark_single_param(bm, Spawner(), lacks, False, {}, None)
    assert math.isnan(out.result[0]) and out.errcode == 0 and out.samples == [None]
    assert f"numpy has no operation {combos[lacks][1]!r}" in out.stderr
    assert out.stderr.startswith("For parameters: 'numpy'")
    assert runner._run_benchmark_single_param(bm, Spawner(), runs, False, {}, None) == "ran"
    other = Spawner()
    other.benchmark_dir = "/elsewhere/benchmarks"
    assert runner._run_benchmark_single_param(bm, other, lacks, False, {}, None) == "ran"
    assert passed == [runs, lacks]
    monkeypatch.setattr(crossover.JacobianNM, "skip_reason", staticmethod(lambda *p: 1 / 0))
    assert runner._run_benchmark_single_param(bm, Spawner(), lacks, False, {}, None) == "ran"
