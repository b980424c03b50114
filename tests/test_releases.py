"""Framework releases side by side (adcost.releases): asv's matrix written for two releases,
the install step keeping what the matrix installed, and compare / the explorer across two
releases' results (fixture results; the real run is measured by `adcost releases`)."""
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from adcost import releases
from adcost.analysis import compare, explorer, load
from adcost.cli import main as cli

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import asv_fixture as fx  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("asv_install", ROOT / "benchmarks" / "asv_install.py")
asv_install = importlib.util.module_from_spec(spec)
spec.loader.exec_module(asv_install)

OLD, NEW = {"jax": "0.9.2", "jaxlib": "0.9.2"}, {"jax": "0.10.2", "jaxlib": "0.10.2"}


def test_the_matrix_has_one_environment_per_release_and_no_other():
    from asv.environment import iter_matrix
    conf = types.SimpleNamespace(**releases.matrix("jax", ["0.9.2", "0.10.2"], "3.11"))
    envs = list(iter_matrix("virtualenv", ["3.11"], conf))
    reqs = [{k[1]: v for k, v in e.items() if k[0] == "req"} for e in envs]
    assert reqs == [OLD, NEW]   # jax with its jaxlib; the plain environment excluded
    assert releases.packages("jax") == ("jax", "jaxlib")
    assert releases.label(OLD) == "jax==0.9.2 jaxlib==0.9.2"


def test_a_framework_without_releases_is_refused_in_one_line(capsys):
    assert cli(["releases", "numpy", "1", "2"]) == 2
    assert "no releases of 'numpy'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        releases.main(["jax", "0.10.2", "0.10.2"])
    assert stop.value.code == 2
    assert "two different releases" in capsys.readouterr().err


def test_the_install_step_keeps_what_the_matrix_installed(tmp_path):
    pins = "jax==0.10.2\njaxlib==0.10.2\nnumpy==2.4.6\ntorch==2.13.0+cpu\n"
    kept = asv_install.constraints_keeping(pins, {"jax": "0.9.2", "jaxlib": "0.9.2"})
    lines = [line.split("#")[0].strip() for line in kept.splitlines()]
    assert lines == ["jax==0.9.2", "jaxlib==0.9.2", "numpy==2.4.6", "torch==2.13.0+cpu"]
    # the matrix's packages, from asv's asv-env-info.json, at the versions installed here
    (tmp_path / "asv-env-info.json").write_text(json.dumps({"requirements": {"numpy": "", "Not_there": "1"}}))
    import numpy
    assert asv_install.matrix(str(tmp_path)) == {"numpy": numpy.__version__}
    assert asv_install.matrix(str(tmp_path / "absent")) == {}


@pytest.fixture
def two_releases(tmp_path):
    asv = tmp_path / "releases" / "asv"
    fx.write_results(asv, commit="a" * 40, seed=1, release=OLD, date=1700000000000)
    fx.write_results(asv, commit="a" * 40, seed=2, release=NEW, date=1700000100000, slow=3.0)
    return tmp_path


def test_compare_across_two_releases(two_releases, capsys):
    df = load.load_asv(two_releases / "releases" / "asv", all_runs=True)
    assert sorted(set(load.latest(df)["release"])) == ["jax==0.10.2 jaxlib==0.10.2",
                                                        "jax==0.9.2 jaxlib==0.9.2"]
    a, b = compare.release("jax==0.9.2", two_releases), compare.release("jax==0.10.2", two_releases)
    table = compare.compare(a, b, noise=False)
    worse = table[table["change"] == "worse"]
    assert len(worse) and worse["benchmark"].str.contains("JacobianNM").all()
    assert (table.loc[table["change"] != "worse", "benchmark"].str.contains("JacobianNM")).sum() == 0
    assert cli(["compare", "jax==0.9.2", "jax==0.10.2", "--results", str(two_releases)]) == 0
    out = capsys.readouterr().out
    assert "slower or bigger: " in out and "versions:" in out   # the two environments differ
    assert cli(["compare", "jax==0.8.0", "jax==0.10.2", "--results", str(two_releases)]) == 2
    assert "names no release" in capsys.readouterr().err


def test_each_releases_run_carries_the_machines_speed_beside_its_cases(tmp_path):
    """releases.stamp folds one release's logged probes into that release's file only (the
    other keeps its own), and compare then reads the two releases at one machine speed."""
    asv = tmp_path / "asv"
    old = fx.write_results(asv, commit="a" * 40, seed=1, release=OLD, date=1700000000000)
    new = fx.write_results(asv, commit="a" * 40, seed=2, release=NEW, date=1700000100000)
    env = {"versions": {}, "threads": {}}
    seen = {old: env, new: env}                       # each environment as read from inside it
    key = "crossover.JacobianNM('jax', 'jacfwd', 8, 64)"
    releases.stamp(asv, "fixture", "a" * 40, tmp_path, tmp_path, None, [], None, only=OLD,
                   seen=seen, speeds={key: [1e11, 1.0]})
    releases.stamp(asv, "fixture", "a" * 40, tmp_path, tmp_path, None, [], None, only=NEW,
                   seen=seen, speeds={key: [5e10, 2.0]})
    releases.stamp(asv, "fixture", "a" * 40, tmp_path, tmp_path, None, [], {"threshold": 1.2},
                   seen=seen)                          # the last stamp, every release: probes kept
    assert json.loads(old.read_text())["adcost_environment"]["speed"] == {key: [1e11, 1.0]}
    assert json.loads(new.read_text())["adcost_environment"]["speed"] == {key: [5e10, 2.0]}
    df = load.load_asv(asv, all_runs=True)
    a, b = (df[df["release"] == r] for r in ("jax==0.9.2 jaxlib==0.9.2", "jax==0.10.2 jaxlib==0.10.2"))
    table = compare.compare(a, b)
    assert table.attrs["speed"]["normalized"] and table.attrs["speed"]["rows"] == 1


def test_the_explorer_shows_two_releases_side_by_side(two_releases, tmp_path):
    fx.write_results(two_releases / "asv", seed=3)
    page = explorer.build(load.load(two_releases / "asv"), two_releases, tmp_path / "site").read_text()
    assert 'id="view-releases"' in page and "Releases: jax==0.9.2 jaxlib==0.9.2 " in page
    assert "Not built: no release comparison" not in page


def test_releases_are_ordered_by_version_and_the_site_summarises_them(two_releases):
    assert releases.ordered(["jax==0.10.2 jaxlib==0.10.2", "", "jax==0.9.2 jaxlib==0.9.2"]) == \
        ["jax==0.9.2 jaxlib==0.9.2", "jax==0.10.2 jaxlib==0.10.2"]
    from adcost.analysis import site
    text = site.releases_html(two_releases)
    assert "jax==0.9.2 jaxlib==0.9.2 → jax==0.10.2 jaxlib==0.10.2" in text
    assert " slower or bigger, 0 faster" in text and "JacobianNM" in text


def test_sweep_and_releases_take_their_options_through_adcost(capsys):
    assert cli(["sweep", "--shard", "3/2"]) == 2
    assert "expected 1 <= I <= N" in capsys.readouterr().err
    assert cli(["releases", "--help"]) == 0
    assert "oldest first" in capsys.readouterr().out
