"""asv results → one tidy table, one row per measurement.

asv 0.6 stores one JSON per (machine, commit, environment): results/asv/<machine>/<commit>-<env>.json.
Each benchmark there is a row of `result_columns` (result, params, version, started_at,
duration, stats_ci_99_a, stats_ci_99_b, stats_q_25, stats_q_75, stats_number, stats_repeat,
samples, profile), each list running over the cartesian product of the benchmark's params
(repr strings).  A combination that was skipped or failed holds null; it is kept with
status "skipped" and no value.  A value known to be wrong keeps status "invalid" and a note
(pool_blind_frameworks); every figure reads "ok" rows only.  Units come from results/asv/benchmarks.json.

    python -m adcost.analysis.load [--asv DIR] [--out DIR]      # writes tidy.csv and tidy.parquet
"""
from __future__ import annotations

import argparse
import ast
import functools
import datetime
import itertools
import json
import math
import sys
from pathlib import Path

import pandas as pd

from .. import grids, paths

# Columns in this order; parameters a benchmark does not have stay empty.
PARAM_COLUMNS = ["framework", "op", "problem", "n", "m", "depth", "width", "strategy", "size"]
COLUMNS = (["benchmark", "suite", "metric", "kind"] + PARAM_COLUMNS +
           ["value", "unit", "q25", "q75", "ci_lo", "ci_hi", "repeat", "number", "status",
            "machine", "cpu", "caches", "num_cpu", "ram", "os", "arch", "python", "versions",
            "threads",
            "env_name", "release", "device", "commit", "date", "file"])
INT_COLUMNS = ["n", "m", "depth", "width", "size", "repeat", "number"]
KIND_UNITS = {"time": "seconds", "peakmem": "bytes", "mem": "bytes", "track": "unit"}
TIDY_NAMES = ("tidy.csv.gz", "tidy.csv", "tidy.parquet")


def parse_param(text):
    """asv keeps parameter values as repr strings: "'torch'" -> 'torch', '64' -> 64."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def fixed_sizes(suite: str, cls: str) -> dict:
    """Sizes a sweep holds fixed (not asv parameters), from adcost.grids; equal in both grids."""
    if suite == "crossover":
        g = grids.crossover("quick")
        nm = {"depth": g["fixed_depth"]} if cls.endswith(("NM", "Width")) \
            or cls in ("Products", "Compile", "Flops", "SideBySide", "SideBySideForward") \
            else {"n": g["fixed_nm"], "m": g["fixed_nm"]}
        return {"problem": "mlp", "width": g["width"], **nm}
    if suite == "second_order":
        problem = "mlp_losses" if cls == "PerExample" else None if cls in ("Bracketing", "Rates") \
            else "mlp_loss"
        return {"problem": problem} if problem else {}
    if suite == "memory":
        g = grids.checkpoint("quick")
        return {"width": g["width"], "n": g.get("features", g["width"]), "m": g["outputs"]}
    return {}


@functools.lru_cache(maxsize=None)
def _workload_dims(label: str) -> tuple:
    from ..problems import make_problem
    problem, sizes = grids.workload_sizes(label)
    p = make_problem(problem, **sizes)
    axis = grids.WORKLOAD_AXIS.get(problem, "n")
    return problem, p.n, p.m, {"n": p.n, "m": p.m, **sizes}.get(axis)


def workload_columns(label: str) -> dict:
    """problem, n, m and `size` (the workload figure's x: grids.WORKLOAD_AXIS) of a label."""
    try:
        problem, n, m, size = _workload_dims(str(label))
    except (ValueError, KeyError, TypeError):
        return {}
    return {"problem": problem, "n": n, "m": m, "size": size}


def op_from_metric(metric: str) -> str | None:
    """time_jvp -> jvp, time_primal -> primal; a generic metric names no operation."""
    op = metric.split("_", 1)[1] if "_" in metric else metric
    return op if op in ("primal", "jvp", "vjp", "grad", "gradient") else None


def read_machine(folder: Path) -> dict:
    try:
        return json.loads((folder / "machine.json").read_text())
    except (OSError, ValueError):
        return {}


def read_benchmarks(asv_dir: Path) -> dict:
    try:
        data = json.loads((asv_dir / "benchmarks.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _stats_value(stats: dict, key: str, j: int):
    values = stats.get(key)
    if values is None or j >= len(values):
        return None
    return values[j]


# The peak-RSS benchmarks read by measure.memory's fresh-process probes
RSS_PROBES = ("memory.PeakRSS.track_peak_rss_bytes", "memory.PeakForward.track_jvp_bytes",
              "second_order.SecondOrderRSS.track_peak_rss_bytes")


def pool_blind_frameworks(data: dict) -> dict[str, str]:
    """The frameworks whose peak-RSS probes in this result file read nothing, with why: from
    946e3a2 (2026-12-03) TensorFlow ran with oneDNN, whose allocator keeps every page it once
    used, and until the probes read that pool (peak_rss_probe 2, 2026-12-04) a warm call moved
    the RSS by about 1 % of its peak (a gradient at depth 64: 1.1 MB of 138 MB).  Files before
    946e3a2 record no TF_ENABLE_ONEDNN_OPTS: TensorFlow ran without oneDNN, and its RSS moved."""
    env = data.get("adcost_environment") or {}
    settings = env.get("threads") or {}
    if (env.get("peak_rss_probe") or 1) >= 2 or "TF_ENABLE_ONEDNN_OPTS" not in settings \
            or settings["TF_ENABLE_ONEDNN_OPTS"] == "0":
        return {}
    from ..frameworks.base import records
    why = ("set aside: TensorFlow with oneDNN keeps its freed pages in its own pool, and this "
           "run's probe read the RSS only (about 1 % of the peak); peak_rss_probe 2 reads the pool")
    return {name: why for name, rec in records().items() if rec.package == "tensorflow"}


def result_rows(path: Path, benchmarks: dict | None = None, machine: dict | None = None,
                data: dict | None = None) -> list[dict]:
    """The tidy rows of one asv result file (`data`: its JSON, where read already)."""
    data = json.loads(Path(path).read_text()) if data is None else data
    benchmarks = benchmarks or {}
    machine = machine or {}
    columns = data.get("result_columns") or []
    params = data.get("params") or {}
    versions = {"python": data.get("python"), **(data.get("requirements") or {})}
    date = data.get("date")
    date = (datetime.datetime.fromtimestamp(date / 1000, datetime.timezone.utc).isoformat(timespec="seconds")
            if isinstance(date, (int, float)) else date)
    common = {"machine": params.get("machine") or machine.get("machine"),
              "cpu": params.get("cpu") or machine.get("cpu"),
              "caches": caches_label((data.get("adcost_environment") or {}).get("caches")),
              "num_cpu": params.get("num_cpu") or machine.get("num_cpu"),
              "ram": params.get("ram") or machine.get("ram"),
              "os": params.get("os") or machine.get("os"),
              "arch": params.get("arch") or machine.get("arch"),
              "python": data.get("python"), "versions": json.dumps(versions, sort_keys=True),
              "threads": json.dumps((data.get("adcost_environment") or {}).get("threads"),
                                    sort_keys=True),
              "env_name": data.get("env_name"), "release": release_of(data),
              "device": ((data.get("adcost_environment") or {}).get("device") or {}).get("name") or "cpu",
              "commit": data.get("commit_hash"), "date": date,
              "file": str(path),
              "noise_threshold": ((data.get("adcost_environment") or {}).get("noise") or {}).get("threshold"),
              # cases timed side by side, one per CPU group (adcost.sweep's streams; 1 before them)
              "streams": int((data.get("adcost_environment") or {}).get("streams") or 1)}
    marks = (data.get("adcost_environment") or {}).get("load") or []
    beside = (data.get("adcost_environment") or {}).get("speed") or {}
    blind = pool_blind_frameworks(data)
    rows = []
    for name, values in (data.get("results") or {}).items():
        entry = dict(zip(columns, values))
        meta = benchmarks.get(name, {})
        common["under_load"] = under_load(name, marks)
        common["steal_share"] = steal_share(name, marks)
        suite, _, rest = name.partition(".")
        cls, _, metric = rest.rpartition(".")
        kind = meta.get("type") or metric.split("_", 1)[0]
        unit = meta.get("unit") or KIND_UNITS.get(kind, "unit")
        names = meta.get("param_names") or []
        grid = entry.get("params") or meta.get("params") or []
        if len(names) != len(grid):   # benchmarks.json missing or stale: name them by position
            names = [f"param{i}" for i in range(len(grid))]
        combos = list(itertools.product(*grid)) if grid else [()]
        result = entry.get("result")
        result = result if isinstance(result, list) else [result] * len(combos)
        stats = {k[6:]: v for k, v in entry.items() if k.startswith("stats_") and isinstance(v, list)}
        base = {"benchmark": name, "suite": suite, "metric": metric, "kind": kind, "unit": unit,
                **fixed_sizes(suite, cls), "op": op_from_metric(metric), **common}
        for j, combo in enumerate(combos):
            row = dict(base)
            for key, text in zip(names, combo):
                key = "op" if key in ("mode", "route") else key
                row[key] = parse_param(text)
            if "workload" in row:
                row.update(workload_columns(row["workload"]))
            probed = beside.get(f"{suite}.{cls}({', '.join(str(t) for t in combo)})")
            row["speed"] = float(probed[0]) if probed else None   # measure.speed, flop/s
            row["speed_at"] = float(probed[1]) if probed else None   # when (time.time())
            timed = probed[2] if probed and len(probed) > 2 and isinstance(probed[2], dict) else {}
            for mode in ("forward", "reverse"):   # crossover.SideBySide: both modes' seconds
                value = timed.get(f"{mode}_s")
                if isinstance(value, (int, float)):
                    row[f"paired_{mode}_s"] = float(value)
            value = result[j] if j < len(result) else None
            ok = isinstance(value, (int, float)) and not math.isnan(value)
            row.update(value=float(value) if ok else None, status="ok" if ok else "skipped",
                       q25=_stats_value(stats, "q_25", j), q75=_stats_value(stats, "q_75", j),
                       ci_lo=_stats_value(stats, "ci_99_a", j), ci_hi=_stats_value(stats, "ci_99_b", j),
                       repeat=_stats_value(stats, "repeat", j), number=_stats_value(stats, "number", j))
            if ok and name in RSS_PROBES and row.get("framework") in blind:
                row.update(status="invalid", note=blind[row["framework"]])
            rows.append(row)
    return rows


def caches_label(caches: dict | None) -> str | None:
    """"L1d 32 KiB, L1i 32 KiB, L2 1 MiB, L3 32 MiB" from a stamp's caches (None without)."""
    if not caches:
        return None
    def size(b):
        return f"{b >> 20} MiB" if b >= 1 << 20 and not b % (1 << 20) else f"{b >> 10} KiB"
    return ", ".join(f"{k} {size(int(v))}" for k, v in sorted(caches.items()))


def release_of(data: dict) -> str:
    """The framework release a result file names ('jax==0.9.2 jaxlib==0.9.2', written by
    adcost.releases), or '' for the sweep's own environment."""
    from ..releases import label
    return label((data.get("adcost_environment") or {}).get("release") or {})


def result_files(asv_dir: Path) -> list[Path]:
    """Every result file under asv_dir (machine folders), html/ and metadata excluded."""
    import re
    named = re.compile(r"^[0-9a-f]{8}-.+\.json$")   # asv's <commit[:8]>-<environment>.json
    return sorted(p for p in Path(asv_dir).glob("*/*.json")
                  if named.match(p.name) and p.parent.name != "html")


def stamps(asv_dir: Path):
    """(path, data, adcost_environment) of every readable result file under asv_dir."""
    for path in result_files(asv_dir):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        yield path, data, data.get("adcost_environment") or {}


def refusals(asv_dir: Path, df: pd.DataFrame | None = None) -> list[dict]:
    """The cases the validation gate refused in the sweep (adcost_environment.refused of each
    result file), each with its machine and commit; only the runs in `df` when given."""
    shown = None if df is None or df.empty else {
        (str(m), str(c)[:8]) for m, c in zip(df["machine"], df["commit"])}
    found = []
    for path, data, env in stamps(asv_dir):
        machine, commit = path.parent.name, str(data.get("commit_hash", path.name))[:8]
        if shown is None or (machine, commit) in shown:
            found += [{"machine": machine, "commit": commit, **entry} for entry in env.get("refused") or []]
    return found


def device_gaps(asv_dir: Path, df: pd.DataFrame | None = None) -> list[dict]:
    """The frameworks a sweep on a device (`--device cuda`) found without it, with the reason
    (adcost_environment.device.unavailable): their rows are skipped."""
    shown = None if df is None or df.empty else {str(m) for m in df["machine"]}
    found = {}
    for path, _, env in stamps(asv_dir):
        device = env.get("device") or {}
        if shown is None or path.parent.name in shown:
            for fw, reason in (device.get("unavailable") or {}).items():
                found[path.parent.name, device.get("name"), fw] = reason
    return [{"machine": m, "device": d, "framework": f, "reason": r} for (m, d, f), r in sorted(found.items())]


PROFILE_KEYS = {"environment", "problem", "settings", "complete", "rows"}


def is_profile(data) -> bool:
    """Whether parsed JSON `data` is the result file `adcost profile --out` writes."""
    return isinstance(data, dict) and PROFILE_KEYS <= set(data)


def profile_record(path: Path) -> dict | None:
    """The result file `adcost profile --out` writes, or None where `path` is another JSON."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if is_profile(data) else None


def profile_rows(record: dict, path: Path) -> list[dict]:
    """The tidy rows of a profile's result file: each timed mode's seconds (`profile.time`,
    with its calls' quartiles), its FLOPs where its framework counted them (`profile.flops`)
    and, where read, its peak memory (`profile.peak_memory`)."""
    from ..profiling import MEMORY_RESOLUTION
    env, problem = record["environment"], record["problem"]
    common = {"machine": env.get("machine") or env.get("cpu"), "cpu": env.get("cpu"),
              "caches": caches_label(env.get("caches")), "python": env.get("python"),
              "versions": json.dumps(env.get("versions"), sort_keys=True),
              "threads": json.dumps(env.get("threads"), sort_keys=True),
              "commit": env.get("commit"), "date": env.get("date"), "file": str(path),
              "suite": "profile", "problem": problem.get("name"),
              "device": env.get("device") or "cpu", "complete": bool(record["complete"])}
    rows = []
    for r in record["rows"]:
        if r.get("status") != "ok":
            continue
        base = {**common, "framework": r["framework"], "op": r["mode"], "n": r.get("n"),
                "m": r.get("m"), "status": "ok"}
        rows.append({**base, "benchmark": "profile.time", "metric": "time", "kind": "time",
                     "value": r["seconds"], "q25": r.get("q25"), "q75": r.get("q75"),
                     "unit": "seconds", "number": r.get("calls")})
        if r.get("flops") is not None:      # what the framework counts for one call
            rows.append({**base, "benchmark": "profile.flops", "metric": "flops", "kind": "track",
                         "value": r["flops"], "unit": "flop"})
        if r.get("peak_bytes") is not None:
            # under the memory worker's resolution a peak is somewhere in [0, 64 KiB): that
            # interval stands for its quartiles, so compare does not call 0 B -> 4 KiB a change
            low = r["peak_bytes"] < MEMORY_RESOLUTION
            rows.append({**base, "benchmark": "profile.peak_memory", "metric": "peak_memory",
                         "kind": "peakmemory", "value": r["peak_bytes"], "unit": "bytes",
                         **({"q25": 0.0, "q75": float(MEMORY_RESOLUTION)} if low else {})})
    return rows


def tidy(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in df:
            df[column] = None
    extra = [c for c in df.columns if c not in COLUMNS]
    df = df[COLUMNS + extra]
    for column in INT_COLUMNS:
        df[column] = pd.to_numeric(df[column], errors="coerce").astype("Int64")
    for column in ("value", "q25", "q75", "ci_lo", "ci_hi") + tuple(
            c for c in ("speed", "speed_at", "paired_forward_s", "paired_reverse_s") if c in df):
        df[column] = pd.to_numeric(df[column], errors="coerce").astype("float64")
    for column in df.columns:
        if df[column].dtype == object:   # mixed parameter values: store as text
            df[column] = df[column].map(lambda v: None if v is None else str(v)).astype("string")
    return df


def load_asv(asv_dir: Path | str | None = None, files: list[Path] | None = None,
             all_runs: bool = False, machine: str | None = None) -> pd.DataFrame:
    """The asv result files under asv_dir (default results/asv) as one tidy DataFrame, of one
    machine (`machine`, else the one with the newest results) and one run per benchmark
    (`latest`); all_runs=True keeps every run of every machine."""
    asv_dir = Path(asv_dir) if asv_dir else paths.asv_results()
    benchmarks = read_benchmarks(asv_dir)
    rows = []
    for path in files if files is not None else result_files(asv_dir):
        rows += result_rows(path, benchmarks, read_machine(path.parent))
    df = tidy(rows)
    return df if all_runs else latest(one_machine(df, machine))


def marks_of(benchmark: str, marks: list[dict]) -> list[dict]:
    """The sweep's load marks of the runs that ran `benchmark` (a run has several groups)."""
    import re

    from ..sweep import GROUPS
    labels = {label for label, pattern in GROUPS if re.search(pattern, benchmark)}
    return [m for m in marks if labels & set(m.get("groups") or [m.get("group")])]


def under_load(benchmark: str, marks: list[dict]) -> bool:
    """Whether the sweep marked the group that ran `benchmark` as run under load."""
    return any(m.get("under_load") for m in marks_of(benchmark, marks))


def steal_share(benchmark: str, marks: list[dict]) -> float | None:
    """The largest part of the CPUs' time the hypervisor took during the runs of `benchmark`
    (adcost.measure.load.steal_share); None where no run recorded it."""
    shares = [m["steal_share"] for m in marks_of(benchmark, marks) if m.get("steal_share") is not None]
    return max(shares) if shares else None


def latest(df: pd.DataFrame) -> pd.DataFrame:
    """One run per benchmark: for each (machine, release, benchmark) the rows of the newest result file
    that measured it.  A quick run after a full one replaces the whole benchmark, never a few
    cells of it, so a figure never mixes two runs cell by cell."""
    if df.empty:
        return df
    keys = ["machine", "release", "benchmark"] if "release" in df else ["machine", "benchmark"]
    df = df.assign(release=df["release"].fillna("")) if "release" in df else df
    ok = df[df["status"] == "ok"]
    newest = ok.sort_values("date", kind="stable").groupby(keys)["file"].last()
    keep = df.set_index(keys).index.map(newest.to_dict().get) == df["file"]
    return df[keep]


def machines(df: pd.DataFrame) -> list[str]:
    """The machines in the data, newest result first."""
    if df.empty:
        return []
    order = df.sort_values("date", kind="stable").drop_duplicates("machine", keep="last")
    return list(order.sort_values("date", ascending=False)["machine"].astype(str))


def one_machine(df: pd.DataFrame, machine: str | None = None) -> pd.DataFrame:
    """The rows of one machine: `machine`, else per study (a suite: crossover, memory,
    second_order, ...; the cost model's width study with the roofline) the machine with that
    study's newest results.  A figure draws one suite, so it never mixes
    machines; describe_run names the machine of each suite.  A view that puts machines side by
    side does so on purpose (compare), never by default."""
    found = machines(df)
    if not found:
        return df
    if machine is not None:
        if machine not in found:
            raise ValueError(f"no results of machine {machine!r}; have: {', '.join(found)}")
        return df[df["machine"].astype(str) == machine]
    keep = pd.Series(False, index=df.index)
    from ..sweep import study_of
    study = df["benchmark"].map(study_of) if "benchmark" in df else df["suite"]
    chosen = set()
    for name, rows in df.groupby(study, dropna=False):
        newest = machines(rows)[0]
        chosen.add(newest)
        keep |= (study == name) & (df["machine"].astype(str) == newest)
    # a machine's own rates (roofline) go with every study read from it: the summary's matmul
    # fraction divides by them; every reader takes the rates of its own rows' machine
    keep |= (df["suite"] == "roofline") & df["machine"].astype(str).isin(chosen)
    return df[keep]


def describe_run(df: pd.DataFrame) -> str:
    """Which run a view shows: machine(s), commit(s), dates, and how much ran under load."""
    if df.empty:
        return "no results"
    commits = sorted({str(c)[:8] for c in df["commit"].dropna()})
    dates = sorted({str(d)[:10] for d in df["date"].dropna()})
    per_machine = df.groupby(df["machine"].astype(str))["suite"].agg(lambda s: sorted(set(map(str, s))))
    if len(per_machine) == 1:
        where = f"machine {per_machine.index[0]}"
    else:   # suites measured on different machines: each figure draws one suite, one machine
        where = "; ".join(f"machine {m} ({', '.join(s)})" for m, s in per_machine.items())
    text = (f"{where}; "
            f"commit{'s' if len(commits) > 1 else ''} {', '.join(commits)}; "
            + (f"{dates[0]}{' to ' + dates[-1] if len(dates) > 1 else ''}" if dates else "no date"))
    if "under_load" in df:
        loaded = int(df["under_load"].fillna(False).astype(bool).sum())
        if loaded:
            text += f"; {loaded} rows measured under load"
    if "streams" in df and pd.to_numeric(df["streams"], errors="coerce").max() > 1:
        most = int(pd.to_numeric(df["streams"], errors="coerce").max())
        text += f"; cases timed {most} at a time, one per CPU (the sweep's streams)"
    if "steal_share" in df:
        from ..measure.load import STEAL_WARN
        steal = pd.to_numeric(df["steal_share"], errors="coerce")
        slowed = int((steal > STEAL_WARN).sum())
        if slowed:
            text += (f"; {slowed} rows measured while the VM's host took up to "
                     f"{steal.max():.0%} of its CPU time (steal)")
    speed = probes(df)
    if speed is not None:   # two runs' medians side by side: compare's A and B lines
        text += f"; the machine's speed beside the cases {speed.median() / 1e9:.0f} GFLOP/s (median"
        if len(speed) > 1 and speed.quantile(0.9) > SPEED_WARN * speed.quantile(0.1):
            text += (f"), moving {speed.quantile(0.1) / 1e9:.0f}-{speed.quantile(0.9) / 1e9:.0f} "
                     f"(10th-90th percentile of {len(speed)} probes)")
        else:
            text += f" of {len(speed)} probe{'s' if len(speed) != 1 else ''})"
    return text


def probe_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per machine-speed probe (measure.speed: `speed` flop/s, `speed_at`), in time
    order: the methods of one benchmark class share its parameters' probe (the latest), so rows
    are taken once per probe (file and time); empty without any."""
    if "speed" not in df or df["speed"].isna().all():
        return df.iloc[:0]
    rows = df.dropna(subset=["speed"])
    if "speed_at" in rows:
        rows = rows.drop_duplicates(subset=["file", "speed_at"]).sort_values("speed_at", kind="stable")
    return rows.assign(speed=pd.to_numeric(rows["speed"], errors="coerce")).dropna(subset=["speed"])


def probes(df: pd.DataFrame) -> pd.Series | None:
    """The probes' rates (probe_rows), flop/s; None without any."""
    rows = probe_rows(df)
    return None if rows.empty else rows["speed"]


# A run whose speed probes (measure.speed) spread more than this (90th over 10th percentile) is
# described as having moved: the probe's own repeatability is a few percent
SPEED_WARN = 1.15


def load(source: Path | str | None = None) -> pd.DataFrame:
    """Tidy data from a tidy CSV/parquet, one asv result file, or an asv results folder.

    With no source: the results folder (paths.results()); a folder is read as asv results
    when it holds them, else its tidy file, else its asv/ subfolder.
    """
    if source is None:
        for name in TIDY_NAMES:
            if (paths.results() / name).exists():
                return load(paths.results() / name)
        return load_asv()
    source = Path(source)
    if source.is_dir():
        if (source / "benchmarks.json").exists() or result_files(source):
            return load_asv(source)
        for name in TIDY_NAMES:
            if (source / name).exists():
                return load(source / name)
        return load_asv(source / "asv")
    if source.suffix == ".parquet":
        return pd.read_parquet(source)
    if source.name.endswith((".csv", ".csv.gz")):
        return tidy(pd.read_csv(source).to_dict("records"))
    if source.suffix == ".json":
        data = json.loads(source.read_text())      # read once: a profile's record, or asv's
        if is_profile(data):
            return tidy(profile_rows(data, source))
        asv_dir = source.parent.parent
        return tidy(result_rows(source, read_benchmarks(asv_dir), read_machine(source.parent),
                                data=data))
    raise ValueError(f"cannot read results from {source}: expected a folder, .json, .csv(.gz) or .parquet")


def measured(df: pd.DataFrame, benchmark: str | None = None) -> pd.DataFrame:
    """Only the rows with a value; optionally those of benchmarks whose name ends with `benchmark`."""
    df = df[df["status"] == "ok"]
    if benchmark:
        df = df[df["benchmark"].str.endswith(benchmark)]
    return df


def export(df: pd.DataFrame, results: Path | None = None) -> list[Path]:
    """The tidy table as results/tidy.csv.gz (one format; mtime 0, so equal data, equal bytes)."""
    target = paths.tidy(results)
    target.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(target, index=False, compression={"method": "gzip", "mtime": 0})
    return [target]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="adcost tidy", description=__doc__.splitlines()[0])
    p.add_argument("--results", help="results folder holding asv/ (default ./results)")
    args = p.parse_args(argv)
    df = load_asv(paths.asv_results(args.results))
    if df.empty:
        print(f"load: no asv results under {paths.asv_results(args.results)}", file=sys.stderr)
        return 2
    written = export(df, args.results)
    ok = int((df["status"] == "ok").sum())
    print(f"load: {len(df)} rows ({ok} measured, {len(df) - ok} skipped) -> {', '.join(map(str, written))}")
    return 0

