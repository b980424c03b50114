"""Run the asv sweep in groups, so that an interrupted sweep keeps what it already measured.

asv saves a run's results when the run ends and loses them on Ctrl-C; adcost's asv plugin
(benchmarks/asv_plugin.py) saves after each benchmark, so a stop loses the benchmark in
progress only.  This driver runs the groups of benchmark classes in a few `asv run`s (`runs`:
one per study in the full grid, one for the quick grid's timings; the peak-RSS probes apart),
each from the project's venv, results under results/asv for HEAD's commit; asv merges every run
into the same results file.  `--resume` skips the benchmarks already saved for HEAD's commit on
this machine (asv's --skip-existing).

    python -m adcost.sweep --grid quick [--machine NAME] [--resume] [--streams N] [-- asv args]

ADCOST_THREADS=N limits every framework to N threads (src/adcost/threads.py); the sweep then
runs one stream of asv runs per group of N CPUs side by side (`_streams`; `--streams 1`: one
run at a time).
"""
from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import grids, paths, threads
from .argv import Parser, nonnegative, positive, shard_spec
from .envvars import check as check_environment
from .frameworks.base import DEVICE_VARIABLE, check_device, default_device
from .frameworks.jax_adapter import ASYNC_DISPATCH
from .measure import load, noise, speed
from .measure.environment import machine_name
from .measure.timing import TUNABLES, steady_tunables

# (label, asv -b regex).  Compile and Flops share one setup_cache: they run together.
GROUPS = (
    ("compile time and FLOPs", r"^crossover\.(Compile|Flops)\."),
    ("Jacobians over n and m", r"^crossover\.(PrimalNM|JacobianNM)\."),
    ("Jacobians over depth", r"^crossover\.(PrimalDepth|JacobianDepth)\."),
    ("single JVP and VJP", r"^crossover\.Products\."),
    ("compile break-even", r"^crossover\.BreakEven\."),
    ("Jacobians and batched primals over width", r"^crossover\.(PrimalWidth|JacobianWidth)\."),
    ("forward against reverse, side by side", r"^crossover\.SideBySide(Forward)?\."),
    ("roofline: matmul, bandwidth and row products", r"^roofline\.(Matmul|Bandwidth|RowProducts)\."),
    ("roofline: copies", r"^roofline\.Copy\."),
    ("checkpointing: bytes and time", r"^memory\.(Checkpoint|Loss)\."),
    ("checkpointing and forward mode: peak RSS", r"^memory\.(PeakRSS|PeakForward|PeakMem)\."),
    ("forward mode over depth", r"^memory\.Forward\."),
    ("second order: HVPs and Hessians", r"^second_order\.(HVP|HVPTempBytes|Hessian)\."),
    ("second order: per-example gradients", r"^second_order\.PerExample\."),
    ("second order: peak RSS", r"^second_order\.SecondOrderRSS\."),
    ("second order: mixed-mode bracketings", r"^second_order\.(Bracketing|Rates)\."),
    ("workloads: GMM, LSE, LSTM, BA, trajectory", r"^workloads\.Workload\."),
    ("workloads: bundle adjustment by blocks", r"^workloads\.BABlocks\."),
)


# Groups the quick grid leaves out (their benchmarks skip there too, with the reason): the
# break-even's torch.compile cases compile for seconds each; the second-order peak-RSS probes
# start a fresh process each (12 s a probe, 108 s of the quick sweep); the side-by-side ratios
# place a crossover from the quick grid's two n no better than the width study's times.
FULL_ONLY = ("compile break-even", "second order: peak RSS",
             "forward against reverse, side by side")


# Groups of fresh-process probes only (peak RSS), which run side by side on every CPU
# (adcost.measure.memory.peak_rss_many): each has an asv run of its own, whose load mark
# judges the machine before it only (after it, the load is the probes' own), and the sweep
# lets that load settle before the next run (settle).
PROBE_GROUPS = ("checkpointing and forward mode: peak RSS", "second order: peak RSS")


# Benchmarks read together across suites: the cost model fits the width study with the
# roofline's rates, so both come from one machine (and one shard); the compile break-even
# group is a study of its own (its pairs are timed side by side in one run, and a newer
# break-even run must not hide another machine's n x m grid).
STUDIES = {"roofline": "cost model", "crossover.JacobianWidth": "cost model",
           "crossover.PrimalWidth": "cost model", "crossover.SideBySide": "cost model",
           "crossover.SideBySideForward": "cost model",
           "crossover.BreakEven": "compile break-even"}


def study_of(benchmark: str) -> str:
    """The study a benchmark belongs to: its suite, except the cost model's inputs (STUDIES).
    The analysis reads each study from one machine; a shard runs whole studies."""
    suite, _, rest = str(benchmark).partition(".")
    cls = rest.split(".")[0]
    return STUDIES.get(f"{suite}.{cls}") or STUDIES.get(suite) or suite


def group_study(pattern: str) -> str:
    """The study of a sweep group, from its asv -b pattern (its first class)."""
    import re
    found = re.match(r"\^(\w+)\\\.(?:\(([\w|]+)\)|(\w+))?", pattern)
    suite, classes = found.group(1), (found.group(2) or found.group(3) or "").split("|")
    return study_of(f"{suite}.{classes[0]}.x")


# Seconds each group took on the 2-vCPU reference VM: the weights of the shard split; a group
# not listed weighs 60 s.  Quick grid: a fresh clone's make bench at c403dd0 (2026-12-02 night,
# the Intel VM, both cores), each asv run's wall time shared among its groups by their asv
# durations, a setup_cache with its group; a group the quick grid leaves out weighs 0.  Full grid: the
# whole `make sweep` of commit b935651 (ADCOST_THREADS=1, fresh clone, 2026-12-03, the Intel VM,
# nothing else running: 6,697 s of asv runs; c80b7c5's on the AMD VM took 5,473 s), shared the
# same way.
GROUP_SECONDS = {
    "compile time and FLOPs": (25, 54),
    "Jacobians over n and m": (53, 794),
    "Jacobians over depth": (24, 256),
    "single JVP and VJP": (21, 123),
    "compile break-even": (0, 305),
    "Jacobians and batched primals over width": (58, 1770),
    # 996 s of asv's durations at 9128e62 (Intel); the n between (8, 32, 128 at m <= 64) took
    # it from 661 to 879 s on the AMD VM (6e7f981, 384615a): about 1,330 s on the Intel VM
    "forward against reverse, side by side": (0, 1330),
    # full: 198 s alone at cb91d09 (AMD VM, rows 1-1024 in steps of 4), 246 s at c985867 (the
    # Intel VM, steps of 2 up to 256); quick: an estimate
    "roofline: matmul, bandwidth and row products": (30, 246),
    "roofline: copies": (10, 91),   # full: 91 s alone at fa2ef078 (Intel VM); quick: an estimate
    "checkpointing: bytes and time": (31, 259),
    "checkpointing and forward mode: peak RSS": (94, 762),
    "forward mode over depth": (19, 79),
    "second order: HVPs and Hessians": (72, 676),
    "second order: per-example gradients": (18, 262),
    "second order: peak RSS": (0, 414),
    "second order: mixed-mode bracketings": (3, 11),
    "workloads: GMM, LSE, LSTM, BA, trajectory": (72, 735),
    "workloads: bundle adjustment by blocks": (10, 58),
}


def selected(only: str | None, grid: str) -> list[tuple[str, str]]:
    """The groups a run covers: those whose label has `only` (all without it), less FULL_ONLY
    in the quick grid; ValueError naming the groups when none is left."""
    groups = [g for g in GROUPS if (only is None or only in g[0])
              and not (grid == "quick" and g[0] in FULL_ONLY)]
    if not groups:
        here = [g[0] for g in GROUPS if not (grid == "quick" and g[0] in FULL_ONLY)]
        raise ValueError(f"--only {only!r} matches no group of the {grid} grid; groups: "
                         f"{', '.join(here)}" + (f" (full grid only: {', '.join(FULL_ONLY)})"
                                                 if grid == "quick" else ""))
    return groups


def runs(groups, grid: str, per_study: bool = False) -> list[tuple[str, str, list[str]]]:
    """The asv runs of a sweep: (label, -b pattern, the groups' labels).  Each run pays about
    15 s to discover the benchmarks and start the forkserver with the frameworks imported, and
    asv saves after each benchmark (benchmarks/asv_plugin.py: a stop loses the benchmark in
    progress only), so groups share runs: the quick grid runs all its timing groups in one,
    the full grid (or `per_study`) each study's groups in one (a load mark per study); the probe
    groups (PROBE_GROUPS) run apart, their side-by-side probes load every CPU."""
    merged = {}
    for label, pattern in groups:
        probe = label in PROBE_GROUPS
        key = ((probe,) if grid == "quick" and not probe and not per_study
               else (group_study(pattern), probe))
        merged.setdefault(key, []).append((label, pattern))
    def label(key, part):
        if len(part) <= 3:
            return " + ".join(l for l, _ in part)
        return f"{len(part)} groups: " + ("every timing group" if key == (False,) else key[0])
    return [(label(key, part), "|".join(f"(?:{p})" for _, p in part), [l for l, _ in part])
            for key, part in merged.items()]


# Studies a shard keeps together: the cost model reads the width study's points at the n x m
# group's width from the crossover study's JacobianNM and PrimalNM (costmodel.width_rows, on
# the width study's own machine only), which the width study no longer times twice.
SHARD_TOGETHER = {"crossover": "crossover and cost model", "cost model": "crossover and cost model"}


def shard_unit(pattern: str) -> str:
    """What a shard runs whole: a group's study, or the studies it keeps together."""
    study = group_study(pattern)
    return SHARD_TOGETHER.get(study, study)


def shard_of(groups, index: int, count: int, grid: str) -> list:
    """The groups of shard `index` (1-based) of `count`. A shard runs whole studies (the
    analysis reads each study from one machine; SHARD_TOGETHER keeps some together): studies
    longest first, each to the shard with the least seconds so far (GROUP_SECONDS of the grid);
    deterministic, the same on every machine, every group in exactly one shard."""
    column = 0 if grid == "quick" else 1
    weight = {}
    for label, pattern in groups:
        study = shard_unit(pattern)
        weight[study] = weight.get(study, 0) + GROUP_SECONDS.get(label, (60, 60))[column]
    load = [0.0] * count
    owner = {}
    for study in sorted(weight, key=lambda k: (-weight[k], k)):
        target = min(range(count), key=lambda i: (load[i], i))
        owner[study] = target
        load[target] += weight[study]
    return [g for g in groups if owner[shard_unit(g[1])] == index - 1]


def settle(cpus: int | None = None, wait_s: float = 60.0, poll_s: float = 2.0,
           loadavg=os.getloadavg, sleep=time.sleep) -> float:
    """Wait (at most `wait_s`) until the 1-minute load average is no more than the CPUs: after
    a probe run it is the probes' own load, which decays within seconds; the next run's mark
    reads it.  Returns the seconds waited."""
    from .measure.load import overloaded
    waited = 0.0
    while overloaded(loadavg()[0], cpus) and waited < wait_s:
        sleep(poll_s)
        waited += poll_s
    return waited


def checkout() -> Path:
    """The project checkout asv runs in: the current directory, which must hold asv.conf.json."""
    here = Path.cwd()
    if not (here / "asv.conf.json").exists():
        raise SystemExit("sweep: run it from the adcost checkout (the folder with asv.conf.json)")
    return here


# -- streams: asv runs side by side, one per CPU group ------------------------------------
# With a thread limit ($ADCOST_THREADS=n) a case keeps n CPUs busy and the others idle: the
# sweep then runs as many streams as the machine has groups of n CPUs, each stream taking the
# next asv run (one study's timing or probe groups) from one queue, its processes pinned to its
# group (the peak-RSS probes of its runs one at a time there), its asv results in a folder of
# its own (asv saves a results file whole: two runs saving one file would drop each other's
# benchmarks), merged into results/asv by the sweep after each run.  Measured on the 2-vCPU
# reference VM (2026-12-03, one thread, 16 interleaved rounds of eight width and n x m cases
# from overhead- to memory-bound, each timed with a process on the other CPU running JAX,
# torch and NumPy Jacobians and without): the medians of on/off were 0.985-1.018, within the
# cases' own round-to-round spread (0.5-2.0 for the smallest); with a batch-8192 gradient
# streaming memory beside them 0.94-1.01 (six rounds).  docs/benchmarks.md has the sweep times.
STREAMS_FOLDER = ".streams"


def stream_cpu_sets() -> list[list[int]]:
    """The CPU groups of the streams: the run's CPUs (threads.machine_cpus) in groups of
    $ADCOST_THREADS; without a thread limit one group of every CPU (one stream: each case
    may use them all)."""
    per = threads.requested()
    return threads.cpu_groups(per) if per else [threads.machine_cpus()]


# What a stream holds at most, kept available per stream by the default number of streams: its
# asv forkserver with torch, JAX and TensorFlow imported (840 MB) and the case it forked (a
# width-2048 Jacobian, a batch-8192 peak-RSS probe of JAX at depth 128: 776 MB above its
# baseline), with room to spare: the machine's memory in use peaked at 2.4 GB through a quick
# sweep of two streams (2-vCPU VM, 2026-12-03).
STREAM_MEMORY = 4 * 2 ** 30


def default_streams(groups: int, memory: int | None = None) -> int:
    """The streams a sweep runs by default: one per CPU group, at most one per STREAM_MEMORY of
    the memory available now (envvars.available_memory), at least one."""
    from .envvars import available_memory
    memory = available_memory() if memory is None else memory
    return max(1, min(groups, memory // STREAM_MEMORY))


def stream_runs(groups, grid: str, streams: int) -> list[tuple[str, str, list[str]]]:
    """The asv runs of a sweep in `streams` streams: `runs` per study in either grid (a stream
    takes whole runs: a run's cases share what the benchmark state knows of their sizes),
    longest first (GROUP_SECONDS, a probe group's seconds times `streams`: measured two probes
    at a time, a stream runs them one at a time)."""
    column = 0 if grid == "quick" else 1

    def weight(run):
        return sum(GROUP_SECONDS.get(l, (60, 60))[column] * (streams if l in PROBE_GROUPS else 1)
                   for l in run[2])
    return sorted(runs(groups, grid, per_study=True), key=lambda run: (-weight(run), run[2][0]))


def pinned(cmd: list[str], cpus: list[int]) -> list[str]:
    """`cmd` run on `cpus` only: a Python that sets its affinity, then execs the command (which
    keeps it; the sweep's own process is pinned to the first group by the thread limit).
    `cmd` as is where the platform has no affinity."""
    if not hasattr(os, "sched_setaffinity"):
        return cmd
    code = ("import os, sys; os.sched_setaffinity(0, [int(c) for c in sys.argv[1].split(',')]); "
            "os.execv(sys.argv[2], sys.argv[2:])")
    return [sys.executable, "-c", code, ",".join(map(str, cpus)), *cmd]


def run_speeds(entries: dict, pattern: str) -> dict:
    """The speed-log entries (measure.speed.read) of the benchmarks `pattern` selects: a key
    'suite.Class(params)' read as the benchmark 'suite.Class.' (streams log side by side)."""
    import re
    rx = re.compile(pattern)
    return {k: v for k, v in entries.items() if rx.search(k.split("(", 1)[0] + ".")}


def merge_run(source: Path, target: Path, pattern: str) -> None:
    """Merge into asv results file `target` the benchmarks of `source` that `pattern` selects
    (a stream's run: results, their durations and the setup_cache durations of their suites);
    `target` is created from `source` when missing.  Only the run's benchmarks: the stream's
    file also holds what it was seeded with, which another stream may have measured again."""
    import re
    rx = re.compile(pattern)
    new = json.loads(source.read_text())
    mine = {k: v for k, v in (new.get("results") or {}).items() if rx.search(k)}
    suites = {k.split(".", 1)[0] for k in mine}
    durations = {k: v for k, v in (new.get("durations") or {}).items()
                 if rx.search(k) or any(k.startswith(f"<setup_cache {s}:") for s in suites)}
    try:
        data = json.loads(target.read_text())
    except (OSError, ValueError):
        data = {**new, "results": {}, "durations": {}}
        data.pop("adcost_environment", None)
    data["results"] = {**(data.get("results") or {}), **mine}
    data["durations"] = {**(data.get("durations") or {}), **durations}
    for key in ("params", "requirements", "env_vars", "python", "commit_hash", "env_name",
                "result_columns", "version"):
        if key in new and key not in data:
            data[key] = new[key]
    data["date"] = max(data.get("date") or 0, new.get("date") or 0)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(tmp, target)


def seed_stream(folder: Path, machine: str, commit: str) -> None:
    """A stream's results folder holding HEAD's results of `machine` as results/asv has them
    (so `--resume`, asv's --skip-existing, skips what any stream saved before)."""
    import shutil
    mine = paths.asv_results(folder) / machine
    mine.mkdir(parents=True, exist_ok=True)
    for path in result_files(machine, commit):
        shutil.copyfile(path, mine / path.name)


def adopt_stream(folder: Path, machine: str, commit: str, pattern: str) -> None:
    """Merge a stream's run (`pattern`) into results/asv, with asv's benchmarks.json and the
    machine's machine.json."""
    import shutil
    main = paths.asv_results()
    for path in result_files(machine, commit, folder):
        merge_run(path, main / machine / path.name, pattern)
    for name in ("benchmarks.json", f"{machine}/machine.json"):
        found = paths.asv_results(folder) / name
        if found.exists():
            (main / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, main / name)


def git_head() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout(), capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise SystemExit("sweep: not a git checkout; asv needs a commit to file results under")
    return out.stdout.strip()


def result_files(machine: str, commit: str, results: Path | None = None) -> list[Path]:
    """HEAD's asv result files of `machine` (one per environment), in `results`' asv folder
    (default paths.results())."""
    return sorted((paths.asv_results(results) / machine).glob(f"{commit[:8]}-*.json"))


def stamps_before(machine: str, commit: str) -> dict[Path, dict]:
    """Each result file's adcost_environment now: asv rewrites a results file without it when
    it saves the next run into it, so the sweep reads it before each run and stamps it back
    (with the new run's mark) after."""
    out = {}
    for path in result_files(machine, commit):
        try:
            out[path] = json.loads(path.read_text()).get("adcost_environment") or {}
        except (OSError, ValueError):
            continue
    return out


def stamp_environment(machine: str, commit: str, load: dict | None = None,
                      refused: list[dict] | None = None, noise: dict | None = None,
                      before: dict[Path, dict] | None = None, speeds: dict | None = None,
                      **extra) -> list[Path]:
    """Write adcost's environment into HEAD's asv result files of `machine`: the package
    versions as asv's `requirements` (empty for an existing environment; asv publish and the tidy
    loader read them there), the whole record (threads, CPU, date, commit) beside it,
    the load mark of the group just run (appended to `adcost_environment.load`) and the cases
    the validation gate refused (`adcost_environment.refused`, merged by case), the machine's
    speed beside each case the run timed (`speeds`, measure.speed's {key: [flop/s, time]}:
    `adcost_environment.speed`, merged by key); `extra` (the
    device and the frameworks that have none) beside them. `before`: each file's stamp as
    read before the run (stamps_before), kept where asv's save dropped it."""
    from .measure.environment import environment

    env, stamped = environment(), []
    for path in result_files(machine, commit):
        stamp_file(path, env, load, refused, noise, before=(before or {}).get(path),
                   speeds=speeds, **extra)
        stamped.append(path)
    return stamped


def stamp_file(path: Path, env: dict, load: dict | None = None, refused: list[dict] | None = None,
               noise: dict | None = None, before: dict | None = None,
               speeds: dict | None = None, **extra) -> None:
    """Stamp one asv result file with `env` (adcost.measure.environment's record) and the
    sweep's notes; `extra` keys (a release's pins) go into adcost_environment too. `before`:
    the file's stamp before asv last saved into it (asv drops keys it does not know)."""
    data = json.loads(path.read_text())
    data["requirements"] = {**(data.get("requirements") or {}), **env["versions"]}
    old = data.get("adcost_environment") or before or {}
    marks = old.get("load") or []
    cases = {(r["key"], tuple(r["size"])): r for r in (old.get("refused") or []) + (refused or [])}
    beside = {**(old.get("speed") or {}), **(speeds or {})}
    data["adcost_environment"] = {**old, **env, **extra, "load": marks + ([load] if load else []),
                                  "refused": [cases[k] for k in sorted(cases)],
                                  "noise": noise or old.get("noise"),
                                  **({"speed": beside} if beside else {})}
    path.write_text(json.dumps(data, indent=None, separators=(",", ":")))


def device_check(device: str) -> dict[str, str]:
    """The sweep's frameworks with no `device` here, each with the reason (none for the CPU):
    built in a child process, so the sweep itself imports no framework."""
    if device == "cpu":
        return {}
    code = ("import json, sys; from adcost.frameworks.base import device_reasons, sweep_frameworks; "
            "print(json.dumps(device_reasons(sys.argv[1], sweep_frameworks())))")
    out = subprocess.run([sys.executable, "-c", code, device], capture_output=True, text=True,
                         timeout=600)
    if out.returncode:
        raise SystemExit(f"sweep: could not check device {device}: "
                         f"{(out.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def asv_config(results: Path | None = None, **overrides) -> list[str]:
    """asv's --config for the results folder (default paths.results()): none when it is the
    checkout's results/ and nothing is overridden (what asv.conf.json names); else a copy of
    asv.conf.json written there, with the checkout's folders made absolute, the results and
    html folders that folder's (asv reads them from its config only, and changes to the
    config's folder) and `overrides` (a release comparison's matrix) applied."""
    root = checkout().resolve()
    target = paths.asv_results(results).resolve()
    if target == root / "results" / "asv" and not overrides:
        return []
    from asv.util import load_json   # asv's own reader of its commented JSON
    conf = load_json(str(root / "asv.conf.json"), js_comments=True)
    conf.update(repo=str(root), benchmark_dir=str(root / conf["benchmark_dir"]),
                env_dir=str(root / conf["env_dir"]), results_dir=str(target),
                html_dir=str(target.parent / "html"), **overrides)
    path = target.parent / "asv.conf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf, indent=1))
    return ["--config", str(path)]


# What the benchmark processes run with unless the caller set it (every result records it):
# JAX's CPU computations on the calling thread (frameworks.jax_adapter.cpu_dispatch), and glibc's
# malloc thresholds fixed at measure.timing.STEADY_MALLOC ($GLIBC_TUNABLES: timing_environ), as
# the checkpoint report and `adcost profile` fix them in their own processes
TIMING_DEFAULTS = {ASYNC_DISPATCH: "false"}


def timing_environ(env) -> dict:
    """What `env` lacks of the timing defaults: TIMING_DEFAULTS' variables it does not set, and
    $GLIBC_TUNABLES with STEADY_MALLOC's thresholds where it names none of its own (glibc's
    adaptive thresholds otherwise settle by what a process freed first: a fresh asv process
    timed JAX's float64 gradient of mlp_loss at 155 ms and 54,164 page faults a call, 98 ms and
    none with them fixed; docs/methodology.md)."""
    added = {k: v for k, v in TIMING_DEFAULTS.items() if k not in env}
    tunables = steady_tunables(env.get(TUNABLES))
    return {**added, **({TUNABLES: tunables} if tunables != env.get(TUNABLES) else {})}


def apply_timing_defaults() -> None:
    """Add the timing defaults (timing_environ) to this process's environment: the processes it
    starts run with them, and the results record them.  glibc reads $GLIBC_TUNABLES when a
    process starts, so a process that times in itself fixes its own thresholds too
    (measure.timing.steady_malloc)."""
    os.environ.update(timing_environ(os.environ))


def asv_environ(env: dict) -> dict:
    """`env` with the checkout on PYTHONPATH (asv imports the plugin benchmarks.asv_plugin from
    the config's folder, which is not the checkout when the results go elsewhere) and the
    timing defaults it lacks (timing_environ)."""
    path = [str(checkout().resolve())] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**env, **timing_environ(env), "PYTHONPATH": os.pathsep.join(path)}


def asv_command(pattern: str, machine: str, commit: str, resume: bool, extra: list[str],
                config: list[str] | None = None) -> list[str]:
    """`asv run` of the groups `pattern` selects; `config`: asv's --config (default asv_config())."""
    asv = os.path.join(os.path.dirname(sys.executable), "asv")
    config = asv_config() if config is None else config
    cmd = [asv, "run", *config, "-E", "adcost:same", "--launch-method", "forkserver",
           "--machine", machine, f"--set-commit-hash={commit}", "-b", pattern]
    return cmd + (["--skip-existing"] if resume else []) + extra


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="adcost.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=grids.GRID_NAMES, default=None,
                        help="quick (make bench) or full (make sweep); default $ADCOST_GRID or quick")
    parser.add_argument("--machine", default=None,
                        help="asv machine name (default: host name and CPU model, e.g. vm-amd-epyc)")
    parser.add_argument("--resume", action="store_true",
                        help="skip benchmarks already saved for this commit and machine")
    parser.add_argument("--only", default=None, help="run the groups whose label has this word")
    parser.add_argument("--shard", type=shard_spec, default=None, metavar="I/N",
                        help="run part I of N of the groups (balanced by their measured seconds; "
                             "give each machine its own --machine and merge the results folders)")
    parser.add_argument("--streams", type=positive, default=None,
                        help="asv runs side by side, one per group of $ADCOST_THREADS CPUs "
                             "(default: as many as there are such groups; 1 without a thread "
                             "limit; 1: one run at a time)")
    parser.add_argument("--noise-processes", type=nonnegative, default=noise.PROCESSES,
                        help="fresh processes of the noise probe run first, whose spread "
                             f"`adcost compare` respects (default {noise.PROCESSES}; 0: no probe)")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, gpu or cuda:N: the device of every case (default "
                             "$ADCOST_DEVICE, else cpu); a framework with no such device here skips "
                             "its rows with the reason; the machine name gets the device")
    parser.add_argument("asv_args", nargs="*", help="after --: passed to asv run")
    args = parser.parse_args(argv)
    try:
        check_environment()   # every ADCOST_* variable, before asv starts
        threads.apply()       # $ADCOST_THREADS: asv and every process it starts inherit it
        args.device = args.device or default_device()
        check_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    os.environ[DEVICE_VARIABLE] = args.device   # every case asv runs (and the noise probe)
    apply_timing_defaults()                     # the noise probe's too
    args.grid = args.grid or grids.grid_name()
    args.machine = args.machine or machine_name() + (
        "" if args.device == "cpu" else "-" + args.device.replace(":", ""))
    try:
        groups = selected(args.only, args.grid)
    except ValueError as exc:
        parser.error(str(exc))
    available = len(stream_cpu_sets())
    if args.streams is not None and args.streams > available:
        parser.error(f"--streams {args.streams}: this run has {available} group(s) of "
                     f"{threads.requested() or 'every'} CPU(s) ({threads.VARIABLE}="
                     f"{threads.requested() or 'unset'} on CPUs "
                     f"{','.join(map(str, threads.machine_cpus()))})")
    args.streams = args.streams or default_streams(available)
    if args.shard is not None:
        groups = shard_of(groups, *args.shard, args.grid)
        if not groups:
            parser.error(f"--shard {args.shard[0]}/{args.shard[1]}: no group left for this part "
                         f"(more parts than groups)")

    try:
        paths.writable(paths.asv_results())
    except ValueError as exc:
        parser.error(str(exc))
    commit = git_head()
    from contextlib import ExitStack
    from .validate import CACHE_VARIABLE
    with ExitStack() as folders:
        # checked references kept for the run (the noise probe's cases and asv's), and
        # inductor's cache: torch.compile's compile seconds depend on what it holds, so a fresh
        # one, its toolchain warmed before the first case (warm_compiler)
        folders.enter_context(scratch_folder(CACHE_VARIABLE, "adcost-references-"))
        folders.enter_context(scratch_folder(INDUCTOR_CACHE, "adcost-inductor-"))
        env = asv_environ({**os.environ, "ADCOST_GRID": args.grid,
                           "ADCOST_RESULTS": str(paths.results().resolve())})
        return _sweep(args, parser, groups, commit, env)


@contextmanager
def scratch_folder(variable: str, prefix: str):
    """A temporary folder named by $variable for the block (its own value back after it),
    removed after it."""
    import tempfile
    kept = os.environ.get(variable)
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        os.environ[variable] = folder
        try:
            yield folder
        finally:
            if kept is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = kept


INDUCTOR_CACHE = "TORCHINDUCTOR_CACHE_DIR"


def warm_compiler(grid: str, env: dict, run=subprocess.run) -> dict | None:
    """Warm torch.compile's toolchain in the run's fresh inductor cache folder (env's
    TORCHINDUCTOR_CACHE_DIR), in a child process, when the grid runs torch_compile and torch is
    installed: every case then compiles a graph not compiled before, with inductor's one-off
    work (14 s in an empty folder) done, whatever the machine's caches held.  The note stamped
    into the results (adcost_environment.compile_cache); None when nothing was warmed."""
    import importlib.util
    if grids.left_out("torch_compile", grid) is not None or importlib.util.find_spec("torch") is None:
        return None
    code = "from adcost.frameworks.torch_compile import warm_toolchain; print(warm_toolchain())"
    note = {"folder": "a fresh TORCHINDUCTOR_CACHE_DIR for the run, removed after it"}
    try:
        out = run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                  timeout=600)
    except subprocess.TimeoutExpired:
        return {**note, "warmed": False, "reason": "the warm-up compile ran past 600 s"}
    if out.returncode:
        lines = (out.stderr or "").strip().splitlines()
        return {**note, "warmed": False, "reason": lines[-1] if lines else f"exit {out.returncode}"}
    try:
        seconds = float((out.stdout.strip().splitlines() or [""])[-1])
    except ValueError:
        return {**note, "warmed": False, "reason": "the warm-up printed no seconds"}
    return {**note, "warmed": True, "warm_up_s": round(seconds, 2)}


def _sweep(args, parser, groups, commit, env) -> int:
    """The noise probe, then each asv run of `runs`, each stamped; the exit status."""
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "asv"), "machine", "--yes",
                    "--machine", args.machine], cwd=checkout(), env=env, check=True,
                   stdout=subprocess.DEVNULL)
    failed, loaded, start = [], [], time.perf_counter()
    from .bench import BenchState
    state = BenchState(os.environ.get("ADCOST_BENCH_STATE") or paths.results() / "bench_state.json",
                       scope=f"{args.grid}@{commit}")   # where the benchmarks note refusals
    speed_log = state.path.with_name(speed.LOG_NAME)   # and the speed beside each case
    since = time.time()
    probe = None
    if args.noise_processes == 1:
        parser.error("--noise-processes: 0 (no probe) or at least 2")
    device = {"name": args.device, "unavailable": device_check(args.device)}
    for fw, reason in device["unavailable"].items():
        print(f"sweep: device {args.device}: {fw} skips every case ({reason})", file=sys.stderr)
    usable = [fw for fw in noise.installed() if fw not in device["unavailable"]]
    if args.noise_processes and usable:
        print(f"=== sweep: noise probe ({args.noise_processes} processes) ===", flush=True)
        try:
            probe = noise.probe(args.noise_processes, usable)
            print(f"sweep: process-to-process spread up to {probe['threshold']:.2f}x "
                  f"({probe['worst']}), {probe['seconds']:.0f} s; compare calls changes beyond it")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"sweep: the noise probe failed ({exc}); compare falls back to its factor",
                  file=sys.stderr)
    compile_cache = warm_compiler(args.grid, env)
    if compile_cache is not None:
        print("sweep: torch.compile's toolchain " + (
            f"warmed in the run's fresh cache folder ({compile_cache['warm_up_s']:.0f} s)"
            if compile_cache["warmed"] else f"not warmed ({compile_cache['reason']})"), flush=True)
    if args.streams > 1:
        return _streams(args, groups, commit, env, state, speed_log, since, probe, device,
                        compile_cache, start)
    planned = runs(groups, args.grid)
    for i, (label, pattern, labels) in enumerate(planned, 1):
        print(f"\n=== sweep [{i}/{len(planned)}] {label} (grid {args.grid}, "
              f"{time.perf_counter() - start:.0f} s so far) ===", flush=True)
        cmd = asv_command(pattern, args.machine, commit, args.resume, args.asv_args)
        stamped = stamps_before(args.machine, commit)
        before, run_start = load.snapshot(), time.time()
        try:
            code = subprocess.run(cmd, cwd=checkout(), env=env).returncode
        except KeyboardInterrupt:
            code = 130
        probes = all(g in PROBE_GROUPS for g in labels)
        beside = speed.read(speed_log, since=run_start)
        marked = {**load.mark(label, before, load.snapshot(), judge_after=not probes),
                  "groups": labels, "speed": speed.summary(beside)}
        if marked["under_load"]:
            loaded.append(marked)
            print(f"sweep: '{label}' ran under load (load average {marked['loadavg_before'][0]:.1f} "
                  f"-> {marked['loadavg_after'][0]:.1f} on {marked['cpus']} CPUs, "
                  f"{marked['cpu_share']:.2f} CPU-seconds per second): its timings are marked",
                  file=sys.stderr)
        if (marked.get("steal_share") or 0) > load.STEAL_WARN:
            print(f"sweep: while '{label}' ran, the VM's host took {marked['steal_share']:.0%} of "
                  f"its CPU time (steal; recorded as steal_share): its timings may read slow",
                  file=sys.stderr)
        refused = state.refusals(since)
        if code not in (0, 2):       # 2: some benchmark failed; the others are saved
            stamp_environment(args.machine, commit, marked, refused, probe, stamped, device=device,
                              compile_cache=compile_cache, speeds=beside)
            return _stopped(args, label, code)
        if code == 2:
            failed.append(label)
        stamp_environment(args.machine, commit, marked, refused, probe, stamped, device=device,
                          compile_cache=compile_cache, speeds=beside)
        if probes and i < len(planned):
            waited = settle()
            if waited:
                print(f"sweep: waited {waited:.0f} s for the probes' load to settle", flush=True)
    print(f"\nsweep: {len(groups)} groups in {len(planned)} asv runs, {time.perf_counter() - start:.0f} s; results in "
          f"{paths.asv_results()}" + (f"; failures in: {', '.join(failed)}" if failed else ""))
    _report(loaded, len(planned), state, since)
    return 1 if failed else 0


def _stopped(args, label: str, code: int) -> int:
    """Say where a sweep stopped and how to go on; its exit status."""
    again = shlex.join([sys.executable, "-m", "adcost.sweep", "--grid", args.grid,
                        "--machine", args.machine, "--resume"])
    print(f"sweep: stopped in '{label}' (asv exit {code}); every benchmark it finished is saved.\n"
          f"sweep: go on with: make resume ADCOST_GRID={args.grid} MACHINE={args.machine}"
          f"  (or: {again})", file=sys.stderr)
    return code


def _report(loaded: list[dict], planned: int, state, since: float) -> None:
    """The sweep's closing warnings: runs under load, cases the validation gate refused."""
    if loaded:
        print(f"sweep: WARNING: {len(loaded)} of {planned} asv runs ran under load "
              f"({', '.join(m['group'] for m in loaded)}): the machine had more runnable threads "
              "than CPUs, so their timings are not comparable; they are marked under_load in the "
              "results. Re-run them on a quiet machine.", file=sys.stderr)
    refused = state.refusals(since)
    if refused:
        print(f"sweep: the validation gate refused {len(refused)} case(s): a wrong answer is "
              "not timed (not a failure of the sweep; adcost_environment.refused in the results):",
              file=sys.stderr)
        for r in refused:
            print(f"  {r['key']} at {tuple(r['size'])}: {r['reason']}", file=sys.stderr)


def _streams(args, groups, commit, env, state, speed_log, since, probe, device, compile_cache,
             start) -> int:
    """The sweep's asv runs in args.streams streams side by side (see stream_cpu_sets): each
    stream a thread here taking the next run of one queue (stream_runs), its asv pinned to its
    CPU group with its output prefixed by the stream's number, its results merged into
    results/asv after each run and stamped there; the exit status."""
    kept = os.environ.get(load.STREAMS_VARIABLE)
    os.environ[load.STREAMS_VARIABLE] = str(args.streams)   # this process's load marks too
    try:
        return _run_streams(args, groups, commit, env, state, speed_log, since, probe, device,
                            compile_cache, start, stream_cpu_sets()[:args.streams])
    finally:
        if kept is None:
            os.environ.pop(load.STREAMS_VARIABLE, None)
        else:
            os.environ[load.STREAMS_VARIABLE] = kept


def _run_streams(args, groups, commit, env, state, speed_log, since, probe, device, compile_cache,
                 start, cpu_sets) -> int:
    import shutil
    import threading
    from queue import Empty, SimpleQueue

    planned = stream_runs(groups, args.grid, len(cpu_sets))
    queue = SimpleQueue()
    for item in enumerate(planned, 1):
        queue.put(item)
    root = paths.results() / STREAMS_FOLDER
    lock, stop = threading.Lock(), threading.Event()
    # asv run rewrites ~/.asv-machine.json as it starts (Machine.load saves it back, truncating
    # first): two runs starting at once read it half written and one stopped with "Error parsing
    # JSON in file '~/.asv-machine.json'" (make bench, 2026-12-04).  So one asv run starts at a
    # time: a stream holds `starting` until its run has printed its first line (asv prints
    # nothing before it has loaded the machine).
    starting = threading.Lock()
    failed, loaded, stopped = [], [], []
    print(f"sweep: {len(planned)} asv runs in {len(cpu_sets)} streams side by side, on CPUs "
          + " | ".join(",".join(map(str, c)) for c in cpu_sets), flush=True)

    def say(text, err=False):
        with lock:
            print(text, file=sys.stderr if err else sys.stdout, flush=True)

    def stream(number, cpus):
        folder = root / str(number)
        shutil.rmtree(folder, ignore_errors=True)
        with lock:
            seed_stream(folder, args.machine, commit)
        config = asv_config(folder)
        mine = {**env, threads.MACHINE_VARIABLE: ",".join(map(str, cpus)),
                load.STREAMS_VARIABLE: str(len(cpu_sets))}
        while not stop.is_set():
            try:
                i, (label, pattern, labels) = queue.get_nowait()
            except Empty:
                return
            say(f"\n=== sweep [{i}/{len(planned)}] stream {number}: {label} (grid {args.grid}, "
                f"{time.perf_counter() - start:.0f} s so far) ===")
            cmd = pinned(asv_command(pattern, args.machine, commit, args.resume, args.asv_args,
                                     config), cpus)
            before, run_start = load.snapshot(), time.time()
            with starting:
                proc = subprocess.Popen(cmd, cwd=checkout(), env=mine, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        bufsize=1)
                first = proc.stdout.readline()
            for line in itertools.chain([first] if first else [], proc.stdout):
                say(f"[{number}] {line.rstrip()}")
            code = proc.wait()
            code = 130 if code < 0 else code
            probes = all(g in PROBE_GROUPS for g in labels)
            beside = run_speeds(speed.read(speed_log, since=run_start), pattern)
            marked = {**load.mark(label, before, load.snapshot(), judge_after=not probes),
                      "groups": labels, "speed": speed.summary(beside), "stream": number}
            with lock:
                stamped = stamps_before(args.machine, commit)
                adopt_stream(folder, args.machine, commit, pattern)
                stamp_environment(args.machine, commit, marked, state.refusals(since), probe,
                                  stamped, device=device, compile_cache=compile_cache,
                                  speeds=beside, streams=len(cpu_sets))
                if marked["under_load"]:
                    loaded.append(marked)
                if code == 2:
                    failed.append(label)
                elif code != 0:
                    stopped.append((label, code))
                    stop.set()
            if marked["under_load"]:
                say(f"sweep: '{label}' ran under load (load average "
                    f"{marked['loadavg_before'][0]:.1f} -> {marked['loadavg_after'][0]:.1f} on "
                    f"{marked['cpus']} CPUs, {len(cpu_sets)} streams): its timings are marked", True)
            if (marked.get("steal_share") or 0) > load.STEAL_WARN:
                say(f"sweep: while '{label}' ran, the VM's host took {marked['steal_share']:.0%} of "
                    f"its CPU time (steal; recorded as steal_share): its timings may read slow", True)

    done = [threading.Event() for _ in cpu_sets]

    def guarded(number, cpus):
        """A stream whose own code failed stops the sweep with the error (exit 1), never silently."""
        try:
            stream(number, cpus)
        except Exception as exc:   # noqa: BLE001  (a merge or a start that failed: said, not lost)
            with lock:
                stopped.append((f"stream {number}: {type(exc).__name__}: {exc}", 1))
                stop.set()
        finally:
            done[number - 1].set()

    def wait_all():
        # Events, not Thread.join: a join that Ctrl-C interrupts marks the thread finished in
        # Python 3.11 (bpo-45274's handling), and the sweep then left before the streams merged
        # their last runs (measured: a finished benchmark not merged)
        for event in done:
            while not event.wait(0.5):
                pass

    for k, cpus in enumerate(cpu_sets, 1):
        threading.Thread(target=guarded, args=(k, cpus), daemon=True).start()
    try:
        wait_all()
    except KeyboardInterrupt:   # the asv runs got the same signal: let each save and merge
        stop.set()
        wait_all()
        if not stopped:         # each stream was between runs: none named where it stopped
            stopped.append(("the sweep (interrupted between runs)", 130))
    if stopped:
        return _stopped(args, *stopped[0])
    shutil.rmtree(root, ignore_errors=True)
    print(f"\nsweep: {len(groups)} groups in {len(planned)} asv runs on {len(cpu_sets)} streams, "
          f"{time.perf_counter() - start:.0f} s; results in {paths.asv_results()}"
          + (f"; failures in: {', '.join(failed)}" if failed else ""))
    _report(loaded, len(planned), state, since)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
