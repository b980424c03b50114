"""Per-example gradients of the MLP loss: a loop of backward passes, vmap(grad), the batched Jacobian.

Seconds for the (batch, n) per-example gradients against the batch size (second_order.PerExample),
one panel per width, one line per framework and route: `pe_grad_loop` (one gradient call per
example), `pe_grad_vmap` (torch.func / JAX vmap of grad, TensorFlow's vectorized_map) and
`jacrev` (the vectorized Jacobian of the per-example losses).  Last panel: peak RSS above
baseline of one call at the grid's pe_rss size (second_order.SecondOrderRSS).
"""
from __future__ import annotations

import numpy as np

from .. import grids
from . import load
from .hvp import grid_of
from .plotting import MissingData, figure, main_for

NAME = "per_example"
ROUTES = ("pe_grad_loop", "pe_grad_vmap", "jacrev")
STYLES = {"pe_grad_loop": ":", "pe_grad_vmap": "-", "jacrev": "--"}


def build(df):
    t = load.measured(df, "PerExample.time_per_example")
    if t.empty:
        raise MissingData("no second_order.PerExample results")
    rss = load.measured(df, "SecondOrderRSS.track_peak_rss_bytes")
    rss = rss[rss["op"].isin(ROUTES)]
    widths = sorted(t["width"].dropna().unique())
    fws = sorted(t["framework"].unique())
    colors = {fw: f"C{i}" for i, fw in enumerate(fws)}
    fig, axes = figure(ncols=len(widths) + 1, width=4.6, height=3.8)
    axes = np.atleast_1d(axes).ravel()
    for ax, width in zip(axes, widths):
        g = t[t["width"] == width]
        for (fw, route), h in g.groupby(["framework", "op"]):
            h = h.assign(batch=h["batch"].astype(int)).sort_values("batch")
            ax.plot(h["batch"], h["value"], STYLES.get(route, "-"), marker="o", ms=3,
                    color=colors[fw], label=f"{fw} {route.replace('pe_grad_', '')}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch (examples)")
        ax.set_ylabel("seconds")
        ax.set_title(f"per-example gradients, width {width}, depth "
                     f"{grids.second_order('full')['pe_depth']}", fontsize=9)
        ax.legend(fontsize=6)
    ax = axes[-1]
    if rss.empty:   # the quick grid probes none (sweep.FULL_ONLY)
        ax.set_title("no peak-RSS results\n(probed in the full grid: ADCOST_GRID=full)", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        r = rss.sort_values(["framework", "op"])
        labels = [f"{fw} {op.replace('pe_grad_', '')}" for fw, op in zip(r["framework"], r["op"])]
        ax.barh(labels, r["value"] / 2**20, color=[colors.get(fw, "0.5") for fw in r["framework"]])
        g = grid_of(load.measured(df[df["suite"] == "second_order"]) if "suite" in df else df)
        width, batch = g["pe_rss"]
        ax.set_title(f"peak RSS of one call, width {width}, batch {batch}, depth {g['pe_depth']}",
                     fontsize=9)
        ax.set_xlabel("MiB above baseline")
    fig.suptitle("Per-example gradients: time against batch size per route", fontsize=10.5)
    fig.tight_layout()
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
