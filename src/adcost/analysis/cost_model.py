"""The cost model against the measurements (crossover.JacobianWidth, PrimalWidth, roofline).

One row per framework. First two panels: seconds of jacfwd against n (at the middle m of the width
grid) and of jacrev against m (at the middle n), one colour per width; dots are measured, lines
the model T = c0 + c1 k + max(alpha F / P, beta B / W) + delta B_w / W + c2 E + c3 L fitted on the fitted widths (hollow dots: widths
held out of the fit). Third and fourth: the regime the model names for jacfwd
over n x width (overhead, memory, compute), with c = T_jacfwd / T_f(k = n), the Jacobian over the
primal batched over as many inputs as tangents, written where both were measured; and the
crossover n (forward mode cheaper below it) against m, one colour per width, measured (the
monotone gap's zero between the measured n: dots from the side-by-side ratios of
crossover.SideBySide, crosses from the width study's times where the run has no ratios) beside
the model's (lines).  A framework's other forward mode (JAX's jacfwd_vmap) has a row of its
own below, in jacfwd's place (its ratios: crossover.SideBySideForward).
"""
from __future__ import annotations

import sys

import math

import numpy as np

from . import costmodel as cm
from .plotting import MissingData, figure, main_for

NAME = "cost_model"
REGIME_COLORS = {"overhead": "#cccccc", "memory": "#80b1d3", "compute": "#fb8072"}


def _middle(values):
    values = sorted(values)
    return values[len(values) // 2]


def build(df):
    pts, rate, speed = cm.inputs(df)
    if pts.empty or rate.empty:
        raise MissingData("no crossover.JacobianWidth results with roofline rates")
    train, held = cm.split(pts)
    fits = cm.fit_all(train, rate)
    # a row per framework with a modelled Jacobian (fd has a primal only: its row would be blank),
    # and one per other forward mode fitted (JAX's jacfwd_vmap) in jacfwd's place
    fws = sorted({fw for fw, mode in fits if mode in ("jacfwd", "jacrev")})
    if not fws:
        raise MissingData("too few width points to fit the model")
    rows = [(fw, "jacfwd") for fw in fws] + sorted(
        (fw, mode) for fw, mode in fits if mode not in ("primal", "jacfwd", "jacrev"))
    widths = sorted(pts["width"].unique())
    depth = int(pts["depth"].iloc[0])
    colors = {w: f"C{i}" for i, w in enumerate(widths)}
    held_widths = set(held["width"].unique())
    cross = {forward: cm.run_crossovers(df, pts, forward=forward)
             for forward in {forward for _, forward in rows}}
    fig, axes = figure(ncols=4, nrows=len(rows), width=3.4, height=3.0, layout="constrained")
    for i, (fw, forward) in enumerate(rows):
        g = pts[pts["framework"] == fw]
        for j, (mode, axis, other) in enumerate(((forward, "n", "m"), ("jacrev", "m", "n"))):
            ax = axes[i, j]
            h = g[g["mode"] == mode]
            if h.empty or (fw, mode) not in fits:
                ax.set_visible(False)
                continue
            fixed = _middle(h[other].unique())
            h = h[h[other] == fixed]
            for w in widths:
                r = h[h["width"] == w].sort_values(axis)
                if r.empty:
                    continue
                ax.plot(r[axis], r["seconds"], "o", ms=4, color=colors[w],
                        mfc="none" if w in held_widths else colors[w])
                xs = np.unique(np.geomspace(r[axis].min(), r[axis].max(), 40).round().astype(int))
                sizes = {other: fixed}
                model = [fits[fw, mode].predict(*fits[fw, mode].work(mode, **{axis: x, **sizes}, depth=depth,
                                                         width=w)) for x in xs]
                ax.plot(xs, model, "-", color=colors[w], lw=1, label=f"width {w}")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(axis)
            products = fits[fw, mode].compute_from == "products"
            ax.set_title(f"{fw} {mode} ({other} = {fixed}"
                         + (";\nF/P: its measured products" if products else "") + ")",
                         fontsize=9 if products else None)
            if i == 0 and j == 0:
                ax.set_ylabel("seconds (dots measured, lines model)" + (
                    "\nat the run's median speed" if speed["normalized"] else ""))
                ax.legend(fontsize=7)
        _regimes(axes[i, 2], fits, fw, pts, widths, depth, forward)
        _crossovers(axes[i, 3], fits, fw, pts, cross[forward], widths, depth, forward)
    fig.suptitle("The cost model T = c0 + c1·k + max(αF/P, βB/W) + δ·Bw/W + c2·E + c3·L against the measurements "
                 f"(depth {depth}; hollow: widths held out of the fit)")
    return fig


def _regimes(ax, fits, fw, pts, widths, depth, forward="jacfwd"):
    """Regime of `forward` (jacfwd) over n x width (m at its middle value); c = T_fwd / T_f(k = n)."""
    if (fw, forward) not in fits:
        ax.set_visible(False)
        return
    g = pts[pts["framework"] == fw]
    m = _middle(g["m"].unique())
    ns = sorted(g["n"].unique())
    fit = fits[fw, forward]
    for yi, w in enumerate(widths):
        for xi, n in enumerate(ns):
            regime = fit.regime_at(forward, n, m, depth, w)
            ax.add_patch(_rect(xi, yi, REGIME_COLORS[regime]))
            jac = g[(g["mode"] == forward) & (g["n"] == n) & (g["m"] == m) & (g["width"] == w)]
            pri = g[(g["mode"] == "primal") & (g["n"] == n) & (g["m"] == m) & (g["width"] == w)
                    & (g["batch"] == n)]
            if len(jac) and len(pri):
                ax.text(xi, yi, f"{jac['seconds'].iloc[0] / pri['seconds'].iloc[0]:.1f}",
                        ha="center", va="center", fontsize=7)
    ax.set_xlim(-0.5, len(ns) - 0.5)
    ax.set_ylim(-0.5, len(widths) - 0.5)
    ax.set_xticks(range(len(ns)), [str(n) for n in ns])
    ax.set_yticks(range(len(widths)), [str(w) for w in widths])
    ax.set_xlabel("n")
    ax.set_ylabel("width")
    ax.grid(False)
    for name, color in REGIME_COLORS.items():
        ax.plot([], [], "s", color=color, label=name)
    ax.legend(fontsize=6, loc="upper left")
    ax.set_title(f"{fw} {forward}: regime (model),\nc vs T_f(n) (m = {m})", fontsize=8)


def _rect(x, y, color):
    from matplotlib.patches import Rectangle
    return Rectangle((x - 0.5, y - 0.5), 1, 1, color=color)


def _crossovers(ax, fits, fw, pts, cross, widths, depth, forward="jacfwd"):
    """The crossover n of `forward` (jacfwd) against jacrev over m, one line per width:
    measured (dots: side by side; crosses: from times of separate processes) and model (lines)."""
    cross = cross[cross["framework"] == fw]
    if (fw, forward) not in fits or (fw, "jacrev") not in fits:
        ax.set_visible(False)
        return
    ms = sorted(pts[pts["framework"] == fw]["m"].unique())
    for i, w in enumerate(widths):
        color = f"C{i}"
        c = cross[cross["width"] == w]
        for source, marker in (("side by side", "o"), ("separate processes", "x")):
            d = c[c["source"] == source]
            ax.plot(d["m"], d["n_measured"], marker, color=color, ms=4)
        grid = np.geomspace(min(ms), max(ms), 12)
        model = [cm.crossover_n(fits, fw, int(round(m)), depth, w, forward=forward) for m in grid]
        ax.plot(grid, [n if 0 < n < math.inf else math.nan for n in model], "-",   # no crossing
                color=color, lw=1, label=f"width {w}")
    ax.plot(ms, ms, ":", color="gray", lw=1, label="n = m")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("m")
    ax.set_ylabel("crossover n (forward cheaper below)")
    ax.set_title(f"{fw}{'' if forward == 'jacfwd' else ' ' + forward}: crossover, measured\n"
                 "(dots side by side, x apart) vs model (lines)", fontsize=8)
    ax.legend(fontsize=6)


main = main_for(NAME, build, __doc__)

if __name__ == "__main__":
    sys.exit(main())
