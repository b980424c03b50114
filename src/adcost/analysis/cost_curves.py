"""Cost curves: T_J / T_f against n (forward mode) and against m (reverse mode), log-log.

Points: the measured ratios of the crossover grid (crossover.JacobianNM over PrimalNM, the MLP
of one width and depth), one colour per value of the other dimension. Lines: the cost model's
ratio at the same sizes, its jacfwd (jacrev) time over its primal's for one input
(adcost.analysis.costmodel, fitted on the width study; the grid's width is one the fit holds
out), in the point's colour; where the run has no cost model, the points alone, said in the
panel. The grey band is the textbook's T_J / T_f = c · n (c · m), c ∈ [2, 3] (Baydin et al.
2018): a vectorized Jacobian is one pass over a batch of n tangents, not n passes, so it runs
far below the band where the primal is mostly a call's fixed cost, and the model says by how
much (the fitted c of a line through the origin is in the summary table, summary.csv).
"""
from __future__ import annotations

import sys

import numpy as np

from . import costmodel as cm
from . import fit
from .plotting import MissingData, figure, main_for

NAME = "cost_curves"
PANELS = (("fwd", fit.FORWARD, "n", "m", "forward mode (jacfwd) vs n"),
          ("rev", fit.REVERSE, "m", "n", "reverse mode (jacrev) vs m"))


def grid_shape(df) -> tuple[int, int] | None:
    """The depth and width of the crossover grid's MLP (JacobianNM's rows), where it has one."""
    ok = df[(df["status"] == "ok") & df["benchmark"].astype(str).str.endswith("JacobianNM.time_jacobian")]
    if ok.empty or not {"depth", "width"} <= set(ok):
        return None
    shapes = ok[["depth", "width"]].dropna().drop_duplicates()
    return (int(shapes.iloc[0]["depth"]), int(shapes.iloc[0]["width"])) if len(shapes) == 1 else None


def model_fits(df) -> dict:
    """The cost model's fits for this run ({} where it has no width study with rates)."""
    pts, rate, _ = cm.inputs(df)
    if pts.empty or rate.empty:
        return {}
    train, _ = cm.split(pts)
    return cm.fit_all(train, rate)


def model_ratio(fits: dict, fw: str, op: str, n: int, m: int, depth: int, width: int) -> float | None:
    """The model's T_op / T_f(one input) at (n, m) of the MLP (depth, width); None unfitted."""
    if (fw, op) not in fits or (fw, "primal") not in fits:
        return None
    jac, primal = fits[fw, op], fits[fw, "primal"]
    t_j = float(jac.predict(*jac.work(op, n=n, m=m, depth=depth, width=width)))
    t_f = float(primal.predict(*primal.work("primal", n=n, m=m, depth=depth, width=width, batch=1)))
    return t_j / t_f


def build(df):
    ratios = fit.jacobian_ratios(df)
    if ratios.empty:
        raise MissingData("needs crossover.JacobianNM.time_jacobian and crossover.PrimalNM.time_primal")
    shape = grid_shape(df)
    fits = model_fits(df) if shape else {}
    fws = sorted(ratios.loc[ratios["op"].isin([fit.FORWARD, fit.REVERSE]), "framework"].unique())
    if not fws:
        raise MissingData(f"no {fit.FORWARD} or {fit.REVERSE} in crossover.JacobianNM")
    fig, axes = figure(ncols=2, nrows=len(fws), width=4.4, height=3.4, layout="constrained")
    for row, fw in zip(np.atleast_2d(axes), fws):
        for ax, (key, op, axis, other, title) in zip(row, PANELS):
            g = ratios[(ratios["framework"] == fw) & (ratios["op"] == op)]
            ax.set_title(f"{fw}: {title}")
            ax.set_xlabel(f"{axis} ({'inputs' if axis == 'n' else 'outputs'})")
            ax.set_ylabel("T_J / T_f (Jacobian time / primal time)")
            if g.empty:
                ax.text(0.5, 0.5, f"no {op} data", transform=ax.transAxes, ha="center")
                continue
            modelled = False
            for i, (value, h) in enumerate(g.groupby(other)):
                h = h.sort_values(axis)
                color = f"C{i % 10}"
                ax.plot(h[axis], h["ratio"], "o", ms=4, alpha=0.85, color=color,
                        label=f"{other} = {value}")
                xs = np.unique(np.geomspace(float(h[axis].min()), float(h[axis].max()), 40)
                               .round().astype(int))
                curve = [model_ratio(fits, fw, op, **{axis: int(x), other: int(value)},
                                     depth=shape[0], width=shape[1]) for x in xs] if fits else []
                if curve and None not in curve:
                    ax.plot(xs, curve, "-", lw=1, color=color)
                    modelled = True
            xs = np.geomspace(float(g[axis].min()), float(g[axis].max()), 50)
            ax.fill_between(xs, 2 * xs, 3 * xs, color="0.6", alpha=0.25, label="textbook c·" + axis
                            + ", c ∈ [2, 3]")
            if modelled:
                ax.plot([], [], "k-", lw=1, label="cost model")
            else:
                ax.text(0.98, 0.03, "no cost model for this run", transform=ax.transAxes,
                        ha="right", fontsize=7)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.legend(fontsize=6, loc="upper left")
    where = f" (MLP depth {shape[0]}, width {shape[1]})" if shape else ""
    fig.suptitle(f"Jacobian cost relative to the primal{where}: measured (dots) and the cost "
                 "model (lines)", fontsize=11)
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
