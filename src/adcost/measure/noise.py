"""Process-to-process noise: the same few cases timed in several fresh processes.

asv times each benchmark in a process of its own. The samples of one process agree closely (narrow
quartiles) while two processes timing the same case differ by more, so a rule that compares two
runs by their quartiles alone calls that difference a change. This probe measures it on the
machine, at the time of the run: the mlp problem's primal and jacrev at n = m = 16 and jacfwd at
n = 256, m = 64 (about 30 µs to 2 ms) of each installed framework, timed in PROCESSES
processes one after another, each forked from one that imported the frameworks, as asv's
forkserver forks every case (adcost.bench.preimport); `threshold` is the largest ratio max/min of
one case's medians across the processes. The sweep runs it first and stamps it into the results
(`adcost_environment.noise`); `adcost compare` calls a change only beyond it.

    python -m adcost.measure.noise [--processes 4]        # prints the probe as JSON
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = (("primal", 16, 16), ("jacrev", 16, 16), ("jacfwd", 256, 64))
FRAMEWORKS = ("numpy", "torch", "jax", "tf")
PROCESSES = 4
MIN_TIME_S = 0.02     # one sample
REPEATS = 9           # samples per case and process


def child(frameworks: list[str]) -> dict[str, float]:
    """Median seconds per call of every case, in this process."""
    from .. import threads
    threads.apply()
    from ..bench import dtype_for
    from ..cases import prepare
    from .timing import measure

    out = {}
    for fw in frameworks:
        for op, n, m in CASES:
            case = prepare("mlp", fw, op, n=n, m=m, dtype=dtype_for(fw))
            out[f"{fw}/{op}/n={n},m={m}"] = measure(case, repeats=REPEATS, min_time=MIN_TIME_S)["median_s"]
    return out


def threshold(cases: dict[str, list[float]]) -> float:
    """The largest max/min ratio of one case across processes (1.0 when nothing repeats)."""
    ratios = [max(v) / min(v) for v in cases.values() if len(v) > 1 and min(v) > 0]
    return float(max(ratios, default=1.0))


def installed() -> list[str]:
    from ..frameworks.base import missing_reason
    return [fw for fw in FRAMEWORKS if missing_reason(fw) is None]


def forked(processes: int, frameworks: list[str]) -> dict[str, list[float]]:
    """In this process: import the frameworks it times (adcost.bench.preimport, as asv's
    forkserver does), then fork `processes` children one after another, each timing every case (child);
    each case's medians, one per child.  RuntimeError when a child fails."""
    from .. import threads
    threads.apply()
    from ..bench import preimport
    preimport(force=True, frameworks=frameworks)
    cases: dict[str, list[float]] = {}
    for _ in range(processes):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:   # the child: time the cases, write them, leave without cleanup
            os.close(read)
            code = 0
            try:
                text = json.dumps(child(frameworks))
            except BaseException as exc:   # noqa: BLE001 - reported to the parent
                text, code = json.dumps({"error": f"{type(exc).__name__}: {exc}"}), 1
            with os.fdopen(write, "w") as fh:
                fh.write(text)
            os._exit(code)
        os.close(write)
        with os.fdopen(read) as fh:
            text = fh.read()
        os.waitpid(pid, 0)
        got = json.loads(text or '{"error": "the child wrote nothing"}')
        if "error" in got:
            raise RuntimeError(f"noise probe: a child process failed: {got['error']}")
        for key, seconds in got.items():
            cases.setdefault(key, []).append(seconds)
    return cases


def probe(processes: int = PROCESSES, frameworks: list[str] | None = None,
          timeout: float | None = None) -> dict:
    """Run the cases in `processes` processes (forked, see `forked`, in one child of this
    process: the sweep imports no framework); their medians, spread and threshold.  `timeout`:
    seconds for all of them (default 300 a process)."""
    frameworks = installed() if frameworks is None else list(frameworks)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "adcost.measure.noise", "--child", ",".join(frameworks),
                          "--processes", str(processes)],
                         capture_output=True, text=True, timeout=timeout or 300 * processes,
                         env=os.environ.copy())
    if out.returncode != 0:
        raise RuntimeError(f"noise probe: {(out.stderr.strip().splitlines() or ['no output'])[-1]}")
    cases = json.loads(out.stdout.strip().splitlines()[-1])
    spread = {k: max(v) / min(v) for k, v in cases.items()}
    return {"processes": processes, "frameworks": frameworks, "cases": cases,
            "spread": spread, "threshold": threshold(cases),
            "worst": max(spread, key=spread.get) if spread else None,
            "seconds": round(time.perf_counter() - start, 1)}


def combine(probes: list[dict]) -> dict:
    """Probes taken at several times of one run (before, between and after the releases of
    `adcost releases`) as one: every process's medians together, so the threshold covers the
    drift of the machine over the run as well as the spread between processes."""
    probes = [p for p in probes if p]
    if not probes:
        return {}
    cases = {}
    for p in probes:
        for key, values in p["cases"].items():
            cases.setdefault(key, []).extend(values)
    spread = {k: max(v) / min(v) for k, v in cases.items()}
    return {"processes": sum(p["processes"] for p in probes), "probes": len(probes),
            "frameworks": probes[0]["frameworks"], "cases": cases, "spread": spread,
            "threshold": threshold(cases), "worst": max(spread, key=spread.get) if spread else None,
            "seconds": round(sum(p["seconds"] for p in probes), 1)}


def main(argv: list[str] | None = None) -> int:
    from ..argv import Parser, at_least

    parser = Parser(prog="adcost.measure.noise", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=at_least(2), default=PROCESSES,
                        help=f"fresh processes that time the cases (default {PROCESSES})")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        try:
            print(json.dumps(forked(args.processes, [f for f in args.child.split(",") if f])))
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    print(json.dumps(probe(args.processes), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
