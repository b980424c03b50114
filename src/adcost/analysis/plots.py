"""Every figure and the summary table from one load: `adcost plots [--results DIR]` (make plots).

Also exports the tidy data (results/tidy.csv.gz) when reading asv results.
"""
from __future__ import annotations

import argparse
import sys

import json
from pathlib import Path

from .. import paths
from . import (cost_curves, cost_model, costmodel, crossover_map, hvp, load, memory_depth, oracle,
               per_example, speed, speedups, summary, tradeoff, workloads)
from .plotting import render

# every figure, in the site's order (adcost.analysis.site reads this tuple)
FIGURES = (crossover_map, cost_curves, cost_model, speedups, memory_depth, tradeoff, hvp,
           per_example, oracle, workloads, speed)
MODEL_FILE = "cost_model.json"   # the cost model's fits and held-out errors, beside the figures


_FORKED: dict = {}   # the data the forked workers render from (inherited, not pickled)


def _render_quietly(index: int) -> str:
    """Render FIGURES[index]; what it printed, for the parent to print in order."""
    import contextlib
    import io

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        render(FIGURES[index].NAME, FIGURES[index].build, _FORKED["df"], _FORKED["out"])
    return text.getvalue()


# frameworks whose threads make a fork unsafe once they are imported (JAX warns of deadlocks)
_FORK_UNSAFE = ("jax", "tensorflow", "torch")


def _fork_unsafe() -> bool:
    """Whether this process imported a framework that runs threads of its own (a test process,
    a notebook): forking it can deadlock the child.  `adcost plots` imports none."""
    return any(name in sys.modules for name in _FORK_UNSAFE)


def render_figures(df, out=None, workers: int | None = None) -> None:
    """Every figure of FIGURES, on `workers` processes forked from this one (default: one per
    CPU this process may use, at most one per figure; most of a figure's time is matplotlib
    drawing and saving it, in one thread), each figure's messages printed in FIGURES' order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ..threads import available_cpus
    workers = min(len(FIGURES), workers or len(available_cpus()) or 1)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods() or _fork_unsafe():
        # draw here, one figure after the other
        for module in FIGURES:
            render(module.NAME, module.build, df, out)
        return
    _FORKED.update(df=df, out=out)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for text in pool.map(_render_quietly, range(len(FIGURES))):
                print(text, end="")
    finally:
        _FORKED.clear()


def build_all(df, out=None) -> None:
    # the report first: its fits (costmodel.fit_all) are then the figures' too, in the forks
    report = costmodel.stored_report_file(df)
    render_figures(df, out)
    target = Path(out) if out else paths.figures()
    if report:
        target.mkdir(parents=True, exist_ok=True)
        (target / MODEL_FILE).write_text(json.dumps(report, indent=1))
        print(f"cost model: wrote {target / MODEL_FILE}")
    else:
        print("cost model: skipped, no crossover.JacobianWidth results with roofline rates and "
              "no compiled/eager pairs")
    table = summary.summary_table(df)
    if table.empty:
        print("summary: skipped, no JacobianNM, Flops or Matmul results")
    else:
        print(f"summary: wrote {', '.join(map(str, summary.write(table, out)))}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="adcost plots", description=__doc__.splitlines()[0])
    p.add_argument("--results", help="results folder holding asv/; figures go to its figures/ "
                   "(default ./results)")
    args = p.parse_args(argv)
    asv = load.paths.asv_results(args.results)
    df = load.load_asv(asv)
    if df.empty:
        print(f"plots: no asv results under {asv}; nothing to plot (run `make bench` first)",
              file=sys.stderr)
        return 2
    print(f"plots: tidy data -> {', '.join(map(str, load.export(df, args.results)))}")
    build_all(df, load.paths.figures(args.results))
    return 0

