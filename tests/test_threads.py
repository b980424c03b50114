"""ADCOST_THREADS: one thread limit for every framework, checked before anything runs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adcost import threads

pytestmark = pytest.mark.slow   # fresh interpreters

ROOT = Path(__file__).resolve().parents[1]


def test_requested_reads_the_variable():
    assert threads.requested({}) is None
    assert threads.requested({"ADCOST_THREADS": " "}) is None
    assert threads.requested({"ADCOST_THREADS": "1"}) == 1


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", str(len(threads.available_cpus()) + 1)])
def test_requested_refuses_what_cannot_be_a_limit(raw):
    with pytest.raises(ValueError, match="ADCOST_THREADS must be a whole number from 1 to"):
        threads.requested({"ADCOST_THREADS": raw})


def python(code: str, **env) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter, without any thread limit the suite itself runs under."""
    clean = {k: v for k, v in os.environ.items() if k not in (threads.VARIABLE, threads.MACHINE_VARIABLE, *threads.thread_vars())}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**clean, **env}, cwd=ROOT, timeout=120)


def test_apply_limits_variables_affinity_and_torch_in_a_fresh_process():
    pytest.importorskip("torch")
    code = ("import json, os; from adcost import threads; threads.apply(); import torch; "
            "from adcost.measure.environment import thread_settings; "
            "print(json.dumps({'torch': torch.get_num_threads(), **thread_settings()}))")
    out = python(code, ADCOST_THREADS="1")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["torch"] == 1 and got["ADCOST_THREADS"] == "1"
    assert all(got[var] == "1" for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"))
    if hasattr(os, "sched_getaffinity"):
        assert got["cpus_allowed"] == 1


@pytest.mark.skipif(len(threads.available_cpus()) < 2, reason="one CPU: every pool has one thread")
def test_apply_limits_numpys_blas_loaded_before_it_and_in_a_forked_child():
    """adcost imports NumPy before any limit: its OpenBLAS pool (one thread per CPU) is
    narrowed where the limit is applied, and stays so in a process forked from there (asv's
    forkserver), where it had re-created its workers on the main thread's one CPU."""
    code = ("import json, os, sys; from adcost import threads; assert 'numpy' in sys.modules; "
            "threads.apply(); from threadpoolctl import threadpool_info; "
            "pools = lambda: sorted({p['num_threads'] for p in threadpool_info()}); "
            "here = pools(); r, w = os.pipe(); pid = os.fork()\n"
            "if pid == 0: os.write(w, json.dumps(pools()).encode()); os._exit(0)\n"
            "os.waitpid(pid, 0); print(json.dumps({'here': here, 'child': json.loads(os.read(r, 999))}))")
    out = python(code, ADCOST_THREADS="1")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got == {"here": [1], "child": [1]}


def test_an_inherited_limit_is_kept_after_the_frameworks_are_imported():
    """A child of a limited process (asv's benchmarks, the peak-RSS probes) already runs
    under the limit: applying it again is not an error."""
    pytest.importorskip("torch")
    code = ("import os; from adcost import threads; threads.apply(1); import torch; "
            "print(threads.apply(1), len(threads.available_cpus()))")
    out = python(code, ADCOST_THREADS="1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]


def test_apply_refuses_once_a_framework_is_imported():
    pytest.importorskip("torch")
    out = python("import torch; from adcost import threads; threads.apply(1)")
    assert out.returncode != 0 and "before importing torch" in out.stderr


def test_unset_changes_nothing():
    out = python("import os; from adcost import threads; print(threads.apply(), "
                 "os.environ.get('OMP_NUM_THREADS'))", ADCOST_THREADS="", OMP_NUM_THREADS="")
    assert out.returncode == 0 and out.stdout.split() == ["None"]


@pytest.mark.parametrize("argv", [["adcost.cli", "check", "--problem", "xy_sin"],
                                  ["adcost.sweep", "--grid", "quick"],
                                  ["adcost.checkpoint.report", "--grid", "quick", "--out", "OUT"]])
def test_a_bad_limit_is_one_line_and_exit_2_before_any_work(argv, tmp_path):
    argv = [str(tmp_path / "summary.json") if a == "OUT" else a for a in argv]
    out = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "ADCOST_THREADS": "zero", "ADCOST_RESULTS": str(tmp_path)},
                         timeout=120)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "ADCOST_THREADS must be" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_limit_records_the_cpus_it_narrowed():
    """apply(1) pins the process to one CPU and records the CPUs it had, for its children (the
    sweep's peak-RSS probes run side by side on them)."""
    code = ("import json; from adcost import threads; before = threads.available_cpus(); "
            "threads.apply(1); print(json.dumps([before, threads.available_cpus(), "
            "threads.machine_cpus()]))")
    out = python(code, ADCOST_THREADS="1")
    assert out.returncode == 0, out.stderr
    before, now, machine = json.loads(out.stdout)
    assert now == before[:1] and machine == before
