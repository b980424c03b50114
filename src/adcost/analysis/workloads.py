"""The AD-benchmark workloads, in the manner of ADBench's figures.

Top row, one panel per workload (workloads.Workload): seconds against the workload's size
(grids.WORKLOAD_AXIS: n for GMM, LSE and BA, characters for the LSTM, m for the trajectory) for
the primal, the best forward-family mode (jacfwd, jacfwd_loop), the best reverse-family mode
(jacrev, grad, jacrev_loop) and finite differences: one colour per framework, one line style
and marker per family.  Bottom row: the derivative over the primal (the best mode of each framework over
that framework's primal), the figure ADBench reports.  Last column (workloads.BABlocks):
bundle adjustment by blocks, its primal and all 3 x 15 Jacobian blocks by 15 JVPs
(jacfwd_seeded) against the number of observations, up to ADBench's ba1.
"""
from __future__ import annotations

import numpy as np

from .. import grids
from ..ops import describe
from . import load
from .plotting import MissingData, figure, main_for

NAME = "workloads"
ORDER = ("gmm", "lse", "lstm", "ba", "trajectory")
STYLES = {"primal": ":", "forward": "--", "reverse": "-", "fd": "-."}
# a marker per family too: at a single size (the quick grid) there is no line to tell them by
MARKERS = {"primal": "s", "forward": "^", "reverse": "o", "fd": "x"}
TITLES = {"gmm": "GMM log posterior (m = 1)", "lse": "log-sum-exp (m = 1)",
          "lstm": "LSTM loss (m = 1)", "ba": "bundle adjustment (m = 3p)",
          "trajectory": "ODE trajectory (n = 4)"}


def family(mode: str) -> str:
    return "primal" if mode == "primal" else describe(mode).family


def best_per_family(t):
    """Per (problem, framework, family, size): the fastest mode's seconds (and which mode)."""
    t = t.assign(family=t["op"].map(family))
    idx = t.groupby(["problem", "framework", "family", "size"])["value"].idxmin()
    return t.loc[idx]


def build(df):
    t = load.measured(df, "Workload.time_workload")
    if t.empty:
        raise MissingData("no workloads.Workload results")
    best = best_per_family(t)
    problems = [p for p in ORDER if p in set(best["problem"])]
    blocks = load.measured(df, "BABlocks.time_blocks")
    fws = sorted(set(best["framework"]) | set(blocks["framework"]))
    colors = {fw: f"C{i}" for i, fw in enumerate(fws)}
    ncols = len(problems) + (not blocks.empty)
    fig, axes = figure(nrows=2, ncols=ncols, width=3.9, height=3.4)
    axes = np.asarray(axes).reshape(2, ncols)
    if not blocks.empty:
        _blocks(axes[0, -1], axes[1, -1], blocks, colors)
    for col, problem in enumerate(problems):
        g = best[best["problem"] == problem]
        ax, ratio_ax = axes[0, col], axes[1, col]
        for (fw, fam), h in g.groupby(["framework", "family"]):
            h = h.sort_values("size")
            ax.plot(h["size"], h["value"], STYLES.get(fam, "-"), marker=MARKERS.get(fam, "o"), ms=3.5,
                    color=colors[fw], label=f"{fw} {fam}")
        primal = g[g["family"] == "primal"].set_index(["framework", "size"])["value"]
        for fw, h in g[g["family"].isin(("forward", "reverse"))].groupby("framework"):
            fastest = h.groupby("size")["value"].min()
            keys = [(fw, s) for s in fastest.index]
            base = primal.reindex(keys).to_numpy()
            ok = np.isfinite(base)
            if ok.any():
                ratio_ax.plot(np.asarray(fastest.index)[ok], fastest.to_numpy()[ok] / base[ok],
                              "-", marker="o", ms=3, color=colors[fw], label=fw)
        axis = grids.WORKLOAD_AXIS.get(problem, "n")
        for a in (ax, ratio_ax):
            _log_axes(a, sorted(g["size"].unique()))
            a.set_xlabel(axis if axis != "chars" else "characters")
        ax.set_title(TITLES.get(problem, problem), fontsize=9)
        ax.set_ylabel("seconds")
        ratio_ax.set_ylabel("best derivative / primal")
        ratio_ax.axhline(1.0, color="0.7", lw=0.8)
        if col == 0:
            ax.legend(fontsize=5.5, ncol=2)
            ratio_ax.legend(fontsize=6)
    fig.suptitle("Workloads: primal (dotted, square), best forward (dashed, triangle), best "
                 "reverse (solid, circle), finite differences (dash-dot, x)", fontsize=10.5)
    fig.tight_layout()
    return fig


def _log_axes(ax, sizes):
    """Log-log, with the measured sizes as the x ticks (plain numbers, no minor labels)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator([float(s) for s in sizes]))
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _blocks(ax, ratio_ax, t, colors):
    """Bundle adjustment by blocks: primal (dotted) and all blocks in 15 JVPs (solid)."""
    for (fw, op), h in t.groupby(["framework", "op"]):
        h = h.sort_values("size")
        ax.plot(h["size"], h["value"], ":" if op == "primal" else "-", marker="o", ms=3,
                color=colors[fw], label=f"{fw} {'primal' if op == 'primal' else 'blocks'}")
    for fw, h in t.groupby("framework"):
        wide = h.pivot_table(index="size", columns="op", values="value")
        if {"primal", "jacfwd_seeded"} <= set(wide.columns):
            r = (wide["jacfwd_seeded"] / wide["primal"]).dropna()
            ratio_ax.plot(r.index, r.to_numpy(), "-", marker="o", ms=3, color=colors[fw], label=fw)
    for a in (ax, ratio_ax):
        _log_axes(a, sorted(t["size"].unique()))
        a.set_xlabel("observations p (n = 15p, m = 3p)")
    ax.set_title("BA by blocks: 15 JVPs (to ADBench ba1)", fontsize=9)
    ax.set_ylabel("seconds")
    ratio_ax.set_ylabel("blocks / primal")
    ax.legend(fontsize=5.5, ncol=2)


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
