"""Memory vs depth per checkpointing strategy, log-log, one column per framework.

Top row: bytes kept for the backward pass (memory.Checkpoint.track_saved_bytes; TensorFlow,
which reports none, the analytic bytes) against depth L at the timing batch, with reference
curves anchored at the bytes per layer of storing everything ("none"): 2√L layers (Chen et
al. 2016) and binomial checkpointing with 3 recomputation sweeps (revolve, Griewank & Walther
2000).  Bottom row: peak RSS above a baseline in a fresh process (memory.PeakRSS) at the
probes' larger batch, beside the analytic bytes at that batch (thin lines), and forward
mode's peak RSS (memory.PeakForward.track_jvp_bytes) against depth.
"""
from __future__ import annotations

import sys

import numpy as np

from .. import grids
from ..checkpoint.schedules import Sizes, analytic

from . import fit, load
from .plotting import MissingData, figure, main_for
NAME = "memory_depth"
METRIC = "Checkpoint.track_saved_bytes"


def bytes_per_layer(g) -> float | None:
    none = g[g["strategy"] == "none"]
    if none.empty:
        return None
    return float((none["value"] / none["depth"].astype(float)).median())


def analytic_bytes(strategy: str, depths, batch: int) -> list[int]:
    """The strategy's analytic stored bytes at `batch`, the grid's other sizes."""
    g = grids.checkpoint("full")
    item = 4   # the study's float32
    return [analytic(strategy, Sizes(int(L), batch * g["width"] * item, batch * g["outputs"] * item),
                     g["slots"])["stored_bytes"] for L in depths]


def rss_absence(df, fw: str) -> str:
    """Why a framework's peak-RSS panel is empty: its figures set aside (load's "invalid"
    rows), or none measured in this run."""
    aside = df[df["benchmark"].isin(load.RSS_PROBES) & (df["framework"] == fw)
               & (df["status"] == "invalid")]
    if aside.empty:
        return "none measured in this run"
    return "its figures were set aside as wrong\n(docs/checkpointing.md)"


def build(df):
    saved = load.measured(df, METRIC)
    kept_analytic = load.measured(df, "Checkpoint.track_analytic_bytes")
    rss = load.measured(df, "PeakRSS.track_peak_rss_bytes")
    if saved.empty and kept_analytic.empty:
        raise MissingData(f"no memory.{METRIC} results")
    # memory.PeakForward's, or memory.Forward's in runs from before the probe had its own class
    jvp = load.measured(df, "Forward.track_jvp_bytes")
    fws = sorted(set(saved["framework"]) | set(kept_analytic["framework"]))
    strategies = sorted(set(saved["strategy"]) | set(kept_analytic["strategy"]))
    colors = {s: f"C{i % 10}" for i, s in enumerate(strategies)}  # same colour in every panel
    grid = grids.checkpoint("full")
    fig, axes = figure(ncols=len(fws), nrows=2, width=4.8, height=3.9)
    for top, bottom, fw in zip(axes[0], axes[1], fws):
        g = saved[saved["framework"] == fw]
        source = "saved"
        if g.empty:   # a framework that reports no saved bytes (TensorFlow): the analytic bytes
            g, source = kept_analytic[kept_analytic["framework"] == fw], "analytic"
        for strategy, h in g.groupby("strategy"):
            h = h.groupby("depth", as_index=False)["value"].median().sort_values("depth")
            slope = fit.loglog_slope(h["depth"], h["value"])
            top.plot(h["depth"], h["value"], "o-" if source == "saved" else "o--", ms=4,
                     color=colors[strategy], label=f"{strategy} (slope {slope:.2f})")
        depths = np.geomspace(float(g["depth"].min()), float(g["depth"].max()), 40)
        unit = bytes_per_layer(g)
        if unit:
            top.plot(depths, fit.sqrt_reference(depths, unit), "k--", lw=1, label="ref: 2√L layers (Chen)")
            top.plot(depths, fit.binomial_reference(depths, unit), "k:", lw=1.4,
                     label="ref: binomial, 3 sweeps (revolve)")
        note = "saved bytes" if source == "saved" else "analytic bytes (no saved-bytes hook)"
        top.set_title(f"{fw}: {note}, batch {grid['batch']}", fontsize=9.5)
        top.set_ylabel("bytes kept for the backward pass")

        r = rss[rss["framework"] == fw]
        for strategy, h in r.groupby("strategy"):
            h = h.groupby("depth", as_index=False)["value"].median().sort_values("depth")
            color = colors.get(strategy, "0.5")
            bottom.plot(h["depth"], h["value"], "s-", ms=5, color=color, label=f"{strategy} peak RSS")
            bottom.plot(h["depth"], analytic_bytes(strategy, h["depth"], grid["rss_batch"]), "-",
                        lw=0.8, alpha=0.6, color=color)
        j = jvp[jvp["framework"] == fw].groupby("depth", as_index=False)["value"].median()
        if not j.empty:
            bottom.plot(j["depth"], j["value"], "x-.", color="0.2", label="forward mode (JVP) peak RSS")
        bottom.set_title(f"{fw}: peak RSS above baseline, batch {grid['rss_batch']}", fontsize=9.5)
        bottom.set_ylabel("bytes")
        panels = (top, bottom)
        if r.empty and j.empty:   # none measured, or every figure set aside (load: "invalid")
            panels = (top,)
            bottom.text(0.5, 0.5, f"no peak RSS of {fw}:\n{rss_absence(df, fw)}", ha="center",
                        va="center", wrap=True, fontsize=8, transform=bottom.transAxes)
            bottom.set_xticks([]), bottom.set_yticks([])
        else:
            bottom.plot([], [], "-", lw=0.8, color="0.5", label="thin: analytic bytes")
        for ax in panels:
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("depth L (layers)")
            ax.legend(fontsize=6, loc="upper left")
    fig.suptitle("Checkpointing: memory against depth per strategy (top: bytes kept, bottom: "
                 "peak RSS in a fresh process)", fontsize=10.5)
    fig.tight_layout()
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
