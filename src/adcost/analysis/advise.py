"""`adcost advise`: which Jacobian mode to call for an f: R^n -> R^m, from the measured results.

The vectorized modes (jacfwd, jacrev, JAX's jacfwd_vmap) are predicted by the cost model of the run
(adcost.analysis.costmodel, fitted on crossover.JacobianWidth with the run's roofline rates):
seconds at (n, m, width, depth) with an interval (the larger of the fit's 90th-percentile
residual and its 90th-percentile error on the held-out widths) and
the regime (overhead, memory, compute); "extrapolated" outside the sizes the model was fitted
on; another mode of the best's framework predicted within TIE of the best is named as fast
(`tied_with_best`).  Other modes, and runs without width results, come from crossover.JacobianNM.time_jacobian
in the tidy data: inside the
measured (n, m) grid, bilinear interpolation of log T in (log n, log m); outside it, the
least-squares plane log T = a + b log n + c log m of that mode (said so in the answer).
With --depth and crossover.JacobianDepth results, times are scaled by the measured
T(depth) / T(depth of the n × m sweep) of the same mode.  For m = 1 the Jacobian is the
gradient, one VJP: the measured VJPs (crossover.Products.time_vjp) are among the modes.

With --problem NAME at sizes the run's workload study measured (workloads.Workload, a size
of grids.WORKLOADS), the answer is those measurements of that problem instead: each
framework's vectorized Jacobians, gradient (m = 1) and finite differences as timed, with the
samples' 25th-75th percentile; nothing from the MLP study.  At other sizes the MLP study's
predictions are given, as for --n and --m, with a note naming the sizes the run measured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import grids, paths
from ..frameworks.base import records
from ..ops import describe
from . import load as loading
from .costmodel import PAIRED_TOLERANCE



def forward_family(mode: str) -> bool:
    """Whether a mode's cost grows with n (forward mode, finite differences), from its descriptor."""
    return describe(mode).family in ("forward", "fd")

INEXACT = ("fd",)   # approximations: listed, never recommended over an exact mode
# How far beyond the measured n x m grid (a factor on n or m) a mode measured there only is
# extrapolated (the plane of log T in log n, log m).  Measured (JAX, width 64, m = 3, one thread,
# the AMD VM, 2026-12-03): jacrev_loop took 0.23 ms at n = 4096 (4x the grid's 1024; the plane
# from the reference run said 0.24), 1.06 ms at 16384 (the plane: 0.23) and 16.1 ms at 100000
# (0.21): beyond the grid the first layer's weights, not the per-call cost, set the time.
GRID_REACH = 4.0
# The same for --depth, from the measured depth sweep (crossover.JacobianDepth, depths 1-64 in the
# full grid) scaled by the power law fitted over it.  Measured (JAX, n = m = 5, width 64, one
# thread, the AMD VM, 2026-12-03, against the reference run's predictions): jacrev_loop 1.79 ms at
# depth 128 (predicted 2.02), 7.65 at 256 (2.74) and jacfwd_loop 46.6 ms at 1000 (2.97): the
# per-call cost that flattens the small depths' slope stops hiding the layers' own.
DEPTH_REACH = 2.0
GENERIC_API = {
    "jacfwd_loop": "a loop of n JVPs, one per basis vector (adcost jacfwd_loop)",
    "jacrev_loop": "a loop of m VJPs, one per basis covector (adcost jacrev_loop)",
    "fd": "central finite differences (2n evaluations of f, not exact)",
    "vjp": "one VJP, f(x) and the pullback of a cotangent (adcost vjp)",
    "grad": "one reverse pass (adcost grad)",
}
WORKLOAD = "Workload.time_workload"
WORKLOAD_MODES = ("jacfwd", "jacrev", "grad", "fd")   # the workload study's derivative modes
# sizes that set a problem's data, not its shapes: a time measured at one holds at another
VALUE_SIZES = ("seed",)


# Two modes' times closer than this are not told apart: the side-by-side timings of jacfwd and
# jacrev in one process repeat within it, and the measured crossover lies where the two modes
# are this close over a range of n
TIE = PAIRED_TOLERANCE


class NoResults(ValueError):
    """No measured results to advise from."""


@dataclass
class Prediction:
    framework: str
    mode: str
    seconds: float
    extrapolated: bool
    api: str
    low: float | None = None        # the interval (cost model only)
    high: float | None = None
    regime: str | None = None       # overhead, memory or compute (cost model only)
    source: str = "measured grid"   # "cost model" or "measured grid"
    flops: float | None = None      # the cost model's count of the call's arithmetic (costmodel.work)

    def to_dict(self) -> dict:
        return {"framework": self.framework, "mode": self.mode, "predicted_s": self.seconds,
                "low_s": self.low, "high_s": self.high, "regime": self.regime,
                "extrapolated": bool(self.extrapolated), "from": self.source, "call": self.api,
                "flops": self.flops}


@dataclass
class Advice:
    n: int
    m: int
    depth: int | None
    predictions: list[Prediction]
    source: str
    notes: list[str] = field(default_factory=list)
    problem: str | None = None
    width: int | None = None
    measured: str | None = None     # the workload label the times were measured at (workloads.Workload)

    @property
    def best(self) -> Prediction:
        """The fastest exact mode (finite differences only when nothing else was measured)."""
        exact = [p for p in self.predictions if p.mode not in INEXACT] or self.predictions
        return min(exact, key=lambda p: p.seconds)

    @property
    def tied(self) -> list[Prediction]:
        """The best's framework's other exact modes predicted within TIE of it: the two
        modes timed side by side in one process are not told apart closer than that, so the
        advice cannot name one of them faster (the cost model's crossover falls in such
        lines: docs/costmodel.md)."""
        best = self.best
        return [p for p in self.predictions
                if p is not best and p.framework == best.framework and p.mode not in INEXACT
                and p.seconds <= best.seconds * TIE]

    def as_records(self) -> list[dict]:
        """--json: the predictions, best first, each with its time over the best's and
        whether it is tied with the best (`tied`)."""
        best, tied = self.best, self.tied
        return [dict(p.to_dict(), over_best=p.seconds / best.seconds,
                     tied_with_best=any(p is t for t in tied)) for p in self.predictions]


def api_of(framework: str, mode: str) -> str:
    """The call behind a mode, from the framework's record (no framework import)."""
    rec = records().get(framework)
    note = rec.notes.get(mode) if rec else None
    return note or GENERIC_API.get(mode) or f"{framework} {mode}"


YOURS = "your results"   # how load_results labels a run of yours (not the committed reference)


def load_results(source: str | Path | None = None):
    """Tidy data of one run, where it came from (a label) and the cost-model report `adcost
    plots` stored beside it (stored_model; None without one): `source` (a results folder, tidy
    file or asv folder/file); by default your results folder, else the committed reference run."""
    candidates = [Path(source)] if source else [paths.results(), paths.reference()]
    for where in candidates:
        try:
            df = loading.load(where)
        except (OSError, ValueError) as exc:
            if source:
                raise NoResults(f"no measured results in {where}: {exc}") from None
            continue
        if not df.empty:
            label = paths.reference_label(where) or YOURS
            return df, f"{where} ({label}: {loading.describe_run(df)})", stored_model(where)
    where = source or f"{paths.results()} or {paths.reference()} (under {Path.cwd()})"
    installed = paths.installed_reference()
    hint = (f"; the committed reference run: --results {installed}"
            if installed and installed.resolve() != paths.reference().resolve() else "")
    raise NoResults(f"no measured results in {where}; run `make bench` (or pass --results "
                    f"PATH{hint})")


def stored_model(where: str | Path) -> Path | None:
    """figures/cost_model.json of the results folder `where` is (or holds the asv results or the
    tidy file of), None where there is none: `adcost plots` writes it, and advise reads it only
    where it was computed from the same data by the same code (costmodel.cached_report)."""
    where = Path(where)
    for folder in (where, *where.parents[:3]):    # a folder, a tidy file, asv/<machine>/<file>
        if (folder / "figures" / "cost_model.json").is_file():
            return folder / "figures" / "cost_model.json"
    return None


def _ok(df, suffix: str):
    status = df["status"] if "status" in df else "ok"
    return df[(status == "ok") & df["benchmark"].astype(str).str.endswith(suffix) & df["value"].notna()]


def _interpolate(ns, ms, table, n, m) -> float | None:
    """Bilinear interpolation of log T over a full (log n, log m) grid; None if outside or holed."""
    ln, lm = math.log(n), math.log(m)
    if not (ns[0] <= ln <= ns[-1] and ms[0] <= lm <= ms[-1]) or np.isnan(table).any():
        return None
    i = min(max(np.searchsorted(ns, ln) - 1, 0), max(len(ns) - 2, 0))
    j = min(max(np.searchsorted(ms, lm) - 1, 0), max(len(ms) - 2, 0))
    if len(ns) == 1 or len(ms) == 1:
        return None
    tn = (ln - ns[i]) / (ns[i + 1] - ns[i])
    tm = (lm - ms[j]) / (ms[j + 1] - ms[j])
    v = ((1 - tn) * (1 - tm) * table[i, j] + tn * (1 - tm) * table[i + 1, j]
         + (1 - tn) * tm * table[i, j + 1] + tn * tm * table[i + 1, j + 1])
    return float(v)


def predict_mode(rows, n: int, m: int, mode: str = "jacrev") -> tuple[float, bool]:
    """Seconds for one (framework, mode) at (n, m) and whether it lies outside the measured grid."""
    t = rows.groupby(["n", "m"])["value"].median()
    logs = np.log(t.to_numpy(float))
    nn = np.log(t.index.get_level_values("n").to_numpy(float))
    mm = np.log(t.index.get_level_values("m").to_numpy(float))
    grid = t.unstack("m").sort_index().sort_index(axis=1)
    ns, ms = np.log(grid.index.to_numpy(float)), np.log(grid.columns.to_numpy(float))
    inside = _interpolate(ns, ms, np.log(grid.to_numpy(float)), n, m)
    if inside is not None:
        return math.exp(inside), False
    # a dimension measured at one value only (larger sizes skipped): its exponent from the cost model
    forward = forward_family(mode)
    prior = {"n": 1.0 if forward else 0.0, "m": 0.0 if forward else 1.0}
    target, offset, columns, query = logs.copy(), 0.0, [np.ones_like(nn)], [1.0]
    for key, values, q in (("n", nn, math.log(n)), ("m", mm, math.log(m))):
        if np.ptp(values) > 0:
            columns.append(values)
            query.append(q)
        else:
            target -= prior[key] * values
            offset += prior[key] * q
    coef = np.linalg.lstsq(np.column_stack(columns), target, rcond=None)[0]
    outside = not (ns.min() <= math.log(n) <= ns.max() and ms.min() <= math.log(m) <= ms.max())
    return math.exp(coef @ query + offset), outside


def depth_factor(rows, depth: int, base_depth: int) -> float:
    """T(depth) / T(base_depth) from rows over depth: log-log interpolation, linear extrapolation."""
    t = rows.groupby("depth")["value"].median().sort_index()
    d, logt = np.log(t.index.to_numpy(float)), np.log(t.to_numpy(float))
    f = lambda x: np.interp(math.log(x), d, logt) if len(d) < 2 or d[0] <= math.log(x) <= d[-1] \
        else logt[0 if math.log(x) < d[0] else -1] + np.polyfit(d, logt, 1)[0] * (math.log(x) - d[0 if math.log(x) < d[0] else -1])
    return math.exp(f(depth) - f(base_depth))


def _note_memory(advice: Advice, n: int, m: int, depth: int, width: int) -> None:
    """A note when the MLP advised on holds more float32 weights than this machine has memory
    available: the times are then of a network that would not run here."""
    from ..envvars import available_memory
    from .costmodel import work
    weights = work("primal", n, m, depth, width).weights     # weights and biases, float32
    have = available_memory()
    if weights > have:
        advice.notes.append(f"an MLP of width {width} and depth {depth} with n={n}, m={m} holds "
                            f"{weights / 2 ** 30:.3g} GiB of float32 weights, more than the "
                            f"{have / 2 ** 30:.3g} GiB this machine has available: it would not run "
                            "here")


def _measured_depths(df) -> tuple[int, int] | None:
    """The smallest and largest depth of the run's depth sweep (JacobianDepth, else
    PrimalDepth), None without one."""
    for suffix in ("JacobianDepth.time_jacobian", "PrimalDepth.time_primal"):
        rows = _ok(df, suffix)
        if "depth" in rows and rows["depth"].notna().any():
            depths = rows["depth"].dropna().astype(int)
            return int(depths.min()), int(depths.max())
    return None


def _depth_scale(df, advice: Advice, g, fw: str, mode: str, depth: int) -> float:
    """Factor from the n × m sweep's depth to `depth`: the mode's JacobianDepth, else the primal's."""
    base = g["depth"].dropna() if "depth" in g else []
    if len(base) == 0:
        advice.notes.append(f"{fw} {mode}: depth of the n x m sweep unknown; depth ignored")
        return 1.0
    base = int(base.median())
    jac = _ok(df, "JacobianDepth.time_jacobian")
    jac = jac[(jac["framework"] == fw) & (jac["op"] == mode)]
    if not jac.empty:
        return depth_factor(jac, depth, base)
    primal = _ok(df, "PrimalDepth.time_primal")
    primal = primal[primal["framework"] == fw]
    if not primal.empty:
        advice.notes.append(f"{fw} {mode}: no JacobianDepth results; scaled with the primal's time over depth")
        return depth_factor(primal, depth, base)
    advice.notes.append(f"{fw} {mode}: no depth results; time at depth {base} shown")
    return 1.0


def runnable(problem, framework: str, mode: str) -> str | None:
    """Why `framework` cannot run `mode` on `problem` (None: it can, or it is not installed
    here and so cannot be asked)."""
    from ..frameworks.base import framework_class, missing_reason
    if missing_reason(framework):
        return None
    return framework_class(framework)(dtype="float64").supports(problem, mode)


def model_predictions(df, n: int, m: int, depth: int | None, width: int | None,
                      framework: str | None, measured: tuple[int, int] | None = None,
                      stored: Path | None = None) -> tuple[list[Prediction], dict]:
    """The cost model's predictions of the vectorized modes (none without width results), from
    the report stored at `stored` where it is this run's by the same code, else fitted here."""
    from . import costmodel
    report = costmodel.cached_report(df, stored)
    if not report:
        return [], {}
    fitted_depth = report["depth"]
    depth = depth or fitted_depth
    width = width or grids.crossover()["width"]
    out = []
    held = {(r["framework"], r["mode"]): r["p90_error"] for r in report.get("held_out", [])}
    # Another depth: the model at the depth it was fitted at, times the mode's measured
    # T(depth) / T(fitted depth) from the depth sweep (at width 64).  Its own FLOPs and bytes
    # over depth have no per-layer cost: JAX's jacrev at n = m = 5, width 64 took 0.24, 2.66 and
    # 16.6 ms at depths 64, 256 and 1000 where they said 0.41, 1.48 and 5.64 (the AMD VM against
    # the reference run's model, 2026-12-03).
    # `measured`: the depth sweep's (smallest, largest) depth (_measured_depths)
    sweep = _ok(df, "JacobianDepth.time_jacobian") if depth != fitted_depth and measured else None
    for (fw, mode), fit in costmodel.fits_from(report).items():
        if mode == "primal" or (framework and fw != framework):
            continue
        moved = fit.work(mode, n, m, depth, width)
        rows = (sweep[(sweep["framework"] == fw) & (sweep["op"] == mode)]
                if sweep is not None else None)
        if rows is not None and len(rows) and rows["depth"].nunique() > 1:
            seconds = float(fit.predict(*fit.work(mode, n, m, fitted_depth, width))
                            * depth_factor(rows, depth, fitted_depth))
            outside = not (measured[0] <= depth <= measured[1])
            extrapolated = fit.extrapolated(n=n, m=m, width=width) or outside
        else:
            seconds = float(fit.predict(*moved))
            extrapolated = fit.extrapolated(n=n, m=m, width=width, depth=depth)
        # the interval: the larger of the fit's 90th-percentile residual and the 90th-percentile
        # error on the widths held out of the fit
        factor = math.exp(max(fit.spread, math.log1p(held.get((fw, mode), 0.0))))
        out.append(Prediction(fw, mode, seconds, extrapolated, api_of(fw, mode),
                              seconds / factor, seconds * factor,
                              fit.regime_at(mode, n, m, depth, width), "cost model",
                              float(costmodel.work(mode, n, m, depth, width).flops)))
    return out, report


def _shape(name: str, sizes: dict) -> tuple:
    """A registered problem's sizes with its builder's defaults, less those that set only its
    data's values (VALUE_SIZES): two equal shapes are the same function to time."""
    from ..problems import PROBLEMS, with_defaults
    full = with_defaults(name, sizes) if name in PROBLEMS else dict(sizes)
    return tuple(sorted((k, str(v)) for k, v in full.items() if k not in VALUE_SIZES))


def workload_runs(df, name: str, sizes: dict) -> tuple[str | None, list[str]]:
    """(the workload label of problem `name` at `sizes` that the run's workload study measured,
    None if none; every label it measured `name` at, in the run's order)."""
    rows = _ok(df, WORKLOAD)
    if rows.empty or "workload" not in rows:
        return None, []
    labels = [label for label in dict.fromkeys(rows["workload"].dropna().astype(str))
              if label.partition(":")[0] == name]
    want = _shape(name, sizes)
    same = [label for label in labels if _shape(name, grids.workload_sizes(label)[1]) == want]
    return (same[0] if same else None), labels


def _size_flags(label: str) -> str:
    return " ".join(f"--size {k}={v}" for k, v in grids.workload_sizes(label)[1].items())


def measured_advice(df, problem, label: str, framework: str | None, source: str,
                    notes: list[str]) -> Advice | None:
    """Advice from the workload study's times of `problem` at `label` (workloads.Workload):
    each framework's measured derivative modes (WORKLOAD_MODES; the gradient only for m = 1),
    the median call with the samples' 25th-75th percentile.  None when the run has none of
    `framework`'s there."""
    every = df[df["benchmark"].astype(str).str.endswith(WORKLOAD) & (df["workload"] == label)]
    every = every[every["op"].isin(WORKLOAD_MODES) & ((every["framework"] == "fd")
                                                      == (every["op"] == "fd"))]
    if problem.m != 1:
        every = every[every["op"] != "grad"]
    if framework:
        every = every[every["framework"] == framework]
    ok = every[(every["status"] == "ok") & every["value"].notna()]
    if ok.empty:
        return None
    advice = Advice(problem.n, problem.m, None, [], source, list(notes), problem.name,
                    measured=label)
    for (fw, mode), g in ok.groupby(["framework", "op"]):
        runnable_reason = runnable(problem, fw, mode)
        if runnable_reason is not None:       # measured, but a problem of another shape
            advice.notes.append(f"left out {fw} {mode}: {runnable_reason}")
            continue
        r = g.iloc[-1]
        band = [float(r[c]) if c in g and pd.notna(r[c]) else None for c in ("q25", "q75")]
        api = ("the gradient (f has one output): " if mode == "grad" else "") + api_of(fw, mode)
        advice.predictions.append(Prediction(fw, mode, float(r["value"]), False, api, *band,
                                             source="measured workload"))
    if not advice.predictions:
        return None
    timed = set(zip(ok["framework"], ok["op"]))
    skipped = sorted({f"{fw} {mode}" for fw, mode in zip(every["framework"], every["op"])
                      if (fw, mode) not in timed})
    if skipped:
        advice.notes.append(f"not measured at these sizes (skipped in the run): {', '.join(skipped)}")
    primal = _ok(df, WORKLOAD)
    primal = primal[(primal["workload"] == label) & (primal["op"] == "primal")]
    if framework:
        primal = primal[primal["framework"] == framework]
    if len(primal):
        fastest = primal.loc[primal["value"].astype(float).idxmin()]
        advice.notes.append(f"one call of f (the primal) took {float(fastest['value']) * 1e3:.3g} ms "
                            f"in {fastest['framework']}, the fastest measured")
    advice.notes.append("interval: the 25th-75th percentile of the run's samples; the loop modes "
                        f"were not measured on {problem.name} (adcost profile --problem "
                        f"{problem.name} {_size_flags(label)} times every mode)")
    advice.predictions.sort(key=lambda p: p.seconds)
    return advice


def advise(df, n: int, m: int, depth: int | None = None, framework: str | None = None,
           source: str = "?", problem=None, width: int | None = None,
           sizes: dict | None = None, stored: Path | None = None) -> Advice:
    """Predicted seconds per (framework, mode) at (n, m): the vectorized modes from the run's
    cost model when it has width results, the others from the MLP crossover sweep; with
    `problem`, its n and m are used and modes that cannot run it are left out (noted).  With
    `problem` and its `sizes` (a registered problem's), the run's own times of that problem
    where its workload study measured those sizes (measured_advice).  `stored`: the cost-model
    report `adcost plots` wrote beside the results (load_results), read where it is this run's."""
    early = []
    if problem is not None:
        n, m = problem.n, problem.m
        if sizes is not None:
            label, labels = workload_runs(df, problem.name, sizes)
            if label is not None:
                if depth is not None or width is not None:
                    early.append(f"--depth and --width describe the MLP study's network; "
                                 f"{problem.name}'s measured times do not use them")
                found = measured_advice(df, problem, label, framework, source, early)
                if found is not None:
                    return found
                early = [f"the run measured {problem.name} at these sizes, but not with "
                         f"{framework}"]
            elif labels:
                early.append(f"the run measured {problem.name} at "
                             + "; ".join(label.partition(":")[2] for label in labels)
                             + f" (its workload study): e.g. adcost advise --problem {problem.name} "
                             + f"{_size_flags(labels[0])} answers from those measurements")
    measured_depths = _measured_depths(df) if depth is not None else None
    if measured_depths and not (measured_depths[0] / DEPTH_REACH <= depth
                                <= measured_depths[1] * DEPTH_REACH):
        # measured: JAX's loops ran 2.8x and 16x over the depth sweep's power law at depths 256
        # and 1000, its jacrev 3x over the cost model's layers at 1000
        raise NoResults(f"depth {depth} lies more than {DEPTH_REACH:g}x beyond the depths the run "
                        f"measured ({measured_depths[0]}-{measured_depths[1]}): no mode is "
                        f"predicted there; measure it: adcost profile --problem mlp --size "
                        f"depth={depth} --size n={n} --size m={m}")
    modelled, report = model_predictions(df, n, m, depth, width, framework, measured_depths,
                                         stored)
    rows = _ok(df, "JacobianNM.time_jacobian")
    if m == 1:   # one output: the Jacobian is the gradient, one VJP (crossover.Products)
        vjp = _ok(df, "Products.time_vjp")
        rows = pd.concat([rows, vjp.assign(op="vjp")], ignore_index=True) if len(vjp) else rows
    if framework:
        # a framework the model covers needs no n x m results (the full grid's torch_compile
        # runs in the width study only)
        measured = set(rows["framework"])
        rows = rows[rows["framework"] == framework]
        if rows.empty and not modelled:
            from .costmodel import fits_from
            have = ", ".join(sorted(measured | {fw for fw, _ in fits_from(report)})) or "none"
            raise NoResults(f"no JacobianNM or cost-model results for framework {framework!r} in "
                            f"{source} (have: {have})")
    if rows.empty and not modelled:
        raise NoResults(f"no crossover.JacobianNM.time_jacobian results in {source}"
                        + (f"; the committed reference run: --results {paths.reference()}"
                           if YOURS in source else ""))
    advice = Advice(n, m, depth, [], source, list(early),
                    width=width or (grids.crossover()["width"] if modelled else None))
    if modelled and problem is None:
        _note_memory(advice, n, m, depth or report["depth"], advice.width)
    # the modes the model predicts ("jacfwd, jacfwd_vmap and jacrev" where JAX's is fitted)
    covered = sorted({p.mode for p in modelled})
    covered = " and ".join(filter(None, [", ".join(covered[:-1]), covered[-1]])) if covered else ""
    if modelled:
        advice.notes.append(
            f"{covered} from the cost model (fitted at widths "
            f"{', '.join(map(str, report['fitted_widths']))}, depth {report['depth']}), at width "
            f"{advice.width}" + ("" if width else " (the crossover grid's; --width sets it)")
            + (f", depth {depth}" if depth else "")
            + (f"; times at the run's median machine speed ({report['speed']['reference_flops_per_s'] / 1e9:.0f} "
               "GFLOP/s of its matmul probe), the measured modes' as measured"
               if (report.get("speed") or {}).get("normalized") else ""))
    for p in modelled:
        if problem is not None and runnable(problem, p.framework, p.mode) is not None:
            continue
        advice.predictions.append(p)
    done = {(p.framework, p.mode) for p in modelled}
    grid_width = grids.crossover()["width"]
    if width is not None and width != grid_width and len(rows):
        left = sorted({f"{fw} {mode}" for fw, mode in zip(rows["framework"], rows["op"])
                       if (fw, mode) not in done})
        if left:
            advice.notes.append(f"left out {', '.join(left)}: measured at width {grid_width} only "
                                f"(the cost model covers {covered})")
        rows = rows.iloc[:0]
    ns, ms = rows["n"].astype(float), rows["m"].astype(float)
    if len(rows) and not (ns.min() <= n <= ns.max() and ms.min() <= m <= ms.max()):
        advice.notes.append(f"n={n}, m={m} lies outside the measured range n in [{ns.min():g}, {ns.max():g}], "
                            f"m in [{ms.min():g}, {ms.max():g}]: times are extrapolated")
    far = bool(len(rows)) and not (ns.min() / GRID_REACH <= n <= ns.max() * GRID_REACH
                                   and ms.min() / GRID_REACH <= m <= ms.max() * GRID_REACH)
    if far:
        left = sorted({f"{fw} {mode}" for fw, mode in zip(rows["framework"], rows["op"])
                       if (fw, mode) not in done})
        if left:
            advice.notes.append(
                f"left out {', '.join(left)}: n={n}, m={m} lies more than {GRID_REACH:g}x beyond the "
                f"n x m grid they were measured on, too far for a power law fitted where the calls "
                f"are mostly per-call cost" + (f" (the cost model's {covered} count FLOPs and "
                                               "bytes, and go on)" if modelled else ""))
        rows = rows.iloc[:0]
    depth_outside = bool(measured_depths) and not (measured_depths[0] <= depth <= measured_depths[1])
    for (fw, mode), g in rows.groupby(["framework", "op"]):
        if (fw, mode) in done:
            continue
        if problem is not None:
            reason = runnable(problem, fw, mode)
            if reason is not None:
                advice.notes.append(f"left out {fw} {mode}: {reason}")
                continue
        seconds, outside = predict_mode(g, n, m, mode)
        if depth is not None:
            seconds *= _depth_scale(df, advice, g, fw, mode, depth)
        api = ("the gradient (f has one output): " if mode == "vjp" else "") + api_of(fw, mode)
        advice.predictions.append(Prediction(fw, mode, seconds, outside or depth_outside, api))
    if not advice.predictions:
        if problem is None and not far:
            raise NoResults(f"no mode of the run can be predicted here: " + "; ".join(advice.notes))
        if problem is None:
            raise NoResults(f"no mode can be predicted at n={n}, m={m}: it lies more than "
                            f"{GRID_REACH:g}x beyond the n x m grid the run measured (n "
                            f"{ns.min():g}-{ns.max():g}, m {ms.min():g}-{ms.max():g}) and the run "
                            "has no cost model (its width study)")
        raise NoResults(f"no measured framework and mode in {source} can run {problem.name}")
    advice.predictions.sort(key=lambda p: p.seconds)
    advice.problem = None if problem is None else problem.name
    _note_ties(advice, report)
    return advice


def _note_ties(advice: Advice, report: dict) -> None:
    """Where the best is tied with another mode: what a tied call of the same pair of modes
    cost in the run (the model's `decisions` of that forward mode against jacrev, from its
    side-by-side ratios), and how to settle it."""
    best = advice.best
    tied = [p for p in advice.tied if p.source == "cost model" == best.source]
    if not tied:
        return
    said = ""
    for p in tied:
        if "jacrev" not in (best.mode, p.mode):
            continue                 # two forward modes: the run's decisions do not pair them
        forward = p.mode if best.mode == "jacrev" else best.mode
        found = (report.get("decisions") if forward == "jacfwd" else
                 ((report.get("other_forward") or {}).get(forward) or {}).get("decisions"))
        found = (found or {}).get("all") or {}
        if found.get("tied") and found.get("worst_tied"):
            said = (f"where this run's model called {forward} and jacrev tied ({found['tied']} of "
                    f"{found['points']} side-by-side points), the slower of the two measured at "
                    f"most {found['worst_tied']:.2f}x the faster; ")
            break
    advice.notes.append(said + "to know which is faster on your function, time both: "
                        "adcost profile MODULE:FUNCTION --x0 FILE.npy")


def _interval(p: Prediction) -> str:
    return f"{p.low * 1e3:.3g}-{p.high * 1e3:.3g} ms" if p.low is not None else "-"


def work_lines(a: Advice) -> list[str]:
    """The arithmetic the model counts for the best framework's jacfwd and jacrev (the same for
    every framework: the MLP's products and elementwise work), beside their predicted times:
    how much of the choice is work, and how much the rate it runs at."""
    mine = {p.mode: p for p in a.predictions
            if p.framework == a.best.framework and p.flops and p.mode in ("jacfwd", "jacrev")}
    if len(mine) < 2:
        return []
    from ..profiling import fmt_work
    fwd, rev = mine["jacfwd"], mine["jacrev"]
    fewer = "forward" if fwd.flops < rev.flops else "reverse"
    return [f"  work (the model's count of the MLP's arithmetic): jacfwd "
            f"{fmt_work(fwd.flops, fwd.seconds)}, jacrev {fmt_work(rev.flops, rev.seconds)} "
            f"({a.best.framework}): {fewer} mode does "
            f"{max(fwd.flops, rev.flops) / min(fwd.flops, rev.flops):.2f}x less"]


def format_advice(a: Advice) -> str:
    best = a.best
    said = "measured" if a.measured else "predicted"
    lines = [f"For f: R^{a.n} -> R^{a.m}" + (f" ({a.measured})" if a.measured else "")
             + (f" at depth {a.depth}" if a.depth else "") +
             (f", width {a.width}" if a.width else "") +
             f": use {best.framework} {best.mode}, {best.api}",
             f"  {said} {best.seconds * 1e3:.3g} ms" + (f" ({_interval(best)}, {best.regime}-bound)"
                                                        if best.regime else "")
             + (" (extrapolated)" if best.extrapolated else ""),
             *([f"  as fast here: " + ", ".join(f"{p.mode} ({p.seconds / best.seconds:.2f}x)"
                                                 for p in a.tied)
                + f": the model does not tell {best.framework}'s modes within {TIE:g}x apart "
                "(two modes timed side by side in one process repeat within that)"]
               if a.tied else []),
             "", f"  {'framework':<13} {'mode':<26} {said:>12}  {'interval':<19} {'regime':<8}  call"]
    for p in a.predictions:
        flag = " *" if p.extrapolated else ""
        lines.append(f"  {p.framework:<13} {p.mode:<26} {p.seconds * 1e3:>9.3g} ms{flag:2} "
                     f"{_interval(p):<19} {p.regime or '-':<8}  {p.api}")
    lines += work_lines(a)
    lines += [f"  note: {note}" for note in dict.fromkeys(a.notes)]
    if a.measured:
        lines.append(f"  from: {a.source} (workloads.Workload at {a.measured})")
        lines.append(f"  these are the run's measurements of {a.problem} at these sizes (the "
                     "median call), not predictions")
        return "\n".join(lines)
    lines.append(f"  from: {a.source} (cost model: crossover.JacobianWidth and roofline; other modes: "
                 "crossover.JacobianNM.time_jacobian; * = extrapolated)")
    lines.append("  these are predictions from the MLP crossover study (an MLP of the measured width "
                 "and depth with this n and m), not measurements of "
                 + (f"{a.problem}" if a.problem else "your function")
                 + "; to measure it: adcost profile "
                 + (f"--problem {a.problem}" if a.problem else
                    "MODULE:FUNCTION --x0 FILE.npy (--x0 at several sizes: where its crossover "
                    "lies)"))
    return "\n".join(lines)


def run(n: int | None, m: int | None, depth: int | None = None, framework: str | None = None,
        results: str | None = None, problem=None, width: int | None = None,
        as_json: bool = False, sizes: dict | None = None) -> int:
    df, source, stored = load_results(results)
    advice = advise(df, n, m, depth, framework, source, problem, width, sizes, stored)
    if as_json:
        import json
        print(json.dumps(advice.as_records(), indent=1))
    else:
        print(format_advice(advice))
    return 0
