"""Every figure and the summary table from one load: `python -m analysis.plots` (make plots).

Also exports the tidy data (results/tidy.csv, tidy.parquet) when reading asv results.
"""
from __future__ import annotations

import argparse
import sys

from . import cost_curves, crossover_map, load, memory_depth, speedups, summary, tradeoff
from .plotting import render

FIGURES = (crossover_map, cost_curves, speedups, memory_depth, tradeoff)


def build_all(df, out=None) -> None:
    for module in FIGURES:
        render(module.NAME, module.build, df, out)
    table = summary.summary_table(df)
    if table.empty:
        print("summary: skipped, no JacobianNM, Flops or Matmul results")
    else:
        print(f"summary: wrote {', '.join(map(str, summary.write(table, out)))}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.plots", description=__doc__.splitlines()[0])
    p.add_argument("--asv", help="asv results folder (default results/asv)")
    p.add_argument("--tidy-out", help="folder for tidy.csv/parquet (default results/)")
    p.add_argument("--out", help="folder for the figures (default results/figures)")
    args = p.parse_args(argv)
    df = load.load_asv(args.asv)
    if df.empty:
        print(f"plots: no asv results under {args.asv or load.paths.asv_results()}; nothing to plot "
              "(run `make bench` first)", file=sys.stderr)
        return 1
    print(f"plots: tidy data -> {', '.join(map(str, load.export(df, args.tidy_out)))}")
    build_all(df, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
