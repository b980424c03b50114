"""`adcost profile`: measured ranking on the user's own function."""
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import pytest

import adcost
from adcost import cli
from adcost import profiling as prof

MODULE = '''
import time
import numpy as np

T = np.linspace(0.0, 1.0, 300).reshape(300, 1)

def wide(xp, x):
    """few inputs (3), many outputs (300)"""
    return xp.sum(xp.sin(T * xp.reshape(x, (1, 3))), axis=1)

def tall(xp, x):
    """many inputs, one output"""
    return xp.reshape(xp.sum(xp.tanh(x) * x), (1,))

def gather(xp, x, data):
    return xp.take(x, data["idx"]) * data["scale"]

def slow(xp, x):
    time.sleep(0.4)
    return x * 2.0

def big(xp, x):
    """a 600 x 600 Jacobian: 2.7 MiB in float64"""
    return xp.sin(x) * 2.0
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "userfns.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("userfns", None)
    return tmp_path


def test_few_inputs_recommend_forward(user_module):
    df = prof.profile("userfns:wide", x0=[0.1, 0.2, 0.3], frameworks=["numpy"], budget_s=30)
    best = df.iloc[0]
    assert best["recommended"] and best["status"] == "ok" and best["family"] == "forward"
    assert set(["framework", "mode", "seconds", "compile_s", "call"]) <= set(df.columns)
    assert df.attrs["problem"]["m"] == 300       # m found by one call
    assert best["call"].startswith("adcost.jacobian(problem, 'numpy'")


def test_a_dtype_a_framework_lacks_is_skipped_and_a_worker_that_cannot_start_is_a_failed_row(
        user_module):
    """--dtype float32: finite differences (float64 only) are skipped with the reason, not a
    crash of the whole profile (its worker died at start, and the profile with it).  A worker
    that cannot set up (here the module raises in it only) gives its framework's rows that
    reason, once, and the profile goes on."""
    df = prof.profile("userfns:wide", x0=[0.1, 0.2, 0.3], frameworks=["fd", "numpy"],
                      budget_s=30, dtype="float32")
    fd = df[df["framework"] == "fd"]
    assert list(fd["status"]) == ["skipped"] and "fd runs in float64 only" in fd["note"].iat[0]
    assert (df.loc[df["framework"] == "numpy", "status"] == "ok").any()
    (user_module / "onlyhere.py").write_text(   # imports in this process, raises in others
        "import os\nif os.getpid() != int(os.environ['PROFILE_TEST_PARENT_PID']):\n"
        "    raise ImportError('not in a worker')\n"
        "def f(xp, x):\n    return xp.sin(x)\n")
    started = []
    real = prof.Worker._start
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROFILE_TEST_PARENT_PID", str(os.getpid()))
        mp.setattr(prof.Worker, "_start",
                   lambda self, timeout: (started.append(1), real(self, timeout))[1])
        df = prof.profile("onlyhere:f", x0=[0.1, 0.2], frameworks=["numpy"], budget_s=20)
    assert len(started) == 1 and (df["status"] == "failed").all()
    assert df["note"].str.contains("not in a worker").all(), df["note"].iat[0]


def test_many_inputs_recommend_reverse(user_module):
    df = prof.profile("userfns:tall", x0=np.linspace(-1, 1, 400), frameworks=["numpy"], budget_s=30)
    assert df.iloc[0]["family"] == "reverse"
    assert any(line.startswith("second order: --order 2") for line in prof.summary(df))   # m = 1
    ok = df[df["status"] == "ok"]
    assert ok["seconds"].is_monotonic_increasing


def test_data_and_integer_gather_in_process():
    """A lambda cannot go to a worker: measured in this process, with its data."""
    fn = lambda xp, x, d: xp.take(x, d["idx"]) * d["scale"]   # noqa: E731
    df = prof.profile(fn, x0=[1.0, 2.0, 3.0], data={"idx": np.array([2, 0, 2]), "scale": 2.0},
                      frameworks=["numpy"], budget_s=20)
    assert (df["status"] == "ok").any() and df.attrs["problem"]["m"] == 3


def test_a_slow_mode_is_stopped_not_waited_for(user_module, monkeypatch):
    monkeypatch.setattr(prof, "MIN_SHARE_S", 1.0)
    start = time.perf_counter()
    df = prof.profile("userfns:slow", x0=[1.0, 2.0], frameworks=["numpy"], budget_s=6)
    took = time.perf_counter() - start
    assert (df["status"] == "stopped").all(), df[["mode", "status", "note"]]
    assert df["note"].str.contains("outran its share").any()     # killed, not waited for
    assert took < 6 + 10      # the budget, plus a worker's start-up
    assert not df["recommended"].any()
    # the summary names what the budget stopped and the budget that gives it room
    said = [line for line in prof.summary(df) if line.startswith("not measured in the budget")]
    assert said and f"{len(df)} of {len(df)} modes" in said[0], prof.summary(df)
    assert "numpy: jacfwd" in said[0] and "--budget 12 (adcost.profile(..., budget_s=12))" in said[0]


def test_cli_profile_json(user_module, capsys):
    np.save(user_module / "x.npy", np.array([1.0, 2.0, 3.0]))
    np.savez(user_module / "d.npz", idx=np.array([0, 2]), scale=np.array(3.0))
    code = cli.main(["profile", "userfns:gather", "--x0", "x.npy", "--data", "d.npz",
                     "--framework", "numpy", "--budget", "20", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["recommended"] and {"framework", "mode", "seconds", "compile_s", "call"} <= set(rows[0])


@pytest.mark.parametrize("argv, message", [
    (["profile"], "MODULE:FUNCTION or --problem"),
    (["profile", "userfns:wide"], "--x0"),
    (["profile", "userfns:wide", "--x0", "missing.npy"], "missing.npy"),
    (["profile", "nosuchmodule:f", "--x0", "x.npy"], "cannot import"),
    (["profile", "userfns:nothere", "--x0", "x.npy"], "has no"),
    (["profile", "userfns:wide", "--x0", "x.npy", "--m", "7"], "--m 7"),
    (["profile", "--problem", "gmm", "--size", "q=3"], "takes no size q"),
])
def test_cli_profile_bad_input_is_one_line(user_module, capsys, argv, message):
    np.save(user_module / "x.npy", np.array([1.0, 2.0, 3.0]))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert {p.name for p in user_module.iterdir()} - {"__pycache__"} == {"x.npy", "userfns.py"}


@pytest.mark.parametrize("source, spec, message", [
    ("def f(xp, x):\n    return x[\n", "broken.py:f", "SyntaxError"),
    ("raise RuntimeError('boom at import')\n", "broken.py:f", "RuntimeError: boom at import"),
    ("", "elsewhere/none.py:f", "no such file"),
    ("def g(xp, x):\n    return x\n", "broken.py:f", "has no 'f'"),
])
def test_a_module_that_cannot_be_imported_is_one_line(user_module, capsys, source, spec, message):
    """A file that does not parse, that raises as it runs, that is not there, or that lacks
    the function: one line on stderr, exit 2, nothing written."""
    np.save(user_module / "x.npy", np.array([1.0, 2.0, 3.0]))
    (user_module / "broken.py").write_text(source)
    assert cli.main(["profile", spec, "--x0", "x.npy"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert {p.name for p in user_module.iterdir()} - {"__pycache__"} == {"x.npy", "userfns.py",
                                                                         "broken.py"}


def test_a_function_is_found_by_its_files_path(user_module, capsys, tmp_path_factory):
    """`mine.py:f` (the path of a .py file, relative or absolute) as well as `mine:f`: the
    workers load the same file from its absolute path, from another directory too."""
    np.save(user_module / "x.npy", np.array([1.0, 2.0, 3.0]))
    code = cli.main(["profile", "userfns.py:wide", "--x0", "x.npy", "--framework", "numpy",
                     "--budget", "20", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in rows} == {"ok"} and rows[0]["mode"].startswith("jacfwd")
    assert prof.absolute_spec("userfns.py:wide") == f"{user_module / 'userfns.py'}:wide"
    assert prof.absolute_spec("userfns:wide") == "userfns:wide"
    fn = prof.load_function(f"{user_module / 'userfns.py'}:tall")
    assert fn(np, np.zeros(4)).shape == (1,)


def test_a_function_that_calls_numpy_is_measured_by_no_mode_and_told_why(user_module, capsys):
    """np.sin(x) instead of xp.sin(x): no framework can trace it; the profile says so, hints at
    the namespace, and exits 1 (nothing measured) rather than 0."""
    np.save(user_module / "x.npy", np.array([1.0, 2.0, 3.0]))
    (user_module / "rawnp.py").write_text("import numpy as np\n\ndef f(xp, x):\n    return np.sin(x)\n")
    assert cli.main(["profile", "rawnp.py:f", "--x0", "x.npy", "--framework", "numpy",
                     "--budget", "20"]) == 1
    out = capsys.readouterr().out
    assert "no mode could be measured" in out and "xp.sin(x)" in out
    rows = pd.DataFrame({"status": ["failed", "skipped"],
                         "note": ["TracerArrayConversionError: ...\nSee https://...", "x"]})
    assert not prof.calls_numpy(rows)       # one mode failed for another reason: no hint


def test_a_value_that_is_not_finite_at_x0_is_one_line(user_module, capsys):
    np.save(user_module / "x.npy", np.array([1.0, 2.0, 3.0]))
    (user_module / "logneg.py").write_text("def f(xp, x):\n    return xp.log(x - 5.0)\n")
    assert cli.main(["profile", "logneg.py:f", "--x0", "x.npy"]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not finite at x0" in err and len(err.splitlines()) == 1, err


def test_a_mode_that_cannot_fit_in_memory_is_skipped_with_its_estimate(monkeypatch):
    """The MLP by the sweep's estimate of one call, any other function by what it must hold at
    the least (the Jacobian and its basis): skipped with the figure, not a MemoryError."""
    from adcost import envvars
    monkeypatch.setattr(envvars, "available_memory", lambda: 2 ** 30)       # 1 GiB
    mlp = adcost_problem("mlp", n=20000, m=3)
    assert "one call needs about" in prof.memory_reason(mlp, "jacfwd", "float64")
    assert prof.memory_reason(mlp, "jacrev", "float64") is None
    lse = adcost_problem("lse", n=20000)                       # 20000^2 doubles: 3 GiB
    assert "at least 2.98 GiB, more than the 1 GiB" in prof.memory_reason(lse, "jacfwd", "float64")
    assert "at least" in prof.memory_reason(lse, "autograd_jacobian_forward", "float64")
    assert prof.memory_reason(lse, "grad", "float64") is None
    row = prof.measure(lse, "numpy", "jacfwd", "float64", 5.0)
    assert row["status"] == "skipped" and "GiB" in row["note"]


def adcost_problem(name, **sizes):
    from adcost.problems import make_problem
    return make_problem(name, **sizes)


def test_bad_budget_is_refused():
    with pytest.raises(SystemExit) as exc:
        cli.main(["profile", "--problem", "lse", "--budget", "0"])
    assert exc.value.code == 2


def test_cli_jacobian_of_a_user_function(user_module, capsys):
    np.save(user_module / "x.npy", np.array([1.0, 2.0, 3.0]))
    np.savez(user_module / "d.npz", idx=np.array([0, 2]), scale=np.array(3.0))
    assert cli.main(["jacobian", "--function", "userfns:gather", "--x0", "x.npy", "--data", "d.npz",
                     "--framework", "numpy", "--json"]) == 0
    J = np.array(json.loads(capsys.readouterr().out)["jacobian"])
    np.testing.assert_allclose(J, [[3.0, 0, 0], [0, 0, 3.0]])
    assert cli.main(["jacobian", "--function", "userfns:gather", "--x0", "x.npy",
                     "--framework", "numpy"]) == 2       # data missing: one line
    assert "data" in capsys.readouterr().err
    assert cli.main(["jacobian", "--framework", "numpy"]) == 2


def test_cli_jacobian_says_which_framework_cannot_run_it_and_a_refusal_in_one_line(
        user_module, capsys, monkeypatch):
    (user_module / "rev.py").write_text("def f(xp, x):\n    return xp.sin(x) * x[::-1]\n")
    np.save(user_module / "x.npy", np.array([1.0, 2.0, 3.0]))
    assert cli.main(["jacobian", "--function", "rev.py:f", "--x0", "x.npy",
                     "--framework", "numpy"]) == 0
    capsys.readouterr()
    if not prof.missing_reason("torch"):
        assert cli.main(["jacobian", "--function", "rev.py:f", "--x0", "x.npy",
                         "--framework", "torch"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "torch cannot run rev.py.f" in err and "xp.flip" in err
    import adcost
    from adcost.validate import ValidationError
    def refused(*args, **kwargs):
        raise ValidationError("rev/numpy/jacrev/float64: max relative error 1e-2\nmore")
    monkeypatch.setattr(adcost, "jacobian", refused)
    assert cli.main(["jacobian", "--function", "rev.py:f", "--x0", "x.npy",
                     "--framework", "numpy"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "adcost: refused by the validation gate: rev/numpy/jacrev/float64: max relative error 1e-2"


def test_the_public_api_is_the_function():
    import adcost
    assert adcost.profile is prof.profile
    df = adcost.profile(lambda xp, x: xp.sin(x), [0.1, 0.2], frameworks=["numpy"], budget_s=10)
    assert df.iloc[0]["recommended"]


def test_profile_reports_what_compiling_buys():
    """Rows of a profile where torch_compile and torch both measured jacrev: the summary says
    after how many calls the compile paid; a compiled mode that is slower never pays."""
    import pandas as pd

    from adcost import profiling
    df = pd.DataFrame([
        {"framework": "torch_compile", "mode": "jacrev", "status": "ok", "seconds": 1e-4,
         "compile_s": 2.0, "family": "reverse", "ratio": 1.0, "call": "c"},
        {"framework": "torch", "mode": "jacrev", "status": "ok", "seconds": 5e-4,
         "compile_s": None, "family": "reverse", "ratio": 5.0, "call": "e"},
        {"framework": "jax", "mode": "jacfwd", "status": "ok", "seconds": 2e-3,
         "compile_s": 0.1, "family": "forward", "ratio": 20.0, "call": "j"},
        {"framework": "jax_eager", "mode": "jacfwd", "status": "ok", "seconds": 1e-3,
         "compile_s": None, "family": "forward", "ratio": 10.0, "call": "je"},
        # jit takes less before its first call than eager JAX's first call: it pays at once
        {"framework": "jax", "mode": "jacrev", "status": "ok", "seconds": 1e-5,
         "compile_s": 0.085, "family": "reverse", "ratio": 0.1, "call": "jr"},
        {"framework": "jax_eager", "mode": "jacrev", "status": "ok", "seconds": 2e-3,
         "compile_s": 0.469, "family": "reverse", "ratio": 20.0, "call": "jer"},
    ])
    df.attrs["problem"] = {"name": "mlp", "n": 4, "m": 4}
    rows = {(b["compiled"], b["mode"]): b for b in profiling.break_even(df)}
    assert rows["torch_compile", "jacrev"]["break_even_calls"] == pytest.approx(5000)
    assert rows["jax", "jacfwd"]["break_even_calls"] is None
    text = "\n".join(profiling.summary(df))
    assert "torch_compile pays off against torch after 5e+03 calls" in text
    assert "compiling jacfwd: jax does not pay off against jax_eager (not faster a call" in text
    assert rows["jax", "jacrev"]["break_even_calls"] == 0
    assert ("compiling jacrev: jax pays off against jax_eager from the first call (85 ms before "
            "its first call against 469 ms; 0.01 ms vs 2 ms a call)") in text


def test_modes_whose_spread_overlaps_the_fastest_are_named_as_tied():
    """The ranking orders medians; where the calls' interquartile ranges overlap the fastest's,
    the summary says the order among them is not measured (and says nothing when none do)."""
    from adcost import profiling
    from adcost.problems import make_problem

    def row(mode, seconds, q25, q75, family="forward"):
        return {"framework": "jax", "mode": mode, "status": "ok", "seconds": seconds, "q25": q25,
                "q75": q75, "compile_s": 0.1, "family": family, "call": mode}
    problem = make_problem("mlp", n=4, m=12, depth=1, width=4)
    df = profiling.rank(pd.DataFrame([
        row("jacrev", 1.02e-5, 0.95e-5, 1.10e-5, "reverse"), row("jacfwd_vmap", 1.0e-5, 0.9e-5, 1.05e-5),
        row("jacfwd_loop", 8e-5, 7.5e-5, 9e-5),
        {"framework": "jax", "mode": "x", "status": "skipped", "note": "n/a"}]), problem)
    assert list(df["mode"]) == ["jacfwd_vmap", "jacrev", "jacfwd_loop", "x"]
    assert list(df["tied"]) == [False, True, False, False]
    text = "\n".join(profiling.summary(df))
    assert "order among them is not measured): jax jacrev (1.02x)" in text and "jacfwd_loop (" not in text
    apart = profiling.rank(pd.DataFrame([row("jacrev", 2e-5, 1.9e-5, 2.1e-5, "reverse"),
                                         row("jacfwd_vmap", 1e-5, 0.9e-5, 1.1e-5)]), problem)
    assert not apart["tied"].any() and "not measured" not in "\n".join(profiling.summary(apart))


def reversed_product(xp, x):
    """x[::-1]: NumPy's, JAX's and TensorFlow's arrays take a negative-step slice, torch's not."""
    return xp.concat([xp.sin(x) * x[::-1], xp.cumsum(x)])


def test_a_framework_that_cannot_run_the_function_is_skipped_by_name_and_the_others_measured():
    """torch cannot run it (a negative-step slice): its rows say so once each, with what to write
    instead; JAX's are measured and validated (before, JAX's rows failed with torch's error)."""
    df = prof.profile(reversed_product, x0=np.linspace(0.1, 1.0, 5), frameworks=["torch", "jax"],
                      budget_s=40)
    torch_rows, jax_rows = df[df["framework"] == "torch"], df[df["framework"] == "jax"]
    assert len(torch_rows) and (torch_rows["status"] == "skipped").all()
    assert torch_rows["note"].str.contains("torch cannot run").all()
    assert torch_rows["note"].str.contains(r"xp\.flip", regex=True).all()
    assert (jax_rows["status"] == "ok").any()
    assert not jax_rows["note"].astype(str).str.contains("step must be").any()


def test_a_mode_that_fails_where_the_function_runs_is_a_failure(monkeypatch):
    """The function runs in the framework but one mode crashes: that is the mode's failure, said
    in one line, not a skip."""
    from adcost.frameworks.numpy_engine import NumpyEngine
    def broken(self, f):
        raise RuntimeError("a broken rule\nsecond line")
    monkeypatch.setattr(NumpyEngine, "op_jacrev", broken)
    df = prof.profile(lambda xp, x: xp.sin(x), x0=[0.1, 0.2], frameworks=["numpy"], budget_s=20)
    row = df[df["mode"] == "jacrev"].iloc[0]
    assert row["status"] == "failed" and row["note"] == "RuntimeError: a broken rule"
    assert (df[df["mode"] == "jacfwd"]["status"] == "ok").all()


BRANCHY = """
def branchy(xp, x):
    if x[0] > 0:
        return xp.sin(x)
    return xp.cos(x)
"""


def test_python_control_flow_on_a_value_is_named_with_what_to_write(user_module, capsys):
    """jax.jit and tf.function cannot trace an `if` on x: their rows say so, with xp.where."""
    (user_module / "branch.py").write_text(BRANCHY)
    np.save(user_module / "x.npy", np.array([0.1, 0.2]))
    frameworks = [f for f in ("jax", "tf") if not prof.missing_reason(f)]
    if not frameworks:
        pytest.skip("neither JAX nor TensorFlow installed")
    df = prof.profile("branch.py:branchy", x0=[0.1, 0.2], frameworks=frameworks + ["numpy"],
                      budget_s=30)
    traced = df[df["framework"].isin(frameworks)]
    assert len(traced) and (traced["status"] == "skipped").all()
    assert traced["note"].str.contains("cannot run").all()
    assert traced["note"].str.contains(r"xp\.where", regex=True).all()
    assert (df[df["framework"] == "numpy"]["status"] == "ok").any()


def energy(xp, x):
    return xp.reshape(xp.sum(xp.square(x) * xp.cos(x)) + xp.sum(xp.tanh(x) * x[0]), (1,))


def test_second_order_ranks_the_hvps_and_the_hessians_each_on_their_own():
    """--order 2: every composition's H v and every mode's H, validated, ranked within what they
    compute, each group with its own best; frameworks without second order are named."""
    import adcost
    frameworks = [f for f in ("jax", "torch") if not prof.missing_reason(f)]
    if not frameworks:
        pytest.skip("neither JAX nor torch installed")
    x0 = np.linspace(-0.8, 0.9, 6)
    df = prof.profile(energy, x0=x0, frameworks=frameworks + ["numpy"], budget_s=60, order=2)
    ok = df[df["status"] == "ok"]
    assert set(ok["computes"]) == {"H v", "H"}
    assert list(ok["computes"]) == sorted(ok["computes"], key=prof.COMPUTES.index)  # H v first
    for what, rows in ok.groupby("computes"):
        assert rows["seconds"].is_monotonic_increasing
        assert rows["recommended"].sum() == 1 and rows.iloc[0]["recommended"]
        assert rows.iloc[0]["ratio"] == 1.0
    assert set(ok[ok["computes"] == "H v"]["mode"]) >= {"hvp_fwd_over_rev", "hvp_rev_over_rev"}
    numpy_row = df[df["framework"] == "numpy"].iloc[0]
    assert numpy_row["status"] == "skipped" and "no second-order operations" in numpy_row["note"]
    # each row's call gives what it timed
    p = adcost.custom_problem("energy", energy, 6, 1, x0)
    v = np.ones(6)
    for _, r in ok.drop_duplicates("computes").iterrows():
        got = eval(r["call"], {"adcost": adcost, "problem": p, "v": v})
        assert got.shape == ((6,) if r["computes"] == "H v" else (6, 6))
    text = "\n".join(prof.summary(df))
    assert "recommended for H v (a Hessian-vector product):" in text
    assert "recommended for the Hessian:" in text and "best forward" not in text


def test_second_order_needs_a_scalar_function(user_module, capsys):
    with pytest.raises(ValueError, match=r"second order needs a scalar function \(m = 1\)"):
        prof.profile(lambda xp, x: xp.sin(x), x0=[0.1, 0.2], order=2)
    np.save(user_module / "x.npy", np.array([0.1, 0.2, 0.3]))
    assert cli.main(["profile", "userfns:wide", "--x0", "x.npy", "--order", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "returns 300 values" in err


def pairwise(xp, X):
    """X (points, 2) -> the (points, points) squared distances."""
    d = xp.reshape(X, (X.shape[0], 1, 2)) - xp.reshape(X, (1, X.shape[0], 2))
    return xp.sum(d * d, axis=-1)


def test_a_point_and_a_result_of_any_shape_are_flattened_in_c_order():
    """x0 (5, 2): f gets X in that shape; its (5, 5) result is flattened; the Jacobian (25, 10)
    has the columns of x0.ravel() and the rows of f(X).ravel(), in every engine."""
    import adcost
    from adcost.frameworks.fd import central_jacobian
    X0 = np.random.default_rng(0).standard_normal((5, 2))
    want = central_jacobian(lambda z: pairwise(np, z.reshape(5, 2)).ravel(), X0.ravel())
    p = adcost.custom_problem("pairwise", pairwise, 10, 25, X0)
    assert p.meta["x_shape"] == [5, 2]
    for fw in [f for f in ("numpy", "torch", "jax", "tf") if not prof.missing_reason(f)]:
        for mode in ("jacfwd", "jacrev"):
            np.testing.assert_allclose(adcost.jacobian(p, fw, mode), want, atol=1e-6)
    df = prof.profile(pairwise, x0=X0, frameworks=["numpy"], budget_s=20)
    assert df.attrs["problem"]["n"] == 10 and df.attrs["problem"]["m"] == 25
    assert "x of shape (5, 2), f(x) of shape (5, 5): flattened in C order" in prof.summary(df)[0]


def test_profile_out_is_a_result_file_with_its_environment_kept_row_by_row(
        user_module, capsys, monkeypatch):
    np.save(user_module / "x.npy", np.array([0.1, 0.2, 0.3]))
    target = user_module / "runs" / "wide.json"
    assert cli.main(["profile", "userfns:wide", "--x0", "x.npy", "--framework", "numpy",
                     "--budget", "20", "--out", str(target)]) == 0
    record = json.loads(target.read_text())
    assert record["complete"] and record["problem"]["m"] == 300
    assert {"versions", "threads", "cpu", "date", "commit"} <= set(record["environment"])
    assert record["settings"]["order"] == 1 and record["rows"][0]["recommended"]
    # interrupted after two rows: the file holds them, marked incomplete
    real = prof.profile

    def stopped(*args, progress=None, **kwargs):
        for row in real(*args, **kwargs).head(2).to_dict("records"):
            progress(row)
        raise KeyboardInterrupt
    monkeypatch.setattr(prof, "profile", stopped)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["profile", "userfns:wide", "--x0", "x.npy", "--framework", "numpy",
                  "--budget", "20", "--out", str(target)])
    record = json.loads(target.read_text())
    assert not record["complete"] and len(record["rows"]) == 2
    # a folder, or the committed reference run: one line, exit 2, nothing measured or written
    monkeypatch.setattr(prof, "profile", lambda *a, **k: pytest.fail("measured"))
    for bad in (str(user_module), "results/reference/x.json"):
        (user_module / "results" / "reference").mkdir(parents=True, exist_ok=True)
        (user_module / "results" / "reference" / "REFERENCE").write_text("")
        capsys.readouterr()
        assert cli.main(["profile", "userfns:wide", "--x0", "x.npy", "--out", bad]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (user_module / "results" / "reference" / "x.json").exists()


def test_each_mode_carries_the_flops_its_framework_counts_and_the_summary_compares_them():
    """A profile's row holds one call's FLOPs where the framework counts them; the table shows
    the column and the summary each framework's fastest forward and reverse mode's count and
    rate.  XLA counts a loop's body once, so a JAX program with a scan gets no count."""
    x0 = np.linspace(-1, 1, 12)
    df = prof.profile(lambda xp, x: xp.tanh(xp.matmul(xp.ones_like(x)[:, None] * x, x))[:3],
                      x0, frameworks=["jax"], budget_s=30)
    ok = df[df["status"] == "ok"].set_index("mode")
    assert ok.loc["jacrev", "flops"] > 0 and ok.loc["jacfwd", "flops"] > 0
    assert ok.loc[[m for m in ok.index if m in adcost.ops.LOOP_MODES], "flops"].isna().all()
    assert " FLOPs " in prof.table(df).splitlines()[0]
    (line,) = [line for line in prof.summary(df) if line.startswith("FLOPs (jax")]
    fewer = "reverse" if ok.loc["jacrev", "flops"] < ok.loc["jacfwd", "flops"] else "forward"
    assert "GFLOP/s" in line and f"{fewer} mode counts" in line

    def scanned(xp, x):
        def step(c, xt):
            c = xp.tanh(c * xt + 1.0)
            return c, c
        return xp.scan(step, x[0], x)[1]
    p = adcost.custom_problem("scanned", scanned, n=12, m=12, x0=x0)
    case = adcost.prepare(p, "jax", "jacrev")
    assert case.framework.flops(case) is None
    mlp = adcost.prepare(adcost.make_problem("mlp", n=4, m=3), "jax", "jacrev")
    assert mlp.framework.flops(mlp) > 0
    # no counts anywhere: no column, no line
    bare = df.assign(flops=None)
    assert " FLOPs " not in prof.table(bare).splitlines()[0]
    assert not any(line.startswith("FLOPs") for line in prof.summary(bare))


def test_peaks_below_the_memory_workers_resolution_are_not_told_apart():
    """A peak under 64 KiB (blocks that small come from the heap the process holds) shows as
    "< 64 KiB", and the least-memory line does not pick a mode for reading 0 B against 4 KiB."""
    rows = pd.DataFrame([
        {"framework": "jax", "mode": m, "status": "ok", "seconds": s, "ratio": s / 1e-5,
         "peak_bytes": b, "compile_s": 0.1, "call": "c", "note": "", "family": "reverse"}
        for m, s, b in (("a", 1e-5, 4096), ("b", 1.1e-5, 0), ("c", 2e-5, 3 * 2 ** 20))])
    rows.attrs["memory"] = True
    assert prof.fmt_peak(0) == prof.fmt_peak(4096) == "< 64 KiB" and prof.fmt_peak(2 ** 20) == "1 MiB"
    assert "< 64 KiB" in prof.table(rows).splitlines()[1]
    (line,) = prof.memory_lines(rows, "")
    assert line == ("memory: the recommended mode holds the least, < 64 KiB at its peak "
                    "(the memory worker does not resolve peaks below 64 KiB)")
    rows.loc[0, "peak_bytes"] = 2 ** 20               # the fastest holds 1 MiB: b holds less
    (line,) = prof.memory_lines(rows, "")
    assert line.startswith("least memory: jax b (< 64 KiB at its peak, 1.1x the fastest's time; "
                           "the fastest: 1 MiB at its peak)")


def test_memory_is_each_modes_peak_read_in_a_process_started_as_the_probes_are(user_module,
                                                                             monkeypatch):
    """--memory: every timed mode's peak holds at least its own result (the Jacobian, 2.7 MiB),
    and not a process's worth more; the table and the summary say it; without it, neither."""
    x0 = np.linspace(-1, 1, 600)
    df = prof.profile("userfns:big", x0=x0, frameworks=["numpy"], budget_s=40, memory=True)
    ok = df[df["status"] == "ok"]
    result = 600 * 600 * 8
    assert len(ok) >= 2 and ok["peak_bytes"].notna().all(), ok[["mode", "memory_note"]]
    assert (ok["peak_bytes"] >= 0.9 * result).all() and (ok["peak_bytes"] < 20 * result).all()
    assert " memory " in prof.table(df).splitlines()[0]
    assert any(line.startswith(("memory: the recommended", "least memory: numpy"))
               for line in prof.summary(df))
    np.save(user_module / "x.npy", x0)           # the result file gets each reading as it comes
    target = user_module / "big.json"
    written = []
    real = prof.write_record
    monkeypatch.setattr(prof, "write_record", lambda out, rows, settings, complete: (
        written.append([r.get("peak_bytes") for r in
                        (rows.to_dict("records") if hasattr(rows, "to_dict") else rows)]),
        real(out, rows, settings, complete)))
    assert cli.main(["profile", "userfns:big", "--x0", "x.npy", "--framework", "numpy",
                     "--budget", "40", "--memory", "--out", str(target)]) == 0
    record = json.loads(target.read_text())
    assert record["settings"]["memory"] and all(
        r["peak_bytes"] >= 0.9 * result for r in record["rows"] if r["status"] == "ok")
    before_last = written[-2]                   # the last reading was written before the end
    assert sum(b is not None for b in before_last) == sum(r["status"] == "ok"
                                                         for r in record["rows"])
    plain = prof.profile("userfns:big", x0=x0[:20], frameworks=["numpy"], budget_s=10)
    assert " memory " not in prof.table(plain).splitlines()[0]
    assert not any("memory" in line for line in prof.summary(plain))


def test_memory_in_the_calling_process_is_not_read_and_says_why():
    fn = lambda xp, x: xp.sin(x)   # noqa: E731  a lambda: profiled in this process
    df = prof.profile(fn, x0=[0.1, 0.2], frameworks=["numpy"], budget_s=10, memory=True)
    assert df.loc[df["status"] == "ok", "peak_bytes"].isna().all()
    assert any(line.startswith("memory: memory not measured: only a worker process")
               for line in prof.summary(df))


def test_a_memory_reading_below_the_result_is_not_reported(monkeypatch):
    """A probe that reads less than the result it returns missed memory: no number."""
    from adcost.measure import memory
    p = prof.function_problem(lambda xp, x: xp.sin(x), np.linspace(0, 1, 600))
    monkeypatch.setattr(memory, "marked_peak", lambda run, pool=None: (run(), 4096)[1])
    found = prof.measure_memory(p, "numpy", "jacfwd", "float64")
    assert "peak_bytes" not in found and "less than the 2,880,000 of the result" in found["memory_note"]
    monkeypatch.setattr(memory, "marked_peak", lambda run, pool=None: None)
    assert "cannot be reset" in prof.measure_memory(p, "numpy", "jacfwd", "float64")["memory_note"]


def test_memory_on_a_device_is_not_read_as_the_hosts(monkeypatch):
    real = prof.framework_class

    def on_gpu(name):
        cls = real(name)

        def build(dtype):
            fw = cls(dtype=dtype)
            fw.device = "cuda:0"
            return fw
        return build
    monkeypatch.setattr(prof, "framework_class", on_gpu)
    p = prof.function_problem(lambda xp, x: xp.sin(x), np.linspace(0, 1, 4))
    assert prof.measure_memory(p, "numpy", "jacfwd", "float64") == {
        "memory_note": "memory not measured on cuda:0: only the host's memory (the process's RSS) "
                       "is read"}


def test_two_profiles_compare_mode_by_mode_with_their_environment(tmp_path, capsys):
    """`adcost compare` reads `profile --out` files: a mode twice as slow beyond its calls'
    spread is worse, a peak memory that halved is better, the rest unchanged."""
    def row(mode, seconds, peak):
        return {"framework": "numpy", "mode": mode, "status": "ok", "seconds": seconds,
                "q25": seconds * 0.98, "q75": seconds * 1.02, "calls": 9, "n": 5, "m": 3,
                "peak_bytes": peak}
    settings = {"order": 1, "memory": True}
    # jacfwd_loop's 0 B and 4 KiB lie under the memory worker's resolution: not a change
    before = pd.DataFrame([row("jacfwd", 1e-3, 4e6), row("jacrev", 2e-3, 8e6),
                           row("jacfwd_loop", 5e-3, 0)])
    after = pd.DataFrame([row("jacfwd", 2e-3, 4e6), row("jacrev", 2e-3, 4e6),
                          row("jacfwd_loop", 5e-3, 4096)])
    for frame, name in ((before, "a.json"), (after, "b.json")):
        frame.attrs["problem"] = {"name": "mine:f", "n": 5, "m": 3}
        prof.write_record(tmp_path / name, frame, settings, complete=True)
    assert cli.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    worse, better = out.split("faster or smaller")
    assert "slower or bigger: 1" in worse and "op=jacfwd, problem=mine:f" in worse
    assert "profile.time" in worse and "2.00x" in worse
    assert better.startswith(": 1\n")
    assert "profile.peak_memory(framework=numpy, op=jacrev" in better
    assert "unchanged within noise or factor: 4" in out and "interrupted" not in out
    # a FLOP count that grew (the same mode doing more work) is a change too
    before["flops"], after["flops"] = [1e6, 2e6, None], [2e6, 2e6, None]
    for frame, name in ((before, "a.json"), (after, "b.json")):
        prof.write_record(tmp_path / name, frame, settings, complete=True)
    assert cli.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    worse = capsys.readouterr().out.split("faster or smaller")[0]
    assert "slower or bigger: 2" in worse and "profile.flops(framework=numpy, op=jacfwd" in worse
    counters = json.loads((tmp_path / "a.json").read_text())["flop_counters"]
    assert counters == {"numpy": adcost.framework_class("numpy").record.flops}
    prof.write_record(tmp_path / "b.json", after.head(1), settings, complete=False)
    assert cli.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    assert "note: B is an interrupted profile" in capsys.readouterr().out


def test_profile_plot_draws_each_mode_and_a_bad_target_is_refused_before_measuring(
        user_module, capsys, monkeypatch):
    from adcost.analysis import profile_figure
    np.save(user_module / "x.npy", np.linspace(-1, 1, 40))
    assert cli.main(["profile", "userfns:big", "--x0", "x.npy", "--framework", "numpy",
                     "--budget", "20", "--memory", "--plot", "p.svg", "--out", "p.json"]) == 0
    svg = (user_module / "p.svg").read_text()
    record = json.loads((user_module / "p.json").read_text())
    timed = [r["mode"] for r in record["rows"] if r["status"] == "ok"]
    assert timed and all(f"numpy {mode}" in svg for mode in timed)
    assert "peak memory" in svg and "profile of userfns.big: n = 40, m = 40" in svg
    # the same figure again from the result file
    assert profile_figure.main([str(user_module / "p.json"), "--out", "again.png"]) == 0
    assert (user_module / "again.png").read_bytes()[:4] == b"\x89PNG"
    assert profile_figure.main([str(user_module / "x.npy")]) == 2
    monkeypatch.setattr(prof, "profile", lambda *a, **k: pytest.fail("measured"))
    for bad in (str(user_module), "p.txt"):
        capsys.readouterr()
        assert cli.main(["profile", "userfns:big", "--x0", "x.npy", "--plot", bad]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _sized(rows):
    """A sizes profile's frame from (point, n, m, framework, mode, family, seconds) rows."""
    df = pd.DataFrame([dict(zip(("point", "n", "m", "framework", "mode", "family", "seconds"), r),
                            status="ok") for r in rows])
    df.attrs["problem"] = {"name": "mine:f"}
    return df


def test_the_size_where_forward_mode_stops_winning_is_interpolated_in_log_n():
    df = _sized([(0, 16, 64, "jax", "jacfwd", "forward", 1.0), (0, 16, 64, "jax", "jacrev", "reverse", 2.0),
                 (1, 256, 64, "jax", "jacfwd", "forward", 8.0), (1, 256, 64, "jax", "jacrev", "reverse", 4.0),
                 (0, 16, 64, "torch", "jacfwd", "forward", 9.0), (0, 16, 64, "torch", "jacrev", "reverse", 3.0),
                 (1, 256, 64, "torch", "jacfwd", "forward", 90.0), (1, 256, 64, "torch", "jacrev", "reverse", 5.0)])
    found = {c["scope"]: c for c in prof.size_crossings(df)}
    # log ratio -log 2 at n = 16 and +log 2 at 256: the crossing halfway in log n, at 64
    assert found["jax"]["at"] == pytest.approx(64.0) and found["jax"]["below"] == "forward"
    assert found["jax"]["between"] == (16, 256) and found["all"]["at"] == pytest.approx(64.0)
    assert found["torch"]["faster"] == "reverse" and "at" not in found["torch"]
    said = prof.sizes_summary(df)
    assert said[0] == "mine:f at 2 sizes:"
    assert "crossing (jax): forward mode is the faster below n ≈ 64 (between the measured n = 16 " \
           "and 256), reverse above" in said
    assert "crossing (torch): none measured; reverse mode is the faster at every size " \
           "(3.00-18.00x)" in said


def test_a_size_where_the_families_calls_overlap_is_said_to_be_not_told_apart():
    """At a size where the best forward and best reverse mode's calls' 25th-75th percentiles
    overlap, the per-size line and the crossing say which is faster there is not measured."""
    df = _sized([(0, 8, 8, "jax", "jacfwd", "forward", 1.00), (0, 8, 8, "jax", "jacrev", "reverse", 1.03),
                 (1, 512, 8, "jax", "jacfwd", "forward", 20.0), (1, 512, 8, "jax", "jacrev", "reverse", 1.0)])
    df["q25"], df["q75"] = df["seconds"] * 0.95, df["seconds"] * 1.05
    (found, *_) = [c for c in prof.size_crossings(df) if c["scope"] == "jax"]
    assert found["tied"] == [True, False] and found["below"] == "forward"
    said = prof.sizes_summary(df)
    assert "forward 1.03x faster (within the calls' spread: not told apart)" in said[1]
    assert "not told apart" not in said[2]
    assert any(line.startswith("crossing (jax): forward mode is the faster below n ≈")
               and line.endswith("; at n = 8 the two are within their calls' spread (not told apart)")
               for line in said)
    # without percentiles (or with spreads apart) nothing is said
    assert not any("told apart" in line for line in prof.sizes_summary(df.drop(columns=["q25", "q75"])))


def test_sizes_that_change_the_faster_family_twice_place_no_crossing_and_m_is_the_axis_where_n_stays():
    df = _sized([(i, 8, m, "numpy", mode, fam, s) for i, m, ratios in
                 ((0, 4, (1, 2)), (1, 16, (3, 2)), (2, 64, (1, 2)))
                 for mode, fam, s in (("jacfwd", "forward", ratios[0]), ("jacrev", "reverse", ratios[1]))])
    (found, *_) = [c for c in prof.size_crossings(df) if c["scope"] == "numpy"]
    assert found["axis"] == "m" and found["faster"] is None and found["sizes"] == [4, 16, 64]
    assert any("changes more than once" in line for line in prof.sizes_summary(df))


def test_the_sizes_summary_names_what_the_budget_stopped_at_each_size():
    df = _sized([(0, 8, 8, "jax", "jacfwd", "forward", 1.0), (0, 8, 8, "jax", "jacrev", "reverse", 2.0),
                 (1, 64, 8, "jax", "jacfwd", "forward", 8.0), (1, 64, 8, "jax", "jacrev", "reverse", 4.0),
                 (1, 64, 8, "torch_compile", "jacrev", "reverse", None)])
    df.loc[4, "status"] = "stopped"
    assert prof.sizes_summary(df)[-1].endswith("a larger budget gives them more room (--budget, "
                                               "budget_s=)")      # a frame that names no budget
    df.attrs["budget_s"] = 30
    assert prof.sizes_summary(df)[-1] == (
        "not measured in the budget (30 s): 1 of 5 modes, their preparation or calls outran their "
        "share (torch_compile: jacrev (n = 64)); twice the budget gives them more room: --budget 60 "
        "(adcost.profile(..., budget_s=60))")
    assert not any("not measured" in line for line in prof.sizes_summary(df[df["status"] == "ok"]))


def test_cli_profile_at_several_sizes(user_module, capsys, monkeypatch):
    for n in (3, 30):
        np.save(user_module / f"x{n}.npy", np.linspace(-1, 1, n))
    assert cli.main(["profile", "userfns:big", "--x0", "x3.npy", "--x0", "x30.npy",
                     "--framework", "numpy", "--budget", "20", "--out", "s.json",
                     "--plot", "s.svg"]) == 0
    out = capsys.readouterr().out
    assert "n = 3, m = 3:" in out and "n = 30, m = 30:" in out and "at 2 sizes:" in out
    assert "crossing (all frameworks)" in out and "crossing (numpy)" in out
    record = json.loads((user_module / "s.json").read_text())
    assert record["settings"]["points"] == 2 and {r["point"] for r in record["rows"]} == {0, 1}
    svg = (user_module / "s.svg").read_text()
    assert "profile of userfns.big at 2 sizes" in svg and "numpy reverse" in svg
    monkeypatch.setattr(prof, "profile", lambda *a, **k: pytest.fail("measured"))
    assert cli.main(["profile", "userfns:big", "--x0", "x3.npy", "--x0", "x30.npy",
                     "--order", "2"]) == 2
    assert "several --x0" in capsys.readouterr().err


def test_a_plot_with_nothing_to_draw_says_so_and_writes_no_file(user_module, capsys, monkeypatch):
    monkeypatch.setattr(prof, "MIN_SHARE_S", 1.0)
    np.save(user_module / "x.npy", np.array([1.0, 2.0]))
    assert cli.main(["profile", "userfns:slow", "--x0", "x.npy", "--framework", "numpy",
                     "--budget", "4", "--plot", "none.png"]) == 1       # every mode stopped
    assert "profile: no figure: the profile timed no mode" in capsys.readouterr().err
    assert not (user_module / "none.png").exists()


def test_profiles_of_two_sizes_share_nothing_and_compare_says_why(tmp_path, capsys):
    for name, n in (("a.json", 5), ("b.json", 6)):
        frame = pd.DataFrame([{"framework": "numpy", "mode": "jacfwd", "status": "ok",
                               "seconds": 1e-3, "q25": 1e-3, "q75": 1e-3, "n": n, "m": 3}])
        frame.attrs["problem"] = {"name": "mine:f", "n": n, "m": 3}
        prof.write_record(tmp_path / name, frame, {"order": 1}, complete=True)
    assert cli.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert capsys.readouterr().err.strip() == ("compare: no measurement present in both result "
                                               "sets (n 5 in A, 6 in B)")


def test_sizes_are_profiled_in_one_worker_per_framework(user_module):
    """profile_sizes keeps each framework's worker from point to point (it builds the problem
    again there) instead of importing the framework again at every size; the rows are each
    point's own (its n)."""
    started = []
    real = prof.Worker._start
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prof.Worker, "_start",
                   lambda self, timeout: (started.append(self.args[1]), real(self, timeout))[1])
        df = prof.profile_sizes("userfns:big", [np.linspace(-1, 1, 3), np.linspace(-1, 1, 30)],
                                frameworks=["numpy"], budget_s=30)
    assert started == ["numpy"]
    ok = df[df["status"] == "ok"]
    assert set(zip(ok["point"], ok["n"])) == {(0, 3), (1, 30)}
    assert not _serving_children()         # each worker closed at the end


def _serving_children() -> list[int]:
    """This process's children that run a profile worker (read from /proc)."""
    import glob
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            parent = int(open(stat).read().rsplit(")", 1)[1].split()[1])
            cmd = open(stat.replace("stat", "cmdline"), "rb").read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"import serve" in cmd:
            found.append(int(stat.split("/")[2]))
    return found


class FakeWorker:
    """A profile's worker (profiling.Worker) without a process: a test gives it `run`."""
    def __init__(self, target, framework, dtype, memory=False):
        self.args, self.memory = (target, framework, dtype), memory

    def retarget(self, target, timeout=1.0):
        self.args = (target, *self.args[1:])

    def close(self):
        pass


def test_a_framework_whose_mode_outran_waits_at_the_back_and_the_memory_pass_leftover_is_used(
        user_module, monkeypatch):
    """Workers faked: numpy's first mode outruns its share, so numpy's other modes are timed
    after fd's instead of before; the variants' primary modes come after the others'; and
    modes the timing had no time for are timed with what the memory pass left."""
    calls = []

    class Fake(FakeWorker):
        def run(self, mode, share, startup=1.0, until=None):
            calls.append((self.args[1], mode, self.memory))
            if self.memory:
                return {"peak_bytes": 2 ** 20}
            if (self.args[1], mode) == ("numpy", "jacfwd"):
                return None                       # outran its share
            return {"status": "ok", "seconds": 1e-3, "q25": 1e-3, "q75": 1e-3, "calls": 5}
    monkeypatch.setattr(prof, "Worker", Fake)
    df = prof.profile("userfns:wide", x0=[0.1, 0.2, 0.3], frameworks=["numpy", "fd"], budget_s=60)
    timed = [(fw, mode) for fw, mode, memory in calls if not memory]
    assert timed[0] == ("numpy", "jacfwd") and timed[1][0] == "fd"
    assert timed.index(("numpy", "jacrev")) > max(i for i, (fw, _) in enumerate(timed) if fw == "fd")
    assert df.set_index(["framework", "mode"]).loc[("numpy", "jacfwd"), "status"] == "stopped"
    said = [line for line in prof.summary(df) if line.startswith("not measured in the budget")]
    assert said == [f"not measured in the budget (60 s): 1 of {(df['status'] != 'skipped').sum()} "
                    "modes, their preparation or calls outran their share (numpy: jacfwd); twice "
                    "the budget gives them more room: --budget 120 (adcost.profile(..., "
                    "budget_s=120))"], said
    order = prof.plan_for(["torch_compile", "torch", "jax_eager", "jax"],
                          prof.target_of("userfns:wide", [0.1, 0.2, 0.3], None, None)[1])
    frameworks = [fw for fw, mode in order if mode in prof.PRIMARY]
    assert frameworks.index("torch_compile") > frameworks.index("jax")
    assert frameworks.index("jax_eager") > frameworks.index("jax")
    # the late pass: each timed mode takes 3 s of a fake clock, each memory reading 0.1 s; the
    # timing's 60 % of a 20-s budget stops the last modes, the memory pass leaves them time
    now = [0.0]
    monkeypatch.setattr(prof.time, "perf_counter", lambda: now[0])
    real_run = Fake.run

    def run(self, mode, share, startup=1.0, until=None):
        now[0] += 0.1 if self.memory else 3.0
        return real_run(self, mode, share, startup, until)
    monkeypatch.setattr(Fake, "run", run)
    calls.clear()
    df = prof.profile("userfns:wide", x0=[0.1, 0.2, 0.3], frameworks=["numpy"], budget_s=20,
                      memory=True)
    first_read = next(i for i, (_, _, memory) in enumerate(calls) if memory)
    ok = set(df.loc[df["status"] == "ok", "mode"])
    late = {mode for _, mode, memory in calls[first_read:] if not memory} & ok
    assert late and late < ok                              # some were timed in the first pass
    # what the late timing left reads the late modes' memory too (0.1 s each here)
    read_late = [mode for _, mode, memory in calls[first_read:] if memory and mode in late]
    assert sorted(read_late) == sorted(late), calls
    rows = df.set_index("mode").loc[sorted(late)]
    assert (rows["status"] == "ok").all() and (rows["peak_bytes"] == 2 ** 20).all()
    assert (rows["memory_note"] == "").all()
    assert not (df["note"] == prof.BUDGET_SPENT).all()


def test_a_memory_reading_that_outran_its_share_is_read_again_in_what_is_left(user_module,
                                                                             monkeypatch):
    """A memory reading that outruns its share of the memory pass (a compile done again in the
    memory worker) is tried again at the end, taking what the budget has left, where that is
    longer than the share it outran; the rows keep the note where it is not."""
    now, calls = [0.0], []

    class Fake(FakeWorker):
        def run(self, mode, share, startup=1.0, until=None):
            calls.append((mode, self.memory, share))
            if not self.memory:
                now[0] += 0.5
                return {"status": "ok", "seconds": 1e-3, "q25": 1e-3, "q75": 1e-3, "calls": 5}
            need = need_s if mode == "jacfwd" else 0.1
            now[0] += min(need, share)
            return None if need > share else {"peak_bytes": 2 ** 20}
    monkeypatch.setattr(prof, "Worker", Fake)
    monkeypatch.setattr(prof.time, "perf_counter", lambda: now[0])
    for need_s, read in ((30.0, True), (1e9, False)):
        calls.clear()
        now[0] = 0.0
        df = prof.profile("userfns:wide", x0=[0.1, 0.2, 0.3], frameworks=["numpy"],
                          budget_s=60, memory=True)
        tries = [share for mode, memory, share in calls if memory and mode == "jacfwd"]
        assert len(tries) == 2 and tries[0] < tries[1] and calls[-1][0] == "jacfwd", calls
        assert (tries[0] < need_s <= tries[1]) == read, tries
        row = df.set_index("mode").loc["jacfwd"]
        assert (row["peak_bytes"] == 2 ** 20) == read, row
        assert (row["memory_note"] == "") == read, row["memory_note"]
        if not read:                                   # says the longer share it outran
            assert f"({tries[1]:.1f} s)" in row["memory_note"], row["memory_note"]
        others = df[(df["mode"] != "jacfwd") & (df["status"] == "ok")]
        assert (others["peak_bytes"] == 2 ** 20).all()


def test_a_mode_that_outran_a_short_share_is_timed_in_what_the_budget_has_left(user_module,
                                                                              monkeypatch):
    """A compile that outruns its share (torch.compile of a GMM given 2 s) is tried again, after
    every other mode, where the budget has more left than that share; one that outruns that
    too says the longer share."""
    now, calls, needs = [0.0], [], {}

    class Fake(FakeWorker):
        def run(self, mode, share, startup=1.0, until=None):
            calls.append((mode, share))
            first = next(s for m, s in calls if m == mode)
            need = needs.get(mode, 0.5) * (first if mode in needs else 1)   # seconds it takes
            now[0] += min(need, share)
            return None if need > share else {"status": "ok", "seconds": 1e-3, "calls": 5}
    monkeypatch.setattr(prof, "Worker", Fake)
    monkeypatch.setattr(prof.time, "perf_counter", lambda: now[0])
    for factor, status in ((1.5, "ok"), (1e9, "stopped")):    # jacfwd: 1.5 times its first share
        calls.clear()
        needs["jacfwd"] = factor
        df = prof.profile("userfns:wide", x0=[0.1, 0.2, 0.3], frameworks=["numpy"], budget_s=100)
        tries = [share for mode, share in calls if mode == "jacfwd"]
        assert len(tries) == 2 and tries[1] > tries[0] and calls[-1] == ("jacfwd", tries[1]), calls
        row = df.set_index("mode").loc["jacfwd"]
        assert row["status"] == status, row
        if status == "stopped":                                   # the longer share it outran
            assert f"({tries[1]:.1f} s)" in row["note"], row["note"]
    # nothing is tried again where what is left is not longer than the share it outran
    calls.clear()
    needs.update(jacfwd=1e9, jacrev=1e9)
    df = prof.profile("userfns:wide", x0=[0.1, 0.2, 0.3], frameworks=["numpy"], budget_s=100)
    assert [mode for mode, _ in calls].count("jacfwd") == 1 and len(calls) == 4, calls
    assert (df.set_index("mode").loc[["jacfwd", "jacrev"], "status"] == "stopped").all()


def test_second_order_flops_name_the_fastest_and_the_fewest():
    def rows(*modes):
        return pd.DataFrame([{"framework": "torch", "mode": m, "seconds": s, "flops": f}
                             for m, s, f in modes])
    (line,) = prof.second_order_flops(rows(("hvp_rev_over_rev", 1e-3, 2e4),
                                           ("hvp_fwd_over_fwd", 2e-3, 1e4)), " for H v")
    assert line == ("FLOPs for H v (torch): the fastest, hvp_rev_over_rev, 20 kFLOP a call at "
                    "0.02 GFLOP/s; fewest: hvp_fwd_over_fwd, 10 kFLOP (2.00x fewer, 2.00x the time)")
    (line,) = prof.second_order_flops(rows(("hvp_rev_over_rev", 1e-3, None),
                                           ("hvp_fwd_over_fwd", 2e-3, 1e4)), "")
    assert "the fastest, hvp_rev_over_rev, has no count; the fewest counted: hvp_fwd_over_fwd" in line
    (line,) = prof.second_order_flops(rows(("hvp_rev_over_rev", 1e-3, 1e4),
                                           ("hvp_fwd_over_fwd", 2e-3, None)), "")
    assert line.endswith("(no other mode counted)")
    assert prof.second_order_flops(rows(("hvp_rev_over_rev", 1e-3, None)), "") == []


def test_the_profile_figure_writes_each_counted_modes_flop_rate():
    from adcost.analysis import profile_figure
    df = pd.DataFrame([{"framework": "jax", "mode": "jacrev", "status": "ok", "seconds": 1e-3,
                        "q25": 0.9e-3, "q75": 1.1e-3, "flops": 2e6, "recommended": True},
                       {"framework": "torch", "mode": "jacfwd", "status": "ok", "seconds": 2e-3,
                        "q25": 1.9e-3, "q75": 2.1e-3, "flops": None, "recommended": False}])
    fig = profile_figure.build(df)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["2 GFLOP/s"] and "FLOPs' rate" in fig.axes[0].get_xlabel()
