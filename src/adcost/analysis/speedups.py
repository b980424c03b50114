"""Loop vs vectorized vs compiled: speed-up of every Jacobian mode over the plain loop.

Left panels: T(loop) / T(mode) at n = m, per framework (above 1: faster than the loop of
JVPs/VJPs); forward-family modes are compared with jacfwd_loop, the others with jacrev_loop.
Right: compilation seconds (crossover.Compile.track_compile_s) against n, where measured.
"""
from __future__ import annotations

import sys

import numpy as np

from .advise import forward_family

from . import load
from .plotting import MissingData, figure, main_for

NAME = "speedups"
COMPILE_SHOWN = ("primal", "jacfwd", "jacrev")


def baseline_of(op: str) -> str:
    return "jacfwd_loop" if forward_family(op) else "jacrev_loop"


def speedup_table(df):
    """Per (framework, op, n, m): loop time / mode time, for modes with a loop baseline."""
    ok = load.measured(df, "JacobianNM.time_jacobian")
    t = ok.pivot_table(index=["framework", "n", "m"], columns="op", values="value", aggfunc="median")
    rows = []
    for (fw, n, m), r in t.iterrows():
        for op, v in r.items():
            base = baseline_of(op)
            if op.endswith("_loop") or base not in r or not np.isfinite(v) or not np.isfinite(r[base]):
                continue
            rows.append({"framework": fw, "op": op, "n": n, "m": m, "speedup": r[base] / v, "baseline": base})
    import pandas as pd
    return pd.DataFrame(rows)


def build(df):
    s = speedup_table(df)
    compile_s = load.measured(df, "Compile.track_compile_s")
    if compile_s["op"].isin(COMPILE_SHOWN).any():   # a readable panel: the two vectorized modes and f
        compile_s = compile_s[compile_s["op"].isin(COMPILE_SHOWN)]
    if s.empty and compile_s.empty:
        raise MissingData("no loop baseline in crossover.JacobianNM and no crossover.Compile results")
    fws = sorted(s["framework"].unique()) if not s.empty else []
    fig, axes = figure(ncols=len(fws) + 1, width=4.2, height=3.6)
    for ax, fw in zip(axes[0], fws):
        g = s[(s["framework"] == fw) & (s["n"] == s["m"])]
        for op, h in g.groupby("op"):
            h = h.sort_values("n")
            ax.plot(h["n"], h["speedup"], "o-", ms=4, label=f"{op} vs {h['baseline'].iat[0]}")
        ax.axhline(1, color="k", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n = m (inputs = outputs)")
        ax.set_ylabel("speed-up over the loop (×)")
        ax.set_title(f"{fw}: vectorized modes vs loops")
        ax.legend(fontsize=7)
    ax = axes[0][-1]
    if compile_s.empty:
        ax.text(0.5, 0.5, "no compile-time results", transform=ax.transAxes, ha="center")
    for (fw, op), h in compile_s.groupby(["framework", "op"]):
        h = h.groupby("n", as_index=False)["value"].median()
        ax.plot(h["n"], h["value"], "s-", ms=4, label=f"{fw} {op}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (inputs), median over m")
    ax.set_ylabel("compile / trace time (s)")
    ax.set_title("compilation, paid once")
    if not compile_s.empty:
        ax.legend(fontsize=7)
    fig.suptitle("Loops vs vectorized (vmap/pfor) vs compiled Jacobians", fontsize=11)
    fig.tight_layout()
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
