"""The machine's speed over the run: the float32 matmul probed beside each timed case.

One dot per probe (adcost.measure.speed: the GFLOP/s of a 512 x 512 NumPy matmul timed in the
case's process just before its samples), against the minutes since the run's first probe,
coloured by suite; the line is the median of the 11 probes around each (what the cost model
reads a case's time at, costmodel.SPEED_WINDOW).  A flat band is a steady machine; a step or
a slope is the host changing under the run, which neither the load average nor the steal
share shows.  One panel per machine.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import load
from .costmodel import SPEED_WINDOW, smoothed
from .plotting import MissingData, figure, main_for

NAME = "speed"
GAP_S = 300   # probes further apart than this are drawn as two stretches (two asv runs)


def probes_over_time(df: pd.DataFrame) -> pd.DataFrame:
    """One row per timed probe (load.probe_rows): machine, suite, speed (flop/s), speed_at."""
    rows = load.probe_rows(df)
    if "speed_at" not in rows:
        return pd.DataFrame(columns=["machine", "suite", "speed", "speed_at"])
    return rows.dropna(subset=["speed_at"])[["machine", "suite", "speed", "speed_at"]]


def build(df):
    found = probes_over_time(df)
    if found.empty:
        raise MissingData("no speed probes in these results (the sweep records them since "
                          "2026-12-03)")
    machines = sorted(found["machine"].astype(str).unique())
    suites = sorted(found["suite"].astype(str).unique())
    colors = {s: f"C{i}" for i, s in enumerate(suites)}
    fig, axes = figure(ncols=len(machines), width=6.4, height=3.8)
    axes = np.atleast_1d(axes).ravel()
    for ax, machine in zip(axes, machines):
        g = found[found["machine"].astype(str) == machine]
        minutes = (g["speed_at"] - g["speed_at"].min()) / 60
        for suite, h in g.groupby(g["suite"].astype(str)):
            ax.plot(minutes[h.index], h["speed"] / 1e9, ".", ms=3, alpha=0.5, color=colors[suite],
                    label=suite)
        steady = smoothed(g["speed"], g["speed_at"])
        part = (g["speed_at"].diff() > GAP_S).cumsum()     # no line across a gap between runs
        for i, (_, idx) in enumerate(g.groupby(part).groups.items()):
            ax.plot(minutes[idx], steady[idx] / 1e9, "-", color="k", lw=1,
                    label=f"median of {SPEED_WINDOW}" if i == 0 else None)
        spread = g["speed"].quantile(0.9) / g["speed"].quantile(0.1)
        ax.set_title(f"{machine}: {len(g)} probes, 10th-90th percentile {spread:.2f}x apart",
                     fontsize=9)
        ax.set_xlabel("minutes since the first probe (gaps: between runs)")
        ax.set_ylabel("float32 matmul GFLOP/s")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, markerscale=2)
    fig.suptitle("The machine's speed beside each timed case")
    return fig


main = main_for(NAME, build, __doc__)

if __name__ == "__main__":
    raise SystemExit(main())
