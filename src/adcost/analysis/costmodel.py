"""A cost model that explains and predicts the mlp problem's times: a fixed cost per call plus a
roofline term,

    T(op, point) = c0 + max(alpha * F / P,  beta * B / W)

F and B are the FLOPs and bytes one call of the operation moves at the point (`work`: analytic,
from the layer shapes), P the framework's matmul throughput (roofline.Matmul, flop/s) and W its
memory bandwidth (roofline.Bandwidth, bytes/s), both measured in the same run. c0 (seconds),
alpha and beta (how far the operation runs below the measured rates: 1 = at the rate) are
fitted per framework and mode by least squares on log T. The largest of the three terms names
the point's regime: overhead, memory or compute.

Only the vectorized Jacobians (jacfwd: all n tangents in one pass; jacrev: all m cotangents)
and the primal batched over k inputs are modelled; the loop modes are k single calls.
The fit uses part of the width grid and is judged on the widths it did not see (`split`,
`evaluate`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

REGIMES = ("overhead", "memory", "compute")
MODES = ("primal", "jacfwd", "jacrev")
ITEMSIZE = {"float32": 4, "float64": 8}
SIZES = ("n", "m", "width", "depth", "batch")
MIN_SECONDS = 100e-6        # the targets judge points of at least this many seconds


def layer_dims(n: int, m: int, depth: int, width: int) -> list[tuple[int, int]]:
    dims = [n] + [width] * depth + [m]
    return list(zip(dims[:-1], dims[1:]))


def work(op: str, n: int, m: int, depth: int, width: int, batch: int = 1,
         itemsize: int = 4) -> tuple[float, float]:
    """(FLOPs, bytes) of one call of `op` on mlp(n, m, depth, width): weights and biases read
    once per pass, activations written and read (pre-activation, bias add, tanh: three
    touches per value), tangents or cotangents pushed as one batch."""
    shapes = layer_dims(n, m, depth, width)
    weights = float(sum(a * b for a, b in shapes))
    outs = float(sum(b for _, b in shapes))          # values produced per input (biases too)
    ins = float(sum(a for a, _ in shapes))
    if op == "primal":
        k = batch
        return 2 * k * weights + 3 * k * outs, itemsize * (weights + outs + k * (n + 3 * outs))
    primal_f, primal_b = work("primal", n, m, depth, width, 1, itemsize)
    if op == "jacfwd":        # n tangents through every layer: (n, fan_in) @ W, times tanh'
        return (primal_f + 2 * n * weights + 2 * n * outs,
                primal_b + itemsize * (weights + n * n + 3 * n * outs))
    if op == "jacrev":        # m cotangents back through every layer: (m, fan_out) @ W^T
        return (primal_f + 2 * m * weights + 2 * m * ins,
                primal_b + itemsize * (weights + m * m + 3 * m * ins))
    raise ValueError(f"no cost model for {op!r}; modelled: {', '.join(MODES)}")


@dataclass
class ModeFit:
    """The fitted model of one framework and mode."""
    framework: str
    mode: str
    c0: float                 # seconds per call
    alpha: float              # compute efficiency: alpha * F / P seconds
    beta: float               # memory efficiency: beta * B / W seconds
    peak: float               # P, flop/s (measured)
    bandwidth: float          # W, bytes/s (measured)
    points: int
    spread: float             # 90th percentile of |log(T / model)| on the fit's points
    ranges: dict = field(default_factory=dict)   # size -> (lo, hi) of the fit's points

    def terms(self, flops, nbytes):
        flops, nbytes = np.asarray(flops, float), np.asarray(nbytes, float)
        return (np.full(np.shape(flops), self.c0), self.alpha * flops / self.peak,
                self.beta * nbytes / self.bandwidth)

    def predict(self, flops, nbytes):
        over, compute, memory = self.terms(flops, nbytes)
        return over + np.maximum(compute, memory)

    def regime(self, flops, nbytes):
        over, compute, memory = self.terms(flops, nbytes)
        stacked = np.stack(np.broadcast_arrays(over, memory, compute))
        return np.asarray(REGIMES)[np.argmax(stacked, axis=0)]

    def extrapolated(self, **sizes) -> bool:
        """Whether a point lies outside the sizes the model was fitted on."""
        return any(k in self.ranges and v is not None and not
                   (self.ranges[k][0] <= v <= self.ranges[k][1]) for k, v in sizes.items())

    def to_dict(self) -> dict:
        return asdict(self)


def fit_mode(seconds, flops, nbytes, peak: float, bandwidth: float, framework: str = "",
             mode: str = "", ranges: dict | None = None) -> ModeFit:
    """c0, alpha, beta by least squares on log T (scipy.optimize.least_squares, soft-L1)."""
    from scipy.optimize import least_squares

    t, f, b = (np.asarray(v, float) for v in (seconds, flops, nbytes))
    keep = np.isfinite(t) & (t > 0) & np.isfinite(f) & np.isfinite(b)
    t, f, b = t[keep], f[keep], b[keep]
    if len(t) < 3:
        raise ValueError(f"{framework} {mode}: {len(t)} points, the model needs at least 3")
    lt = np.log(t)

    def residual(theta):
        c0, alpha, beta = np.exp(theta)
        return np.log(c0 + np.maximum(alpha * f / peak, beta * b / bandwidth)) - lt

    start = np.log([max(t.min() / 2, 1e-9), 1.0, 1.0])
    best = None
    for shift in (0.0, 2.0, -2.0):       # a few starts: the max() makes the surface kinked
        res = least_squares(residual, start + [0.0, shift, -shift], loss="soft_l1", f_scale=0.1)
        if best is None or res.cost < best.cost:
            best = res
    c0, alpha, beta = np.exp(best.x)
    spread = float(np.quantile(np.abs(residual(best.x)), 0.9))
    return ModeFit(framework, mode, float(c0), float(alpha), float(beta), float(peak),
                   float(bandwidth), int(len(t)), spread, ranges or {})


# -- from the tidy data -----------------------------------------------------------------------

def rates(df: pd.DataFrame) -> pd.DataFrame:
    """Per framework: peak (best matmul flop/s) and bandwidth (best matvec bytes/s) of the run."""
    ok = df[df["status"] == "ok"]
    peak = ok[ok["benchmark"] == "roofline.Matmul.track_flops_per_s"].groupby("framework")["value"].max()
    band = ok[ok["benchmark"] == "roofline.Bandwidth.track_bytes_per_s"].groupby("framework")["value"].max()
    return pd.DataFrame({"peak": peak, "bandwidth": band}).dropna()


def points(df: pd.DataFrame, itemsize: int = 4) -> pd.DataFrame:
    """The width study's measured points with their FLOPs and bytes: framework, mode, n, m,
    width, depth, batch, seconds, flops, bytes."""
    ok = df[df["status"] == "ok"]
    jac = ok[ok["benchmark"] == "crossover.JacobianWidth.time_jacobian"]
    pri = ok[ok["benchmark"] == "crossover.PrimalWidth.time_primal"]
    rows = []
    for _, r in jac.iterrows():
        rows.append({"machine": r.get("machine"), "framework": r["framework"], "mode": r["op"],
                     "n": int(r["n"]), "m": int(r["m"]),
                     "width": int(r["width"]), "depth": int(r["depth"]), "batch": 1,
                     "seconds": float(r["value"])})
    for _, r in pri.iterrows():
        batch = {"n": int(r["n"]), "m": int(r["m"])}.get(str(r.get("k")), 1)
        rows.append({"machine": r.get("machine"), "framework": r["framework"], "mode": "primal",
                     "n": int(r["n"]), "m": int(r["m"]),
                     "width": int(r["width"]), "depth": int(r["depth"]), "batch": batch,
                     "seconds": float(r["value"])})
    out = pd.DataFrame(rows, columns=["machine", "framework", "mode", *SIZES, "seconds"])
    if out.empty:
        return out.assign(flops=[], bytes=[])
    fb = [work(r.mode, r.n, r.m, r.depth, r.width, r.batch, itemsize) for r in out.itertuples()]
    out["flops"], out["bytes"] = [f for f, _ in fb], [b for _, b in fb]
    return out


def split(pts: pd.DataFrame, by: str = "width") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit, held out): every other value of `by`, sorted, is held out, the smallest and the
    largest always fitted (held-out points lie inside the fitted range)."""
    values = sorted(pts[by].unique())
    held = set(values[1:-1:2]) if len(values) > 2 else set()
    mask = pts[by].isin(held)
    return pts[~mask], pts[mask]


def fit_all(pts: pd.DataFrame, rate: pd.DataFrame) -> dict[tuple[str, str], ModeFit]:
    """A ModeFit per (framework, mode) with at least 3 points and measured rates."""
    fits = {}
    for (fw, mode), g in pts.groupby(["framework", "mode"]):
        if fw not in rate.index or len(g) < 3:
            continue
        ranges = {k: (int(g[k].min()), int(g[k].max())) for k in SIZES}
        fits[fw, mode] = fit_mode(g["seconds"], g["flops"], g["bytes"], rate.loc[fw, "peak"],
                                  rate.loc[fw, "bandwidth"], fw, mode, ranges)
    return fits


def predictions(fits: dict, pts: pd.DataFrame) -> pd.DataFrame:
    """`pts` with the model's seconds, regime and relative error |model - T| / T."""
    out = pts.copy()
    out["predicted"] = np.nan
    out["regime"] = None
    for (fw, mode), fit in fits.items():
        sel = (out["framework"] == fw) & (out["mode"] == mode)
        if sel.any():
            out.loc[sel, "predicted"] = fit.predict(out.loc[sel, "flops"], out.loc[sel, "bytes"])
            out.loc[sel, "regime"] = fit.regime(out.loc[sel, "flops"], out.loc[sel, "bytes"])
    out["rel_error"] = (out["predicted"] - out["seconds"]).abs() / out["seconds"]
    return out


def evaluate(fits: dict, held: pd.DataFrame, min_seconds: float = MIN_SECONDS) -> pd.DataFrame:
    """Median and 90th-percentile relative prediction error per framework and mode on the
    held-out points of at least `min_seconds`."""
    pred = predictions(fits, held)
    pred = pred[(pred["seconds"] >= min_seconds) & pred["predicted"].notna()]
    rows = []
    for (fw, mode), g in pred.groupby(["framework", "mode"]):
        rows.append({"framework": fw, "mode": mode, "points": len(g),
                     "median_error": float(g["rel_error"].median()),
                     "p90_error": float(g["rel_error"].quantile(0.9)),
                     "regimes": ", ".join(f"{k} {v}" for k, v in g["regime"].value_counts().items())})
    return pd.DataFrame(rows, columns=["framework", "mode", "points", "median_error", "p90_error",
                                       "regimes"])


def crossover_n(fits: dict, framework: str, m: int, depth: int, width: int,
                itemsize: int = 4) -> float:
    """The n at which the model's jacfwd and jacrev take equal time (forward cheaper below it);
    nan when one of the two fits is missing or they do not cross for n in [1, 2^20]."""
    fwd, rev = fits.get((framework, "jacfwd")), fits.get((framework, "jacrev"))
    if fwd is None or rev is None:
        return math.nan

    def gap(log_n):
        n = max(1, int(round(math.exp(log_n))))
        f = fwd.predict(*work("jacfwd", n, m, depth, width, 1, itemsize))
        r = rev.predict(*work("jacrev", n, m, depth, width, 1, itemsize))
        return float(np.log(f) - np.log(r))

    grid = np.linspace(0, math.log(2 ** 20), 161)
    values = [gap(g) for g in grid]
    for a, b, va, vb in zip(grid[:-1], grid[1:], values[:-1], values[1:]):
        if va <= 0 < vb or va >= 0 > vb:
            return float(math.exp(a + (b - a) * va / (va - vb)))
    return math.nan


def measured_crossovers(pts: pd.DataFrame) -> pd.DataFrame:
    """Per (framework, width, m): the n where the measured jacfwd and jacrev times are equal,
    by linear interpolation of log(T_fwd / T_rev) in log n between the two measured n that
    bracket it (none when the sign does not change over the measured n)."""
    jac = pts[pts["mode"].isin(["jacfwd", "jacrev"])]
    wide = jac.pivot_table(index=["framework", "width", "m", "n"], columns="mode", values="seconds")
    rows = []
    if not {"jacfwd", "jacrev"} <= set(wide.columns):
        return pd.DataFrame(columns=["framework", "width", "m", "n_measured"])
    wide = wide.dropna()
    for (fw, width, m), g in wide.groupby(level=[0, 1, 2]):
        ns = g.index.get_level_values("n").to_numpy(float)
        gap = np.log(g["jacfwd"].to_numpy() / g["jacrev"].to_numpy())
        order = np.argsort(ns)
        ns, gap = ns[order], gap[order]
        for a, b, va, vb in zip(ns[:-1], ns[1:], gap[:-1], gap[1:]):
            if va <= 0 < vb or va >= 0 > vb:
                la, lb = math.log(a), math.log(b)
                rows.append({"framework": fw, "width": int(width), "m": int(m),
                             "n_measured": float(math.exp(la + (lb - la) * va / (va - vb)))})
                break
    return pd.DataFrame(rows, columns=["framework", "width", "m", "n_measured"])


def inputs(df: pd.DataFrame, itemsize: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The width study's points and the rates of the machine that measured them (never another
    machine's rates)."""
    pts = points(df, itemsize)
    if pts.empty:
        return pts, rates(df.iloc[:0])
    if "machine" in df and pts["machine"].notna().any():
        df = df[df["machine"].isin(set(pts["machine"].dropna()))]
    return pts, rates(df)


def report(df: pd.DataFrame, itemsize: int = 4) -> dict:
    """Everything the site and `advise` need from one run: the rates, the fits (on the fitted
    widths), the held-out errors, the crossovers measured and modelled, and how close the
    compute-bound points run to the measured matmul rate. {} without width results."""
    pts, rate = inputs(df, itemsize)
    if pts.empty or rate.empty:
        return {}
    train, held = split(pts)
    fits = fit_all(train, rate)
    errors = evaluate(fits, held)
    cross = measured_crossovers(pts)
    depth = int(pts["depth"].iloc[0])
    cross["n_model"] = [crossover_n(fits, r.framework, r.m, depth, r.width, itemsize)
                        for r in cross.itertuples()]
    cross["ratio"] = np.maximum(cross["n_model"] / cross["n_measured"],
                                cross["n_measured"] / cross["n_model"])
    pred = predictions(fits, pts)
    compute = pred[(pred["regime"] == "compute") & (pred["mode"] != "primal")]
    compute = compute.assign(flop_ratio=compute["seconds"] / (compute["flops"] /
                                                              compute["framework"].map(rate["peak"])))
    bound = compute.groupby("framework")["flop_ratio"].median()
    return {"rates": rate.reset_index(names="framework").to_dict("records"),
            "fitted_widths": sorted(int(w) for w in train["width"].unique()),
            "held_out_widths": sorted(int(w) for w in held["width"].unique()),
            "depth": depth,
            "fits": [f.to_dict() for f in fits.values()],
            "held_out": errors.to_dict("records"),
            "crossovers": cross.replace({np.nan: None}).to_dict("records"),
            "compute_bound": {fw: float(v) for fw, v in bound.items()},
            "min_seconds": MIN_SECONDS}


def fits_from(report_: dict) -> dict[tuple[str, str], ModeFit]:
    """The ModeFits of a report (as written to figures/cost_model.json)."""
    out = {}
    for f in report_.get("fits", []):
        f = dict(f)
        f["ranges"] = {k: tuple(v) for k, v in (f.get("ranges") or {}).items()}
        out[f["framework"], f["mode"]] = ModeFit(**f)
    return out


def variant_pairs():
    """(compiled, eager) framework pairs, one per Record.variant_of, the compiled side named by
    Record.compiled: (torch_compile, torch), (jax, jax_eager), (tf, tf_eager)."""
    from ..frameworks.base import records
    found = records()
    out = []
    for variant, rec in found.items():
        base = rec.variant_of
        if base is None or base not in found or rec.compiled == found[base].compiled:
            continue
        out.append((variant, base) if rec.compiled else (base, variant))
    return out


def break_even_row(compiled: str, eager: str, mode: str, compile_s: float, t_compiled: float,
                   t_eager: float, **sizes) -> dict:
    """One pair at one point: the calls after which compiling has paid (None: never)."""
    gain = t_eager - t_compiled
    return {"compiled": compiled, "eager": eager, "mode": mode, **sizes,
            "compile_s": float(compile_s), "t_compiled": float(t_compiled),
            "t_eager": float(t_eager), "speedup": float(t_eager / t_compiled),
            "break_even_calls": float(compile_s / gain) if gain > 0 else None}


def break_even(df: pd.DataFrame) -> list[dict]:
    """What compiling buys: per (compiled framework, eager framework, mode, n, m) of the
    crossover n x m grid, the compile seconds (crossover.Compile), the two times per call
    (PrimalNM for the primal, JacobianNM for the modes) and the break-even number of calls
    compile_s / (T_eager - T_compiled) after which the compiled variant has paid for its
    compile (None when it is not faster per call). Pairs come from Record.variant_of:
    torch_compile against torch, jax against jax_eager, tf against tf_eager."""
    ok = df[df["status"] == "ok"]
    comp = ok[ok["benchmark"] == "crossover.Compile.track_compile_s"]
    jac = ok[ok["benchmark"] == "crossover.JacobianNM.time_jacobian"]
    pri = ok[ok["benchmark"] == "crossover.PrimalNM.time_primal"].assign(op="primal")
    times = pd.concat([jac, pri]).groupby(["framework", "op", "n", "m"])["value"].median()
    compile_s = comp.groupby(["framework", "op", "n", "m"])["value"].median()
    rows = []
    for compiled, eager in variant_pairs():
        have = compile_s[compile_s.index.get_level_values("framework") == compiled]
        for (_, op, n, m), seconds in have.items():
            key_c, key_e = (compiled, op, n, m), (eager, op, n, m)
            if key_c in times.index and key_e in times.index:
                rows.append(break_even_row(compiled, eager, op, seconds, times[key_c],
                                           times[key_e], n=int(n), m=int(m)))
    return rows
