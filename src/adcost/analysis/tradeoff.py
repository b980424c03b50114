"""Time-memory trade-off: gradient time against saved bytes per strategy, Pareto front per framework.

At the deepest depth measured for each framework: one point per checkpointing strategy
(memory.Checkpoint.time_gradient vs memory.Checkpoint.track_saved_bytes); the line joins
the strategies no other strategy beats on both time and memory.  The dashed line is plain
reverse mode plus one forward pass of the loss (memory.Loss.time_loss at that depth): what
theory says sqrt(L) and per-layer checkpointing cost, each layer running forward once more.
"""
from __future__ import annotations

import sys

import pandas as pd
from matplotlib.ticker import NullFormatter

from . import fit, load
from .plotting import MissingData, figure, main_for

NAME = "tradeoff"


def tradeoff_points(df):
    """Per (framework, strategy) at each framework's deepest depth: seconds and bytes."""
    t = load.measured(df, "Checkpoint.time_gradient")
    b = load.measured(df, "Checkpoint.track_saved_bytes")
    # frameworks with no saved-bytes hook (TensorFlow): the strategy's analytic bytes
    a = load.measured(df, "Checkpoint.track_analytic_bytes")
    b = pd.concat([b.assign(source="saved"),
                   a[~a["framework"].isin(b["framework"])].assign(source="analytic")])
    keys = ["framework", "strategy", "depth"]
    p = t.groupby(keys, as_index=False)["value"].median().merge(
        b.groupby(keys + ["source"], as_index=False)["value"].median(), on=keys,
        suffixes=("_s", "_bytes"))
    if p.empty:
        return p
    deepest = p.groupby("framework")["depth"].transform("max")
    return p[p["depth"] == deepest].rename(columns={"value_s": "seconds", "value_bytes": "bytes"})


def one_more_forward(df, points):
    """{framework: seconds of `none` plus one loss forward pass} at the points' depth."""
    fwd = load.measured(df, "Loss.time_loss")   # empty in results older than the benchmark
    out = {}
    for fw, g in points.groupby("framework"):
        none = g[g["strategy"] == "none"]
        f = fwd[(fwd["framework"] == fw) & (fwd["depth"] == g["depth"].iat[0])]
        if len(none) and len(f):
            out[fw] = float(none["seconds"].iat[0]) + float(f["value"].median())
    return out


def build(df):
    p = tradeoff_points(df)
    if p.empty:
        raise MissingData("needs memory.Checkpoint.time_gradient and memory.Checkpoint.track_saved_bytes")
    fws = sorted(p["framework"].unique())
    theory = one_more_forward(df, p)
    fig, axes = figure(ncols=len(fws), width=4.6, height=3.9)
    for ax, fw in zip(axes[0], fws):
        g = p[p["framework"] == fw]
        front = fit.pareto_front(g, "bytes", "seconds")
        ax.plot(front["bytes"], front["seconds"] * 1e3, "-", color="C3", lw=1.5, label="Pareto front")
        for _, r in g.iterrows():
            on = r.name in front.index
            ax.plot(r["bytes"], r["seconds"] * 1e3, "o" if on else "o", mfc="C3" if on else "white",
                    mec="C3" if on else "0.4", ms=6)
            ax.annotate(r["strategy"], (r["bytes"], r["seconds"] * 1e3), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
        ax.plot([], [], "o", mfc="white", mec="0.4", label="dominated strategy")
        if fw in theory:
            ax.axhline(theory[fw] * 1e3, ls="--", color="0.5", lw=1,
                       label="none + one forward pass")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())   # minor labels overlap on a short range
        source = "" if g["source"].iat[0] == "saved" else ", analytic"
        ax.set_xlabel(f"bytes kept for the backward pass (log{source})")
        ax.set_ylabel("gradient time (ms)")
        ax.set_title(f"{fw}: depth {int(g['depth'].iat[0])}")
        ax.legend(fontsize=7)
    fig.suptitle("Time-memory trade-off of checkpointing strategies", fontsize=11)
    fig.tight_layout()
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
