"""The `adcost` command: output, exit codes, one-line errors that write nothing."""
import json
import subprocess
import sys

import numpy as np
import pytest

from adcost.cli import main
from golden import POLY_J


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_jacobian_json(capsys):
    code, out, err = run(["jacobian", "--problem", "polynomial", "--framework", "fd", "--mode", "fd", "--json"], capsys)
    assert code == 0 and err == ""
    data = json.loads(out)
    assert np.allclose(data["jacobian"], POLY_J, rtol=1e-6)
    assert data["framework"] == "fd" and data["n"] == 4


def test_jacobian_sizes_reach_the_problem(capsys):
    code, out, _ = run(["jacobian", "--problem", "mlp", "--framework", "fd", "--mode", "fd",
                        "--n", "3", "--m", "2", "--depth", "1", "--width", "4", "--json"], capsys)
    assert code == 0 and np.asarray(json.loads(out)["jacobian"]).shape == (2, 3)
    code, out, _ = run(["jacobian", "--problem", "mlp_loss", "--framework", "fd", "--mode", "fd",
                        "--size", "features=2", "--depth", "1", "--width", "2", "--size", "outputs=1", "--json"], capsys)
    assert code == 0 and np.asarray(json.loads(out)["jacobian"]).shape == (1, 2 * 2 + 2 + 2 + 1)


@pytest.mark.parametrize("argv, message", [
    (["jacobian", "--problem", "nope", "--framework", "fd"], "invalid choice: 'nope'"),
    (["jacobian", "--problem", "mlp", "--framework", "fd", "--mode", "fd", "--n", "0"], "expected an integer >= 1, got 0"),
    (["jacobian", "--problem", "mlp", "--framework", "fd", "--mode", "fd", "--dtype", "float16"], "invalid choice: 'float16'"),
    (["jacobian", "--problem", "mlp", "--framework", "fd", "--mode", "jacrev"], "fd has no mode 'jacrev'"),
    (["jacobian", "--problem", "polynomial", "--framework", "fd", "--mode", "fd", "--n", "3"], "polynomial takes no size n"),
    (["jacobian", "--problem", "mlp", "--framework", "fd", "--mode", "fd", "--size", "activation=sigmoid"], "activation must be one of"),
    (["check", "--framework", "nope"], "invalid choice: 'nope'"),
])
def test_bad_arguments_one_line_exit_2_nothing_on_stdout(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors exit from inside parse_args
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


@pytest.mark.slow
def test_python_m_adcost_runs_the_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "adcost", "--version"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("adcost ")


@pytest.mark.slow
def test_cli_subprocess_bad_input_exit_code_and_single_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "adcost", "jacobian", "--problem", "mlp",
                           "--framework", "fd", "--n", "-4"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_check_table_and_exit_code(capsys):
    code, out, _ = run(["check", "--problem", "polynomial", "--framework", "fd", "--framework", "python"], capsys)
    assert code == 0
    assert "polynomial   fd" in out and "ok" in out
    assert "skipped" in out and "J^T u needs the whole Jacobian" in out
    assert out.strip().splitlines()[-1].startswith("check: ")


def test_check_fails_with_exit_1_on_a_mismatch(capsys, monkeypatch):
    from adcost.frameworks.fd import FiniteDifferences

    monkeypatch.setattr(FiniteDifferences, "op_fd", lambda self, f: lambda params, x: 0 * x[None, :] + 1.0)
    code, out, _ = run(["check", "--problem", "sin_product", "--framework", "fd"], capsys)
    assert code == 1
    assert "FAIL" in out and "sin_product/fd/fd/float64: max relative error" in out


def test_check_skips_a_missing_framework_with_its_reason(capsys, monkeypatch):
    import adcost.check

    monkeypatch.setattr(adcost.check, "missing_reason",
                        lambda name: "torch: Python package 'torch' is not installed" if name == "torch" else None)
    code, out, _ = run(["check", "--problem", "polynomial", "--framework", "torch", "--framework", "fd"], capsys)
    assert code == 0
    assert "torch: Python package 'torch' is not installed" in out


def test_smoke_for_a_grid_skips_the_frameworks_it_leaves_out(monkeypatch, tmp_path):
    """make smoke (`adcost smoke --grid quick`) times what the quick sweep runs: a
    framework the grid leaves out is a skipped row with the reason, never built."""
    import json
    from adcost import smoke
    monkeypatch.setattr(smoke, "names", lambda: ["numpy", "torch_compile"])
    assert main(["smoke", "--grid", "quick", "--out", str(tmp_path / "s.json")]) == 0
    written = json.loads((tmp_path / "s.json").read_text())
    rows = written["rows"]
    if sys.platform.startswith("linux"):   # every case in one process: the thresholds fixed
        from adcost.measure.timing import STEADY_MALLOC
        assert written["environment"]["malloc"] == STEADY_MALLOC
    (compiled,) = [r for r in rows if r["framework"] == "torch_compile"]
    assert compiled["status"] == "skipped" and "left out of the quick grid" in compiled["reason"]
    assert {r["op"] for r in rows if r["framework"] == "numpy" and r["status"] == "ok"} >= {
        "primal", "jacfwd", "jacrev"}


def test_list_says_how_each_framework_counts_flops(capsys):
    """docs/methodology.md sends the reader to `adcost list` for how each framework counts."""
    from adcost.frameworks.base import missing_reason, names
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    installed = [name for name in names() if not missing_reason(name)]
    assert out.count("FLOPs: ") == len(installed)
    assert "FLOPs: not counted" in out                          # fd counts none
    assert "FLOPs: analytic: matmul FLOPs of the mlp problem" in out   # the NumPy engine
