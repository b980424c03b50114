"""Framework releases side by side: the sweep of one framework in asv's own virtualenvs, one
environment per release (asv's environment matrix), everything else pinned.

    python -m adcost.releases jax 0.9.2 0.10.2 [--machine NAME] [--grid quick] [--only WORD]
    make releases RELEASES="jax 0.9.2 0.10.2"

For each release asv builds a virtualenv with the framework's distributions at that version
(jax and jaxlib: Record.distributions, those installed here), then adcost's wheel with
constraints.txt for the rest (benchmarks/asv_install.py keeps what the matrix installed), and
runs HEAD's benchmarks with only that framework listed ($ADCOST_FRAMEWORKS), one release after
the other, with the noise probe before the first and after each: the threshold compare uses
covers the spread between processes and the machine's drift over the run (the releases are
timed minutes apart, never interleaved).  Results go to
results/releases/asv/<machine>/ (apart from the sweep's: a figure never mixes two releases),
each file stamped from inside its environment (the versions it really ran) and with the
release it names (adcost_environment.release).  At the end `adcost compare` between the first
and each later release prints what got slower or faster beyond the noise; the site and the
explorer show them side by side.  The packages come from pip's indexes (a warm cache: no
download); the first build of an environment takes a few minutes.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import grids, paths, threads
from .argv import Parser, nonnegative
from .envvars import check as check_environment
from .frameworks.base import FRAMEWORKS_VARIABLE, records
from .measure import load, noise, speed
from .measure.environment import machine_name

FOLDER = "releases"   # under the results folder: releases/asv/<machine>/


def folder(results: Path | None = None) -> Path:
    """The results folder of release comparisons (its asv/ beside the sweep's)."""
    return paths.results(results) / FOLDER


def packages(framework: str) -> tuple[str, ...]:
    """The distributions a release of `framework` pins: those of its record installed here
    (jax and jaxlib; tensorflow-cpu, not tensorflow, where the CPU build is installed)."""
    rec = records().get(framework)
    if rec is None or not rec.distributions:
        raise ValueError(f"no releases of {framework!r} to compare: choose a framework with a "
                         f"package ({', '.join(n for n, r in records().items() if r.distributions and r.variant_of is None)})")
    here = []
    for name in rec.distributions:
        try:
            importlib.metadata.version(name)
            here.append(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return tuple(here) or rec.distributions[:1]


def label(pins: dict) -> str:
    """A release's name in tables and on the command line: 'jax==0.9.2 jaxlib==0.9.2'."""
    return " ".join(f"{k}=={v}" for k, v in sorted(pins.items()))


def ordered(labels) -> list[str]:
    """Release labels oldest first (by the versions they pin), the empty label dropped."""
    from packaging.version import InvalidVersion, Version

    def key(text: str):
        out = []
        for pin in text.split():
            try:
                out.append(Version(pin.partition("==")[2]))
            except InvalidVersion:
                out.append(Version("0"))
        return out
    return sorted({str(x) for x in labels if isinstance(x, str) and x}, key=key)


def matrix(framework: str, versions: list[str], python: str) -> dict:
    """asv configuration keys for one environment per release: the plain environment excluded,
    one `include` per release with each of the framework's distributions at that version."""
    names = packages(framework)
    return {"environment_type": "virtualenv", "pythons": [python], "matrix": {},
            "exclude": [{"python": ".*"}],
            "include": [{"python": python, "req": {name: v for name in names}} for v in versions]}


def env_python(env_dir: Path, env_name: str) -> Path:
    """The interpreter of asv's environment `env_name` (asv names its folder by the md5 of
    the name; no tagged variables here)."""
    return Path(env_dir) / hashlib.md5(env_name.encode()).hexdigest() / "bin" / "python"


def environment_in(python: Path, cwd: Path) -> dict:
    """adcost's environment record as seen from inside another interpreter."""
    code = ("import json; from adcost.measure.environment import environment; "
            "print(json.dumps(environment()))")
    out = subprocess.run([str(python), "-c", code], cwd=cwd, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    if out.returncode:
        raise RuntimeError(f"cannot read the environment of {python}: "
                           f"{(out.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def stamp(asv_dir: Path, machine: str, commit: str, env_dir: Path, cwd: Path, mark: dict | None,
          refused: list[dict], probe: dict | None, only: dict | None = None,
          seen: dict | None = None, speeds: dict | None = None) -> list[Path]:
    """Stamp each release's result file (those of the release `only` names) with its
    environment as read from inside it (once: `seen` keeps it per file) and the machine's speed
    beside each case its run timed (`speeds`, as the sweep folds them); the files of the
    environments where something was measured."""
    from .sweep import stamp_file
    seen = {} if seen is None else seen
    done = []
    for path in sorted((asv_dir / machine).glob(f"{commit[:8]}-*.json")):
        data = json.loads(path.read_text())
        release = (data.get("adcost_environment") or {}).get("release") or data.get("requirements") or {}
        if only is not None and {k: release.get(k) for k in only} != only:
            continue
        if path not in seen:
            try:
                seen[path] = environment_in(env_python(env_dir, data["env_name"]), cwd)
            except RuntimeError as exc:   # its install failed (asv said why): nothing ran in it
                print(f"releases: {data['env_name']}: not stamped ({exc})", file=sys.stderr)
                continue
        stamp_file(path, seen[path], mark, refused, probe, speeds=speeds, release=dict(release))
        values = [r[0] for r in (data.get("results") or {}).values() if isinstance(r, list) and r]
        if any(v is not None for x in values for v in (x if isinstance(x, list) else [x])):
            done.append(path)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="adcost releases", description=__doc__.splitlines()[0])
    parser.add_argument("framework", help="the framework whose releases are compared (e.g. jax)")
    parser.add_argument("versions", nargs="+", help="two or more releases, oldest first (e.g. 0.9.2 0.10.2)")
    parser.add_argument("--grid", choices=grids.GRID_NAMES, default=None,
                        help="quick (default) or full")
    parser.add_argument("--machine", default=None, help="asv machine name (default: host and CPU)")
    parser.add_argument("--only", default=None, help="run the sweep groups whose label has this word")
    parser.add_argument("--noise-processes", type=nonnegative, default=noise.PROCESSES,
                        help=f"fresh processes of the noise probe (default {noise.PROCESSES}; 0: none)")
    parser.add_argument("asv_args", nargs="*", help="after --: passed to asv run")
    args = parser.parse_args(argv)
    from .sweep import asv_config, asv_environ, checkout, git_head, selected
    try:
        check_environment()
        threads.apply()
        names = packages(args.framework)
    except ValueError as exc:
        parser.error(str(exc))
    if len(set(args.versions)) < 2:
        parser.error("give at least two different releases, e.g. `adcost releases jax 0.9.2 0.10.2`")
    if records()[args.framework].variant_of:
        parser.error(f"{args.framework} is a variant of {records()[args.framework].variant_of}: "
                     "compare releases of that")
    grid = args.grid or grids.grid_name()
    try:
        groups = selected(args.only, grid)
    except ValueError as exc:
        parser.error(str(exc))
    machine = args.machine or machine_name()
    results = folder()
    try:
        paths.writable(paths.asv_results(results))
    except ValueError as exc:
        parser.error(str(exc))
    root, commit = checkout().resolve(), git_head()
    python = "%d.%d" % sys.version_info[:2]
    env_dir = root / ".asv" / "env"
    env = asv_environ({**os.environ, "ADCOST_GRID": grid, "ADCOST_RESULTS": str(results.resolve()),
                       FRAMEWORKS_VARIABLE: args.framework})
    asv = os.path.join(os.path.dirname(sys.executable), "asv")
    config = asv_config(results, **matrix(args.framework, args.versions[:1], python))
    subprocess.run([asv, "machine", "--yes", "--machine", machine, *config], cwd=root, env=env,
                   check=True, stdout=subprocess.DEVNULL)

    def probe(processes: int, when: str) -> dict | None:
        if processes < 2:
            return None
        print(f"=== releases: noise probe {when} ({processes} processes) ===", flush=True)
        try:
            return noise.probe(processes, [args.framework])
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"releases: the noise probe failed ({exc})", file=sys.stderr)
            return None

    from .bench import BenchState
    state = BenchState(paths.results(results) / "bench_state.json", scope=f"{grid}@{commit}")
    speed_log = state.path.with_name(speed.LOG_NAME)   # where the benchmarks log the machine's speed
    pattern = "|".join(f"(?:{p})" for _, p in groups)
    print(f"=== releases: {args.framework} {', '.join(args.versions)} ({' and '.join(names)} "
          f"pinned to each), grid {grid}, machine {machine} ===", flush=True)
    start, since = time.perf_counter(), time.time()
    probes, codes, asv_dir = [probe(args.noise_processes, "before")], [], paths.asv_results(results)
    seen: dict = {}   # each environment's record, read once from inside it
    for version in args.versions:   # one asv run per release, a probe after each: the drift
        config = asv_config(results, **matrix(args.framework, [version], python))
        print(f"=== releases: {args.framework} {version} ===", flush=True)
        before, run_start = load.snapshot(), time.time()
        codes.append(subprocess.run([asv, "run", *config, "--launch-method", "forkserver",
                                     "--machine", machine, "-b", pattern, f"{commit}^!",
                                     *args.asv_args], cwd=root, env=env).returncode)
        beside = speed.read(speed_log, since=run_start)   # this release's cases only
        mark = {**load.mark(f"{args.framework} {version}", before, load.snapshot()),
                "groups": [g[0] for g in groups], "speed": speed.summary(beside)}
        stamp(asv_dir, machine, commit, env_dir, root, mark, [], None, only={n: version for n in names},
              seen=seen, speeds=beside)
        probes.append(probe(min(2, args.noise_processes), f"after {version}"))
    combined = noise.combine(probes) or None
    stamped = stamp(asv_dir, machine, commit, env_dir, root, None, state.refusals(since), combined,
                    seen=seen)
    code = max(codes) if codes else 0
    print(f"releases: {len(stamped)} environments in {time.perf_counter() - start:.0f} s; results in "
          f"{asv_dir / machine}" + (f"; the machine's spread and drift over the run: "
                                    f"{combined['threshold']:.2f}x ({combined['worst']})" if combined else ""))
    if len(stamped) < 2:
        print(f"releases: asv exit {code}; fewer than two releases measured, nothing to compare",
              file=sys.stderr)
        return code or 1
    from .analysis import compare
    first = label({n: args.versions[0] for n in names})
    for version in args.versions[1:]:
        print(f"\n=== compare {first} -> {label({n: version for n in names})} ===", flush=True)
        compare.main([first, label({n: version for n in names}), "--results", str(paths.results())])
    return 0 if all(c in (0, 2) for c in codes) else code


if __name__ == "__main__":
    raise SystemExit(main())
