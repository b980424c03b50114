"""Second order: Hessian-vector products and Hessians of the MLP loss, per composition.

Top row: seconds of one HVP against n (the loss's parameter count, grown by width and depth;
second_order.HVP), one line per composition and depth.  Middle row: seconds of the full Hessian
(second_order.Hessian).  Bottom row: peak RSS above baseline of one call in a fresh process
(second_order.SecondOrderRSS) at the grid's hvp_rss and hessian_rss sizes.  Each panel's
title names the fastest composition and the one using least memory at the largest size.
"""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

from .. import grids, ops
from . import load
from .plotting import MissingData, figure, main_for

NAME = "hvp"
MARKERS = "os^vD<>p*h"


def parameter_count(width: int, depth: int, grid: dict | None = None) -> int:
    """n of mlp_loss at (width, depth) with the second-order grid's features and outputs."""
    g = grid or grids.second_order("quick")
    f, o, w, d = g["features"], g["outputs"], int(width), int(depth)
    return f * w + w + (d - 1) * (w * w + w) + w * o + o


def grid_of(df) -> dict:
    """The second-order grid the results were measured on: quick unless a size only the full
    grid has appears (the peak-RSS sizes are the grid's, not in the rows)."""
    quick = grids.second_order("quick")
    widths = set(df["width"].dropna().astype(int)) if "width" in df else set()
    known = set(quick["hvp_width"]) | set(quick["hessian_width"]) | set(quick["pe_width"])
    return quick if widths <= known else grids.second_order("full")


def short(op: str) -> str:
    return op.split("_", 1)[1]


def with_n(df):
    df = df.copy()
    df["params_n"] = [parameter_count(w, d) for w, d in zip(df["width"], df["depth"])]
    return df


def winners(time_rows, rss_rows, family: tuple[str, ...]) -> dict:
    """Per framework: the fastest op at the largest n measured by every op that ran there,
    and the op with the least peak RSS; {framework: {"fastest": (op, s), "least_memory": (op, b)}}."""
    found: dict = {}
    for fw, g in time_rows.groupby("framework"):
        top = g[g["params_n"] == g["params_n"].max()]
        best = top.loc[top["value"].idxmin()]
        found.setdefault(fw, {})["fastest"] = (str(best["op"]), float(best["value"]), int(best["params_n"]))
    for fw, g in rss_rows[rss_rows["op"].isin(family)].groupby("framework"):
        best = g.loc[g["value"].idxmin()]
        found.setdefault(fw, {})["least_memory"] = (str(best["op"]), float(best["value"]))
    return found


def build(df):
    hvp = load.measured(df, "HVP.time_hvp")
    hes = load.measured(df, "Hessian.time_hessian")
    if hvp.empty and hes.empty:
        raise MissingData("no second_order.HVP or Hessian results")
    rss = load.measured(df, "SecondOrderRSS.track_peak_rss_bytes")
    hvp, hes = with_n(hvp) if not hvp.empty else hvp, with_n(hes) if not hes.empty else hes
    fws = sorted(set(hvp["framework"]) | set(hes["framework"]))
    colors = {op: f"C{i}" for i, op in enumerate(ops.SECOND_ORDER_OPS)}
    fig, axes = figure(ncols=len(fws), nrows=3, width=4.6, height=3.6)
    axes = np.asarray(axes).reshape(3, len(fws))
    for col, fw in enumerate(fws):
        for row, (data, family, what) in enumerate(((hvp, ops.HVP_OPS, "HVP"),
                                                    (hes, ops.HESSIAN_OPS, "Hessian"))):
            ax = axes[row, col]
            g = data[data["framework"] == fw] if not data.empty else data
            if g.empty:
                ax.set_title(f"{fw}: no {what} results", fontsize=9)
                continue
            depths = sorted(g["depth"].unique())
            for op, h in g.groupby("op"):
                for k, depth in enumerate(depths):
                    d = h[h["depth"] == depth].sort_values("params_n")
                    ax.plot(d["params_n"], d["value"], marker=MARKERS[k % len(MARKERS)], ms=4,
                            color=colors[op], label=f"{short(op)}" if k == 0 else None)
            w = winners(g, rss[rss["framework"] == fw], family).get(fw, {})
            title = f"{fw}: {what} seconds"
            if "fastest" in w:
                op, s, n = w["fastest"]
                title += f"\nfastest at n={n}: {short(op)} {s * 1e3:.3g} ms"
            if "least_memory" in w:
                op, b = w["least_memory"]
                title += f"; least RSS: {short(op)} {b / 2**20:.3g} MiB"
            ax.set_title(title, fontsize=8)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("n (parameters); markers: depth " + ", ".join(map(str, depths)))
            ax.set_ylabel("seconds")
            ax.legend(fontsize=6)
        ax = axes[2, col]
        temp = load.measured(df, "HVPTempBytes.track_temp_bytes")
        temp = temp[temp["framework"] == fw]
        if not temp.empty:   # the compiler's own figure at the largest HVP size timed
            temp = with_n(temp)
            top = temp[temp["params_n"] == temp["params_n"].max()].sort_values("value")
            ax.text(0.98, 0.02, f"XLA temp bytes at n={int(top['params_n'].iloc[0])}:\n" + "\n".join(
                f"{short(o)} {v / 2**20:.3g} MiB" for o, v in zip(top["op"], top["value"])),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5)
        r = rss[rss["framework"] == fw]
        r = r[r["op"].isin(ops.SECOND_ORDER_OPS)].sort_values("op")
        if r.empty:   # the quick grid probes none (sweep.FULL_ONLY): say so, draw no axes
            ax.set_title(f"{fw}: no peak-RSS results" + ("" if not rss.empty else
                         "\n(probed in the full grid: ADCOST_GRID=full)"), fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.barh([short(o) for o in r["op"]], r["value"] / 2**20,
                color=[colors[o] for o in r["op"]])
        g = grid_of(load.measured(df[df["suite"] == "second_order"]) if "suite" in df else df)
        ax.set_title(f"{fw}: peak RSS of one call (fresh process)\nHVP at width, depth, batch "
                     f"{g['hvp_rss']}; Hessian at width, depth {g['hessian_rss']}", fontsize=7.5)
        ax.set_xlabel("MiB above baseline")
    fig.suptitle("Hessian-vector products and Hessians of the MLP loss: time and memory per "
                 "composition", fontsize=10.5)
    fig.tight_layout()
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
