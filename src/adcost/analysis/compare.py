"""What got slower or bigger between two result sets, beyond the noise.

A and B are each a tidy CSV/parquet, an asv result file, an asv results folder, a commit
(prefix) found in results/asv, a framework release measured by `adcost releases`
('jax==0.9.2': found in results/releases/asv), or the result file of `adcost profile --out`
(each mode's time, and its peak memory where read: your function before and after a change).  A measurement counts as worse in B when
    B / A ≥ max(factor (default 1.10), the measured process-to-process spread)
    and the noise intervals do not overlap:
    B's interquartile range lies above A's (stats_q_25 / stats_q_75), or, lacking quartiles,
    the 99 % confidence intervals (stats_ci_99) do; values without stats (track_*) use the
    factor alone.  For units where larger is better (flop/s) the direction flips.
The spread is what the sweep's noise probe measured (adcost.measure.noise: the same cases in
fresh processes, the largest max/min ratio), the larger of A's and B's; within-process quartiles
cannot see it, since asv times each benchmark in a process of its own.
Where both runs probed the machine's speed beside a measurement (adcost.measure.speed), its
times and rates are read at one speed, the median of both runs' probes, before the rule (a
time T taken at speed s reads T * s / s_ref, as the cost model reads them: `at_one_speed`);
`--as-measured` compares them as taken. The ratio as measured stays in the table.

The side-by-side ratios of the full grid (crossover.SideBySide, T(jacfwd) / T(jacrev): no
better or worse) are compared by where they cross 1 instead: each (framework, width, m) line's
crossing in A and in B, and those that moved beyond 1.5x (`crossover_changes`; a second run of
the group on one checkout placed 39 of 40 within that) or cross in one run only.

    python -m adcost.analysis.compare A B [--factor 1.1] [--all] [--strict] [--as-measured]   (also: adcost compare)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..argv import compare_arguments
from . import load

KEYS = ["benchmark", "framework", "op", "problem", "n", "m", "depth", "width", "strategy", "size", "k"]
HIGHER_IS_BETTER = ("flop/s", "bytes/s", "madds/s")
SCALED = ("seconds",) + HIGHER_IS_BETTER   # what a machine's speed moves: times and rates
STATS = ["value", "q25", "q75", "ci_lo", "ci_hi"]
# Units with no better or worse: the side-by-side T(jacfwd) / T(jacrev), compared by where it
# crosses 1 (crossover_changes), not value by value.
NO_DIRECTION = ("ratio",)


def resolve(spec: str, results=None) -> pd.DataFrame:
    """A path, a release ('jax==0.9.2 jaxlib==0.9.2', or 'jax==0.9.2' alone) among the
    results of `adcost releases`, or a commit prefix among the asv result files of the
    results folder."""
    path = Path(spec)
    if path.exists():
        return load.load(path)
    if "==" in spec:
        return release(spec, results)
    asv = load.paths.asv_results(results)
    hits = [p for p in load.result_files(asv) if p.name.startswith(spec[:8])]
    if not hits:
        raise ValueError(f"no results at {spec!r}: not a file, folder, or commit in {asv}")
    return load.load_asv(asv, files=hits)


def release(spec: str, results=None) -> pd.DataFrame:
    """The newest rows of the release `spec` names (every pin it gives must match) in the
    results folder's releases/ (adcost.releases)."""
    from ..releases import folder
    asv = load.paths.asv_results(folder(results))
    df = load.load_asv(asv, all_runs=True) if asv.is_dir() else pd.DataFrame()
    wanted = set(spec.split())
    found = sorted(set(df["release"].dropna().astype(str))) if len(df) else []
    hits = [r for r in found if wanted <= set(r.split())]
    if len(hits) != 1:
        have = "; ".join(found) or "none"
        raise ValueError(f"release {spec!r} names {'no' if not hits else 'more than one'} release "
                         f"measured in {asv} (have: {have}); run `adcost releases`")
    return load.latest(df[df["release"].astype(str) == hits[0]])


def releases(results=None) -> list[dict]:
    """Each later release `adcost releases` measured (results/releases/) against the oldest:
    {"a", "b" (release labels), "table" (compare's), "threshold"}; [] with fewer than two."""
    from ..releases import folder, ordered
    asv = load.paths.asv_results(folder(results))
    if not asv.is_dir():
        return []
    every = load.latest(load.load_asv(asv, all_runs=True))
    found = ordered(every["release"].dropna().astype(str))   # oldest release first
    out = []
    for other in found[1:]:
        a, b = every[every["release"] == found[0]], every[every["release"] == other]
        table = compare(a, b)
        if not table.empty:
            out.append({"a": found[0], "b": other, "table": table, "threshold": threshold(a, b, 1.10)})
    return out


def spread(a: pd.DataFrame, b: pd.DataFrame) -> float | None:
    """The larger process-to-process spread the two runs' noise probes measured (None: no probe)."""
    values = pd.concat([d.get("noise_threshold", pd.Series(dtype=float)) for d in (a, b)])
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(values.max()) if len(values) else None


def threshold(a: pd.DataFrame, b: pd.DataFrame, factor: float) -> float:
    """The smallest ratio compare calls a change: the factor, or the measured spread if larger."""
    return max(factor, spread(a, b) or 0.0)


# A row whose own speed probe and the probes around it in time (steady_speed) disagree by more
# than this: the machine's speed beside it is not known well enough to read it at one speed.  On
# the Intel VM 0.2-0.4 % of a whole run's rows (10-20 of 4,999), the 1st-99th percentile of the
# two's ratio 0.89-1.12; a burst of slow probes (fdd3038's run: 7 of 11 probes around a row at
# 55-79 GFLOP/s, its own 163, its time as before) otherwise reads as a 2x change.
SPEED_UNSURE = 1.3


def steady_speed(df: pd.DataFrame, own_where_unsure: bool = False) -> pd.Series:
    """Each row's machine speed (flop/s) as the cost model reads it: the median of the run's
    probes around the row's in time (costmodel.smoothed over load.probe_rows); NaN where the
    row has no probe.  `own_where_unsure`: the row's own probe where the two disagree by more
    than SPEED_UNSURE (the other reading of such a row)."""
    steady = _steady_speed(df)
    if not own_where_unsure:
        return steady
    own = pd.to_numeric(df["speed"], errors="coerce")
    return steady.where(~speed_unsure(df, steady), own)


def speed_unsure(df: pd.DataFrame, steady: pd.Series | None = None) -> pd.Series:
    """Rows whose own probe and steady_speed disagree by more than SPEED_UNSURE."""
    if "speed" not in df:
        return pd.Series(False, index=df.index)
    steady = _steady_speed(df) if steady is None else steady
    ratio = pd.to_numeric(df["speed"], errors="coerce") / steady
    return ((ratio > SPEED_UNSURE) | (ratio < 1 / SPEED_UNSURE)).fillna(False)


def _steady_speed(df: pd.DataFrame) -> pd.Series:
    from .costmodel import smoothed
    rows = load.probe_rows(df)
    if rows.empty:
        return pd.Series(np.nan, index=df.index)
    at = pd.to_numeric(rows["speed_at"], errors="coerce") if "speed_at" in rows else \
        pd.Series(np.nan, index=rows.index)
    if at.isna().any():       # no times: each row's own probe
        return pd.to_numeric(df["speed"], errors="coerce")
    steady = smoothed(rows["speed"], at)
    lookup = dict(zip(zip(rows["file"].astype(str), at), steady))
    when = pd.to_numeric(df["speed_at"], errors="coerce")
    return pd.Series([lookup.get((str(f), w), np.nan) for f, w in zip(df["file"], when)],
                     index=df.index, dtype=float)


def at_one_speed(a: pd.DataFrame, b: pd.DataFrame, own_where_unsure: bool = False
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(a, b, record): the times and rates of the measurements both runs probed the machine's
    speed beside, read at one speed s_ref (the median of both runs' probes): a time taken at
    speed s reads T * s / s_ref, a rate R * s_ref / s, its quartiles and intervals alike.
    Everything else as measured. The record: s_ref, each run's median probe, how many rows
    of each were read at one speed ({"normalized": False} where a run has no probe, and for
    runs on different machines: how their speeds differ is what such a comparison is for),
    and how many of the rows so read have an unsure speed (`unsure_rows`, speed_unsure).
    `own_where_unsure`: those rows read at their own probe instead (steady_speed)."""
    machines = [set(x["machine"].dropna().astype(str)) if "machine" in x else set() for x in (a, b)]
    if machines[0] != machines[1]:
        return a, b, {"normalized": False, "reason": "the runs are on different machines"}
    speeds = [steady_speed(x, own_where_unsure) if "speed" in x else pd.Series(np.nan, index=x.index)
              for x in (a, b)]
    if any(s.isna().all() for s in speeds):
        return a, b, {"normalized": False}
    probed = [load.probes(x) for x in (a, b)]
    reference = float(pd.concat(probed).median())
    keys = [_keys(x) for x in (a, b)]
    both = set.intersection(*(set(k[s.notna() & x["unit"].isin(SCALED)])
                              for x, s, k in zip((a, b), speeds, keys)))
    out = []
    for x, s, k in zip((a, b), speeds, keys):
        x = x.copy()
        take = (k.isin(both) & s.notna()).to_numpy()
        factor = np.where(x["unit"].isin(HIGHER_IS_BETTER), reference / s, s / reference)
        for column in STATS:
            if column in x:
                x[column] = pd.to_numeric(x[column], errors="coerce").astype(float)
                x.loc[take, column] = x.loc[take, column] * factor[take]
        out.append(x)
    unsure = 0 if own_where_unsure else sum(
        int((speed_unsure(x, s) & k.isin(both)).sum()) for x, s, k in zip((a, b), speeds, keys))
    return out[0], out[1], {"normalized": bool(both), "reference_flops_per_s": reference,
                            "median_a": float(probed[0].median()), "median_b": float(probed[1].median()),
                            "rows": len(both), "unsure_rows": unsure}


def compare(a: pd.DataFrame, b: pd.DataFrame, factor: float = 1.10, noise: bool = True,
            speed: bool = True) -> pd.DataFrame:
    """One row per measurement present in both: ratio B/A, whether it is worse/better beyond noise
    (the ratio beyond `threshold` — the factor or the measured spread — and intervals apart;
    `noise=False` uses the factor alone); read at one machine speed where both runs probed it
    (`at_one_speed`; `speed=False`: as measured), `ratio_measured` the ratio as taken."""
    factor = threshold(a, b, factor) if noise else factor
    a, b = (x[~x["unit"].isin(NO_DIRECTION)] for x in (load.measured(a), load.measured(b)))
    a1, b1, record = at_one_speed(a, b) if speed else (a, b, {"normalized": False})
    j = _classified(a1, b1, a, b, factor)
    if record.get("unsure_rows") and not j.empty:
        # rows whose speed is unsure in either run count as changed only where they change, the
        # same way, read at their own probe too
        other = _classified(*at_one_speed(a, b, own_where_unsure=True)[:2], a, b, factor)
        other = other.set_index(KEYS)[["change", "ratio"]].rename(
            columns={"change": "change_own", "ratio": "ratio_own"})
        j = j.join(other, on=KEYS)
        differ = (j["change"] != j["change_own"]) & j["change_own"].notna()
        j.loc[differ, "change"] = "unsure"
        record["unsure"] = int(differ.sum())
    # a timing the sweep marked as taken under load (more runnable threads than CPUs) is not
    # comparable: a change of one is listed apart, not counted
    loaded = set().union(*(_keys(x[x["under_load"].fillna(False).astype(bool)
                                   & x["unit"].isin(SCALED)]) for x in (a, b) if "under_load" in x))
    if loaded and not j.empty:
        hit = _keys(j).isin(loaded) & j["change"].isin(["worse", "better"])
        j.loc[hit.to_numpy(), "change"] = "under load"
    j.attrs["speed"] = record
    return j


def _keys(df: pd.DataFrame) -> pd.Series:
    """Each row's measurement key (KEYS as text, joined) for matching rows across frames."""
    return df.reindex(columns=KEYS).astype("string").fillna("").agg("|".join, axis=1)


def _classified(a: pd.DataFrame, b: pd.DataFrame, raw_a: pd.DataFrame, raw_b: pd.DataFrame,
                factor: float) -> pd.DataFrame:
    """compare's table from the two runs' rows as read (a, b) and as measured (raw_a, raw_b)."""
    raw = [raw_a["value"], raw_b["value"]]
    cols = KEYS + STATS + ["unit", "measured"]
    a = a.assign(measured=raw[0]).reindex(columns=cols).copy()
    b = b.assign(measured=raw[1]).reindex(columns=cols).copy()
    for df in (a, b):   # missing keys must still join
        for k in KEYS:
            df[k] = df[k].astype("string").fillna("")
    a = a.groupby(KEYS, as_index=False).median(numeric_only=True).merge(
        a[KEYS + ["unit"]].drop_duplicates(KEYS), on=KEYS)
    b = b.groupby(KEYS, as_index=False).median(numeric_only=True)
    j = a.merge(b, on=KEYS, suffixes=("_a", "_b"))
    if j.empty:
        return j.assign(ratio=[], change=[])
    j["ratio"] = j["value_b"] / j["value_a"]
    j["ratio_measured"] = j["measured_b"] / j["measured_a"]
    flip = j["unit"].isin(HIGHER_IS_BETTER)
    worse_ratio = np.where(flip, j["ratio"] <= 1 / factor, j["ratio"] >= factor)
    better_ratio = np.where(flip, j["ratio"] >= factor, j["ratio"] <= 1 / factor)
    # B above A beyond the noise: B's low end above A's high end (IQR first, else CI)
    have_q = j[["q25_a", "q75_a", "q25_b", "q75_b"]].notna().all(axis=1)
    have_ci = j[["ci_lo_a", "ci_hi_a", "ci_lo_b", "ci_hi_b"]].notna().all(axis=1)
    up = np.where(have_q, j["q25_b"] > j["q75_a"], np.where(have_ci, j["ci_lo_b"] > j["ci_hi_a"], True))
    down = np.where(have_q, j["q75_b"] < j["q25_a"], np.where(have_ci, j["ci_hi_b"] < j["ci_lo_a"], True))
    worse = worse_ratio & np.where(flip, down, up)
    better = better_ratio & np.where(flip, up, down)
    j["change"] = np.select([worse, better], ["worse", "better"], "same")
    j["noise"] = np.select([have_q, have_ci], ["iqr", "ci99"], "none")
    return j.sort_values("ratio", ascending=False).reset_index(drop=True)


def label(row) -> str:
    params = [f"{k}={row[k]}" for k in KEYS[1:] if row[k] not in ("", "<NA>", "nan", "None")]
    return f"{row['benchmark']}({', '.join(params)})"


def report(table: pd.DataFrame, show_all: bool = False) -> str:
    lines = []
    for change, title in (("worse", "slower or bigger"), ("better", "faster or smaller")):
        rows = table[table["change"] == change]
        lines.append(f"{title}: {len(rows)}")
        for _, r in rows.iterrows():
            measured = r.get("ratio_measured", r["ratio"])
            taken = (f" (as measured {measured:.2f}x)"
                     if np.isfinite(measured) and abs(measured / r["ratio"] - 1) > 0.01 else "")
            lines.append(f"  {r['ratio']:7.2f}x{taken}  {r['value_a']:.4g} -> {r['value_b']:.4g} "
                         f"{r['unit']}  [{r['noise']}]  {label(r)}")
    apart = (("unsure", "the machine's speed beside them unsure (their own speed probe and the "
              f"probes around them in time disagree by more than {SPEED_UNSURE}x, and the change "
              "holds at one reading only)",
              lambda r: f"  {r['ratio']:7.2f}x at the probes around it, {r['ratio_own']:.2f}x at "
                        f"its own  {label(r)}"),
             ("under load", "timed under load in A or B (the sweep marked their runs: more "
              "runnable threads than CPUs, so their timings are not comparable; run them again on "
              "a quiet machine)", lambda r: f"  {r['ratio']:7.2f}x  {label(r)}"))
    for change, why, line in apart:     # changes not counted, listed apart
        rows = table[table["change"] == change]
        if len(rows):
            lines.append(f"not counted, {why}: {len(rows)}")
            lines += [line(r) for _, r in rows.iterrows()]
    same = table[table["change"] == "same"]
    lines.append(f"unchanged within noise or factor: {len(same)}")
    if show_all:
        lines += [f"  {r['ratio']:7.2f}x  {label(r)}" for _, r in same.iterrows()]
    return "\n".join(lines)


def speed_line(record: dict, as_measured: bool = False) -> str:
    """What the table's times were read at: one machine speed, or as measured and why."""
    if record.get("normalized"):
        g = 1e9
        return (f"speed: {record['rows']} measurements read at one machine speed, "
                f"{record['reference_flops_per_s'] / g:.0f} GFLOP/s (the median probe; A's "
                f"{record['median_a'] / g:.0f}, B's {record['median_b'] / g:.0f}): a time taken at "
                f"speed s reads T * s / {record['reference_flops_per_s'] / g:.0f}; --as-measured "
                "compares them as taken (column ratio_measured)")
    if as_measured:
        return "speed: times and rates as measured (--as-measured)"
    if record.get("reason"):
        return f"speed: times and rates as measured ({record['reason']})"
    return ("speed: times and rates as measured (no measurement was probed in both runs: "
            "results before 2026-12-03 and `adcost profile`'s have no speed probe)")


# How far a measured crossover may move between two runs and still count as the same: the
# side-by-side group run twice on one checkout (the AMD VM, 2026-12-03; results/reference/
# machines/vm-amd-epyc/side_by_side_repeat.csv) placed 39 of the 40 lines that crossed in both
# runs within 1.5x of each other (the 40th 1.79x).
CROSSOVER_FACTOR = 1.5
CROSSOVER_COLUMNS = ["framework", "width", "m", "n_a", "n_b", "ratio", "change"]


def crossover_changes(a: pd.DataFrame, b: pd.DataFrame,
                      factor: float = CROSSOVER_FACTOR) -> pd.DataFrame:
    """The measured crossovers of two runs side by side (crossover_table of their side-by-side
    ratios): jacfwd's (crossover.SideBySide) and any other forward mode's both runs timed
    against jacrev (crossover.SideBySideForward: JAX's jacfwd_vmap), its name in the column
    `forward`."""
    from .costmodel import MODES, side_by_side
    tables = []
    for forward in ["jacfwd", *(mode for mode in MODES if mode.startswith("jacfwd_"))]:
        table = crossover_table(side_by_side(a, forward), side_by_side(b, forward), factor)
        if len(table) or forward == "jacfwd":
            tables.append(table.assign(forward=forward))
    return pd.concat(tables, ignore_index=True)[["forward", *CROSSOVER_COLUMNS]]


def crossover_table(paired_a: pd.DataFrame, paired_b: pd.DataFrame,
                    factor: float = CROSSOVER_FACTOR) -> pd.DataFrame:
    """Per (framework, width, m) line with side-by-side ratios in both (costmodel.side_by_side's
    columns), the n where each run's ratio crosses 1 (costmodel.paired_crossings; None where it
    keeps one side), n_b / n_a, and the change: "moved" (beyond `factor` either way), "same",
    "one run" (crosses in one run only: its ratio is near 1 at the grid's first or last n) or
    "neither".  The ratios need no speed correction: both modes of a round ran at one speed."""
    from .costmodel import paired_crossings
    found = [paired_crossings(p) for p in (paired_a, paired_b)]
    rows = []
    for key in sorted(set(found[0]) & set(found[1])):
        n_a, n_b = (f[key]["n_measured"] if f[key] else None for f in found)
        ratio = n_b / n_a if n_a and n_b else None
        change = ("neither" if n_a is None and n_b is None else "one run" if ratio is None else
                  "moved" if max(ratio, 1 / ratio) > factor else "same")
        rows.append(dict(zip(CROSSOVER_COLUMNS, (*key, n_a, n_b, ratio, change))))
    return pd.DataFrame(rows, columns=CROSSOVER_COLUMNS)


def crossover_report(table: pd.DataFrame, factor: float = CROSSOVER_FACTOR) -> str:
    """The crossover lines of `crossover_changes`, those that moved first; each forward mode
    other than jacfwd (against jacrev) apart, after jacfwd's."""
    lines = []
    modes = table["forward"] if "forward" in table else pd.Series("jacfwd", index=table.index)
    for forward in sorted(set(modes), key=lambda mode: (mode != "jacfwd", mode)):
        part = table[modes == forward]
        both = part[part["change"].isin(["moved", "same"])]
        name = "" if forward == "jacfwd" else f" of {forward} against jacrev"
        lines.append(f"measured crossovers{name} (side-by-side ratios in both runs): {len(part)} "
                     f"lines, {len(both)} cross in both, {int((both['change'] == 'same').sum())} "
                     f"of them within {factor:g}x of each other")
        for change, title in (("moved", f"moved beyond {factor:g}x"),
                              ("one run", "cross in one run only (the ratio near 1 at the grid's end)")):
            rows = part[part["change"] == change]
            if len(rows):
                lines.append(f"{title}: {len(rows)}")
            for r in rows.itertuples():
                n_a = f"{r.n_a:.1f}" if pd.notna(r.n_a) else "none"
                n_b = f"{r.n_b:.1f}" if pd.notna(r.n_b) else "none"
                lines.append(f"  {r.framework} width={r.width} m={r.m}: n {n_a} -> {n_b}"
                             + (f" ({r.ratio:.2f}x)" if pd.notna(r.ratio) else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run(compare_arguments(argparse.ArgumentParser(prog="adcost compare")).parse_args(argv))


ENVIRONMENT = ("machine", "cpu", "num_cpu", "python", "versions", "threads")


def differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """What differs between the two runs' machines and environments, one line each."""
    lines = []
    for column in ENVIRONMENT:
        left = sorted({str(v) for v in a.get(column, pd.Series(dtype=str)).dropna()})
        right = sorted({str(v) for v in b.get(column, pd.Series(dtype=str)).dropna()})
        if left != right:
            lines.append(f"  {column}: A {', '.join(left) or '-'} | B {', '.join(right) or '-'}")
    return lines


def _what_differs(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """Why two profiles share no measurement, where it is their function or its size."""
    said = []
    for key in ("problem", "n", "m"):
        if key in a and key in b:
            va = sorted({str(v) for v in a[key].dropna()})
            vb = sorted({str(v) for v in b[key].dropna()})
            if va and vb and not set(va) & set(vb):
                said.append(f"{key} {', '.join(va)} in A, {', '.join(vb)} in B")
    return f" ({'; '.join(said)})" if said else ""


def run(args) -> int:
    try:
        a, b = resolve(args.a, args.results), resolve(args.b, args.results)
    except ValueError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    table = compare(a, b, args.factor, speed=not args.as_measured)
    crossings = crossover_changes(a, b)
    if table.empty and crossings.empty:
        print("compare: no measurement present in both result sets" + _what_differs(a, b),
              file=sys.stderr)
        return 2
    print(f"A: {args.a} ({load.describe_run(a)})\nB: {args.b} ({load.describe_run(b)})")
    for name, df in (("A", a), ("B", b)):
        if "complete" in df and not df["complete"].astype(bool).all():
            print(f"note: {name} is an interrupted profile (\"complete\": false): only the modes "
                  "it measured are compared")
    diff = differences(a, b)
    print("environments differ:\n" + "\n".join(diff) if diff else "same machine and environment")
    measured = spread(a, b)
    limit = threshold(a, b, args.factor)
    source = (f"the larger of --factor {args.factor:g} and the process-to-process spread "
              f"{measured:.2f}x the runs' noise probes measured" if measured is not None else
              f"--factor (no noise probe in either run: within-process quartiles only, which "
              f"cannot see the spread between processes)")
    print(f"rule: a change counts when B/A >= {limit:.2f} (or <= 1/{limit:.2f}; {source}) and the "
          "two runs' interquartile ranges (asv's sample statistics, a profile's calls) do not "
          "overlap; "
          "99 % confidence intervals where quartiles are missing, the ratio alone for single values")
    print(speed_line(table.attrs.get("speed", {}), args.as_measured))
    print(report(table, args.all))
    if len(crossings):
        print(crossover_report(crossings))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 1 if args.strict and (table["change"] == "worse").any() else 0

