"""Crossover map: log2(T_jacfwd / T_jacrev) over the (n, m) grid, one panel per framework.

Blue cells: forward mode faster; red: reverse mode faster.  Black line: the measured
crossover (contour at 0); dashed: the fitted cost-model line n = (c_rev / c_fwd) · m.
"""
from __future__ import annotations

import sys

import numpy as np

from . import fit
from .plotting import MissingData, figure, frameworks_in, main_for

NAME = "crossover_map"


def build(df):
    fws = [fw for fw in frameworks_in(df, "JacobianNM.time_jacobian") if not fit.log2_fwd_over_rev(df, fw).empty]
    if not fws:
        raise MissingData("no framework has both jacfwd and jacrev in crossover.JacobianNM.time_jacobian")
    constants = fit.cost_constants(df)
    fig, axes = figure(ncols=len(fws), width=4.8, height=4.4, layout="constrained")
    limit = max(float(np.nanmax(np.abs(fit.log2_fwd_over_rev(df, fw).to_numpy()))) for fw in fws) or 1.0
    for ax, fw in zip(axes[0], fws):
        grid = fit.log2_fwd_over_rev(df, fw)
        n, m = grid.index.to_numpy(float), grid.columns.to_numpy(float)
        x, y = np.log2(m), np.log2(n)
        mesh = ax.pcolormesh(x, y, grid.to_numpy(float), cmap="RdBu_r", vmin=-limit, vmax=limit,
                             shading="nearest")
        for i, yi in enumerate(y):
            for j, xj in enumerate(x):
                v = grid.iat[i, j]
                if np.isfinite(v):
                    ax.text(xj, yi, f"{v:+.1f}", ha="center", va="center", fontsize=7)
        if len(x) > 1 and len(y) > 1 and np.nanmin(grid.to_numpy()) < 0 < np.nanmax(grid.to_numpy()):
            ax.contour(x, y, grid.to_numpy(float), levels=[0], colors="black", linewidths=1.5)
            ax.plot([], [], color="black", lw=1.5, label="measured crossover (T_fwd = T_rev)")
        c = constants.get(fw, {})
        if "fwd" in c and "rev" in c:
            ratio = fit.crossover_ratio(c["fwd"].c, c["rev"].c)
            ms = np.linspace(x.min(), x.max(), 50)
            ax.plot(ms, ms + np.log2(ratio), "k--", lw=1.2,
                    label=f"fit: n = {ratio:.2f}·m  (c_rev/c_fwd)")
        ax.set_xlim(x.min() - 0.5 * (x[1] - x[0] if len(x) > 1 else 1), x.max() + 0.5 * (x[-1] - x[-2] if len(x) > 1 else 1))
        ax.set_ylim(y.min() - 0.5 * (y[1] - y[0] if len(y) > 1 else 1), y.max() + 0.5 * (y[-1] - y[-2] if len(y) > 1 else 1))
        ax.set_xticks(x, [str(int(v)) for v in m])
        ax.set_yticks(y, [str(int(v)) for v in n])
        ax.set_xlabel("m, outputs (log2 scale)")
        ax.set_ylabel("n, inputs (log2 scale)")
        ax.set_title(f"{fw}: log2(T_jacfwd / T_jacrev)")
        ax.grid(False)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=7.5, frameon=False)
        fig.colorbar(mesh, ax=ax, label="log2 time ratio (<0: forward faster)")
    fig.suptitle("Forward vs reverse mode: where each wins (MLP, measured)", fontsize=11)
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
