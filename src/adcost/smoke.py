"""`adcost smoke`: a small, quick timing of every installed framework on one MLP.

Each case passes the validation gate first; times are medians of calibrated repeats.
Written to results/smoke.json with the environment; a framework that is missing or an
operation it lacks is recorded as skipped with the reason.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from . import paths
from .cases import prepare
from .frameworks.base import Unsupported, framework_class, missing_reason, names
from .measure.environment import environment
from .measure.timing import measure
from .problems import make_problem

SIZES = {"n": 32, "m": 32, "depth": 4, "width": 64}
OPS = ("primal", "jvp", "vjp", "jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop", "fd")


def run_smoke(out: str | None = None, grid: str | None = None) -> int:
    """Time every op of every installed framework; `grid` ("quick", "full"): only the
    frameworks that grid's sweep runs (the others are rows skipped with the reason)."""
    target = paths.writable(Path(out) if out else paths.smoke_file())   # before any work
    from . import grids
    from .measure.timing import steady_malloc
    from .sweep import apply_timing_defaults
    apply_timing_defaults()    # timed as the sweep times, unless set
    malloc = steady_malloc()   # every case in this one process (as the checkpoint report)
    problem = make_problem("mlp", **SIZES)
    rows = []
    print(f"smoke: mlp {SIZES}, float32, median of 5 samples")
    print(f"{'framework':<9} {'op':<13} {'time':>11} {'/ primal':>9}  note")
    for name in names():
        reason = missing_reason(name) or (grids.left_out(name, grid) if grid else None)
        cls = framework_class(name)
        dtype = "float32" if "float32" in cls.dtypes else cls.dtypes[0]
        try:
            framework = None if reason else cls(dtype=dtype)   # on $ADCOST_DEVICE, else the CPU
        except Unsupported as exc:   # NoDevice
            reason = str(exc)
        if reason:
            rows.append({"framework": name, "status": "skipped", "reason": reason})
            print(f"{name:<9} {'*':<13} {'':>11} {'':>9}  skipped: {reason}")
            continue
        primal_s = None
        for op in OPS:
            row = {"framework": name, "op": op, "dtype": dtype}
            reason = framework.supports(problem, op)
            try:
                if reason:
                    raise Unsupported(reason)
                case = prepare(problem, framework, op)
                row.update(case.describe(), status="ok", **measure(case, repeats=5, min_time=0.02))
            except Unsupported as exc:
                row.update(status="skipped", reason=str(exc))
            if row["status"] != "ok":
                if op in cls.ops():
                    print(f"{name:<9} {op:<13} {'':>11} {'':>9}  skipped: {row['reason']}")
                continue
            primal_s = row["median_s"] if op == "primal" else primal_s
            ratio = f"{row['median_s'] / primal_s:9.1f}" if primal_s else f"{'':>9}"
            print(f"{name:<9} {op:<13} {row['median_s'] * 1e6:9.1f}us {ratio}  err {row['error']:.1e}")
            rows.append(row)
    write_json(target, {"environment": {**environment(), "malloc": malloc}, "problem": "mlp", "sizes": SIZES, "rows": rows})
    print(f"smoke: wrote {target}")
    return 0


def write_json(target: Path, data) -> None:
    """Write atomically: an interrupted run leaves the previous file, never half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, default=str)
    os.replace(tmp, target)
