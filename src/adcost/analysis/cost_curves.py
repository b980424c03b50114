"""Cost curves: T_J / T_f against n (forward mode) and against m (reverse mode), log-log.

Points: measured ratios of one framework, one colour per value of the other dimension.
Line: the fitted cost model T_J/T_f = c · n (or c · m), with the bootstrap 95 % CI of c in
the legend; the grey band is the theory range c ∈ [2, 3] (Baydin et al. 2018).
"""
from __future__ import annotations

import sys

import numpy as np

from . import fit
from .plotting import MissingData, figure, main_for

NAME = "cost_curves"
PANELS = (("fwd", fit.FORWARD, "n", "m", "forward mode (jacfwd) vs n"),
          ("rev", fit.REVERSE, "m", "n", "reverse mode (jacrev) vs m"))


def build(df):
    ratios = fit.jacobian_ratios(df)
    constants = fit.cost_constants(df)
    if ratios.empty or not constants:
        raise MissingData("needs crossover.JacobianNM.time_jacobian and crossover.PrimalNM.time_primal")
    fws = sorted(constants)
    fig, axes = figure(ncols=2, nrows=len(fws), width=4.4, height=3.4)
    for row, fw in zip(axes, fws):
        for ax, (key, op, axis, other, title) in zip(row, PANELS):
            g = ratios[(ratios["framework"] == fw) & (ratios["op"] == op)]
            ax.set_title(f"{fw}: {title}")
            ax.set_xlabel(f"{axis} ({'inputs' if axis == 'n' else 'outputs'})")
            ax.set_ylabel("T_J / T_f (Jacobian time / primal time)")
            if g.empty:
                ax.text(0.5, 0.5, f"no {op} data", transform=ax.transAxes, ha="center")
                continue
            for value, h in g.groupby(other):
                h = h.sort_values(axis)
                ax.plot(h[axis], h["ratio"], "o-", ms=4, lw=0.8, alpha=0.8, label=f"{other} = {value}")
            xs = np.geomspace(float(g[axis].min()), float(g[axis].max()), 50)
            ax.fill_between(xs, 2 * xs, 3 * xs, color="0.6", alpha=0.25, label="theory c ∈ [2, 3]")
            f = constants[fw].get(key)
            if f:
                ax.plot(xs, f.c * xs, "k--", lw=1.4,
                        label=f"fit c_{key} = {f.c:.2f} [{f.ci_lo:.2f}, {f.ci_hi:.2f}]")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Jacobian cost relative to the primal, with fitted constants (95 % bootstrap CI)", fontsize=11)
    fig.tight_layout()
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
