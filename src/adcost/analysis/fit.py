"""The study's fits, as pure functions on arrays and tidy frames (no plotting, no files).

Cost model (Baydin et al. 2018): T_jacfwd ≈ c_fwd · n · T_f and T_jacrev ≈ c_rev · m · T_f,
so forward mode is cheaper while n < (c_rev / c_fwd) · m.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

FORWARD, REVERSE = "jacfwd", "jacrev"


@dataclass(frozen=True)
class CostFit:
    """y ≈ c · x through the origin; c with a bootstrap confidence interval; r2 of that line."""
    c: float
    ci_lo: float
    ci_hi: float
    r2: float
    points: int


def proportional(x, y) -> float:
    """c minimising the relative error of y ≈ c·x: Σ((y − c x)/y)² → c = Σ(x/y) / Σ(x²/y²)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.sum(x / y) / np.sum((x / y) ** 2))


def r_squared(x, y, c: float) -> float:
    """R² of the line y = c·x on log scale (the data span decades; linear R² would be the largest point's)."""
    ly, lp = np.log(np.asarray(y, float)), np.log(c * np.asarray(x, float))
    total = np.sum((ly - ly.mean()) ** 2)
    return float(1 - np.sum((ly - lp) ** 2) / total) if total > 0 else float("nan")


def fit_cost(x, y, confidence: float = 0.95, resamples: int = 999, seed: int = 0) -> CostFit:
    """Fit y ≈ c·x with a paired percentile bootstrap CI (scipy.stats.bootstrap)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[keep], y[keep]
    if len(x) == 0:
        return CostFit(math.nan, math.nan, math.nan, math.nan, 0)
    c = proportional(x, y)
    lo = hi = c
    if len(x) >= 3 and np.ptp(y / x) > 0:
        res = stats.bootstrap((x, y), lambda a, b, axis=-1: np.sum(a / b, axis) / np.sum((a / b) ** 2, axis),
                              paired=True, vectorized=True, n_resamples=resamples,
                              confidence_level=confidence, method="percentile",
                              random_state=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return CostFit(c, lo, hi, r_squared(x, y, c), int(len(x)))


def jacobian_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """T_J / T_f per (framework, op, n, m) from JacobianNM and PrimalNM rows of the tidy data."""
    ok = df[df["status"] == "ok"]
    jac = ok[ok["benchmark"].str.endswith("JacobianNM.time_jacobian")]
    primal = ok[ok["benchmark"].str.endswith("PrimalNM.time_primal")]
    if jac.empty or primal.empty:
        return pd.DataFrame(columns=["framework", "op", "n", "m", "time", "primal", "ratio"])
    keys = ["framework", "n", "m"]
    p = primal.groupby(keys, as_index=False)["value"].median().rename(columns={"value": "primal"})
    j = jac.groupby(keys + ["op"], as_index=False)["value"].median().rename(columns={"value": "time"})
    out = j.merge(p, on=keys)
    out["ratio"] = out["time"] / out["primal"]
    return out[["framework", "op", "n", "m", "time", "primal", "ratio"]]


def cost_constants(df: pd.DataFrame, **kw) -> dict[str, dict[str, CostFit]]:
    """{framework: {"fwd": fit of T_jacfwd/T_f vs n, "rev": fit of T_jacrev/T_f vs m}}."""
    ratios = jacobian_ratios(df)
    out = {}
    for fw, group in ratios.groupby("framework"):
        fits = {}
        for key, op, axis in (("fwd", FORWARD, "n"), ("rev", REVERSE, "m")):
            g = group[group["op"] == op]
            if not g.empty:
                fits[key] = fit_cost(g[axis].astype(float), g["ratio"], **kw)
        if fits:
            out[fw] = fits
    return out


MIN_LINEAR_S = 100e-6   # the linearity test reads points where the operation takes this long


def affine_r2(x, y) -> float:
    """R² of the least-squares line y = a + b·x (linear scale); nan under 3 points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan")
    b, a = np.polyfit(x, y, 1)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - (a + b * x)) ** 2) / total) if total > 0 else float("nan")


def linearity(df: pd.DataFrame, min_time: float = MIN_LINEAR_S) -> dict[str, dict[str, tuple[float, int]]]:
    """{framework: {"fwd": (R², lines), "rev": ...}}: is T_jacfwd / T_f linear in n at each fixed m
    (T_jacrev / T_f in m at each fixed n)?  An affine fit per fixed m (n) over the grid points
    where the Jacobian took at least `min_time`, lines of 3 points or more; the median R²."""
    ratios = jacobian_ratios(df)
    out = {}
    for fw, group in ratios.groupby("framework"):
        for key, op, axis, other in (("fwd", FORWARD, "n", "m"), ("rev", REVERSE, "m", "n")):
            g = group[(group["op"] == op) & (group["time"] >= min_time)]
            r2 = [affine_r2(h[axis], h["ratio"]) for _, h in g.groupby(other) if len(h) >= 3]
            out.setdefault(fw, {})[key] = (float(np.median(r2)) if r2 else float("nan"), len(r2))
    return out


def crossover_ratio(c_fwd: float, c_rev: float) -> float:
    """Forward mode wins while n < ratio · m."""
    return c_rev / c_fwd


def mode_grid(df: pd.DataFrame, framework: str, op: str) -> pd.DataFrame:
    """Median JacobianNM seconds of one (framework, op) as an n × m table (rows n, columns m)."""
    ok = df[(df["status"] == "ok") & df["benchmark"].str.endswith("JacobianNM.time_jacobian")
            & (df["framework"] == framework) & (df["op"] == op)]
    if ok.empty:
        return pd.DataFrame()
    return ok.pivot_table(index="n", columns="m", values="value", aggfunc="median").sort_index().sort_index(axis=1)


def log2_fwd_over_rev(df: pd.DataFrame, framework: str) -> pd.DataFrame:
    """log2(T_jacfwd / T_jacrev) on the (n, m) grid: negative where forward mode is faster."""
    fwd, rev = mode_grid(df, framework, FORWARD), mode_grid(df, framework, REVERSE)
    if fwd.empty or rev.empty:
        return pd.DataFrame()
    return np.log2(fwd / rev).dropna(how="all").dropna(axis=1, how="all")


def flop_ratio(df: pd.DataFrame, op: str, over: str = "primal") -> dict[str, float]:
    """Median over (n, m) of flops(op) / flops(primal) per framework: ω for op = vjp or jvp."""
    ok = df[(df["status"] == "ok") & df["benchmark"].str.endswith("Flops.track_flops")]
    out = {}
    for fw, g in ok.groupby("framework"):
        t = g.pivot_table(index=["n", "m"], columns="op", values="value", aggfunc="median")
        if op in t and over in t:
            r = (t[op] / t[over]).dropna()
            if len(r):
                out[fw] = float(r.median())
    return out


def best_matmul_fraction(df: pd.DataFrame) -> dict[str, float]:
    """Best achieved FLOP/s of a Jacobian mode (Flops count / JacobianNM time) over the best matmul FLOP/s."""
    ok = df[df["status"] == "ok"]
    flops = ok[ok["benchmark"].str.endswith("Flops.track_flops")]
    times = ok[ok["benchmark"].str.endswith("JacobianNM.time_jacobian")]
    matmul = ok[ok["benchmark"].str.endswith("Matmul.track_flops_per_s")]
    if "machine" in ok:   # the machine's own matmul rate, never another machine's
        matmul = matmul[matmul["machine"].isin(set(times["machine"]))]
    peak = matmul.groupby("framework")["value"].max()
    keys = ["framework", "op", "n", "m"]
    rate = flops.groupby(keys, as_index=False)["value"].median().merge(
        times.groupby(keys, as_index=False)["value"].median(), on=keys, suffixes=("_flop", "_s"))
    rate["flops_per_s"] = rate["value_flop"] / rate["value_s"]
    best = rate.groupby("framework")["flops_per_s"].max()
    return {fw: float(best[fw] / peak[fw]) for fw in best.index if fw in peak.index and peak[fw] > 0}


# -- memory -------------------------------------------------------------------------------
def binomial_checkpoints(depth: int, sweeps: int) -> int:
    """Fewest checkpoints c with C(c + r, c) ≥ depth (revolve: r recomputation sweeps)."""
    c = 0
    while math.comb(c + sweeps, c) < depth:
        c += 1
    return c


def sqrt_reference(depth, unit: float):
    """Chen et al. 2016: √L segments of √L layers keep about 2√L activations."""
    return 2 * np.sqrt(np.asarray(depth, float)) * unit


def binomial_reference(depth, unit: float, sweeps: int = 3):
    return np.array([binomial_checkpoints(int(d), sweeps) for d in np.atleast_1d(depth)], float) * unit


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Rows not dominated in (x, y), both smaller-is-better, sorted by x."""
    p = points.dropna(subset=[x, y]).sort_values([x, y])
    keep, best = [], math.inf
    for idx, row in p.iterrows():
        if row[y] < best:
            keep.append(idx)
            best = row[y]
    return p.loc[keep]


def loglog_slope(x, y) -> float:
    """Slope of log y on log x (e.g. ≈ 0.5 for √L memory, 1 for storing every layer)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = (x > 0) & (y > 0)
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])
