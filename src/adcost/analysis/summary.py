"""Summary table, one row per framework: c_fwd, c_rev (95 % CI), crossover ratio, R², ω, matmul fraction.

    c_fwd, c_rev       fitted T_jacfwd/T_f = c_fwd·n, T_jacrev/T_f = c_rev·m
    crossover_ratio    c_rev / c_fwd: forward mode wins while n < ratio·m
    r2_fwd, r2_rev     linearity: median R² of the affine fits T_J/T_f = a + b·n at each fixed m
                       (a + b·m at each fixed n) over the points where T_J ≥ 100 µs (the
                       crossover issue's test); r2_*_lines: how many such lines had 3+ points
    omega_vjp/jvp      FLOPs of one VJP/JVP over FLOPs of f (theory: ≤ 3)
    matmul_fraction    best achieved FLOP/s of a Jacobian mode over the best matmul FLOP/s
Written as results/figures/summary.csv; the site shows it as a table.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .. import paths

from . import fit, load

NAME = "summary"
COLUMNS = ["framework", "c_fwd", "c_fwd_lo", "c_fwd_hi", "c_rev", "c_rev_lo", "c_rev_hi",
           "crossover_ratio", "r2_fwd", "r2_fwd_lines", "r2_rev", "r2_rev_lines", "points", "omega_vjp", "omega_jvp", "matmul_fraction"]


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    constants = fit.cost_constants(df)
    linear = fit.linearity(df)
    omega_vjp, omega_jvp = fit.flop_ratio(df, "vjp"), fit.flop_ratio(df, "jvp")
    fraction = fit.best_matmul_fraction(df)
    fws = sorted(set(constants) | set(omega_vjp) | set(fraction))
    nan = float("nan")
    rows = []
    for fw in fws:
        c = constants.get(fw, {})
        f, r = c.get("fwd"), c.get("rev")
        lin = linear.get(fw, {})
        rows.append({"framework": fw,
                     "c_fwd": f.c if f else nan, "c_fwd_lo": f.ci_lo if f else nan, "c_fwd_hi": f.ci_hi if f else nan,
                     "c_rev": r.c if r else nan, "c_rev_lo": r.ci_lo if r else nan, "c_rev_hi": r.ci_hi if r else nan,
                     "crossover_ratio": fit.crossover_ratio(f.c, r.c) if f and r else nan,
                     "r2_fwd": lin.get("fwd", (nan, 0))[0], "r2_fwd_lines": lin.get("fwd", (nan, 0))[1],
                     "r2_rev": lin.get("rev", (nan, 0))[0], "r2_rev_lines": lin.get("rev", (nan, 0))[1],
                     "points": (f.points if f else 0) + (r.points if r else 0),
                     "omega_vjp": omega_vjp.get(fw, nan), "omega_jvp": omega_jvp.get(fw, nan),
                     "matmul_fraction": fraction.get(fw, nan)})
    return pd.DataFrame(rows, columns=COLUMNS)


def to_html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="–",
                         classes="summary", border=0)


def write(table: pd.DataFrame, out: Path | None = None) -> list[Path]:
    out = Path(out) if out else paths.figures()
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "summary.csv", index=False)
    return [out / "summary.csv"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m adcost.analysis.summary", description=__doc__.splitlines()[0])
    p.add_argument("--results", help="tidy CSV/parquet or asv results folder (default results/)")
    p.add_argument("--out", help="folder (default results/figures)")
    args = p.parse_args(argv)
    table = summary_table(load.load(args.results))
    if table.empty:
        print("summary: skipped, no JacobianNM, Flops or Matmul results")
        return 0
    print(f"summary: wrote {', '.join(map(str, write(table, args.out)))}")
    return 0

