"""Adding a framework is one file: a test module registers `mini` and every table sees it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import adcost
from adcost.frameworks import base

HERE = Path(__file__).resolve().parent


@pytest.fixture()
def mini(monkeypatch):
    """`mini` registered for one test; the registry is put back afterwards."""
    monkeypatch.setattr(base, "REGISTRY", dict(base.REGISTRY))
    import mini_framework
    return mini_framework.install()


def test_a_registered_framework_is_available_and_validated(mini, capsys):
    assert "mini" in adcost.available_frameworks() and "mini" in base.sweep_frameworks()
    p = adcost.make_problem("mlp", n=3, m=2, depth=2, width=4)
    for mode in ("jacfwd", "jacrev", "jacfwd_loop"):
        np.testing.assert_allclose(adcost.jacobian(p, "mini", mode),
                                   adcost.jacobian(p, "numpy", "jacrev"), atol=1e-12)
    from adcost.cli import main
    assert main(["check", "--framework", "mini", "--problem", "polynomial", "--problem", "mlp"]) == 0
    out = capsys.readouterr().out
    assert "mini" in out and "FAIL" not in out
    assert out.count(" ok ") >= 2 * len(adcost.framework_class("mini").ops()) - 2


def test_the_environment_record_lists_its_distributions(mini):
    from adcost.measure.environment import environment, packages
    assert "hypothesis" in packages()
    assert environment()["versions"]["hypothesis"]


def test_a_framework_whose_package_is_missing_is_listed_and_skipped(monkeypatch):
    monkeypatch.setattr(base, "REGISTRY", dict(base.REGISTRY))

    @base.register(base.Record("ghost", package="adcost_no_such_package"))
    class Ghost(base.Framework):
        pass
    assert "ghost" in base.names() and "ghost" not in adcost.available_frameworks()
    with pytest.raises(adcost.FrameworkMissing, match="'adcost_no_such_package' is not installed"):
        adcost.get_framework("ghost")


@pytest.mark.slow
def test_the_benchmark_parameter_lists_include_it():
    """asv builds its parameter lists at import: a fresh interpreter with `mini` registered."""
    code = ("import json, mini_framework; mini_framework.install(); "
            "import benchmarks.crossover as c, benchmarks.roofline as r; "
            "print(json.dumps([list(c.JacobianNM.params[0]), list(r.Matmul.params[0])]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=HERE.parent, timeout=120)
    assert out.returncode == 0, out.stderr
    jacobian_nm, matmul = json.loads(out.stdout.strip().splitlines()[-1])
    assert "mini" in jacobian_nm and "mini" in matmul
