"""What got slower or bigger between two result sets, beyond the noise.

A and B are each a tidy CSV/parquet, an asv result file, an asv results folder, a commit
(prefix) found in results/asv, or a framework release measured by `adcost releases`
('jax==0.9.2': found in results/releases/asv).  A measurement counts as worse in B when
    B / A ≥ max(factor (default 1.10), the measured process-to-process spread)
    and the noise intervals do not overlap:
    B's interquartile range lies above A's (stats_q_25 / stats_q_75), or, lacking quartiles,
    the 99 % confidence intervals (stats_ci_99) do; values without stats (track_*) use the
    factor alone.  For units where larger is better (flop/s) the direction flips.
The spread is what the sweep's noise probe measured (adcost.measure.noise: the same cases in
fresh processes, the largest max/min ratio), the larger of A's and B's; within-process quartiles
cannot see it, since asv times each benchmark in a process of its own.

    python -m adcost.analysis.compare A B [--factor 1.1] [--all] [--strict]      (also: adcost compare)
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
HIGHER_IS_BETTER = ("flop/s", "bytes/s")


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


def compare(a: pd.DataFrame, b: pd.DataFrame, factor: float = 1.10, noise: bool = True) -> pd.DataFrame:
    """One row per measurement present in both: ratio B/A, whether it is worse/better beyond noise
    (the ratio beyond `threshold` — the factor or the measured spread — and intervals apart;
    `noise=False` uses the factor alone)."""
    factor = threshold(a, b, factor) if noise else factor
    cols = KEYS + ["value", "unit", "q25", "q75", "ci_lo", "ci_hi"]
    a = load.measured(a).reindex(columns=cols).copy()
    b = load.measured(b).reindex(columns=cols).copy()
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
            lines.append(f"  {r['ratio']:7.2f}x  {r['value_a']:.4g} -> {r['value_b']:.4g} {r['unit']}  "
                         f"[{r['noise']}]  {label(r)}")
    same = table[table["change"] == "same"]
    lines.append(f"unchanged within noise or factor: {len(same)}")
    if show_all:
        lines += [f"  {r['ratio']:7.2f}x  {label(r)}" for _, r in same.iterrows()]
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


def run(args) -> int:
    try:
        a, b = resolve(args.a, args.results), resolve(args.b, args.results)
    except ValueError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    table = compare(a, b, args.factor)
    if table.empty:
        print("compare: no measurement present in both result sets", file=sys.stderr)
        return 2
    print(f"A: {args.a} ({load.describe_run(a)})\nB: {args.b} ({load.describe_run(b)})")
    diff = differences(a, b)
    print("environments differ:\n" + "\n".join(diff) if diff else "same machine and environment")
    measured = spread(a, b)
    limit = threshold(a, b, args.factor)
    source = (f"the larger of --factor {args.factor:g} and the process-to-process spread "
              f"{measured:.2f}x the runs' noise probes measured" if measured is not None else
              f"--factor (no noise probe in either run: within-process quartiles only, which "
              f"cannot see the spread between processes)")
    print(f"rule: a change counts when B/A >= {limit:.2f} (or <= 1/{limit:.2f}; {source}) and the "
          "two runs' interquartile ranges (asv's sample statistics) do not overlap; "
          "99 % confidence intervals where quartiles are missing, the ratio alone for single values")
    print(report(table, args.all))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 1 if args.strict and (table["change"] == "worse").any() else 0

