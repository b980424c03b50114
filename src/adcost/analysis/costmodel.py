"""A cost model that explains and predicts the mlp problem's times: a fixed cost per call and
per direction, a roofline term, and the passes over the weights that do not overlap with it,

    T(op, point) = c0 + c1 * k + max(alpha * F / P,  beta * B / W) + delta * B_w / W + c2 * E
                   + c3 * L

F and B are the FLOPs and bytes one call of the operation moves at the point (`work`: analytic,
from the layer shapes), B_w the bytes of the weights and biases (read once per pass), k the
directions pushed (n tangents, m cotangents, the primal's batch), P the framework's matmul
throughput (roofline.Matmul, flop/s) and W its memory bandwidth (roofline.Bandwidth, bytes/s),
both measured in the same run. W depends on where the weights live: the matrix-vector products
of the roofline run at several sizes (1 to 64 MiB in the full grid), and a call whose weights
(B_w) fit in a matvec's matrix that ran at cache speed reads them at that speed, since the
weights stay in cache from one call to the next: W(B_w) is the best rate of the matvecs at
least B_w large (the largest size's beyond it; `bandwidth_at`). With one size, W is that
size's rate. E is the entries of the result a call assembles (the Jacobian's n m), L the
entries of the output layer's weight (width m) where jacfwd reads it transposed (0 in the other
modes: `work`). c0 (seconds), c1 (seconds per direction, whatever the width), c2 (seconds per
entry of the result beyond the roofline's bytes: TensorFlow's jacfwd transposes its n x m
result at about 1 GB/s), c3 (seconds per entry of the output layer's weight in jacfwd: JAX's
jacfwd returns its (m, n) result with the tangents last, so XLA contracts that weight over its
first axis, at about 2 ns an entry on the AMD VM), alpha and beta (how far the operation runs
below the measured rates: 1 = at the rate) and delta (the weight passes outside the
roofline: 0 when the weights are read only while the matmuls run, about 1 when a second pass
reads them again, far above 1 when the framework copies or transposes them each call) are
fitted per framework and mode by least squares on log T. The largest of overhead (c0 + c1 k),
compute (alpha F / P) and memory (beta B / W + delta B_w / W + c2 E + c3 L) names the point's
regime.

Only the vectorized Jacobians (jacfwd: all n tangents in one pass; jacrev: all m cotangents;
JAX's jacfwd_vmap: jacfwd's tangents with their axis first, its output layer read as the others
and its result copied once) and the primal batched over k inputs are modelled; the loop modes
are k single calls.
The fit uses part of the width grid and is judged on the widths it did not see (`split`,
`evaluate`).
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import pickle
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..frameworks.base import variant_pairs   # the (compiled, eager) pairs of break_even

REGIMES = ("overhead", "memory", "compute")
MODES = ("primal", "jacfwd", "jacfwd_vmap", "jacrev")
ITEMSIZE = {"float32": 4, "float64": 8}
SIZES = ("n", "m", "width", "depth", "batch")
MIN_SECONDS = 100e-6        # the targets judge points of at least this many seconds


def layer_dims(n: int, m: int, depth: int, width: int) -> list[tuple[int, int]]:
    dims = [n] + [width] * depth + [m]
    return list(zip(dims[:-1], dims[1:]))


class Work(NamedTuple):
    """What one call moves: FLOPs, bytes, the bytes of the weights and biases among them, the
    directions it pushes (tangents, cotangents, or the primal's inputs), the entries of the
    result it assembles (the Jacobian's n m; the batched primal's k m outputs) and, in jacfwd,
    the entries of the output layer's weight (its fan-in times m), which a result laid out
    (m, n) has contracted over its first axis."""
    flops: float
    bytes: float
    weights: float
    directions: float
    entries: float = 0.0
    out_weight: float = 0.0


def work(op: str, n: int, m: int, depth: int, width: int, batch: int = 1,
         itemsize: int = 4) -> Work:
    """(FLOPs, bytes, weight bytes) of one call of `op` on mlp(n, m, depth, width): weights and
    biases read once per pass, activations written and read (pre-activation, bias add, tanh:
    three touches per value), tangents or cotangents pushed as one batch."""
    shapes = layer_dims(n, m, depth, width)
    last = float(shapes[-1][0] * shapes[-1][1])
    weights = float(sum(a * b for a, b in shapes))
    outs = float(sum(b for _, b in shapes))          # values produced per input (biases too)
    ins = float(sum(a for a, _ in shapes))
    held = itemsize * (weights + outs)
    if op == "primal":
        k = batch
        return Work(2 * k * weights + 3 * k * outs, itemsize * (weights + outs + k * (n + 3 * outs)),
                    held, float(k), float(k * m))
    primal_f, primal_b, *_ = work("primal", n, m, depth, width, 1, itemsize)
    # jacfwd: n tangents through every layer, (n, fan_in) @ W times tanh'; its result, laid out
    # (m, n) with the tangents last, has the output layer's weight contracted over its first
    # axis (JAX: XLA's CPU dot reads it transposed; jax.jacfwd took 6x a vmap(jvp) whose result
    # is (n, m), at width 256, m = 1024: docs/costmodel.md).  One tangent's (m, 1) result is its
    # (1, m) one: no transposed read (JAX's jacfwd at n = 1, width 64, m = 1024 took 1.06 primals,
    # where the read at its fitted 2.5 ns an entry would make it 4.3)
    if op == "jacfwd":
        return Work(primal_f + 2 * n * weights + 2 * n * outs,
                    primal_b + itemsize * (weights + n * n + 3 * n * outs), held, float(n),
                    float(n * m), last if n > 1 else 0.0)
    # jacfwd_vmap (JAX): the same n tangents with the tangents' axis first, so the output layer's
    # weight is read as the other layers' (no c3 L), and its (n, m) result copied once to
    # (m, n) (read and written: 2 n m values more)
    if op == "jacfwd_vmap":
        return Work(primal_f + 2 * n * weights + 2 * n * outs,
                    primal_b + itemsize * (weights + n * n + 3 * n * outs + 2 * n * m), held,
                    float(n), float(n * m), 0.0)
    if op == "jacrev":        # m cotangents back through every layer: (m, fan_out) @ W^T
        return Work(primal_f + 2 * m * weights + 2 * m * ins,
                    primal_b + itemsize * (weights + m * m + 3 * m * ins), held, float(m),
                    float(n * m))
    raise ValueError(f"no cost model for {op!r}; modelled: {', '.join(MODES)}")


def bandwidth_at(bandwidth: float, curve, footprint) -> np.ndarray:
    """W for a call whose weights take `footprint` bytes: the best rate of the matvecs whose
    matrix is at least that large (a working set that fits where a matvec's did runs at least
    that fast), `bandwidth` (the largest matvec's) beyond the largest or without a curve.
    `curve`: (matrix bytes, bytes/s) pairs of the run's matvecs."""
    footprint = np.asarray(footprint, float)
    out = np.full(np.shape(footprint), float(bandwidth))
    for size, rate in curve or ():
        out = np.where(footprint <= size, np.maximum(out, rate), out)
    return out


PRODUCTS = "roofline.RowProducts.track_seconds"


def product_table(records) -> dict:
    """{orient: log seconds over (log rows, log size), a scipy RegularGridInterpolator} from
    [orient, rows, size, seconds] records (roofline.RowProducts), and "call": the smallest
    product's seconds (the call's own cost); an orient whose rows x sizes grid has a hole, or
    fewer than two of either, is left out."""
    from scipy.interpolate import RegularGridInterpolator

    frame = pd.DataFrame(list(records or []), columns=["orient", "rows", "size", "seconds"])
    out = {}
    for orient, g in frame.groupby("orient"):
        grid = g.pivot_table(index="rows", columns="size", values="seconds", aggfunc="median")
        if grid.isna().any().any() or min(grid.shape) < 2:
            continue
        out[orient] = RegularGridInterpolator(
            (np.log(grid.index.to_numpy(float)), np.log(grid.columns.to_numpy(float))),
            np.log(grid.to_numpy(float)))
    if out:
        out["call"] = float(frame["seconds"].min())
    return out


def product_seconds(table: dict, orient: str, rows, a, b, peak: float):
    """Seconds of `rows` rows through an (a x b) weight (scalars or arrays), from the measured
    products of square (size x size) weights: at size sqrt(a b) (the same multiply-adds per
    row), less the smallest product's time (the call's own cost, which the model counts in
    c0), and never below its FLOPs at the matmul rate; bilinear in log rows and log size
    inside the measured grid, and beyond it the nearest edge scaled by rows and by size^2
    (FLOPs)."""
    interp = table[orient]
    (ks, ss) = interp.grid
    rows, a, b = np.broadcast_arrays(*(np.asarray(v, float) for v in (rows, a, b)))
    size = np.sqrt(a * b)
    lk = np.clip(np.log(rows), ks[0], ks[-1])
    ls = np.clip(np.log(size), ss[0], ss[-1])
    t = np.exp(interp(np.stack([lk, ls], axis=-1))) * (rows / np.exp(lk)) * (size / np.exp(ls)) ** 2
    out = np.maximum(t - table["call"], 2.0 * rows * a * b / peak)
    return float(out) if out.ndim == 0 else out


def product_work(table: dict, op: str, n: int, m: int, depth: int, width: int, batch: int,
                 peak: float) -> float:
    """The seconds of the products one call of `op` makes on mlp(n, m, depth, width), from the
    run's measured row products: the primal pushes its batch's rows through each layer; jacfwd
    (and jacfwd_vmap) a single primal and n tangent rows forward; jacrev a single primal and m cotangent rows
    back through each layer's transpose ("T")."""
    a, b = np.array(layer_dims(n, m, depth, width), float).T

    def through(rows, orient):
        return float(np.sum(product_seconds(table, orient, rows, a, b, peak)))
    if op == "primal":
        return through(batch, "N")
    if op in ("jacfwd", "jacfwd_vmap"):
        return through(1, "N") + through(n, "N")
    if op == "jacrev":
        return through(1, "N") + through(m, "T")
    raise ValueError(f"no cost model for {op!r}; modelled: {', '.join(MODES)}")


def terms(c0, alpha, beta, delta, c1, peak, bandwidth, flops, nbytes, weights=0.0, directions=0.0,
          curve=None, c2=0.0, entries=0.0, c3=0.0, out_weight=0.0, pass_curve=None):
    """The model's four terms in seconds: overhead c0 + c1 k, compute alpha F / P, roofline
    memory beta B / W, and the passes outside the roofline: over the weights, delta B_w / W
    with W = bandwidth_at(B_w) (or, given `pass_curve`, the copies' rate at B_w: pass_rate),
    over the result, c2 E (E its entries), and over the output layer's weight where jacfwd
    reads it transposed, c3 L (L its entries)."""
    flops, nbytes = np.asarray(flops, float), np.asarray(nbytes, float)
    weights = np.asarray(weights, float)
    w = bandwidth_at(bandwidth, curve, weights)
    passes = w if not pass_curve else pass_rate(pass_curve, weights)
    return (c0 + c1 * np.asarray(directions, float) + np.zeros(np.shape(flops)),
            alpha * flops / peak, beta * nbytes / w,
            delta * weights / passes + c2 * np.asarray(entries, float)
            + c3 * np.asarray(out_weight, float))


def pass_rate(pass_curve, footprint) -> np.ndarray:
    """The rate of a pass that copies weights of `footprint` bytes: bandwidth_at over the run's
    copies (roofline.Copy: (matrix bytes, bytes/s of the matrix read), the largest's beyond
    it).  A copy writes what it reads, and on the Intel VM (2026-12-04, one thread) its rate
    fell from 4 to 64 MiB where a matvec's did not: the run's copies 13.4 and 6.1 GB/s, its
    matvecs 27.6 and 27.5."""
    return bandwidth_at(pass_curve[-1][1], pass_curve, footprint)


def model_time(over, compute, memory, passes):
    """T from the four terms: overhead + max(compute, memory) + weight passes."""
    return over + np.maximum(compute, memory) + passes


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
    delta: float = 0.0        # weight passes outside the roofline: delta * B_w / W seconds
    c1: float = 0.0           # seconds per direction: c1 * k
    curve: list = field(default_factory=list)   # [matrix bytes, bytes/s] of the run's matvecs
    c2: float = 0.0           # seconds per entry of the result: c2 * E
    # seconds per entry of the output layer's weight read transposed (jacfwd): c3 * L
    c3: float = 0.0
    # what F / P counts: "flops" (the analytic FLOPs at the matmul rate P) or "products" (the
    # run's measured row products, roofline.RowProducts: F / P = their seconds; fit_all)
    compute_from: str = "flops"
    products: list = field(default_factory=list)   # [orient, rows, size, seconds] measured
    mean_square: float = 0.0  # mean of log(T / model)^2 on the fit's points
    # the framework's pooled_error in each compute form fitted (fit_all chose the smaller)
    compute_errors: dict = field(default_factory=dict)
    # what the weight passes' W is: "read" (the matvecs' curve, `curve`) or "copy" (the run's
    # copies, `pass_curve`: pass_rate); fit_all keeps the one that fits better
    passes_from: str = "read"
    pass_curve: list = field(default_factory=list)   # [matrix bytes, bytes/s] of the copies
    # the framework's pooled_error with each passes' rate fitted (fit_all chose the smaller)
    pass_errors: dict = field(default_factory=dict)

    def work(self, op: str, n: int, m: int, depth: int, width: int, batch: int = 1,
             itemsize: int = 4) -> Work:
        """`work` of one call, its FLOPs read as this fit reads them: with compute_from
        "products", the measured products' seconds times P (so alpha F / P is alpha times
        their seconds)."""
        moved = work(op, n, m, depth, width, batch, itemsize)
        if self.compute_from != "products":
            return moved
        return moved._replace(flops=product_work(self.table, op, n, m, depth, width, batch,
                                                 self.peak) * self.peak)

    @functools.cached_property
    def table(self) -> dict:
        """product_table of the fit's measured products (read once)."""
        return product_table(self.products)

    def terms(self, flops, nbytes, weights=0.0, directions=0.0, entries=0.0, out_weight=0.0):
        """(overhead, compute, roofline memory, passes outside it) in seconds."""
        return terms(self.c0, self.alpha, self.beta, self.delta, self.c1, self.peak,
                     self.bandwidth, flops, nbytes, weights, directions, self.curve, self.c2,
                     entries, self.c3, out_weight,
                     self.pass_curve if self.passes_from == "copy" else None)

    def predict(self, flops, nbytes, weights=0.0, directions=0.0, entries=0.0, out_weight=0.0):
        return model_time(*self.terms(flops, nbytes, weights, directions, entries, out_weight))

    def regime(self, flops, nbytes, weights=0.0, directions=0.0, entries=0.0, out_weight=0.0,
               roofline_flops=None):
        """The largest of the model's terms: overhead (c0 + c1 k), memory (the roofline's bytes
        and the passes outside it) or compute.  In the products form the compute term is the
        measured products' time, their FLOPs and their reads together; where it is the largest,
        the analytic roofline names the regime: compute where F / P is at least B / W (F the
        analytic FLOPs, `roofline_flops`; W the bandwidth at the weights' footprint), else
        memory; and overhead where the call's own cost (c0 + c1 k) is at least both.  Measured
        on the Intel VM (2026-12-04): 4 rows through a width-2048 weight took 4.5x their FLOPs'
        time at the matmul rate, 1.5x the weight's read at the bandwidth.  And (2026-12-05)
        TensorFlow's product of a row costs about 160 us at any size, which the products' term
        leaves out (the smallest product's time, counted in c0): what is left at width 16 is that
        call cost's spread, 10-20 us a product, which summed over the layers made the products'
        term the largest where the analytic FLOPs take 1.5 us of a 300-us call."""
        over, compute, memory, passes = self.terms(flops, nbytes, weights, directions, entries,
                                                   out_weight)
        stacked = np.stack(np.broadcast_arrays(over, memory + passes, compute))
        label = np.asarray(REGIMES)[np.argmax(stacked, axis=0)]
        if self.compute_from == "products":
            if roofline_flops is None:
                raise ValueError("the products form names a regime from the analytic FLOPs: "
                                 "pass roofline_flops (regime_at does)")
            read = np.asarray(nbytes, float) / bandwidth_at(self.bandwidth, self.curve, weights)
            roof = np.asarray(roofline_flops, float) / self.peak
            label = np.where(label != "compute", label,
                             np.where(over >= np.maximum(roof, read), "overhead",
                                      np.where(roof < read, "memory", "compute")))
        return label

    def regime_at(self, op: str, n: int, m: int, depth: int, width: int, batch: int = 1,
                  itemsize: int = 4) -> str:
        """`regime` of one call of `op` on mlp(n, m, depth, width)."""
        return str(self.regime(*self.work(op, n, m, depth, width, batch, itemsize),
                               roofline_flops=work(op, n, m, depth, width, batch, itemsize).flops))

    def extrapolated(self, **sizes) -> bool:
        """Whether a point lies outside the sizes the model was fitted on."""
        return any(k in self.ranges and v is not None and not
                   (self.ranges[k][0] <= v <= self.ranges[k][1]) for k, v in sizes.items())

    def to_dict(self) -> dict:
        return asdict(self)


# the last four (delta, c1, c2, c3) only given the weights, the directions, the entries and
# the output layer's weight
CONSTANTS = ("c0", "alpha", "beta", "delta", "c1", "c2", "c3")
OPTIONAL = CONSTANTS[3:]


def fit_mode(seconds, flops, nbytes, peak: float, bandwidth: float, framework: str = "",
             mode: str = "", ranges: dict | None = None, weights=None,
             directions=None, curve=None, entries=None, out_weight=None,
             pass_curve=None) -> ModeFit:
    """c0, alpha, beta (delta given the weight bytes, c1 given the directions, c2 given the
    result's entries, c3 given the output layer's weight entries) by least squares on log T
    (scipy.optimize.least_squares, soft-L1); a term whose sizes are not given is 0.  `curve`:
    the matvecs' (matrix bytes, bytes/s), for W(B_w) (bandwidth_at); `pass_curve`: the
    copies' (matrix bytes, bytes/s), the weight passes' rate where given (pass_rate)."""
    from scipy.optimize import least_squares

    t, f, b = (np.asarray(v, float) for v in (seconds, flops, nbytes))
    w = np.zeros_like(t) if weights is None else np.asarray(weights, float)
    k = np.zeros_like(t) if directions is None else np.asarray(directions, float)
    e = np.zeros_like(t) if entries is None else np.asarray(entries, float)
    o = np.zeros_like(t) if out_weight is None else np.asarray(out_weight, float)
    keep = (np.isfinite(t) & (t > 0) & np.isfinite(f) & np.isfinite(b) & np.isfinite(w)
            & np.isfinite(k) & np.isfinite(e) & np.isfinite(o))
    t, f, b, w, k, e, o = t[keep], f[keep], b[keep], w[keep], k[keep], e[keep], o[keep]
    extra = [name for name, given in (("delta", weights), ("c1", directions), ("c2", entries),
                                      ("c3", out_weight)) if given is not None]
    free = len(CONSTANTS) - len(OPTIONAL) + len(extra)
    if len(t) < free:
        raise ValueError(f"{framework} {mode}: {len(t)} points, the model needs at least {free}")
    lt = np.log(t)

    def constants(theta):
        c0, alpha, beta = np.exp(theta[:3])
        more = dict(zip(extra, np.exp(theta[3:])))
        return (c0, alpha, beta, *(float(more.get(name, 0.0)) for name in OPTIONAL))

    def residual(theta):
        c0, alpha, beta, delta, c1, c2, c3 = constants(theta)
        return np.log(model_time(*terms(c0, alpha, beta, delta, c1, peak, bandwidth, f, b, w, k,
                                        curve, c2, e, c3, o, pass_curve))) - lt

    # starts: the max() makes the surface kinked; delta from few or many passes; c1 from
    # nothing (a ns a direction) or a noticeable share of the smallest time; c2 from 0.1 ns an
    # entry (a copy at 40 GB/s; starting from 0.1 ps and 1 ns as well found the same crossovers
    # on the reference run, 9128e62, and held-out errors within 3 points, in twice the time)
    starts = {"delta": (-2.0, 1.0), "c1": (math.log(1e-9), math.log(max(t.min(), 1e-9) / 1e3)),
              "c2": (math.log(1e-10),), "c3": (math.log(1e-10),)}
    best = None
    for shift in (0.0, 2.0, -2.0):
        base = np.log([max(t.min() / 2, 1e-9), 1.0, 1.0]) + [0.0, shift, -shift]
        for more in itertools.product(*(starts[name] for name in extra)):
            res = least_squares(residual, np.r_[base, more], loss="soft_l1", f_scale=0.1)
            if best is None or res.cost < best.cost:
                best = res
    c0, alpha, beta, delta, c1, c2, c3 = constants(best.x)
    left = residual(best.x)
    spread = float(np.quantile(np.abs(left), 0.9))
    return ModeFit(framework, mode, float(c0), float(alpha), float(beta), float(peak),
                   float(bandwidth), int(len(t)), spread, ranges or {}, delta, c1,
                   [[float(a), float(r)] for a, r in curve or ()], c2, float(c3),
                   mean_square=float(np.mean(left ** 2)),
                   passes_from="copy" if pass_curve else "read",
                   pass_curve=[[float(a), float(r)] for a, r in pass_curve or ()])


# -- from the tidy data -----------------------------------------------------------------------

MATMUL = "roofline.Matmul.track_flops_per_s"
BANDWIDTH = "roofline.Bandwidth.track_bytes_per_s"
COPY = "roofline.Copy.track_bytes_per_s"


def rates(df: pd.DataFrame, reference: float | None = None) -> pd.DataFrame:
    """Per framework: peak (best matmul flop/s), bandwidth (the matvec's bytes/s at its
    largest size, 64 MiB: memory, beyond the caches, which smaller matvecs read from), curve
    (the machine's: at every size, [matrix bytes, the best bytes/s of any framework's matvec],
    smallest first: bandwidth_at) and own_curve (the framework's own matvecs) of the run.
    A framework's matvec time holds its per-call overhead, which the model counts in c0:
    TensorFlow's 1 MiB matvec took 538 us, most of it the call, and read 1.9 GB/s where
    NumPy's read 32 (stream sweep of cd9ef4f), so its own curve put the weights of a width-256
    MLP, which live in cache, at memory speed.  The best rate of any framework is the machine's
    memory hierarchy as closely as the run measured it.
    products: the framework's measured row products (roofline.RowProducts, product_records),
    [] without them.  copy_curve: the machine's copies (roofline.Copy) as the curve is its
    matvecs, the best of any framework at each size, [] where the run timed none.
    `reference`: each rate read at that machine speed (flop/s of measure.speed's probe), from
    the speed probed beside it (value * reference / speed; a product's seconds
    value * speed / reference)."""
    ok = df[(df["status"] == "ok") & df["benchmark"].isin([MATMUL, BANDWIDTH, COPY])]
    timed = df[(df["status"] == "ok") & (df["benchmark"] == PRODUCTS)]
    if reference is not None:
        ok = ok.assign(value=ok["value"] * reference / pd.to_numeric(ok["speed"], errors="coerce"))
        timed = timed.assign(value=timed["value"] * pd.to_numeric(timed["speed"], errors="coerce")
                             / reference)
    peak = ok[ok["benchmark"] == MATMUL].groupby("framework")["value"].max()
    def by_size(benchmark):
        rows = ok[ok["benchmark"] == benchmark]
        rows = rows.assign(size=pd.to_numeric(rows["size"], errors="coerce")
                           if "size" in rows else np.nan)
        return rows.sort_values("size", kind="stable")

    def bytes_and_rate(pairs):
        return [[float(ITEMSIZE["float32"] * size * size), float(v)] for size, v in pairs]

    def sized(rows):
        return rows.dropna(subset=["size"]).groupby(["framework", "size"])["value"].median()

    mv = by_size(BANDWIDTH)
    band = mv.groupby("framework")["value"].last()
    curve = {fw: bytes_and_rate((size, v) for (_, size), v in g.items())
             for fw, g in sized(mv).groupby(level=0)}
    machine = bytes_and_rate(sized(mv).groupby(level=1).max().items())
    copies = bytes_and_rate(sized(by_size(COPY)).groupby(level=1).max().items())
    out = pd.DataFrame({"peak": peak, "bandwidth": band}).dropna()
    out["curve"] = [machine if curve.get(fw) else [] for fw in out.index]
    out["copy_curve"] = [copies for _ in out.index]
    out["own_curve"] = [curve.get(fw, []) for fw in out.index]
    out["products"] = [product_records(timed[timed["framework"] == fw]) for fw in out.index]
    return out


def product_records(rows: pd.DataFrame) -> list:
    """[orient, rows, size, seconds] of a framework's measured row products (RowProducts),
    [] without a whole rows x sizes grid of both orients."""
    if rows.empty or not {"orient", "rows", "size"} <= set(rows.columns):
        return []
    found = [[str(o), int(k), int(z), float(v)] for o, k, z, v in
             zip(rows["orient"], pd.to_numeric(rows["rows"]), pd.to_numeric(rows["size"]),
                 rows["value"]) if np.isfinite(v) and v > 0]
    return found if {"N", "T"} <= set(product_table(found)) else []


WIDTH_JACOBIAN = "crossover.JacobianWidth.time_jacobian"
WIDTH_PRIMAL = "crossover.PrimalWidth.time_primal"
NM_JACOBIAN = "crossover.JacobianNM.time_jacobian"
NM_PRIMAL = "crossover.PrimalNM.time_primal"


def width_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The width study's measured rows (JacobianWidth, PrimalWidth), with the points it leaves to
    the n x m group: at the crossover study's width and depth the width study skips the
    (framework, n, m) the n x m group times (benchmarks/crossover.py, `measured_by_nm`), so
    jacfwd and jacrev come from JacobianNM and the single primal (k = "1") from PrimalNM there.
    Only at the width study's own machines, frameworks, widths, depths, n and m (the n x m
    group's `fd` is no framework of the width study), and never a point the width study has
    itself (an older run measured both)."""
    ok = df[df["status"] == "ok"]
    own = ok[ok["benchmark"].isin([WIDTH_JACOBIAN, WIDTH_PRIMAL])]
    # jacfwd, jacrev, and a mode the width study times itself (an older run's width study had
    # no jacfwd_vmap, which the n x m group timed: at one width, its points would be no fit)
    modes = {"jacfwd", "jacrev"} | (set(own.loc[own["benchmark"] == WIDTH_JACOBIAN, "op"].dropna())
                                    & set(MODES))
    nm = ok[(ok["benchmark"] == NM_PRIMAL)
            | ((ok["benchmark"] == NM_JACOBIAN) & ok["op"].isin(modes))]
    if own.empty or nm.empty:
        return own
    nm = nm.dropna(subset=["n", "m", "width", "depth"])
    nm = nm[nm["machine"].isin(set(own["machine"])) & nm["framework"].isin(set(own["framework"]))
            & nm["width"].isin(set(own["width"]))
            & nm["depth"].isin(set(own["depth"])) & nm["n"].isin(set(own["n"]))
            & nm["m"].isin(set(own["m"]))]
    nm = nm.assign(op=np.where(nm["benchmark"] == NM_PRIMAL, "primal", nm["op"]),
                   k=np.where(nm["benchmark"] == NM_PRIMAL, "1", None))
    key = ["machine", "framework", "op", "n", "m", "width", "depth"]

    def keys(frame):
        return [tuple(r) for r in frame[key].astype(object).itertuples(index=False)]
    have = set(keys(own[(own["benchmark"] == WIDTH_JACOBIAN)
                        | (own.get("k", pd.Series(index=own.index, dtype=object)).astype(str) == "1")]))
    nm = nm[[k not in have for k in keys(nm)]].drop_duplicates(subset=key)
    return pd.concat([own, nm], ignore_index=True)


PAIRED_COLUMNS = {"jacfwd": "paired_forward_s", "jacrev": "paired_reverse_s"}
# the other one-pass forward modes timed side by side with jacrev (crossover.SideBySideForward:
# JAX's jacfwd_vmap), their mode in the row's op
SIDE_BY_SIDE_FORWARD = "crossover.SideBySideForward.track_fwd_over_rev"


def paired_rows(df: pd.DataFrame) -> pd.DataFrame:
    """jacfwd and jacrev at each point of the side-by-side group (crossover.SideBySide) whose
    two median seconds the run logged (the tidy rows' paired_forward_s / paired_reverse_s,
    since cd47208): machine, framework, mode, n, m, width, depth, seconds, speed, speed_at.
    Both times were taken in one process in interleaved rounds, at one machine speed, with
    calls back to back (measure.timing.measure_paired).  The other forward modes' side-by-side
    group (crossover.SideBySideForward) adds its forward mode's times (its jacrev is the side
    by side group's)."""
    columns = ["machine", "framework", "mode", "n", "m", "width", "depth", "seconds", "speed",
               "speed_at"]
    if "benchmark" not in df or not set(PAIRED_COLUMNS.values()) <= set(df.columns):
        return pd.DataFrame(columns=columns)
    ok = df[(df["status"] == "ok") & (df["benchmark"] == SIDE_BY_SIDE)]
    other = df[(df["status"] == "ok") & (df["benchmark"] == SIDE_BY_SIDE_FORWARD)]
    sources = [(mode, column, ok) for mode, column in PAIRED_COLUMNS.items()]
    sources.append((None, PAIRED_COLUMNS["jacfwd"], other))    # its mode: the row's op
    out = []
    for mode, column, rows in sources:
        rows = rows.dropna(subset=[column, "n", "m", "width", "depth"])
        out.append(pd.DataFrame({
            "machine": rows.get("machine"), "framework": rows["framework"],
            "mode": rows["op"] if mode is None else mode,
            **{c: pd.to_numeric(rows[c]).astype(int) for c in ("n", "m", "width", "depth")},
            "seconds": pd.to_numeric(rows[column], errors="coerce"),
            **{c: pd.to_numeric(rows[c], errors="coerce") if c in rows else math.nan
               for c in ("speed", "speed_at")}}))
    found = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)
    return found[found["seconds"] > 0].reset_index(drop=True)[columns]


def points(df: pd.DataFrame, itemsize: int = 4) -> pd.DataFrame:
    """The width study's measured points (width_rows) with their FLOPs and bytes: framework,
    mode, n, m, width, depth, batch, seconds, speed and speed_at (measure.speed's probe beside
    the point, flop/s, and when; nan without one), source, flops, bytes.

    A Jacobian's time comes from the side-by-side group where the run logged it there
    (paired_rows; source "side by side"), else from the width study (source "apart": each
    mode timed in its own process, one call a sample).  Side by side, a point's two modes were
    timed at one machine speed, so their ratio is the side-by-side one the crossovers are
    measured from; apart, the processes' spread (1.6-2x on these VMs) moves that ratio.
    Measured on the AMD VM (2026-12-04, one sweep, one thread, at one speed): the side-by-side
    medians read 0.99x the width study's times at the same points (median; 10th-90th
    percentile 0.72-1.20x), and the times apart place the side-by-side crossing within 1.5x
    in 30 of its 42 lines."""
    rows = []
    for _, r in width_rows(df).iterrows():
        primal = r["benchmark"] in (WIDTH_PRIMAL, NM_PRIMAL)
        batch = {"n": int(r["n"]), "m": int(r["m"])}.get(str(r.get("k")), 1) if primal else 1
        rows.append({"machine": r.get("machine"), "framework": r["framework"],
                     "mode": "primal" if primal else r["op"], "n": int(r["n"]), "m": int(r["m"]),
                     "width": int(r["width"]), "depth": int(r["depth"]), "batch": batch,
                     "seconds": float(r["value"]),
                     **{c: float(r[c]) if pd.notna(r.get(c)) else math.nan
                        for c in ("speed", "speed_at")}, "source": "apart"})
    columns = ["machine", "framework", "mode", *SIZES, "seconds", "speed", "speed_at", "source"]
    out = pd.DataFrame(rows, columns=columns)
    paired = paired_rows(df)
    if len(paired):
        key = ["machine", "framework", "mode", "n", "m", "width", "depth"]
        have = set(paired[key].astype(object).itertuples(index=False, name=None))
        out = out[[k not in have for k in out[key].astype(object).itertuples(index=False, name=None)]]
        out = pd.concat([out, paired.assign(batch=1, source="side by side")[columns]],
                        ignore_index=True)
    if out.empty:
        return out.assign(flops=[], bytes=[], weights=[])
    found = [work(r.mode, r.n, r.m, r.depth, r.width, r.batch, itemsize) for r in out.itertuples()]
    for column in Work._fields:
        out[column] = [getattr(w, column) for w in found]
    return out


def split(pts: pd.DataFrame, by: str = "width") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit, held out): every other value of `by`, sorted, is held out, the smallest and the
    largest always fitted (held-out points lie inside the fitted range)."""
    values = sorted(pts[by].unique())
    held = set(values[1:-1:2]) if len(values) > 2 else set()
    mask = pts[by].isin(held)
    return pts[~mask], pts[mask]


FREE = len(CONSTANTS)   # what fit_all fits: fit_mode with every size given, every constant


def product_flops(table: dict, mode: str, peak: float, frame: pd.DataFrame) -> pd.Series:
    """F of each point of `frame` (one mode's) read off measured products: the seconds of its
    products (product_work) times P."""
    return pd.Series([product_work(table, mode, r.n, r.m, r.depth, r.width, r.batch, peak) * peak
                      for r in frame.itertuples()], index=frame.index, dtype=float)


def fit_args(fit: ModeFit, frame: pd.DataFrame) -> list:
    """The Work columns of `frame` (points) as `fit` reads them (its FLOPs: ModeFit.work)."""
    args = [frame[c] for c in Work._fields]
    if fit.compute_from == "products":
        args[0] = product_flops(fit.table, fit.mode, fit.peak, frame)
    return args


def _fit_framework(frame: pd.DataFrame, rate: pd.DataFrame, fw: str, products: list | None,
                   pass_curve: list | None = None) -> dict[tuple[str, str], ModeFit]:
    """The framework's ModeFits, its FLOPs read from `products` (its measured row products)
    when given, else the analytic FLOPs; its weight passes at the copies' rate given
    `pass_curve` (pass_rate), else at the matvecs'."""
    fits = {}
    curve = rate.loc[fw, "curve"] if "curve" in rate else None
    table = product_table(products) if products else None
    for mode, g in frame.groupby("mode"):
        if len(g) < FREE:
            continue
        ranges = {k: (int(g[k].min()), int(g[k].max())) for k in SIZES}
        flops = g["flops"] if table is None else product_flops(table, mode, rate.loc[fw, "peak"], g)
        # c3 only where the mode reads the output layer's weight transposed (jacfwd: work)
        transposed = g["out_weight"] if "out_weight" in g and g["out_weight"].any() else None
        fit = fit_mode(g["seconds"], flops, g["bytes"], rate.loc[fw, "peak"],
                       rate.loc[fw, "bandwidth"], fw, mode, ranges, g["weights"],
                       g["directions"], curve, g["entries"], transposed, pass_curve)
        if products:
            fit.compute_from, fit.products = "products", [list(r) for r in products]
        fits[fw, mode] = fit
    return fits


def pooled_error(fits: dict) -> float:
    """The mean of log(T / model)^2 over every point the fits were fitted on."""
    points = sum(f.points for f in fits.values())
    return sum(f.mean_square * f.points for f in fits.values()) / points if points else math.inf


_FITTED: dict[str, dict] = {}   # fit_all's answers in this process, by a digest of its inputs


def _fit_key(pts: pd.DataFrame, rate: pd.DataFrame) -> str | None:
    try:
        return hashlib.sha256(pickle.dumps((pts, rate), protocol=4)).hexdigest()
    except Exception:     # something unpicklable in a frame: fit, do not remember
        return None


def fit_all(pts: pd.DataFrame, rate: pd.DataFrame) -> dict[tuple[str, str], ModeFit]:
    """`fit_model` of (pts, rate), fitted once per process for the same inputs: `adcost plots`
    fits the run once for its report and hands the fits to the figures it forks (the cost
    model's and the cost curves'), instead of each fitting again (about 10 s a fit on a
    full run).  The fits are shared: a caller does not change them."""
    key = _fit_key(pts, rate)
    if key is not None and key in _FITTED:
        return _FITTED[key]
    fits = fit_model(pts, rate)
    if key is not None:
        if len(_FITTED) >= 8:
            _FITTED.clear()
        _FITTED[key] = fits
    return fits


def fit_model(pts: pd.DataFrame, rate: pd.DataFrame) -> dict[tuple[str, str], ModeFit]:
    """A ModeFit per (framework, mode) with measured rates and at least as many points as the
    model has constants (FREE); fewer are left unfitted (a run of a few groups only).

    Where the run measured the framework's row products (roofline.RowProducts), its modes are
    fitted twice, F / P read from the analytic FLOPs at the matmul rate and from the products'
    measured seconds, and the form with the smaller pooled error on the fitted points
    (pooled_error) is kept for all its modes: the choice sees only the fit's own points.
    A few rows do not run at the matmul's rate, and how far below it depends on the framework's
    kernels: at width 1024, 4 rows took 5.2x 1 row in eager torch, 6.1x in NumPy and 1.5x in
    JAX (roofline.RowProducts, the AMD VM, cb91d09, 2026-12-04).  Fitted on the AMD run's
    times, the choice kept the products for torch and NumPy and the FLOPs for JAX and
    TensorFlow, in both whole runs (docs/costmodel.md).

    In the same way, where the run timed copies (roofline.Copy), each compute form is fitted
    with the weight passes at the matvecs' rate ("read") and at the copies' ("copy", pass_rate),
    and the pair with the smallest pooled error is kept: `compute_errors` holds each compute
    form's error at the kept passes' rate, `pass_errors` each passes' rate at the kept compute
    form.  On the Intel VM (2026-12-04) the copies' rate took the held-out pairs within the
    targets from 8 to 10 (docs/costmodel.md)."""
    fits = {}
    for fw, frame in pts.groupby("framework"):
        if fw not in rate.index:
            continue
        products = rate.loc[fw, "products"] if "products" in rate else []
        copies = rate.loc[fw, "copy_curve"] if "copy_curve" in rate else []
        # one size (the quick grid's 64 MiB) is one rate: the same model as W's, delta rescaled
        copies = copies if len(copies) > 1 else []
        forms = {}
        for compute in ("flops", "products") if products else ("flops",):
            for passes in ("read", "copy") if copies else ("read",):
                forms[compute, passes] = _fit_framework(
                    frame, rate, fw, products if compute == "products" else None,
                    copies if passes == "copy" else None)
        errors = {key: pooled_error(form) for key, form in forms.items()}
        compute, passes = min(errors, key=errors.get)
        for fit in forms[compute, passes].values():
            fit.compute_errors = {c: e for (c, p), e in errors.items() if p == passes}
            fit.pass_errors = ({p: e for (c, p), e in errors.items() if c == compute}
                               if copies else {})
        fits.update(forms[compute, passes])
    return fits


def predictions(fits: dict, pts: pd.DataFrame) -> pd.DataFrame:
    """`pts` with the model's seconds, regime and relative error |model - T| / T."""
    out = pts.copy()
    out["predicted"] = np.nan
    out["regime"] = None
    for (fw, mode), fit in fits.items():
        sel = (out["framework"] == fw) & (out["mode"] == mode)
        if sel.any():
            args = fit_args(fit, out.loc[sel])
            out.loc[sel, "predicted"] = fit.predict(*args)
            out.loc[sel, "regime"] = fit.regime(*args, roofline_flops=out.loc[sel, "flops"])
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


MAX_N = 2 ** 20


def crossover_n(fits: dict, framework: str, m: int, depth: int, width: int,
                itemsize: int = 4, forward: str = "jacfwd") -> float:
    """The n at which the model's `forward` (jacfwd or another forward mode) and jacrev take
    equal time (forward cheaper below it); nan when one of the two fits is missing or they do
    not cross for n in [1, MAX_N]: then 0.0 where the model has forward mode dearer at every
    n, inf where cheaper at every n."""
    if (framework, forward) not in fits or (framework, "jacrev") not in fits:
        return math.nan
    grid = np.linspace(0, math.log(MAX_N), 161)
    values = [math.log(model_ratio(fits, framework, math.exp(g), m, depth, width, itemsize,
                                   forward)) for g in grid]
    for a, b, va, vb in zip(grid[:-1], grid[1:], values[:-1], values[1:]):
        if va <= 0 < vb or va >= 0 > vb:
            return float(math.exp(a + (b - a) * va / (va - vb)))
    return 0.0 if values[0] > 0 else math.inf


def model_ratio(fits: dict, framework: str, n: float, m: int, depth: int, width: int,
                itemsize: int = 4, forward: str = "jacfwd") -> float:
    """The model's T(forward) / T(jacrev) at n (rounded, at least 1); nan when one of the two
    fits is missing."""
    fwd, rev = fits.get((framework, forward)), fits.get((framework, "jacrev"))
    if fwd is None or rev is None or not np.isfinite(n):
        return math.nan
    n = max(1, int(round(n)))
    return float(fwd.predict(*fwd.work(forward, n, m, depth, width, 1, itemsize))
                 / rev.predict(*rev.work("jacrev", n, m, depth, width, 1, itemsize)))


TOLERANCE = 1.10   # the smallest ratio of two times told apart: compare's factor
# The smallest side-by-side ratio told from 1 (crossover.SideBySide): the same lines timed side
# by side twice, the machine 1.3x slower and faster between, read the same ratios within 14 %
# (tf, jax, numpy and torch, widths 16 to 256, n 4 to 1024; 2026-12-03, Intel VM).
PAIRED_TOLERANCE = 1.15
SIDE_BY_SIDE = "crossover.SideBySide.track_fwd_over_rev"
CROSSOVER_COLUMNS = ["framework", "width", "m", "n_measured", "n_low", "n_high", "tolerance",
                     "slope", "source"]


def crossing(ns, gap, tolerance: float) -> dict | None:
    """Where log(T_fwd / T_rev) (`gap`, at the sorted `ns`) crosses zero: n_measured, and n_low /
    n_high, the largest n at which forward mode is faster by more than `tolerance` and the
    smallest at which it is slower by more (None: open on that side); None where the gap keeps
    one sign.

    jacfwd's cost grows with n and jacrev's does not, so the gap rises with n; measured values
    need not.  It is made monotone by isotonic regression (scipy.optimize.isotonic_regression:
    the closest non-decreasing sequence) and n_measured is where that crosses zero,
    interpolated linearly in log n between the two measured n that bracket it.  Where both
    modes sit on their fixed costs the two differ by less than the measurement tells apart over
    a range of n: the crossing lies between n_low and n_high.

    slope: how fast the monotone gap rises at the crossing, per unit of log n (between the two
    measured n that bracket it): an error e in log(T_fwd / T_rev) moves the crossing by a factor
    exp(e / slope), so on a line with slope below log(tolerance) / log(1.5) the measurement's own
    tolerance moves the measured crossing by more than 1.5x (crossover_counts' "steep")."""
    from scipy.optimize import isotonic_regression

    ns, gap = np.asarray(ns, float), np.asarray(gap, float)
    if len(ns) < 2:
        return None
    mono = isotonic_regression(gap).x
    above = np.nonzero(mono > 0)[0]
    if len(above) == 0 or above[0] == 0:
        return None
    i = above[0]
    la, lb = math.log(ns[i - 1]), math.log(ns[i])
    va, vb = mono[i - 1], mono[i]
    tol = math.log(tolerance)
    faster, slower = ns[mono < -tol], ns[mono > tol]
    return {"n_measured": float(math.exp(la + (lb - la) * va / (va - vb))),
            "n_low": float(faster.max()) if len(faster) else None,
            "n_high": float(slower.min()) if len(slower) else None,
            "tolerance": float(tolerance), "slope": float((vb - va) / (lb - la))}


def side_by_side(df: pd.DataFrame, forward: str = "jacfwd") -> pd.DataFrame:
    """The side-by-side ratios T(forward) / T(jacrev) (crossover.SideBySide for jacfwd,
    SideBySideForward for the other forward modes): machine, framework, width, n, m, ratio."""
    columns = ["machine", "framework", "width", "n", "m", "ratio"]
    if "benchmark" not in df:
        return pd.DataFrame(columns=columns)
    if forward == "jacfwd":
        ok = df[(df["status"] == "ok") & (df["benchmark"] == SIDE_BY_SIDE)]
    else:
        ok = df[(df["status"] == "ok") & (df["benchmark"] == SIDE_BY_SIDE_FORWARD)
                & (df["op"] == forward)]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame({"machine": ok.get("machine"), "framework": ok["framework"],
                        **{c: pd.to_numeric(ok[c], errors="coerce") for c in ("width", "n", "m")},
                        "ratio": pd.to_numeric(ok["value"], errors="coerce")})
    out = out.dropna(subset=["width", "n", "m", "ratio"])
    out = out[out["ratio"] > 0].astype({"width": int, "n": int, "m": int})
    return out.reset_index(drop=True)[columns]


def paired_crossings(paired: pd.DataFrame, tolerance: float = PAIRED_TOLERANCE) -> dict:
    """Per (framework, width, m) line of side-by-side ratios (side_by_side's columns; a line's
    repeats at one n: their median): where its ratio crosses 1 (`crossing`, told from 1 beyond
    `tolerance`), None where it keeps one side."""
    out = {}
    for (fw, width, m), g in paired.groupby(["framework", "width", "m"]):
        g = g.groupby("n")["ratio"].median().sort_index()
        out[fw, int(width), int(m)] = crossing(g.index.to_numpy(float),
                                               np.log(g.to_numpy(float)), tolerance)
    return out


def measured_crossovers(pts: pd.DataFrame, tolerance: float = TOLERANCE,
                        paired: pd.DataFrame | None = None,
                        paired_tolerance: float = PAIRED_TOLERANCE,
                        forward: str = "jacfwd") -> pd.DataFrame:
    """Per (framework, width, m): where `forward` (jacfwd, or another forward mode) and jacrev
    take equal time (`crossing`).

    From the side-by-side ratios where the run has them (`paired`, side_by_side: both modes
    timed in one process, at one machine speed; source "side by side", told from 1 beyond
    `paired_tolerance`), else from the width study's times, each from its own process (source
    "separate processes", told apart beyond `tolerance`: the run's process-to-process spread,
    `noise_tolerance`).  No row where the gap keeps one sign."""
    rows, done = [], set()
    if paired is not None and len(paired):
        for (fw, width, m), found in paired_crossings(paired, paired_tolerance).items():
            done.add((fw, width, m))
            if found:
                rows.append({"framework": fw, "width": width, "m": m, **found,
                             "source": "side by side"})
    jac = pts[pts["mode"].isin([forward, "jacrev"])]
    wide = jac.pivot_table(index=["framework", "width", "m", "n"], columns="mode", values="seconds")
    if {forward, "jacrev"} <= set(wide.columns):
        for (fw, width, m), g in wide.dropna().groupby(level=[0, 1, 2]):
            if (fw, int(width), int(m)) in done:
                continue
            ns = g.index.get_level_values("n").to_numpy(float)
            order = np.argsort(ns)
            gap = np.log(g[forward].to_numpy() / g["jacrev"].to_numpy())[order]
            found = crossing(ns[order], gap, tolerance)
            if found:
                rows.append({"framework": fw, "width": int(width), "m": int(m), **found,
                             "source": "separate processes"})
    out = pd.DataFrame(rows, columns=CROSSOVER_COLUMNS)
    return out.sort_values(["framework", "width", "m"], kind="stable").reset_index(drop=True)


def run_side_by_side(df: pd.DataFrame, pts: pd.DataFrame, forward: str = "jacfwd") -> pd.DataFrame:
    """A run's side-by-side ratios of `forward` against jacrev (side_by_side), on the machines
    of the width study's points `pts` where both name them."""
    paired = side_by_side(df, forward)
    if "machine" in pts and pts["machine"].notna().any() and paired["machine"].notna().any():
        paired = paired[paired["machine"].isin(set(pts["machine"].dropna()))]
    return paired


def run_crossovers(df: pd.DataFrame, pts: pd.DataFrame, tolerance: float | None = None,
                   forward: str = "jacfwd") -> pd.DataFrame:
    """measured_crossovers of a run (`forward` against jacrev): its side-by-side ratios on the
    machines of the width study's points `pts`, else those points at the run's
    process-to-process `tolerance` (noise_tolerance when None)."""
    paired = run_side_by_side(df, pts, forward)
    return measured_crossovers(pts, noise_tolerance(df) if tolerance is None else tolerance,
                               paired, forward=forward)


def crossover_agreement(cross: pd.DataFrame, factor: float = 1.5) -> pd.Series:
    """Whether the model's crossover agrees with the measured one: within `factor` of
    n_measured, or within `factor` of the interval (n_low, n_high) where the measured times
    do not tell the two modes apart."""
    def one(r):
        model = r["n_model"]
        if model is None or np.isnan(model):
            return False
        low = r["n_low"] if r["n_low"] is not None and np.isfinite(r["n_low"]) else 0.0
        high = r["n_high"] if r["n_high"] is not None and np.isfinite(r["n_high"]) else math.inf
        if model == 0.0:      # the model: forward dearer at every n; measured never clearly cheaper
            return low == 0.0
        if model == math.inf:
            return high == math.inf
        if max(model / r["n_measured"], r["n_measured"] / model) <= factor:
            return True
        return low / factor <= model <= high * factor
    return cross.apply(one, axis=1).astype(bool) if len(cross) else pd.Series([], dtype=bool)


def noise_tolerance(df: pd.DataFrame) -> float:
    """The ratio below which two of the width study's times are not told apart: the run's
    noise probe (its process-to-process spread, as `adcost compare` uses it) or TOLERANCE."""
    from .compare import threshold
    rows = df[df["benchmark"].astype(str).str.startswith("crossover.JacobianWidth")]
    return threshold(rows, rows, TOLERANCE)


def inputs(df: pd.DataFrame, itemsize: int = 4, normalize: bool = True
           ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The width study's points and the rates of the machine that measured them (never another
    machine's rates), and how they were read: where every point and every rate has the
    machine's speed beside it (measure.speed) and `normalize`, each time and rate is read at
    one speed, the median of the points' probes (`at_speed`); else as measured."""
    pts = points(df, itemsize)
    if pts.empty:
        return pts, rates(df.iloc[:0]), {"normalized": False}
    if "machine" in df and pts["machine"].notna().any():
        df = df[df["machine"].isin(set(pts["machine"].dropna()))]
    return at_speed(pts, df, normalize)


# The probes a machine speed is the median of (measure.speed): neighbours in time, about 20-40 s
# of the width study.  One probe is noisy (the same case's probe read 48-84 GFLOP/s within 4 s
# while its calls took 112-161 ms, the Intel VM, 2026-12-03); on the width run of 9489096 the
# held-out errors at one speed were, over every Jacobian pair, at most 92 % (p90) with each
# point's own probe, 58 and 46 % with 5 and 11 probes, 63-66 % with 25 to 101, and 63 % as measured.
SPEED_WINDOW = 11


def smoothed(speed: pd.Series, at: pd.Series, window: int = SPEED_WINDOW) -> pd.Series:
    """Each probe's rate replaced by the median of the `window` probes around it in time
    (centred; fewer at the ends): the machine's speed then, less one probe's noise.  Rows that
    share a probe (the same time: a side-by-side point's two modes) count it once.  The probes
    as they are where a time is missing."""
    if at.isna().any() or window <= 1:
        return speed
    probes = pd.DataFrame({"speed": speed, "at": at}).drop_duplicates("at").sort_values(
        "at", kind="stable")
    steady = probes["speed"].rolling(window, center=True, min_periods=1).median()
    return pd.Series(at.map(dict(zip(probes["at"], steady))).to_numpy(float), index=speed.index)


def at_speed(pts: pd.DataFrame, df: pd.DataFrame, normalize: bool = True
             ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(points, rates, speed record) with every time and rate read at the points' median
    speed: a time T measured at speed s reads T * s / s_ref, a rate R reads R * s_ref / s (a
    machine twice as fast halves the one and doubles the other), s the median of the probes
    around it in time (`smoothed`).  Only where every point and every roofline row of the run
    has a probe; the record says which, the reference speed and the spread of the probes
    (10th-90th percentile)."""
    roof = df[(df["status"] == "ok") & df["benchmark"].isin([MATMUL, BANDWIDTH, COPY, PRODUCTS])]
    column = (lambda frame, name: pd.to_numeric(frame[name], errors="coerce") if name in frame
              else pd.Series(np.nan, index=frame.index))
    speeds = column(pts, "speed")
    record = {"normalized": False, "points_probed": int(speeds.notna().sum()),
              "points": int(len(pts))}
    if speeds.notna().any():
        record.update(reference_flops_per_s=float(speeds.median()),
                      p10=float(speeds.quantile(0.1)), p90=float(speeds.quantile(0.9)))
    if not (normalize and speeds.notna().all() and len(roof) and column(roof, "speed").notna().all()):
        return pts, rates(df), record
    both = pd.concat([speeds, column(roof, "speed")], keys=["pts", "roof"])
    when = pd.concat([column(pts, "speed_at"), column(roof, "speed_at")], keys=["pts", "roof"])
    steady = smoothed(both, when)
    reference = float(steady.loc["pts"].median())
    pts = pts.assign(measured_seconds=pts["seconds"],
                     seconds=pts["seconds"] * steady.loc["pts"].to_numpy() / reference)
    roof = roof.assign(speed=steady.loc["roof"].to_numpy())
    record.update(normalized=True, reference_flops_per_s=reference,
                  window=SPEED_WINDOW if when.notna().all() else 1)
    return pts, rates(roof, reference), record


def _canonical(value):
    """`value` with every float written to 12 significant digits (a tidy CSV and the asv JSON
    it was exported from read back within rounding), containers walked."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(f"{float(value):.12g}")
    if isinstance(value, np.integer):
        return int(value)
    return value if value is None or isinstance(value, (str, int, bool)) else str(value)


def _frame_digest(frame: pd.DataFrame, digest) -> None:
    """Feed `frame`'s rows, sorted and canonical, to the hash `digest`."""
    rows = sorted(json.dumps(_canonical(r), sort_keys=True)
                  for r in frame.astype(object).where(frame.notna(), None).to_dict("records"))
    digest.update(json.dumps([sorted(map(str, frame.columns)), rows]).encode())


def code_digest() -> str:
    """sha256 of the code a report is computed by: this module's source and the numpy and scipy
    versions (the fit's least squares).  What the report takes from `compare`, the noise
    tolerance, is in the data's digest as a value (provenance), so a change elsewhere in
    compare (until 2026-12-05 its source was hashed too: stop 55's profile comparison made
    every stored report stale, and `adcost advise` fitted the model again, 14 s) does not."""
    import scipy

    digest = hashlib.sha256()
    digest.update(Path(sys.modules[__name__].__file__).read_bytes())
    digest.update(f"numpy {np.__version__} scipy {scipy.__version__}".encode())
    return digest.hexdigest()


def provenance(df: pd.DataFrame, itemsize: int = 4, normalize: bool = True) -> dict:
    """What `report(df, itemsize, normalize)` is computed from, as digests: "data", sha256 of
    what it reads of the run (the width study's points and the rates, read at one speed and as
    measured: `inputs`; the side-by-side ratios of every forward mode; the noise tolerance) and
    of the compile break-even `adcost plots` adds to it (break_even), "code" (code_digest), and
    the two arguments.  A stored report with the same provenance is
    the one `report` would compute (cached_report).  The same run read from its asv files or
    from its tidy CSV has one provenance."""
    digest = hashlib.sha256()
    for normal in (normalize, False):
        pts, rate, speed = inputs(df, itemsize, normal)
        _frame_digest(pts, digest)
        _frame_digest(rate.reset_index(names="framework"), digest)
        digest.update(json.dumps(_canonical(speed), sort_keys=True).encode())
    sides = df[(df["status"] == "ok") & (df["benchmark"] == SIDE_BY_SIDE_FORWARD)] \
        if "benchmark" in df and "status" in df else df.iloc[:0]
    for forward in ["jacfwd", *sorted(set(sides["op"].dropna().astype(str)) if "op" in sides else [])]:
        _frame_digest(run_side_by_side(df, pts, forward), digest)
    digest.update(repr(_canonical(noise_tolerance(df))).encode())
    digest.update(json.dumps(_canonical(break_even(df)), sort_keys=True).encode())
    return {"data": digest.hexdigest(), "code": code_digest(), "itemsize": int(itemsize),
            "normalize": bool(normalize)}


def stored_report(df: pd.DataFrame, path, itemsize: int = 4, normalize: bool = True,
                  key: dict | None = None) -> dict | None:
    """The report stored at `path` (figures/cost_model.json, written by `adcost plots`) where
    its provenance is df's (the same data, code and arguments), else None: a report of other
    data or older code is never read as this run's."""
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(stored, dict) or "provenance" not in stored:
        return None
    key = key or provenance(df, itemsize, normalize)
    return stored if stored["provenance"] == key else None


def stored_report_file(df: pd.DataFrame, itemsize: int = 4, normalize: bool = True,
                       key: dict | None = None) -> dict:
    """What `adcost plots` writes to figures/cost_model.json for the run df: its report (read at
    one speed and as measured) and the compile break-even; `key`: its provenance, where
    computed already."""
    rep = report(df, itemsize, normalize, key=key)
    be = break_even(df)
    if be:
        rep["break_even"] = be
    return rep


def restamp(folder: str | Path) -> str:
    """Stamp the report stored in the results folder `folder` (figures/cost_model.json) with
    the current code's provenance, where the current code computes the same report from the
    folder's run (every figure to 12 digits; provenance apart): after a change to this module
    that moves no figure, the committed reports are read again instead of being fitted again
    by every `adcost advise`.  A report that differs is left as it is, and the line says so
    (`make publish-reference` redraws a reference run's figures and report together)."""
    from .load import load

    path = Path(folder) / "figures" / "cost_model.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return f"{path}: no stored report ({exc})"
    df = load(folder)
    key = provenance(df)
    if stored.get("provenance") == key:
        return f"{path}: already this code's"
    fresh = stored_report_file(df, key=key)
    moved = sorted(k for k in set(fresh) | set(stored) if k != "provenance"
                   and _canonical(fresh.get(k)) != _canonical(stored.get(k)))
    if moved:
        return f"{path}: left as it is, this code computes other figures ({', '.join(moved)})"
    path.write_text(json.dumps(fresh, indent=1))
    return f"{path}: the same figures, stamped with this code's provenance"


def cached_report(df: pd.DataFrame, path=None, itemsize: int = 4, normalize: bool = True) -> dict:
    """report(df, measured_too=False), read from the report stored at `path` where that was
    computed from the same data by the same code (stored_report), else computed.  On the
    third Intel run (results/reference/machines/vm-intel-xeon-2026-12-04-rows) computing it
    takes most of `adcost advise`'s 13 s."""
    key = provenance(df, itemsize, normalize)
    found = stored_report(df, path, itemsize, normalize, key) if path else None
    return found if found is not None else report(df, itemsize, normalize, measured_too=False,
                                                  key=key)


def report(df: pd.DataFrame, itemsize: int = 4, normalize: bool = True,
           measured_too: bool = True, key: dict | None = None) -> dict:
    """Everything the site and `advise` need from one run: the rates, the fits (on the fitted
    widths), the held-out errors, the crossovers measured and modelled, and how close the
    compute-bound points run to the measured matmul rate; read at one machine speed where the
    run probed it (`inputs`), with the same figures read as measured beside them
    (`as_measured`; not with measured_too=False, which fits once), and what it was computed from
    (`provenance`; `key`: that, computed already, or {} for none). {} without width results."""
    pts, rate, speed = inputs(df, itemsize, normalize)
    if pts.empty or rate.empty:
        return {}
    train, held = split(pts)
    fits = fit_all(train, rate)
    errors = evaluate(fits, held)
    tolerance = noise_tolerance(df)
    depth = int(pts["depth"].iloc[0])
    cross = crossover_table(df, pts, fits, train, tolerance, depth, itemsize)
    # the other one-pass forward modes (JAX's jacfwd_vmap) against jacrev, apart from the
    # crossovers above (jacfwd against jacrev, which the targets judge)
    others = {mode: crossover_table(df, pts, fits, train, tolerance, depth, itemsize, mode)
              for mode in sorted({mode for _, mode in fits} - {"primal", "jacfwd", "jacrev"})}
    pred = predictions(fits, pts)
    compute = compute_points(pred, rate)
    bound = compute.groupby("framework")["flop_ratio"].median()
    by_rows = compute_bound_rows(compute, rate)
    return {"rates": rate.reset_index(names="framework").to_dict("records"),
            "fitted_widths": sorted(int(w) for w in train["width"].unique()),
            "held_out_widths": sorted(int(w) for w in held["width"].unique()),
            "depth": depth,
            # where the Jacobians' times come from (points: side by side where logged)
            "jacobian_sources": {str(k): int(v) for k, v in
                                 pts[pts["mode"] != "primal"]["source"].value_counts().items()},
            "fits": [f.to_dict() for f in fits.values()],
            # per framework: what F / P counts (fit_all), and the pooled error of each form
            "compute_from": {fw: {"chosen": f.compute_from, **f.compute_errors}
                             for (fw, _), f in fits.items()},
            # per framework: the weight passes' rate (fit_all), and the pooled error of each
            "passes_from": {fw: {"chosen": f.passes_from, **f.pass_errors}
                            for (fw, _), f in fits.items()},
            "held_out": errors.to_dict("records"),
            "crossovers": as_records(cross),
            "crossover_counts": crossover_counts(cross.to_dict("records")),
            # the forward-or-reverse answer at every side-by-side point (`decisions`)
            "decisions": decisions(df, pts, fits, train, depth, itemsize),
            "other_forward": {mode: {"crossovers": as_records(found),
                                     "crossover_counts": crossover_counts(found.to_dict("records")),
                                     "decisions": decisions(df, pts, fits, train, depth, itemsize,
                                                            mode)}
                              for mode, found in others.items()},
            "crossover_tolerance": tolerance,
            "paired_tolerance": PAIRED_TOLERANCE,
            "compute_bound": {fw: float(v) for fw, v in bound.items()},
            # the same points by the rows their products push (compute_bound_rows)
            "compute_bound_rows": by_rows,
            "speed": speed,
            "min_seconds": MIN_SECONDS,
            "provenance": provenance(df, itemsize, normalize) if key is None else key,
            **({"as_measured": as_measured(report(df, itemsize, normalize=False, key={}))}
               if speed["normalized"] and measured_too else {})}


def compute_points(pred: pd.DataFrame, rate: pd.DataFrame) -> pd.DataFrame:
    """The Jacobian points (`predictions`) the model calls compute-bound, with flop_ratio: their
    time over their FLOPs' time at the framework's measured matmul rate."""
    compute = pred[(pred["regime"] == "compute") & (pred["mode"] != "primal")]
    return compute.assign(flop_ratio=compute["seconds"] / (compute["flops"] /
                                                           compute["framework"].map(rate["peak"])))


def compute_bound_rows(compute: pd.DataFrame, rate: pd.DataFrame) -> dict[str, list[dict]]:
    """The compute-bound Jacobians' time over their FLOPs' time at the matmul rate (flop_ratio),
    per framework by the rows their products push (the directions: n for jacfwd, m for jacrev):
    the points, their median, and where the run measured the framework's row products
    (roofline.RowProducts), the median of the products' own seconds (product_work) over the same
    FLOPs' time, `products`, which says how far below the matmul rate products of that many rows
    run (a few rows through a large weight do not reach it).  The one median of `compute_bound`
    mixes these rows in the proportion the grid has them."""
    out = {}
    for fw, g in compute.groupby("framework"):
        products = rate.loc[fw, "products"] if "products" in rate and fw in rate.index else []
        table = product_table(products) if products else {}
        peak = float(rate.loc[fw, "peak"])
        rows = []
        for k, h in g.groupby("directions"):
            row = {"directions": int(k), "points": int(len(h)),
                   "median": float(h["flop_ratio"].median())}
            if table:
                seconds = [product_work(table, r.mode, r.n, r.m, r.depth, r.width, 1, peak)
                           for r in h.itertuples()]
                row["products"] = float(np.median(np.asarray(seconds) / (h["flops"] / peak)))
            rows.append(row)
        out[str(fw)] = rows
    return out


def as_records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as JSON-ready records (missing values None)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def crossover_table(df: pd.DataFrame, pts: pd.DataFrame, fits: dict, train: pd.DataFrame,
                    tolerance: float, depth: int, itemsize: int = 4,
                    forward: str = "jacfwd") -> pd.DataFrame:
    """The measured crossovers of `forward` against jacrev (run_crossovers) beside the model's
    (crossover_n): n_model, agrees, model_ratio, model_says, ratio, width_fitted."""
    cross = run_crossovers(df, pts, tolerance, forward)
    cross["n_model"] = [crossover_n(fits, r.framework, r.m, depth, r.width, itemsize, forward)
                        for r in cross.itertuples()]
    cross["agrees"] = crossover_agreement(cross)
    # the model's T_fwd / T_rev where the measured ratio is 1: how far it misjudges the two
    # modes there (a line whose modes stay close over a range of n moves its crossing far on a
    # few per cent; a steep one hardly moves on 20 %)
    cross["model_ratio"] = [model_ratio(fits, r.framework, r.n_measured, r.m, depth, r.width,
                                        itemsize, forward) for r in cross.itertuples()]
    # the model's side where it does not cross: "forward dearer at every n" (0) or cheaper (inf)
    cross["model_says"] = [None if 0 < v < math.inf or np.isnan(v) else
                           ("reverse cheaper at every n" if v == 0 else "forward cheaper at every n")
                           for v in cross["n_model"]]
    cross["n_model"] = cross["n_model"].where((cross["n_model"] > 0) & np.isfinite(cross["n_model"]))
    cross["ratio"] = np.maximum(cross["n_model"] / cross["n_measured"],
                                cross["n_measured"] / cross["n_model"])
    # a crossover at a fitted width compares the model with the points it was fitted on (both
    # modes' times; the side-by-side ratios are not fitted); at a held-out width it predicts
    cross["width_fitted"] = cross["width"].isin(set(train["width"].unique()))
    return cross


def decisions(df: pd.DataFrame, pts: pd.DataFrame, fits: dict, train: pd.DataFrame, depth: int,
              itemsize: int = 4, forward: str = "jacfwd", tie: float = PAIRED_TOLERANCE) -> dict:
    """The forward-or-reverse answer the model gives (what `adcost advise` says) against the
    run's side-by-side ratios T(forward) / T(jacrev), at every point where both exist (a
    point's repeats: their median).  Each side says "forward", "reverse", or "tie" when the
    ratio lies within `tie` of 1 (the side-by-side tolerance; advise.TIE).  Per "all",
    "fitted" and "held_out" widths: the points; "named", where the model names one mode;
    "wrong", where it names one and the measurement has the other faster beyond `tie`;
    "worst_named", the largest measured T(named mode) / T(faster mode) over the named points
    (1 where the named one was faster); "tied", where the model calls the modes tied, and
    "worst_tied", the largest measured max(r, 1/r) there (what taking either may cost)."""
    paired = run_side_by_side(df, pts, forward)
    if paired.empty:
        return {}
    lines = paired.groupby(["framework", "width", "n", "m"])["ratio"].median().reset_index()
    fitted_widths = set(train["width"].unique())
    rows = []
    for r in lines.itertuples():
        model = model_ratio(fits, r.framework, r.n, r.m, depth, r.width, itemsize, forward)
        if not np.isfinite(model) or model <= 0:
            continue
        rows.append({"fitted": r.width in fitted_widths, "model": model, "measured": r.ratio})

    def side(value):
        return "forward" if value < 1 / tie else "reverse" if value > tie else "tie"

    def count(group):
        named = [r for r in group if side(r["model"]) != "tie"]
        tied = [r for r in group if side(r["model"]) == "tie"]
        cost = [max(r["measured"], 1.0) if r["model"] < 1 else max(1 / r["measured"], 1.0)
                for r in named]
        return {"points": len(group), "named": len(named),
                "wrong": sum(1 for r in named
                             if {side(r["model"]), side(r["measured"])} == {"forward", "reverse"}),
                "worst_named": float(max(cost)) if cost else None,
                "tied": len(tied),
                "worst_tied": float(max(max(r["measured"], 1 / r["measured"]) for r in tied))
                if tied else None}
    return {"tie": float(tie), "forward": forward, "all": count(rows),
            "fitted": count([r for r in rows if r["fitted"]]),
            "held_out": count([r for r in rows if not r["fitted"]])}


def crossover_counts(cross: list[dict], factor: float = 1.5) -> dict:
    """How many of a report's crossovers (its records) the model places within `factor` of the
    measured crossing ("within"), within `factor` of the measured interval ("agrees"), and
    where its T_fwd / T_rev at the measured crossing is within the row's tolerance of 1 (the
    ratio the measurement tells from 1: "ratio_within"), out of "cells": over all widths, and
    apart at the widths the model was fitted on ("fitted") and at those held out of the fit
    ("held_out", the model's prediction).  "steep": the same counts over the lines whose
    measured gap rises steeply enough at the crossing that the row's tolerance moves it by at
    most `factor` (slope * log(factor) >= log(tolerance): `crossing`); on the others the
    measured crossing itself is not known to within `factor`."""
    def near(r):
        value, tolerance = r.get("model_ratio"), r.get("tolerance")
        return (value is not None and tolerance is not None and np.isfinite(value) and value > 0
                and abs(math.log(value)) <= math.log(tolerance))

    def count(rows):
        return {"cells": len(rows),
                "within": sum(1 for r in rows if r.get("ratio") is not None
                              and np.isfinite(r["ratio"]) and r["ratio"] <= factor),
                "agrees": sum(1 for r in rows if r.get("agrees")),
                "ratio_within": sum(1 for r in rows if near(r))}
    def steep(r):
        slope, tolerance = r.get("slope"), r.get("tolerance")
        return (slope is not None and tolerance is not None and np.isfinite(slope)
                and slope * math.log(factor) >= math.log(tolerance))
    return {"all": count(cross),
            "steep": count([r for r in cross if steep(r)]),
            "fitted": count([r for r in cross if r.get("width_fitted") is not None
                             and bool(r["width_fitted"])]),
            "held_out": count([r for r in cross if r.get("width_fitted") is not None
                               and not bool(r["width_fitted"])])}


def as_measured(rep: dict) -> dict:
    """The figures of a report read as measured, to set beside those read at one speed: the
    held-out errors, how many crossovers lie within 1.5x (at every width, and apart at the
    fitted and the held-out widths) and the compute-bound ratio."""
    cross = rep.get("crossovers") or []
    counts = crossover_counts(cross)
    return {"held_out": rep.get("held_out", []), "crossovers": len(cross),
            "crossovers_within_1_5": counts["all"]["within"],
            "crossover_counts": counts,
            "compute_bound": rep.get("compute_bound", {})}


def fits_from(report_: dict) -> dict[tuple[str, str], ModeFit]:
    """The ModeFits of a report (as written to figures/cost_model.json)."""
    out = {}
    for f in report_.get("fits", []):
        f = dict(f)
        f["ranges"] = {k: tuple(v) for k, v in (f.get("ranges") or {}).items()}
        out[f["framework"], f["mode"]] = ModeFit(**f)
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
    """What compiling buys: per (compiled framework, eager framework, mode, n, m), the compile
    seconds, the two times per call and the break-even number of calls
    compile_s / (T_eager - T_compiled) after which the compiled variant has paid for its
    compile (None when it is not faster per call). From the compile break-even group
    (crossover.BreakEven), else from the crossover n x m grid (crossover.Compile, PrimalNM,
    JacobianNM: in the full grid the break-even group leaves them jax's, tf's and torch's
    points). Pairs come from Record.variant_of:
    torch_compile against torch, jax against jax_eager, tf against tf_eager."""
    ok = df[df["status"] == "ok"]
    keys = ["framework", "op", "n", "m"]

    def first(*frames):
        """One value per key, the first frame's where several have it."""
        both = pd.concat([f.assign(_rank=i) for i, f in enumerate(frames)])
        if both.empty:
            return pd.Series(dtype=float)
        best = both.groupby(keys)["_rank"].transform("min")
        return both[both["_rank"] == best].groupby(keys)["value"].median()

    def rows(benchmark, op=None):
        found = ok[ok["benchmark"] == benchmark]
        return found.assign(op=op) if op else found

    compile_s = first(rows("crossover.BreakEven.track_compile_s"),
                      rows("crossover.Compile.track_compile_s"))
    times = first(rows("crossover.BreakEven.time_call"),
                  pd.concat([rows("crossover.JacobianNM.time_jacobian"),
                             rows("crossover.PrimalNM.time_primal", "primal")]))
    out = []
    if compile_s.empty or times.empty:
        return out
    for compiled, eager in variant_pairs():
        have = compile_s[compile_s.index.get_level_values("framework") == compiled]
        for (_, op, n, m), seconds in have.items():
            key_c, key_e = (compiled, op, n, m), (eager, op, n, m)
            if key_c in times.index and key_e in times.index:
                out.append(break_even_row(compiled, eager, op, seconds, times[key_c],
                                          times[key_e], n=int(n), m=int(m)))
    return out


if __name__ == "__main__":   # python -m adcost.analysis.costmodel restamp FOLDER...
    if len(sys.argv) < 3 or sys.argv[1] != "restamp":
        sys.exit("usage: python -m adcost.analysis.costmodel restamp RESULTS_FOLDER...")
    for folder in sys.argv[2:]:
        print(restamp(folder), flush=True)
