"""Your run stays yours: machines and runs apart, the reference read-only, load marks, expiring
skips, compare's noise rule, and bad input as one line with exit 2."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adcost import bench, cli, paths
from adcost.analysis import compare, load

from fixtures import asv_fixture as fx

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def two_machines(tmp_path_factory):
    """One results folder with a run of machine `old-box` and a newer, slower one of `new-box`."""
    root = tmp_path_factory.mktemp("asv")
    fx.write_results(root, commit="a" * 40, seed=1, machine="old-box", date=1700000000000)
    fx.write_results(root, commit="b" * 40, seed=2, machine="new-box", date=1700000900000, slow=3.0)
    return root


def test_two_machines_stay_apart_unless_asked(two_machines):
    df = load.load_asv(two_machines)
    assert set(df["machine"]) == {"new-box"}                     # the newest machine, alone
    assert set(load.load_asv(two_machines, machine="old-box")["machine"]) == {"old-box"}
    assert set(load.load_asv(two_machines, all_runs=True)["machine"]) == {"old-box", "new-box"}
    assert "machine new-box" in load.describe_run(df) and "bbbbbbbb" in load.describe_run(df)
    with pytest.raises(ValueError, match="no results of machine 'nope'; have: new-box, old-box"):
        load.load_asv(two_machines, machine="nope")


def test_a_later_quick_run_replaces_a_benchmark_whole(tmp_path):
    """A run that measured a benchmark at fewer sizes does not leave the old run's other cells."""
    fx.write_results(tmp_path, commit="a" * 40, seed=1, date=1700000000000)
    newer = fx.write_results(tmp_path, commit="b" * 40, seed=2, date=1700000900000)
    data = json.loads(newer.read_text())
    name = "crossover.JacobianNM.time_jacobian"
    values = data["results"][name][0]
    data["results"][name][0] = [v if i % 2 else None for i, v in enumerate(values)]   # half the cells
    newer.write_text(json.dumps(data))
    rows = load.measured(load.load_asv(tmp_path), "JacobianNM.time_jacobian")
    assert set(rows["commit"].str[:8]) == {"bbbbbbbb"}
    assert len(rows) == sum(v is not None for v in data["results"][name][0])


def test_the_reference_run_is_read_only(tmp_path, monkeypatch, capsys):
    reference = tmp_path / "results" / "reference"
    reference.mkdir(parents=True)
    (reference / paths.MARKER).write_text("the committed reference run\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ADCOST_PUBLISH_REFERENCE", raising=False)
    with pytest.raises(ValueError, match="committed reference run"):
        paths.writable(reference / "figures" / "x.png")
    assert paths.writable(tmp_path / "results" / "figures" / "x.png")
    assert cli.main(["plots", "--results", str(reference)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "make publish-reference" in err[0]
    assert sorted(p.name for p in reference.iterdir()) == [paths.MARKER]   # wrote nothing
    monkeypatch.setenv("ADCOST_PUBLISH_REFERENCE", "1")
    assert paths.writable(reference / "figures" / "x.png")
    # a reader is told which committed run a folder holds
    assert paths.reference_label(reference) == "the committed reference run"
    assert paths.reference_label(reference / "asv") == "the committed reference run"
    assert paths.reference_label(reference / "machines" / "vm-x" / "asv") == \
        "a committed run beside the reference, vm-x"
    assert paths.reference_label(tmp_path / "results") is None


def test_publish_copies_the_runs_files_and_the_checkpoint_summaries(tmp_path, monkeypatch):
    """make publish-reference: your asv result files go in beside the reference's, and the
    checkpoint report's summaries with them; nothing of yours is published with no run."""
    from adcost import publish
    reference = tmp_path / "results" / "reference"
    reference.mkdir(parents=True)
    (reference / paths.MARKER).write_text("the committed reference run\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ADCOST_RESULTS", raising=False)
    monkeypatch.setenv("ADCOST_PUBLISH_REFERENCE", "1")
    with pytest.raises(ValueError, match="no run of yours to publish"):
        publish.publish()
    mine = fx.write_results(tmp_path / "results" / "asv")
    summary = tmp_path / "results" / "checkpoint_summary_threads1.json"
    summary.write_text('{"targets": {}}')
    copied = publish.publish()
    assert f"{mine.parent.name}/{mine.name}" in copied and summary.name in copied
    assert (reference / "asv" / mine.parent.name / mine.name).read_bytes() == mine.read_bytes()
    assert (reference / summary.name).read_text() == '{"targets": {}}'


def test_load_marks_reach_the_tidy_rows(tmp_path):
    """The sweep's mark of a group run under load follows its rows into the tidy data."""
    from adcost.measure import load as machine_load
    path = fx.write_results(tmp_path)
    data = json.loads(path.read_text())
    quiet = {"loadavg": [0.5, 0.5, 0.5], "wall_s": 0.0, "children_cpu_s": 0.0, "time": 0.0}
    busy = {"loadavg": [3.5, 3.0, 2.0], "wall_s": 10.0, "children_cpu_s": 4.0, "time": 10.0}
    marks = [machine_load.mark("Jacobians over n and m", quiet, busy),
             machine_load.mark("matmul roofline", quiet, quiet)]
    assert marks[0]["under_load"] == (3.5 > os.cpu_count()) and not marks[1]["under_load"]
    marks[0]["under_load"] = True    # as on a 2-core machine
    data["adcost_environment"] = {"load": marks}
    path.write_text(json.dumps(data))
    df = load.load_asv(tmp_path)
    loaded = set(df[df["under_load"].astype(bool)]["benchmark"])
    assert loaded == {"crossover.JacobianNM.time_jacobian", "crossover.PrimalNM.time_primal"}
    assert "rows measured under load" in load.describe_run(df)


def test_the_hosts_steal_is_read_from_proc_stat_and_follows_a_runs_rows(tmp_path):
    """A VM's host can slow every case while the load average stays clean: the load mark
    records the part of the CPUs' time the hypervisor took (steal, /proc/stat's eighth column),
    the tidy rows of that run carry it, and describe_run names it above STEAL_WARN."""
    from adcost.measure import load as machine_load
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  600 0 100 250 0 0 0 50 7 0\ncpu0 300 0 50 125 0 0 0 25 0 0\n")
    assert machine_load.cpu_ticks(str(stat)) == {"steal": 50, "busy": 750}   # idle 250 left out
    assert machine_load.cpu_ticks(str(tmp_path / "missing")) is None
    (tmp_path / "old").write_text("cpu  600 0 100 250\n")     # no steal column
    assert machine_load.cpu_ticks(str(tmp_path / "old")) is None
    assert machine_load.steal_share({"steal": 50, "busy": 1000}, {"steal": 150, "busy": 2000}) == 0.1
    assert machine_load.steal_share(None, {"steal": 1, "busy": 2}) is None
    assert machine_load.cpu_ticks() is None or set(machine_load.snapshot()["cpu_ticks"]) == {"steal", "busy"}
    quiet = {"loadavg": [0.5, 0.5, 0.5], "wall_s": 0.0, "children_cpu_s": 0.0, "time": 0.0,
             "cpu_ticks": {"steal": 50, "busy": 1000}}
    later = {**quiet, "wall_s": 10.0, "time": 10.0, "cpu_ticks": {"steal": 150, "busy": 2000}}
    slowed = machine_load.mark("Jacobians over n and m", quiet, later)
    calm = machine_load.mark("matmul roofline", quiet, {**later, "cpu_ticks": {"steal": 51, "busy": 2000}})
    assert slowed["steal_share"] == 0.1 and not slowed["under_load"]
    assert calm["steal_share"] == 0.001
    unknown = machine_load.mark("g", {k: v for k, v in quiet.items() if k != "cpu_ticks"}, later)
    assert unknown["steal_share"] is None          # a mark written before 2026-12-03
    path = fx.write_results(tmp_path)
    data = json.loads(path.read_text())
    data["adcost_environment"] = {"load": [slowed, calm]}
    path.write_text(json.dumps(data))
    df = load.load_asv(tmp_path)
    steal = df.set_index("benchmark")["steal_share"]
    assert steal["crossover.JacobianNM.time_jacobian"].max() == 0.1
    assert "host took up to 10% of its CPU time" in load.describe_run(df)
    from adcost.analysis import site
    data["adcost_environment"]["threads"] = {"ADCOST_THREADS": "1", "OMP_NUM_THREADS": None,
                                             "pools": {"openblas": 1}}
    path.write_text(json.dumps(data))
    page = site.environment_html(load.load_asv(tmp_path), tmp_path)   # no smoke.json since 2026-12-03
    assert "ADCOST_THREADS=1, pools=openblas 1" in page and "OMP_NUM_THREADS" not in page
    assert "to 10.0% over the runs" in page
    from adcost.analysis import explorer
    table, _ = explorer.table_html(load.load_asv(tmp_path))      # the explorer's rows carry it
    assert "steal_share" in table and "10.0%" in table
    data["adcost_environment"] = {"load": [calm]}
    path.write_text(json.dumps(data))
    assert "steal" not in load.describe_run(load.load_asv(tmp_path))


def test_budget_skips_taken_under_load_or_old_expire(tmp_path, monkeypatch):
    state = bench.BenchState(tmp_path / "s.json", scope="quick@abc")
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))      # a machine under load
    state.finish("k", (4,), over="one call took 13.46 s (budget 0.5 s)")
    assert state.blocked("k", (8,)) is None                             # expired at once
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    state.finish("k", (4,), over="one call took 3 s (budget 0.5 s)")
    assert "larger sizes skipped" in state.blocked("k", (8,))
    later = time.time() + bench.SKIP_TTL_S + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert state.blocked("k", (8,)) is None                             # a day later: retried


def test_compare_calls_noise_noise_and_says_what_differs(tmp_path, capsys):
    """Two runs of identical code (new noise draws) flag nothing; the header names both runs,
    the rule, and the machines' differences before any row."""
    a = fx.write_results(tmp_path / "a", commit="1" * 40, seed=11)
    b = fx.write_results(tmp_path / "b", commit="2" * 40, seed=12, machine="other-box")
    table = compare.compare(load.load(a), load.load(b))
    assert (table["change"] != "same").sum() <= 0.05 * len(table)
    assert cli.main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    head = out[:out.index("slower or bigger")]
    assert "machine: A fixture | B other-box" in head and "rule: a change counts" in head
    assert head.index("A: ") < head.index("environments differ")



def test_compare_respects_the_process_to_process_spread_the_probe_measured(tmp_path):
    """Each process of run B times every case 0.8-1.25x of run A's (narrow quartiles inside a
    process): by quartiles alone most rows are flagged; with the spread a noise probe measures
    under the same per-process draws, at most 5 %. A real 2x change is still called."""
    import numpy as np

    from adcost.measure import noise
    rng = np.random.default_rng(3)
    a = load.load(fx.write_results(tmp_path / "a", commit="1" * 40, seed=11))
    b = a.copy()
    draw = np.exp(rng.uniform(np.log(0.8), np.log(1.25), len(b)))
    timed = b["unit"] == "seconds"
    for column in ("value", "q25", "q75", "ci_lo", "ci_hi"):
        b.loc[timed, column] = b.loc[timed, column] * draw[timed.to_numpy()]
    naive = compare.compare(a, b)
    assert (naive["change"] != "same").mean() > 0.3
    probe = {f"case{i}": list(np.exp(rng.uniform(np.log(0.8), np.log(1.25), noise.PROCESSES)))
             for i in range(12)}
    a["noise_threshold"] = b["noise_threshold"] = noise.threshold(probe)
    assert 1.25 < compare.threshold(a, b, 1.10) < 1.57
    table = compare.compare(a, b)
    assert (table["change"] != "same").mean() <= 0.05
    slow = b.copy()
    slow.loc[slow["benchmark"].str.contains("JacobianNM"), ["value", "q25", "q75"]] *= 2.0
    flagged = compare.compare(a, slow)
    assert (flagged[flagged["benchmark"].str.contains("JacobianNM")]["change"] == "worse").all()
    assert compare.compare(a, b, noise=False)["change"].ne("same").mean() > 0.3


def _taken_at(path, speed: float, match: str = "crossover.", probed: str = "crossover.") -> None:
    """Re-time the fixture run's results as if the machine ran at `speed` flop/s (1e11: as
    written) for the benchmarks whose name has `match`, and log a probe of `speed` beside
    each timed case of those with `probed`, a second apart, as the sweep folds them."""
    import itertools
    data = json.loads(path.read_text())
    beside, when = {}, 0.0
    for name, values in data["results"].items():
        entry = dict(zip(data["result_columns"], values))
        slower = 1e11 / speed
        for j, combo in enumerate(itertools.product(*entry["params"])):
            when += 1.0
            if match in name and entry["result"][j] is not None and ".time_" in name:
                entry["result"][j] *= slower
                for column in ("stats_q_25", "stats_q_75", "stats_ci_99_a", "stats_ci_99_b"):
                    if entry.get(column) and entry[column][j] is not None:
                        entry[column][j] *= slower
            if probed in name and ".time_" in name:      # the classes that time a case
                beside[f"{name.rsplit('.', 1)[0]}({', '.join(combo)})"] = [speed, when]
        data["results"][name] = [entry.get(c) for c in data["result_columns"]]
    data.setdefault("adcost_environment", {})["speed"] = beside
    path.write_text(json.dumps(data))


def test_compare_reads_two_runs_at_one_machine_speed(tmp_path, capsys):
    """Run B of the same code on a machine running at half speed (its probes say so): as
    measured every timing of B reads twice A's and compare calls them slower; read at one
    speed, nothing but a real 2x change is called. A measurement without a probe in one run
    stays as measured, and --as-measured compares as taken."""
    import numpy as np
    a_path = fx.write_results(tmp_path / "a", commit="1" * 40, seed=11)
    b_path = fx.write_results(tmp_path / "b", commit="2" * 40, seed=12)
    _taken_at(a_path, 1e11)
    _taken_at(b_path, 5e10)
    a, b = load.load(a_path), load.load(b_path)
    timed = compare.compare(a, b)
    timed = timed[timed["benchmark"].str.startswith("crossover.") & timed["benchmark"].str.contains(".time_")]
    assert len(timed) > 20 and timed.attrs["speed"]["normalized"]
    assert timed.attrs["speed"]["median_b"] == 5e10 and timed.attrs["speed"]["median_a"] == 1e11
    assert np.allclose(timed["ratio_measured"] / timed["ratio"], 2.0)
    assert (timed["change"] == "same").mean() >= 0.95
    measured = compare.compare(a, b, speed=False)
    measured = measured[measured["benchmark"].isin(set(timed["benchmark"]))]
    assert (measured["change"] == "worse").all() and not measured.attrs["speed"]["normalized"]
    slow_b = tmp_path / "slow"
    path = fx.write_results(slow_b, commit="3" * 40, seed=12, slow=2.0)
    _taken_at(path, 5e10)
    table = compare.compare(a, load.load(path))
    assert set(table[table["change"] == "worse"]["benchmark"]) == {"crossover.JacobianNM.time_jacobian"}
    # unprobed in B: read as measured on both sides, so its B/A is the slow machine's 2x
    unprobed = fx.write_results(tmp_path / "c", commit="4" * 40, seed=12)
    _taken_at(unprobed, 5e10, probed="crossover.JacobianNM")
    table = compare.compare(a, load.load(unprobed)).set_index("benchmark")
    assert (table.loc["crossover.PrimalNM.time_primal", "ratio"] > 1.8).all()
    assert np.allclose(table.loc["crossover.JacobianNM.time_jacobian", "ratio"], 1.0, atol=0.2)
    # another machine: as measured (its speed is what the comparison is about)
    elsewhere = fx.write_results(tmp_path / "e", commit="6" * 40, seed=12, machine="other-box")
    _taken_at(elsewhere, 5e10)
    assert compare.compare(a, load.load(elsewhere)).attrs["speed"]["reason"] == \
        "the runs are on different machines"
    # no probe in A at all: nothing is read at one speed, and the header says why
    plain = fx.write_results(tmp_path / "d", commit="5" * 40, seed=11)
    assert not compare.compare(load.load(plain), b).attrs["speed"]["normalized"]
    assert cli.main(["compare", str(a_path), str(b_path)]) == 0
    out = capsys.readouterr().out
    assert "read at one machine speed, 75 GFLOP/s (the median probe; A's 100, B's 50)" in out
    assert cli.main(["compare", str(a_path), str(b_path), "--as-measured"]) == 0
    out = capsys.readouterr().out
    assert "as measured (--as-measured)" in out and "slower or bigger: 0" not in out
    assert cli.main(["compare", str(plain), str(b_path)]) == 0
    assert "no measurement was probed in both runs" in capsys.readouterr().out


def test_a_change_that_holds_at_one_reading_of_the_machines_speed_only_is_not_counted(capsys):
    """A burst of slow probes (7 in a row, their cases slowed alike) moves the window median of
    the row after it, whose own probe and time say the machine was at full speed: read at the
    window it would be 2.3x faster, at its own probe it is the same.  It is listed as unsure,
    not counted; a real change beside it still counts, and the burst's own rows do not move."""
    def run(name, speeds, values):
        return load.tidy([{"benchmark": "crossover.JacobianNM.time_jacobian", "framework": "jax",
                           "op": "jacrev", "n": i, "value": v, "q25": v * 0.98, "q75": v * 1.02,
                           "unit": "seconds", "status": "ok", "machine": "box", "file": name,
                           "speed": s, "speed_at": float(i)}
                          for i, (s, v) in enumerate(zip(speeds, values))])
    fast, slow = 1.6e11, 0.7e11
    a = run("a", [fast] * 15, [1e-3] * 15)
    speeds = [fast] * 5 + [slow] * 7 + [fast] * 3
    values = [1e-3 * fast / s for s in speeds]
    values[2] = 3e-3                                   # a real change, at full speed
    b = run("b", speeds, values)
    unsure = compare.speed_unsure(b)
    assert unsure[12] and not unsure[2] and not unsure[5:12].any(), unsure.tolist()
    table = compare.compare(a, b).set_index("n")
    assert table.loc["2", "change"] == "worse"
    assert table.loc["12", "change"] == "unsure", table.loc["12"]
    assert table.loc["12", "ratio"] < 0.5 and abs(table.loc["12", "ratio_own"] - 1) < 0.01
    moved = table["change"] == "unsure"
    assert moved.sum() == table.attrs["speed"]["unsure"] and moved.sum() <= unsure.sum()
    assert (table.loc[~moved, "change"].drop("2") == "same").all(), table["change"]
    assert (table.loc[[str(i) for i in range(5, 12)], "change"] == "same").all()
    said = compare.report(table.reset_index())
    assert "not counted, the machine's speed beside them unsure" in said and \
        "0.44x at the probes around it, 1.00x at its own" in said, said
    # as measured, or with no row unsure, nothing is unsure
    assert "unsure" not in set(compare.compare(a, b, speed=False)["change"])
    assert "unsure" not in set(compare.compare(a, a)["change"])


def test_a_timing_taken_under_load_is_listed_apart_not_counted():
    """The sweep marks the asv runs it timed under load (more runnable threads than CPUs): a
    change of such a timing is listed apart; bytes, which load does not move, still count."""
    def run(values, loaded):
        return load.tidy([{"benchmark": f"memory.Forward.{metric}", "framework": "numpy",
                           "n": i, "value": v, "unit": unit, "status": "ok", "under_load": busy}
                          for i, ((metric, unit), v, busy) in enumerate(zip(
                              [("time_jvp", "seconds")] * 2 + [("track_jvp_bytes", "bytes")],
                              values, loaded))])
    a = run([1.0, 1.0, 100.0], [False] * 3)
    b = run([3.0, 3.0, 300.0], [True, False, True])
    table = compare.compare(a, b, noise=False).set_index("n")
    assert table["change"].to_dict() == {"0": "under load", "1": "worse", "2": "worse"}
    said = compare.report(table.reset_index())
    assert "not counted, timed under load in A or B" in said and "slower or bigger: 2" in said


def test_compare_reads_madds_per_second_as_higher_is_better():
    def frame(v):
        return load.tidy([{"benchmark": "second_order.Rates.track_madds_per_s", "value": v,
                           "unit": "madds/s", "status": "ok"}])
    assert compare.compare(frame(4e10), frame(2e10))["change"].tolist() == ["worse"]


BAD = [
    (["jacobian", "--problem", "mlp", "--framework", "numpy", "--n", "1000000000"], {}, "--n 1000000000: mlp needs about"),
    (["jacobian", "--problem", "mlp", "--framework", "numpy", "--depth", "1000000000"], {}, "--depth 1000000000"),
    (["jacobian", "--problem", "mlp", "--framework", "numpy", "--n", "99999999999999999999999"], {}, "GiB"),
    (["jacobian", "--problem", "mlp", "--framework", "numpy", "--seed", "-1"], {}, "argument --seed"),
    # the problem fits (13 MB of weights), one call does not: n = 100000 tangents at once
    (["jacobian", "--problem", "mlp", "--framework", "numpy", "--mode", "jacfwd", "--n", "100000"],
     {}, "--n 100000: jacfwd on mlp needs about"),
    (["jacobian", "--problem", "lse", "--framework", "numpy", "--mode", "jacfwd", "--n", "100000"],
     {}, "--n 100000: jacfwd on lse: one call needs at least"),
    (["compare", "a.csv", "b.csv", "--csv", "nowhere/out.csv"], {}, "no folder"),
    (["compare", "a.csv", "b.csv", "--factor", "0.9"], {}, "expected a ratio above 1"),
    (["list"], {"ADCOST_GRID": "bogus"}, "ADCOST_GRID must be one of"),
    (["list"], {"ADCOST_MEMORY_BUDGET": "abc"}, "ADCOST_MEMORY_BUDGET must be"),
    (["list"], {"ADCOST_THREADS": "two"}, "ADCOST_THREADS must be"),
    (["list"], {"ADCOST_PREIMPORT": "yes"}, "ADCOST_PREIMPORT must be 0 or 1"),
]


def test_a_passed_on_command_that_stops_with_a_message_says_it(monkeypatch, capsys):
    """`adcost sweep` outside the checkout stopped with SystemExit("sweep: run it from the
    adcost checkout ..."): exit 2 and no word, since Python prints the message only uncaught."""
    from adcost import sweep

    def stop(argv):
        raise SystemExit("sweep: run it from the adcost checkout (the folder with asv.conf.json)")
    monkeypatch.setattr(sweep, "main", stop)
    assert cli.main(["sweep", "--resume"]) == 2
    assert "run it from the adcost checkout" in capsys.readouterr().err


@pytest.mark.parametrize("argv, env, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_is_one_line_and_exit_2(argv, env, message, tmp_path, monkeypatch, capsys):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    try:
        code = cli.main(argv)
    except SystemExit as exc:      # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sweep_and_report_refuse_bad_variables_before_any_work(tmp_path):
    for module in ("adcost.sweep", "adcost.checkpoint.report"):
        out = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True,
                             cwd=ROOT, env={**os.environ, "ADCOST_GRID": "bogus"}, timeout=60)
        assert out.returncode == 2 and "ADCOST_GRID must be one of" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly():
    out = subprocess.run(f"{sys.executable} -m adcost list | head -1", shell=True,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "problems:" and out.stderr == ""


def test_every_option_has_help():
    import argparse
    parser = cli.parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"adcost {name} {action.option_strings or action.dest}"


def test_suites_measured_on_different_machines_each_keep_their_machine():
    """The reference run holds the crossover study of one machine and the second-order study of
    another: each suite is read from the machine that measured it last, and the run's
    description names the machine of each suite."""
    import pandas as pd
    rows = pd.DataFrame([
        {"machine": "vm", "suite": "crossover", "date": "2026-11-24", "commit": "a" * 40},
        {"machine": "vm-xeon", "suite": "second_order", "date": "2026-12-01", "commit": "b" * 40},
        {"machine": "old", "suite": "second_order", "date": "2026-11-01", "commit": "c" * 40},
    ])
    kept = load.one_machine(rows)
    assert sorted(zip(kept["suite"], kept["machine"])) == [("crossover", "vm"),
                                                           ("second_order", "vm-xeon")]
    text = load.describe_run(kept)
    assert "machine vm (crossover)" in text and "machine vm-xeon (second_order)" in text
    assert set(load.one_machine(rows, machine="old")["machine"]) == {"old"}


def test_the_cost_model_reads_its_width_study_and_rates_from_one_machine():
    """Width study and roofline on a new machine, the n x m sweep and an older roofline on the
    old one: the cost model's study comes from the new machine, the n x m sweep keeps its own
    machine's rates, and the model never divides by the other machine's rates."""
    import pandas as pd

    from adcost.analysis import costmodel
    def row(machine, bench, date, **kw):
        return {"machine": machine, "benchmark": bench, "suite": bench.split(".")[0],
                "date": date, "commit": machine[0] * 40, "status": "ok", **kw}
    rows = pd.DataFrame([
        row("old", "crossover.JacobianNM.time_jacobian", "2026-11-01", framework="jax", value=1.0),
        row("old", "roofline.Matmul.track_flops_per_s", "2026-11-01", framework="jax", value=1e9),
        row("old", "roofline.Bandwidth.track_bytes_per_s", "2026-11-01", framework="jax", value=1e8),
        row("new", "crossover.JacobianWidth.time_jacobian", "2026-12-01", framework="jax",
            op="jacfwd", n=4, m=4, width=16, depth=4, value=1e-4),
        row("new", "roofline.Matmul.track_flops_per_s", "2026-12-01", framework="jax", value=1e11),
        row("new", "roofline.Bandwidth.track_bytes_per_s", "2026-12-01", framework="jax", value=2e10),
    ])
    kept = load.one_machine(rows)
    assert sorted(zip(kept["benchmark"], kept["machine"])) == sorted(zip(rows["benchmark"], rows["machine"]))
    assert kept[kept["benchmark"].str.startswith("crossover.JacobianNM")]["machine"].tolist() == ["old"]
    pts, rate, _ = costmodel.inputs(kept)
    assert rate.loc["jax", "peak"] == 1e11 and rate.loc["jax", "bandwidth"] == 2e10


def test_the_sweeps_asv_environment_is_named_alike_in_every_checkout(tmp_path):
    """`--python=same` names asv's environment after the venv's path (two checkouts: two names,
    `asv compare` pairs nothing); the sweep's `-E adcost:same` does not."""
    from asv.config import Config
    from asv.environment import ExistingEnvironment

    from adcost import sweep
    from benchmarks.asv_plugin import CheckoutIndependent
    conf = Config.load(str(ROOT / "asv.conf.json"))
    other = tmp_path / "clone" / ".venv"
    other.parent.mkdir()
    other.symlink_to(Path(sys.executable).parents[1], target_is_directory=True)
    pythons = (sys.executable, str(other / "bin" / Path(sys.executable).name))
    plain = {ExistingEnvironment(conf, p, {}, {}).name for p in pythons}
    ours = {CheckoutIndependent(conf, p, {}, {}).name for p in pythons}
    assert len(plain) == 2 and ours == {"adcost-py%d.%d" % sys.version_info[:2]}
    assert "adcost:same" in sweep.asv_command("x", "m", "c" * 40, False, [])
    assert ".benchmarks.asv_plugin" in conf.plugins


@pytest.mark.slow
def test_asv_compare_pairs_two_checkouts_runs(tmp_path):
    """Two runs filed under the sweep's environment name, from two checkouts: asv compare pairs
    every row (it pairs by benchmark and machine/environment name)."""
    root = tmp_path / "asv"
    fx.write_results(root, commit="a" * 40, seed=1, machine="box", env_name="adcost-py3.11")
    fx.write_results(root, commit="b" * 40, seed=2, machine="box", env_name="adcost-py3.11",
                     slow=2.0, date=1700000900000)
    conf = {"version": 1, "project": "adcost", "repo": str(ROOT), "dvcs": "git",
            "branches": ["main"], "environment_type": "existing",
            "benchmark_dir": str(ROOT / "benchmarks"), "results_dir": str(root),
            "html_dir": str(tmp_path / "html")}
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))
    out = subprocess.run([sys.executable, "-m", "asv", "--config", str(tmp_path / "asv.conf.json"),
                          "compare", "a" * 40, "b" * 40, "--machine", "box"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("|") and "(" in line]
    cells = [[c.strip() for c in r.split("|")[2:4]] for r in rows[1:]]
    assert len(cells) > 100 and all(before and after for before, after in cells)   # no one-sided row
    assert sum(before not in ("n/a", "failed") for before, _ in cells) > 100
    assert any(r.split("|")[1].strip() == "+" for r in rows)    # the slowed JacobianNM rows


def test_the_site_lists_the_cases_the_gate_refused_in_the_run_shown(tmp_path):
    from adcost.analysis import site
    fx.write_results(tmp_path / "asv", commit="c" * 40, seed=1, machine="box", date=1700000000000)
    (path,) = [p for p in load.result_files(tmp_path / "asv") if p.parent.name == "box"]
    data = json.loads(path.read_text())
    data["adcost_environment"] = {"refused": [{"key": "ba/jax/jacrev/float32/", "size": [3, 5],
                                               "reason": "max relative error 0.9 > 1e-3"}]}
    path.write_text(json.dumps(data))
    df = load.load_asv(tmp_path / "asv")
    (entry,) = load.refusals(tmp_path / "asv", df)
    assert entry["machine"] == "box" and entry["commit"] == "cccccccc"
    assert load.refusals(tmp_path / "asv", df[df["machine"] == "nobody"]) == [entry]   # empty: all
    page = site.environment_html(df, tmp_path)
    assert "Refused by the validation gate" in page and "ba/jax/jacrev/float32/ at (3, 5)" in page


def test_noise_threshold_is_the_largest_spread_of_one_case():
    from adcost.measure import noise
    assert noise.threshold({"a": [1.0, 1.2, 1.1], "b": [2.0, 3.0], "c": [5.0]}) == 1.5
    assert noise.threshold({}) == 1.0
    # probes taken before and after a long run: the machine's drift between them counts too
    early = {"processes": 2, "frameworks": ["jax"], "cases": {"a": [1.0, 1.1]}, "seconds": 1.0}
    late = {"processes": 2, "frameworks": ["jax"], "cases": {"a": [1.6, 1.7]}, "seconds": 1.0}
    both = noise.combine([early, None, late])
    assert both["threshold"] == pytest.approx(1.7) and both["processes"] == 4 and both["probes"] == 2
    assert noise.combine([None]) == {}


@pytest.mark.slow
def test_the_noise_probe_times_its_cases_in_forked_processes():
    """Each of the probe's processes is forked (as asv forks each case) and times every case;
    a child that fails is one line naming its error."""
    from adcost.measure import noise
    probe = noise.probe(2, frameworks=["numpy"])
    assert sorted(probe["cases"]) == sorted(f"numpy/{op}/n={n},m={m}" for op, n, m in noise.CASES)
    assert all(len(v) == 2 and all(0 < s < 1 for s in v) for v in probe["cases"].values())
    assert probe["threshold"] == max(probe["spread"].values()) >= 1.0
    with pytest.raises(RuntimeError, match="a child process failed: .*nosuch"):
        noise.probe(2, frameworks=["nosuch"])


def test_asvs_install_step_says_in_one_line_why_pip_failed():
    """asv's own virtualenvs: pip's page of a missing +cpu torch (captured on a machine that
    reaches PyPI only) becomes one line naming the pin and the index to add."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("asv_install", ROOT / "benchmarks" / "asv_install.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = (ROOT / "tests" / "fixtures" / "pip_no_cpu_torch.txt").read_text()
    assert mod.reason(page).startswith("torch==2.13.0+cpu is on no index pip reached")
    assert "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu" in mod.reason(page)
    assert "\n" not in mod.reason(page)
    assert mod.reason("ERROR: Could not find a version that satisfies the requirement jax==9.9 "
                      "(from versions: none)") == "jax==9.9 is on no index pip reached"
    assert "unreachable" in mod.reason("WARNING: Retrying ... NewConnectionError(...)")
    assert mod.reason("ERROR: something else\nERROR: more") == "something else"
    from asv.util import load_json
    conf = load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    assert "benchmarks/asv_install.py" in conf["install_command"][0]


@pytest.mark.slow
def test_two_shards_merge_into_one_site(tmp_path):
    """Two machines each ran part of the sweep (adcost.sweep --shard): their folders side by
    side under one asv/ make one site, each study read from the machine that ran it, both named."""
    from adcost import sweep
    from adcost.analysis import plots, site
    root = tmp_path / "results" / "asv"
    parts = {i: {g[0] for g in sweep.shard_of(sweep.GROUPS, i, 2, "full")} for i in (1, 2)}
    for i, machine in ((1, "shard-a"), (2, "shard-b")):
        fx.write_results(root, commit=str(i) * 40, seed=i, machine=machine, date=1700000000000 + i)
        (path,) = [p for p in load.result_files(root) if p.parent.name == machine]
        data = json.loads(path.read_text())
        mine = [pattern for label, pattern in sweep.GROUPS if label in parts[i]]
        import re
        data["results"] = {name: v for name, v in data["results"].items()
                           if any(re.search(p, name) for p in mine)}
        path.write_text(json.dumps(data))
    df = load.load_asv(root)
    assert set(df["machine"]) == {"shard-a", "shard-b"}
    # each study read from the machine whose part ran it (the split follows GROUP_SECONDS)
    groups = {"crossover.JacobianNM.time_jacobian": "Jacobians over n and m",
              "crossover.JacobianWidth.time_jacobian": "Jacobians and batched primals over width",
              "memory.Checkpoint.time_gradient": "checkpointing: bytes and time"}
    expected = {b: "shard-a" if label in parts[1] else "shard-b" for b, label in groups.items()}
    assert set(expected.values()) == {"shard-a", "shard-b"}
    for benchmark, machine in expected.items():
        assert df[df["benchmark"] == benchmark]["machine"].unique().tolist() == [machine]
    load.export(df, tmp_path / "results")
    plots.build_all(df, tmp_path / "results" / "figures")
    page = site.build(tmp_path / "results", df=df).read_text()
    assert "machine shard-a" in page and "machine shard-b" in page
    assert (tmp_path / "results" / "figures" / "crossover_map.png").exists()
    assert (tmp_path / "results" / "figures" / "memory_depth.png").exists()


def test_the_explorer_puts_two_machines_side_by_side(two_machines, tmp_path):
    """A results folder with two machines: the crossover map's selector names each machine,
    'Machines side by side' compares them (old-box is 3x faster on JacobianNM) and the table
    holds both machines' rows."""
    from adcost.analysis import explorer
    parent = tmp_path / "results"
    parent.mkdir()
    (parent / "asv").symlink_to(two_machines)
    page = explorer.build(load.load_asv(two_machines), parent, tmp_path / "site").read_text()
    assert 'id="view-machines"' in page and "Machines: new-box -" in page
    assert "on old-box" in page and "on new-box" in page          # the crossover selector
    every = explorer.every_machine(load.load_asv(two_machines), parent)
    assert set(every["machine"]) == {"old-box", "new-box"}
    fig, _ = explorer.machines_view(every)
    better = [t for t in fig.data if t.name.startswith("better")]   # new-box -> old-box: faster
    assert better and len(better[0].y) > 0 and max(better[0].y) < 1 / 2


def test_the_quick_grid_runs_its_timings_in_one_asv_run():
    from adcost import sweep
    quick, full = sweep.runs(sweep.GROUPS, "quick"), sweep.runs(sweep.GROUPS, "full")
    assert len(full) == len(
        {(sweep.group_study(p), label in sweep.PROBE_GROUPS) for label, p in sweep.GROUPS})
    assert len(quick) == 1 + len(sweep.PROBE_GROUPS)
    # the probe groups run on their own: their side-by-side probes load every CPU
    for label in sweep.PROBE_GROUPS:
        assert [label] in [labels for _, _, labels in quick]
        assert [label] in [labels for _, _, labels in full]
    for plan in (quick, full):
        assert sorted(l for _, _, labels in plan for l in labels) == sorted(g[0] for g in sweep.GROUPS)
    # a group of one class has that class's study (the compile break-even is a study of its own)
    assert sweep.group_study(dict(sweep.GROUPS)["compile break-even"]) == "compile break-even"
    assert sweep.group_study(dict(sweep.GROUPS)["single JVP and VJP"]) == "crossover"
    # a full-grid run holds one study
    for _, _, labels in full:
        assert len({sweep.group_study(dict(sweep.GROUPS)[l]) for l in labels}) == 1
    import re
    width = next(r for r in full if "roofline: matmul, bandwidth and row products" in r[2])
    assert re.search(width[1], "roofline.Matmul.track_flops_per_s") and \
        re.search(width[1], "crossover.JacobianWidth.time_jacobian") and \
        not re.search(width[1], "crossover.JacobianNM.time_jacobian")
    timings = next(r for r in quick if "roofline: matmul, bandwidth and row products" in r[2])
    assert re.search(timings[1], "crossover.JacobianNM.time_jacobian") and \
        not re.search(timings[1], "memory.PeakRSS.track_peak_rss_bytes")
    # a run's load mark covers each of its groups' benchmarks
    mark = {"group": width[0], "groups": width[2], "under_load": True}
    assert load.under_load("roofline.Matmul.track_flops_per_s", [mark])
    assert not load.under_load("crossover.JacobianNM.time_jacobian", [mark])


def test_a_probe_runs_load_is_judged_before_it_and_settles_after():
    """A run of side-by-side probes loads every CPU: its mark reads the load before it only,
    and the sweep waits (bounded) for that load to decay before the next run."""
    from adcost import sweep
    from adcost.measure import load as machine
    before = {"loadavg": [0.5, 0, 0], "wall_s": 0, "children_cpu_s": 0, "time": 0}
    after = {"loadavg": [9.0, 0, 0], "wall_s": 10, "children_cpu_s": 19, "time": 10}
    assert machine.mark("g", before, after)["under_load"]
    probes = machine.mark("g", before, after, judge_after=False)
    assert not probes["under_load"] and probes["judged_after"] is False
    assert machine.mark("g", {**before, "loadavg": [9.0, 0, 0]}, after, judge_after=False)["under_load"]
    loads, slept = iter([3.0, 2.6, 2.1, 1.5]), []
    assert sweep.settle(cpus=2, loadavg=lambda: [next(loads)], sleep=slept.append) == 6.0
    assert sweep.settle(cpus=2, wait_s=4, loadavg=lambda: [5.0], sleep=slept.append) == 4.0


def test_asv_saves_each_benchmark_as_it_ends_and_keeps_the_stamp(tmp_path):
    """benchmarks/asv_plugin.py: a results file `asv run` loaded is saved after every benchmark
    (a stopped run keeps what it finished), atomically, with adcost_environment kept."""
    import benchmarks.asv_plugin  # noqa: F401  (patches asv's Results)
    from asv.results import Results
    from asv.runner import BenchmarkResult
    results = Results({"machine": "m"}, {}, "a" * 40, 0, "3.11", "adcost-py3.11", {})
    path = tmp_path / results._filename
    results.save(str(tmp_path))   # an earlier run's file, stamped by the sweep
    path.write_text(json.dumps({**json.loads(path.read_text()),
                                "adcost_environment": {"commit": "a" * 40}}))
    results.load_data(str(tmp_path))
    bench = {"name": "suite.Case.time_x", "params": [], "param_names": [], "version": "1"}
    results.add_result(bench, BenchmarkResult(result=[0.5], samples=[[0.5, 0.5]], number=[1],
                                              errcode=0, stderr="", profile=None), duration=1.0)
    saved = json.loads(path.read_text())
    assert saved["results"]["suite.Case.time_x"][0] == [0.5]
    assert saved["adcost_environment"] == {"commit": "a" * 40}
    assert [p.name for p in path.parent.iterdir()] == [path.name]   # no partial file left
    # a Results that never loaded a file (asv saving nothing) saves nothing
    other = Results({"machine": "m"}, {}, "b" * 40, 0, "3.11", "adcost-py3.11", {})
    other.add_result(bench, BenchmarkResult(result=[0.5], samples=[[0.5, 0.5]], number=[1], errcode=0,
                                            stderr="", profile=None), duration=1.0)
    assert not (tmp_path / other._filename).exists()


def test_the_install_compiles_bytecode_on_every_cpu_and_skips_what_does_not_compile(tmp_path, capsys):
    """make install runs pip with --no-compile, then src/adcost/bytecode.py (by path: standard
    library only): every module gets its .pyc, a file that does not compile is skipped, and so
    are the packages' own test suites (folders named tests or test below the venv's folder, not
    above it)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bytecode", ROOT / "src" / "adcost" / "bytecode.py")
    bytecode = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bytecode)
    site = tmp_path / "tests" / "site-packages"       # a checkout under a folder named tests
    for rel in ("good.py", "pkg/mod.py", "pkg/testing/util.py", "pkg/tests/test_a.py",
                "pkg/sub/test/b.py"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("X = 1\n")
    (site / "bad.py").write_text("def broken(:\n")
    assert bytecode.main([str(site)]) == 0
    def compiled(rel):
        path = site / rel
        return any(p.name.startswith(path.stem + ".") for p in (path.parent / "__pycache__").glob("*.pyc"))
    assert compiled("good.py") and compiled("pkg/mod.py") and compiled("pkg/testing/util.py")
    assert not compiled("bad.py")
    assert not compiled("pkg/tests/test_a.py") and not compiled("pkg/sub/test/b.py")
    assert "files that do not compile skipped" in capsys.readouterr().out
    make = (ROOT / "Makefile").read_text()
    assert "--no-compile" in make and "src/adcost/bytecode.py" in make


class _Probed:
    """A benchmark class the speed log names by its module and class (as asv names it)."""


def test_the_machines_speed_is_probed_once_beside_each_case_and_follows_its_row(tmp_path, monkeypatch):
    """Each timed case logs the machine's speed (a NumPy matmul, measure.speed) once per
    process, the sweep folds a run's lines into the results file, and the case's tidy row
    carries it; describe_run says when it moved."""
    from adcost import sweep
    from adcost.measure import speed
    assert 1e8 < speed.probe(size=64, calls=3) < 1e14
    log = tmp_path / speed.LOG_NAME
    monkeypatch.setenv("ADCOST_BENCH_STATE", str(tmp_path / "bench_state.json"))
    assert bench.speed_log() == log
    first = bench.speed_beside(_Probed(), "jax", 4)
    assert bench.speed_beside(_Probed(), "jax", 4) == first          # asv's later setups: no probe
    lines = log.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["key"] == "test_runs._Probed('jax', 4)"
    assert speed.key("crossover.JacobianWidth", ("jax", "jacfwd", 16, 4, 4)) == \
        "crossover.JacobianWidth('jax', 'jacfwd', 16, 4, 4)"
    speed.append(log, "k", 2e9)
    speed.append(log, "k", 3e9)                                       # the latest line wins
    with open(log, "a") as fh:
        fh.write('{"key": "torn", "flops_')
    got = speed.read(log)
    assert got["k"][0] == 3e9 and "torn" not in got and len(got) == 2
    assert speed.read(log, since=time.time() + 60) == {}
    assert speed.summary({"a": [1e9, 0], "b": [3e9, 0]})["median"] == 2e9 and speed.summary({}) is None
    # the sweep's stamp keeps earlier runs' probes and adds this run's
    path = fx.write_results(tmp_path / "asv")
    name = "crossover.JacobianNM('torch', 'jacfwd', 8, 64)"
    env = {"versions": {}, "threads": {}}
    sweep.stamp_file(path, env, speeds={name: [5e10, 1.0]})
    sweep.stamp_file(path, env, speeds={"crossover.JacobianNM('jax', 'jacfwd', 8, 64)": [1e11, 2.0]})
    stamped = json.loads(path.read_text())["adcost_environment"]["speed"]
    assert stamped[name] == [5e10, 1.0] and len(stamped) == 2
    df = load.load_asv(tmp_path / "asv")
    rows = df[df["benchmark"] == "crossover.JacobianNM.time_jacobian"].set_index(["framework", "op", "n", "m"])
    assert rows.loc[("torch", "jacfwd", 8, 64), "speed"] == 5e10
    assert rows.loc[("jax", "jacfwd", 8, 64), "speed"] == 1e11
    assert rows["speed"].isna().sum() == len(rows) - 2                # unprobed rows: none
    assert ("speed beside the cases 75 GFLOP/s (median), moving 55-95 (10th-90th percentile of 2 "
            "probes)") in load.describe_run(df)
    # the side-by-side benchmark's two medians travel with its probe into the tidy rows
    speed.append(tmp_path / "timed.jsonl", "crossover.JacobianNM('torch', 'jacrev', 8, 64)", 4e10,
                 timed={"forward_s": 2e-3, "reverse_s": 1e-3})
    timed = speed.read(tmp_path / "timed.jsonl")["crossover.JacobianNM('torch', 'jacrev', 8, 64)"]
    assert timed[2] == {"forward_s": 2e-3, "reverse_s": 1e-3} and len(got["k"]) == 2
    sweep.stamp_file(path, env, speeds={"crossover.JacobianNM('torch', 'jacrev', 8, 64)": timed})
    rows = load.load_asv(tmp_path / "asv").set_index(["benchmark", "framework", "op", "n", "m"])
    row = rows.loc[("crossover.JacobianNM.time_jacobian", "torch", "jacrev", 8, 64)]
    assert (row["paired_forward_s"], row["paired_reverse_s"], row["speed"]) == (2e-3, 1e-3, 4e10)
    assert rows["paired_forward_s"].notna().sum() == 1
    calm = df[df["framework"] == "torch"]
    assert "speed beside the cases 50 GFLOP/s (median of 1 probe)" in load.describe_run(calm)
    from adcost.analysis import site
    assert "median 75 GFLOP/s, 10th-90th percentile 55-95 over 2 probes" in \
        site.environment_html(df, tmp_path)
    from adcost.analysis import explorer
    table, _ = explorer.table_html(df)                        # a sortable column of the rows
    assert "50 GFLOP/s" in table and "100 GFLOP/s" in table
    from adcost.analysis import speed as speed_figure
    from adcost.analysis.plotting import MissingData
    assert len(speed_figure.probes_over_time(df)) == 2
    assert speed_figure.build(df).axes[0].get_ylabel() == "float32 matmul GFLOP/s"
    with pytest.raises(MissingData, match="no speed probes"):
        speed_figure.build(df.drop(columns=["speed", "speed_at"]))


# -- the sweep's streams: asv runs side by side, one per CPU group ---------------------------
def test_streams_take_every_group_once_in_whole_studies_longest_first():
    """In streams each study's timing groups and each study's probe groups are one run (in the
    quick grid too), every group in exactly one run, the longest (GROUP_SECONDS, a probe group's
    times the streams: a stream runs its probes one at a time) first."""
    from adcost import sweep
    for grid in ("quick", "full"):
        groups = sweep.selected(None, grid)
        plan = sweep.stream_runs(groups, grid, 2)
        assert sorted(l for _, _, labels in plan for l in labels) == sorted(g[0] for g in groups)
        for _, _, labels in plan:
            assert len({sweep.group_study(dict(sweep.GROUPS)[l]) for l in labels}) == 1
            assert len({l in sweep.PROBE_GROUPS for l in labels}) == 1
        column = 0 if grid == "quick" else 1
        weights = [sum(sweep.GROUP_SECONDS[l][column] * (2 if l in sweep.PROBE_GROUPS else 1)
                       for l in labels) for _, _, labels in plan]
        assert weights == sorted(weights, reverse=True)
    quick = sweep.stream_runs(sweep.selected(None, "quick"), "quick", 2)
    assert len(quick) > len(sweep.runs(sweep.selected(None, "quick"), "quick"))


def test_stream_cpu_groups_follow_the_thread_limit(monkeypatch):
    from adcost import sweep, threads
    monkeypatch.setattr(threads, "machine_cpus", lambda: [0, 1, 2, 3, 4])
    for limit, groups in ((1, [[0], [1], [2], [3], [4]]), (2, [[0, 1], [2, 3]]), (None, [[0, 1, 2, 3, 4]])):
        monkeypatch.setattr(threads, "requested", lambda limit=limit: limit)
        assert sweep.stream_cpu_sets() == groups


def test_the_default_streams_keep_memory_for_each(monkeypatch):
    from adcost import sweep
    assert sweep.default_streams(16, memory=24 * 2 ** 30) == 6
    assert sweep.default_streams(2, memory=24 * 2 ** 30) == 2
    assert sweep.default_streams(4, memory=2 ** 30) == 1


def test_a_streams_merge_takes_its_runs_benchmarks_only(tmp_path):
    """A stream's results file holds what it was seeded with and its run; merging it into
    results/asv takes the run's benchmarks (and their suites' setup_cache seconds) only, so a
    stale seeded copy never overwrites what another stream measured since; a missing target
    is made from the stream's file, without its stamp."""
    from adcost import sweep
    stream, main = tmp_path / "stream.json", tmp_path / "main.json"
    base = {"commit_hash": "c" * 40, "env_name": "adcost-py3.11", "date": 1, "python": "3.11",
            "params": {"machine": "m"}, "requirements": {}, "env_vars": {}, "version": 2,
            "result_columns": ["result", "params"]}
    stream.write_text(json.dumps({**base, "date": 5, "adcost_environment": {"load": [1]},
                                  "results": {"crossover.JacobianNM.time_jacobian": ["stale"],
                                              "memory.Forward.time_jvp": ["new"]},
                                  "durations": {"<setup_cache memory:1>": 9.0,
                                                "<setup_cache crossover:2>": 1.0}}))
    pattern = r"(?:^memory\.Forward\.)"
    sweep.merge_run(stream, main, pattern)
    made = json.loads(main.read_text())
    assert made["results"] == {"memory.Forward.time_jvp": ["new"]}
    assert made["durations"] == {"<setup_cache memory:1>": 9.0}
    assert "adcost_environment" not in made and made["commit_hash"] == "c" * 40
    main.write_text(json.dumps({**base, "adcost_environment": {"load": [0]},
                                "results": {"crossover.JacobianNM.time_jacobian": ["fresh"]},
                                "durations": {}}))
    sweep.merge_run(stream, main, pattern)
    merged = json.loads(main.read_text())
    assert merged["results"] == {"crossover.JacobianNM.time_jacobian": ["fresh"],
                                 "memory.Forward.time_jvp": ["new"]}
    assert merged["adcost_environment"] == {"load": [0]} and merged["date"] == 5


def test_the_speed_lines_of_a_run_are_its_own_benchmarks():
    from adcost import sweep
    entries = {"crossover.JacobianNM('jax', 'jacfwd', 4, 4)": [1.0, 1.0],
               "memory.Forward('torch', 4)": [2.0, 2.0], "crossover.JacobianNMX('a')": [3.0, 3.0]}
    assert sweep.run_speeds(entries, r"(?:^crossover\.(PrimalNM|JacobianNM)\.)") == {
        "crossover.JacobianNM('jax', 'jacfwd', 4, 4)": [1.0, 1.0]}


def test_side_by_side_streams_count_as_load_only_beyond_their_own(monkeypatch):
    """Two streams keep two CPUs busy: a 1-minute load a little above the CPU count is theirs
    (STREAM_SLACK), more is someone else's; one run at a time, any excess counts."""
    from adcost.measure import load as measure_load
    monkeypatch.delenv(measure_load.STREAMS_VARIABLE, raising=False)
    assert measure_load.overloaded(2.3, 2) and not measure_load.overloaded(2.0, 2)
    monkeypatch.setenv(measure_load.STREAMS_VARIABLE, "2")
    assert not measure_load.overloaded(2.7, 2) and measure_load.overloaded(3.3, 2)


NOTES_SCRIPT = r'''
import json, os, sys
sys.path.insert(0, sys.argv[1])
from adcost.bench import BenchState
state = BenchState(sys.argv[2], scope="s")
for i in range(int(sys.argv[4])):
    key = f"{sys.argv[3]}/{i}"
    state.start(key, (i,))
    state.finish(key, (i,), seconds=float(i))
'''


def test_the_benchmark_state_keeps_every_note_of_processes_side_by_side(tmp_path):
    """Streams note their sizes in one state file at once: each load-modify-save holds the
    file's lock, so two processes' notes all survive (unlocked, one's save dropped the other's)."""
    import subprocess
    path = tmp_path / "bench_state.json"
    procs = [subprocess.Popen([sys.executable, "-c", NOTES_SCRIPT, str(ROOT / "src"), str(path),
                               name, "150"]) for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    data = json.loads(path.read_text())["s"]
    assert len(data["seconds"]) == 300 and data["pending"] == {}


FAKE_ASV = r'''
import json, os, re, sys, time
config, machine, commit, pattern = sys.argv[1:5]
if os.environ.get("FAKE_MACHINE_FILE"):   # as asv run: rewrite the machine file as it starts
    shared = os.environ["FAKE_MACHINE_FILE"]
    mine = f"{shared}.{os.getpid()}"
    open(mine, "w").close()
    others = [n for n in os.listdir(os.path.dirname(shared))
              if n.startswith(os.path.basename(shared) + ".") and n.rsplit(".", 1)[1].isdigit()
              and n != os.path.basename(mine)]
    with open(shared + ".log", "a") as log:
        log.write(("overlap" if others else "alone") + "\n")
    time.sleep(0.3)
    os.remove(mine)
conf = json.load(open(config))
folder = os.path.join(conf["results_dir"], machine)
os.makedirs(folder, exist_ok=True)
print("cpus", ",".join(map(str, sorted(os.sched_getaffinity(0)))), "streams",
      os.environ.get("ADCOST_SWEEP_STREAMS"), "machine cpus", os.environ.get("ADCOST_MACHINE_CPUS"))
path = os.path.join(folder, commit[:8] + "-adcost-py3.11.json")
try:
    data = json.load(open(path))
except OSError:
    data = {"commit_hash": commit, "env_name": "adcost-py3.11", "date": 1, "python": "3.11",
            "params": {"machine": machine}, "requirements": {}, "env_vars": {}, "version": 2,
            "result_columns": ["result", "params"], "results": {}, "durations": {}}
print("seeded with", "workloads.Workload.time_workload" in data["results"])
names = ["crossover.JacobianNM.time_jacobian", "crossover.JacobianWidth.time_jacobian",
         "crossover.JacobianDepth.time_jacobian",
         "roofline.Matmul.track_flops_per_s", "memory.Forward.time_jvp",
         "memory.PeakRSS.track_peak_rss_bytes", "second_order.HVP.time_hvp",
         "workloads.Workload.time_workload"]
for name in names:
    if re.search(pattern, name):
        data["results"][name] = [[1.0], [["'x'"]]]
json.dump(data, open(path, "w"))
json.dump({"machine": machine, "version": 1}, open(os.path.join(folder, "machine.json"), "w"))
json.dump({"version": 2}, open(os.path.join(conf["results_dir"], "benchmarks.json"), "w"))
if os.environ.get("FAKE_STOP") and re.search(pattern, os.environ["FAKE_STOP"]):
    sys.exit(130)   # stopped (Ctrl-C) after saving what it ran, as the asv plugin does
if os.environ.get("FAKE_SLOW"):
    print("saved; the next benchmark runs", flush=True)
    import time
    try:
        time.sleep(float(os.environ["FAKE_SLOW"]))
    except KeyboardInterrupt:   # Ctrl-C here: asv winds down for a moment, then exits 1
        time.sleep(2)
        sys.exit(1)
'''


@pytest.fixture
def two_streams(tmp_path, monkeypatch):
    """The sweep on two CPUs of this machine with a thread limit of one (two streams), asv
    replaced by FAKE_ASV, no compiler warm-up; (the two CPUs, the results folder)."""
    from adcost import sweep, threads
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        pytest.skip("streams need two CPUs")
    monkeypatch.chdir(ROOT)
    results = tmp_path / "results"
    monkeypatch.setenv("ADCOST_RESULTS", str(results))
    monkeypatch.setattr(threads, "requested", lambda environ=None: 1)
    monkeypatch.setattr(threads, "apply", lambda n=None: 1)
    monkeypatch.setattr(threads, "machine_cpus", lambda: cpus[:2])
    monkeypatch.setattr(sweep, "warm_compiler", lambda grid, env: None)
    seen = []

    def fake(pattern, machine, commit, resume, extra, config=None):
        seen.append((pattern, resume))
        return [sys.executable, "-c", FAKE_ASV, config[1], machine, commit, pattern]
    monkeypatch.setattr(sweep, "asv_command", fake)
    return cpus[:2], results, seen


@pytest.mark.slow
def test_the_sweep_runs_its_streams_side_by_side_and_merges_every_run(two_streams, capsys):
    """`adcost.sweep` with a thread limit of one CPU on a machine of two runs two streams: each
    asv run pinned to its stream's CPU (and told it, for its probes), its output prefixed with
    the stream, its results merged into results/asv and stamped with its load mark, and the
    streams' folders removed after a sweep that finished."""
    from adcost import sweep
    cpus, results, _ = two_streams
    assert sweep.main(["--grid", "quick", "--noise-processes", "0", "--machine", "box"]) == 0
    out = capsys.readouterr().out
    assert "in 2 streams side by side" in out
    plan = sweep.stream_runs(sweep.selected(None, "quick"), "quick", 2)
    for k, cpu in ((1, cpus[0]), (2, cpus[1])):
        assert f"[{k}] cpus {cpu} streams 2 machine cpus {cpu}" in out
    (path,) = sweep.result_files("box", sweep.git_head(), results)
    data = json.loads(path.read_text())
    assert set(data["results"]) == {"crossover.JacobianNM.time_jacobian",
                                    "crossover.JacobianWidth.time_jacobian",
                                    "crossover.JacobianDepth.time_jacobian",
                                    "roofline.Matmul.track_flops_per_s", "memory.Forward.time_jvp",
                                    "memory.PeakRSS.track_peak_rss_bytes",
                                    "second_order.HVP.time_hvp", "workloads.Workload.time_workload"}
    marks = data["adcost_environment"]["load"]
    assert sorted(m["group"] for m in marks) == sorted(label for label, _, _ in plan)
    assert {m["stream"] for m in marks} == {1, 2} and all(m["streams"] == 2 for m in marks)
    assert data["adcost_environment"]["streams"] == 2
    df = load.load_asv(results / "asv")   # the rows say so, and every view's header
    assert set(df["streams"]) == {2}
    assert "cases timed 2 at a time, one per CPU" in load.describe_run(df)
    assert (results / "asv" / "benchmarks.json").exists()
    assert not (results / sweep.STREAMS_FOLDER).exists()


@pytest.mark.slow
def test_the_streams_start_their_asv_runs_one_at_a_time(two_streams, monkeypatch, tmp_path):
    """asv run rewrites ~/.asv-machine.json as it starts, so two runs starting at once can read
    it half written: each stream's run starts only when the other's has printed its first line
    (the fake asv notes whether another one was starting beside it)."""
    from adcost import sweep
    shared = tmp_path / "machines" / "asv-machine.json"
    shared.parent.mkdir()
    monkeypatch.setenv("FAKE_MACHINE_FILE", str(shared))
    assert sweep.main(["--grid", "quick", "--noise-processes", "0", "--machine", "box"]) == 0
    starts = (tmp_path / "machines" / "asv-machine.json.log").read_text().split()
    plan = sweep.stream_runs(sweep.selected(None, "quick"), "quick", 2)
    assert len(starts) == len(plan) and set(starts) == {"alone"}


@pytest.mark.slow
def test_a_stopped_stream_keeps_what_it_ran_and_resume_goes_on(two_streams, monkeypatch, capsys):
    """A stream's asv run stopped (exit 130): the sweep stops with that status, the run's saved
    benchmarks are merged into results/asv, it says how to go on and keeps the streams' folders;
    `--resume` seeds each stream with results/asv, so asv's --skip-existing sees them."""
    from adcost import sweep
    _, results, seen = two_streams
    monkeypatch.setenv("FAKE_STOP", "workloads.Workload.time_workload")
    args = ["--grid", "quick", "--noise-processes", "0", "--machine", "box"]
    assert sweep.main(args) == 130
    err = capsys.readouterr().err
    assert "stopped in 'workloads" in err and "make resume" in err
    (path,) = sweep.result_files("box", sweep.git_head(), results)
    assert "workloads.Workload.time_workload" in json.loads(path.read_text())["results"]
    assert (results / sweep.STREAMS_FOLDER).is_dir()
    seen.clear()
    monkeypatch.delenv("FAKE_STOP")
    assert sweep.main(args + ["--resume"]) == 0
    assert seen and all(resume for _, resume in seen)
    out = capsys.readouterr().out
    for k in (1, 2):   # each stream's folder was seeded with what results/asv held
        assert f"[{k}] seeded with True" in out and f"[{k}] seeded with False" not in out
    data = json.loads(path.read_text())
    assert "workloads.Workload.time_workload" in data["results"]
    assert not (results / sweep.STREAMS_FOLDER).exists()


def test_a_stream_whose_own_code_fails_stops_the_sweep_with_the_error(two_streams, monkeypatch,
                                                                      capsys):
    """An error in a stream's own code (here: merging its run) stops the sweep with exit 1 and
    the error named, instead of a thread dying and the sweep ending as if all had run."""
    from adcost import sweep

    def broken(*args):
        raise OSError("disk full")
    monkeypatch.setattr(sweep, "adopt_stream", broken)
    assert sweep.main(["--grid", "quick", "--noise-processes", "0", "--machine", "box",
                       "--only", "depth"]) == 1
    assert "OSError: disk full" in capsys.readouterr().err


INTERRUPTED_SWEEP = r"""
import os, signal, sys
# Ctrl-C as a terminal delivers it, whatever the test runner's process did with SIGINT (an
# ignored or blocked SIGINT is inherited across exec: the sweep and its runs never saw the
# signal once in a `make test`, and ran to the end)
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
sys.path.insert(0, sys.argv[1])
from adcost import sweep, threads
fake_asv, cpus = sys.argv[2], [int(c) for c in sys.argv[3].split(",")]
threads.requested = lambda environ=None: 1
threads.apply = lambda n=None: 1
threads.machine_cpus = lambda: cpus
sweep.warm_compiler = lambda grid, env: None
sweep.asv_command = lambda pattern, machine, commit, resume, extra, config=None: [
    sys.executable, "-c", fake_asv, config[1], machine, commit, pattern]
sys.exit(sweep.main(["--grid", "quick", "--noise-processes", "0", "--machine", "box",
                     "--only", "depth"]))
"""


@pytest.mark.slow
def test_ctrl_c_lets_every_stream_merge_what_its_run_saved(tmp_path):
    """Ctrl-C reaches the sweep and its asv runs: each run has saved its finished benchmarks in
    its stream's folder, and the sweep waits for every stream to merge them into results/asv
    before it exits (a Thread.join that Ctrl-C interrupts marks the thread finished in Python
    3.11, and the sweep then left with the streams' last runs unmerged)."""
    import signal
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        pytest.skip("streams need two CPUs")
    results = tmp_path / "results"
    env = {**os.environ, "ADCOST_RESULTS": str(results), "FAKE_SLOW": "20"}
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED_SWEEP, str(ROOT / "src"), FAKE_ASV,
                             ",".join(map(str, cpus[:2]))], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    seen, out = 0, []
    for line in proc.stdout:   # both streams' runs saved their results and sleep
        out.append(line)
        seen += "saved; the next benchmark runs" in line
        if seen == 2:
            break
    os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    text = "".join(out) + rest
    assert proc.returncode != 0 and "make resume" in text, text
    from adcost import sweep
    (path,) = sweep.result_files("box", sweep.git_head(), results)
    assert set(json.loads(path.read_text())["results"]) == {
        "crossover.JacobianDepth.time_jacobian", "memory.Forward.time_jvp"}
