"""`--device cuda` reaches every case, and on a machine without the device every framework's
rows skip with the reason (this machine has no GPU: what runs on one is measured there)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import adcost
from adcost import bench, cases
from adcost.analysis import load, site
from adcost.cli import main as cli
from adcost.frameworks import base
from adcost.sweep import main as sweep_main, stamp_file

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import asv_fixture as fx  # noqa: E402


@pytest.fixture
def on_cuda(monkeypatch):
    monkeypatch.setenv(base.DEVICE_VARIABLE, "cuda")
    base._DEVICE_REASONS.clear()
    yield
    base._DEVICE_REASONS.clear()


def test_the_device_variable_reaches_every_case(on_cuda):
    # no device named: the variable's; a CPU-only engine refuses it by name (NoDevice is both
    # Unsupported, which the benchmarks skip, and ValueError, which the library raises)
    with pytest.raises(adcost.NoDevice, match="numpy: .*CPU only"):
        adcost.prepare("mlp", "numpy", "jacrev", n=2, m=2)
    with pytest.raises(ValueError):
        base.get_framework("python")
    assert cases.prepare("mlp", "numpy", "jacrev", device="cpu", n=2, m=2).framework.device == "cpu"
    with pytest.raises(bench.Skip, match="numpy: device must be one of cpu"):
        bench.prepare_or_skip("numpy", "jacrev", n=2, m=2)
    from adcost.checkpoint import unsupported_reason
    assert "CPU only" in unsupported_reason("numpy", "none")


def test_frameworks_without_the_device_say_why():
    pytest.importorskip("torch")
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    reasons = base.device_reasons("cuda", ["numpy", "torch"])
    assert "CPU only" in reasons["numpy"] and "no CUDA device cuda:0 here" in reasons["torch"]
    assert base.device_reasons("cpu", ["numpy", "torch"]) == {}


def test_bad_devices_are_one_line_errors(capsys, monkeypatch):
    assert cli(["check", "--device", "tpu"]) == 2
    assert "device must be one of cpu, cuda, gpu" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        sweep_main(["--device", "cuda:x"])
    assert stop.value.code == 2
    monkeypatch.setenv(base.DEVICE_VARIABLE, "metal")
    assert cli(["list"]) == 2
    assert "ADCOST_DEVICE" in capsys.readouterr().err


def test_check_on_a_missing_device_skips_with_the_reason(on_cuda, capsys):
    assert cli(["check", "--problem", "mlp", "--framework", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "numpy: device must be one of cpu" in out and "0 ok" in out


def test_every_timed_call_ends_in_the_device_sync():
    case = cases.prepare("mlp", "numpy", "jacrev", n=2, m=2, warmup=0)
    calls = []
    case.framework.block = lambda out: calls.append(out)   # the adapter's sync
    case.__post_init__()
    for _ in range(3):
        case()
    assert len(calls) == 3 and all(isinstance(c, np.ndarray) for c in calls)


def test_the_site_lists_the_frameworks_that_had_no_device(tmp_path):
    path = fx.write_results(tmp_path / "asv", machine="box-cuda")
    env = {"versions": {}, "threads": {}}
    stamp_file(path, env, device={"name": "cuda", "unavailable": {"numpy": "numpy: CPU only"}})
    df = load.load(tmp_path / "asv")
    assert set(df["device"]) == {"cuda"}
    assert load.device_gaps(tmp_path / "asv") == [
        {"machine": "box-cuda", "device": "cuda", "framework": "numpy", "reason": "numpy: CPU only"}]
    page = site.build(tmp_path).read_text()
    assert "Skipped: no such device" in page and "numpy: CPU only" in page


def test_profile_on_a_missing_device_lists_every_framework_as_skipped(on_cuda):
    from adcost.profiling import profile
    df = profile(adcost.make_problem("mlp", n=2, m=2), frameworks=["numpy", "fd"], budget_s=5)
    assert set(df["status"]) == {"skipped"} and df["note"].str.contains("CPU only").all()
