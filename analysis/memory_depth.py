"""Memory vs depth per checkpointing strategy, log-log, one panel per framework.

Bytes saved for the backward pass (memory.Checkpoint.track_saved_bytes) against depth L,
with reference curves anchored at the bytes per layer of storing everything ("none"):
2√L layers (Chen et al. 2016) and binomial checkpointing with 3 recomputation sweeps
(revolve, Griewank & Walther 2000).  The JVP's memory (memory.Forward.track_jvp_bytes),
independent of depth, is drawn where measured.
"""
from __future__ import annotations

import sys

import numpy as np

from . import fit, load
from .plotting import MissingData, figure, main_for

NAME = "memory_depth"
METRIC = "Checkpoint.track_saved_bytes"


def bytes_per_layer(g) -> float | None:
    none = g[g["strategy"] == "none"]
    if none.empty:
        return None
    return float((none["value"] / none["depth"].astype(float)).median())


def build(df):
    saved = load.measured(df, METRIC)
    analytic = load.measured(df, "Checkpoint.track_analytic_bytes")
    rss = load.measured(df, "PeakRSS.track_peak_rss_bytes")
    if saved.empty and analytic.empty:
        raise MissingData(f"no memory.{METRIC} results")
    jvp = load.measured(df, "Forward.track_jvp_bytes")
    fws = sorted(set(saved["framework"]) | set(analytic["framework"]))
    strategies = sorted(set(saved["strategy"]) | set(analytic["strategy"]))
    colors = {s: f"C{i % 10}" for i, s in enumerate(strategies)}  # same colour in every panel
    fig, axes = figure(ncols=len(fws), width=4.8, height=4.0)
    for ax, fw in zip(axes[0], fws):
        g = saved[saved["framework"] == fw]
        source = "saved"
        if g.empty:   # a framework that reports no saved bytes (TensorFlow): the analytic bytes
            g, source = analytic[analytic["framework"] == fw], "analytic"
        for strategy, h in g.groupby("strategy"):
            h = h.groupby("depth", as_index=False)["value"].median().sort_values("depth")
            slope = fit.loglog_slope(h["depth"], h["value"])
            ax.plot(h["depth"], h["value"], "o-" if source == "saved" else "o--", ms=4,
                    color=colors[strategy], label=f"{strategy} {source} (slope {slope:.2f})")
        r = rss[rss["framework"] == fw]
        for strategy, h in r.groupby("strategy"):
            h = h.groupby("depth", as_index=False)["value"].median()
            ax.plot(h["depth"], h["value"], "s", ms=6, mfc="none", color=colors.get(strategy, "0.5"),
                    label=f"{strategy} peak RSS")
        depths = np.geomspace(float(g["depth"].min()), float(g["depth"].max()), 40)
        unit = bytes_per_layer(g)
        if unit:
            ax.plot(depths, fit.sqrt_reference(depths, unit), "k--", lw=1, label="ref: 2√L layers (Chen)")
            ax.plot(depths, fit.binomial_reference(depths, unit), "k:", lw=1.4,
                    label="ref: binomial, 3 sweeps (revolve)")
        j = jvp[jvp["framework"] == fw].groupby("depth", as_index=False)["value"].median()
        if not j.empty:
            ax.plot(j["depth"], j["value"], "x-.", color="0.3", label="forward mode (JVP), peak RSS")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("depth L (layers)")
        ax.set_ylabel("bytes kept for the backward pass")
        note = "" if source == "saved" else " (no saved-bytes hook: analytic)"
        ax.set_title(f"{fw}: memory vs depth{note}", fontsize=10)
        ax.legend(fontsize=6, loc="upper left")
    fig.suptitle("Checkpointing: memory against depth (lines: bytes kept; squares: peak RSS above "
                 "baseline, fresh process), with √L and binomial references", fontsize=10)
    fig.tight_layout()
    return fig


main = main_for(NAME, build, __doc__)

if __name__ == "__main__":
    sys.exit(main())
