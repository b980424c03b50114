"""Mixed mode: where neither forward nor reverse mode is the cheapest order of the chain.

For each width profile of adcost.bracketing.PROFILES (hourglass, diamond, funnel, random) and
scale: the best pure mode's cost over the oracle's bracketing (fewest multiply-adds), as the
multiply-add count predicts it, as the time model predicts it (multiply-adds at NumPy's measured
matmul rate plus the bytes each product moves at the measured copy bandwidth:
second_order.Rates), and as measured (second_order.Bracketing, NumPy, float64).  Above 1: the
mixed bracketing wins by that factor.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import bracketing
from . import load
from .plotting import MissingData, figure, main_for

NAME = "oracle"
ORDERS = ("forward", "reverse", "optimal")


def oracle_table(df) -> pd.DataFrame:
    """One row per (profile, scale): widths, the oracle's bracketing, multiply-adds, predicted
    and measured seconds per order, and the three ratios best-pure / optimal."""
    t = load.measured(df, "Bracketing.time_product")
    if t.empty:
        return pd.DataFrame()
    rates_rows = load.measured(df, "Rates.track_madds_per_s"), load.measured(df, "Rates.track_bytes_per_s")
    rates = None
    if not rates_rows[0].empty and not rates_rows[1].empty:
        rates = {"madds_per_s": float(rates_rows[0]["value"].iloc[0]),
                 "bytes_per_s": float(rates_rows[1]["value"].iloc[0]), "itemsize": 8}
    rows = []
    for (profile, scale), g in t.groupby(["profile", "scale"]):
        widths = bracketing.profile_widths(str(profile), int(scale))
        measured = {o: g.loc[g["order"] == o, "value"] for o in ORDERS}
        if any(v.empty for v in measured.values()):
            continue
        m = {o: float(v.iloc[0]) for o, v in measured.items()}
        madds = {o: bracketing.bracketing_cost(widths, o) for o in ORDERS}
        row = {"profile": profile, "scale": int(scale), "widths": list(widths),
               "optimal": bracketing.describe(bracketing.resolve(widths, "optimal")),
               **{f"madds_{o}": madds[o] for o in ORDERS}, **{f"seconds_{o}": m[o] for o in ORDERS},
               "madds_ratio": min(madds["forward"], madds["reverse"]) / madds["optimal"],
               "measured_ratio": min(m["forward"], m["reverse"]) / m["optimal"]}
        if rates:
            p = {o: bracketing.predicted_seconds(widths, o, rates) for o in ORDERS}
            row.update({f"predicted_{o}": p[o] for o in ORDERS},
                       model_ratio=min(p["forward"], p["reverse"]) / p["optimal"])
            row["model_error"] = row["model_ratio"] / row["measured_ratio"] - 1
        row["min_seconds"] = min(m.values())
        rows.append(row)
    return pd.DataFrame(rows)


def build(df):
    table = oracle_table(df)
    if table.empty:
        raise MissingData("no second_order.Bracketing results")
    fig, axes = figure(ncols=2, width=6.0, height=4.2)
    axes = axes.ravel()
    ax = axes[0]
    labels = [f"{p}\n{s}" for p, s in zip(table["profile"], table["scale"])]
    x = np.arange(len(table))
    bars = [("madds_ratio", "multiply-adds", "0.75")]
    if "model_ratio" in table:
        bars.append(("model_ratio", "time model (madds + bytes)", "C0"))
    bars.append(("measured_ratio", "measured (NumPy)", "C3"))
    width = 0.8 / len(bars)
    for k, (column, label, color) in enumerate(bars):
        ax.bar(x + (k - (len(bars) - 1) / 2) * width, table[column], width, label=label, color=color)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("best pure mode / oracle's bracketing")
    ax.set_title("how much the mixed bracketing saves", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1]
    for i, row in table.iterrows():
        ax.scatter([row[f"seconds_{o}"] for o in ORDERS], [row.get(f"predicted_{o}", np.nan) for o in ORDERS],
                   marker="o", label=f"{row['profile']} {row['scale']}")
    lo = float(table[[f"seconds_{o}" for o in ORDERS]].min().min())
    hi = float(table[[f"seconds_{o}" for o in ORDERS]].max().max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="predicted = measured")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured seconds (forward, reverse, optimal)")
    ax.set_ylabel("time model's seconds")
    ax.set_title("time model against measurement", fontsize=9)
    ax.legend(fontsize=6)
    text = "; ".join(f"{r.profile} {r.widths}: {r.optimal}" for r in table.itertuples()
                     if r.scale == table["scale"].min())
    fig.suptitle("Mixed-mode oracle: best pure mode over the cheapest bracketing\n" + text,
                 fontsize=8.5)
    fig.tight_layout()
    return fig


main = main_for(NAME, build, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
