"""results/site/index.html: one self-contained page with the figures, the summary, the environment.

No CDN, no external request: figures are embedded as SVG data URIs (PNG and SVG files
linked beside them), the summary table is inline HTML, the tidy data is linked
(../tidy.csv, ../tidy.parquet) and so is asv's own site (../asv/html/) when it was published.
A small inline script records load errors and marks, on the <html> element, how many
figures decoded (data-figures-loaded / data-figures-expected / data-errors): the headless
browser test reads them.

    python -m adcost.analysis.site [--results DIR] [--out DIR]
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import math
import sys
from pathlib import Path

import pandas as pd

from .. import paths

from . import load, summary
from .plots import FIGURES
REFERENCES = [
    ("Baydin et al., JMLR 2018", "Jacobian by forward mode ≈ n·c·ops(f), reverse ≈ m·c·ops(f), c < 6, typically 2–3"),
    ("Griewank & Walther 2008", "a gradient costs at most ω·ops(f), ω = 3 (cheap gradient principle)"),
    ("Chen et al. 2016", "O(√L) memory for one extra forward pass (1000-layer ResNet: 48 GB → 7 GB, ~30 % time)"),
    ("Griewank & Walther 2000 (revolve)", "binomial checkpointing: c checkpoints, r sweeps reverse C(c+r, c) steps"),
    ("PyTorch function-transforms tutorial (torch 1.11, CPU)",
     "Din=32/Dout=2048: jacfwd 1.32 ms vs jacrev 12.46 ms (log2 ratio −3.2); "
     "Din=2048/Dout=32: jacfwd 7.99 ms vs jacrev 1.09 ms (log2 ratio +2.9); one run each"),
]
CHECK_SCRIPT = """
window.__errors = [];
window.addEventListener('error', function (e) {
  var t = e.target || {};
  window.__errors.push(t.src || t.href || e.message || 'error');
}, true);
window.addEventListener('load', function () {
  var figs = document.querySelectorAll('figure img');
  var ok = 0;
  figs.forEach(function (img) { if (img.complete && img.naturalWidth > 0) ok++; });
  var root = document.documentElement;
  root.setAttribute('data-figures-expected', String(figs.length));
  root.setAttribute('data-figures-loaded', String(ok));
  root.setAttribute('data-errors', String(window.__errors.length));
  root.setAttribute('data-error-list', window.__errors.join(' | '));
});
"""
CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
h1 { margin-bottom: .2em } nav a { margin-right: 1em }
figure { margin: 2em 0; border-top: 1px solid #ddd; padding-top: 1em }
figure img { max-width: 100%; height: auto; display: block }
figcaption { color: #444; max-width: 60em }
table { border-collapse: collapse; font-size: 13px } td, th { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right }
th { background: #f4f4f4 } td:first-child, th:first-child { text-align: left }
.missing { color: #a33 } code { background: #f4f4f4; padding: 0 3px }
"""


def inline_image(path: Path, alt: str) -> str:
    """`path` (an SVG, or a PNG) inlined as an <img>."""
    kind = "svg+xml" if path.suffix == ".svg" else "png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/{kind};base64,{data}" alt="{html.escape(alt)}">'


def figure_html(module, figures: Path, site: Path) -> str:
    """A figure inlined: its SVG, else its PNG (a committed run has its PNGs only), else a
    note that its data is missing."""
    title, _, rest = module.__doc__.strip().partition("\n")
    svg, png = figures / f"{module.NAME}.svg", figures / f"{module.NAME}.png"
    shown = svg if svg.exists() else png if png.exists() else None
    if shown is None:
        return (f'<section id="{module.NAME}"><h2>{html.escape(title)}</h2>'
                f'<p class="missing">Not built: its data is missing from these results.</p></section>')
    links = " · ".join(f'<a href="{rel(p, site)}">{p.suffix[1:].upper()}</a>' for p in (svg, png) if p.exists())
    return (f'<figure id="{module.NAME}">{inline_image(shown, title)}'
            f'<figcaption><b>{html.escape(title)}</b> {html.escape(" ".join(rest.split()))} '
            f'<span class="links">({links})</span></figcaption></figure>')


def stored_key(rep: dict, df: pd.DataFrame | None) -> dict | None:
    """df's provenance at the arguments the stored report `rep` records (costmodel.provenance),
    computed once for the page and its explorer; None without data or without a recorded one."""
    stored = rep.get("provenance") or {}
    if df is None or df.empty or not stored:
        return None
    from . import costmodel
    return costmodel.provenance(df, stored.get("itemsize", 4), stored.get("normalize", True))


def stale_text(rep: dict, df: pd.DataFrame | None, key: dict | None = None) -> str:
    """What the page says where the stored report was not computed from `df` by this code
    (costmodel.provenance; `key`: stored_key, computed already), or records no provenance; ""
    where it was or without `df`."""
    if df is None or df.empty:
        return ""
    stored = rep.get("provenance") or {}
    rerun = ": run <code>adcost plots</code> on these results for the model's figures.</b></p>"
    if not stored:
        return ("<p class='stale'><b>These tables record no provenance (written before "
                "2026-12-05): they may come from other results or older code than this page's"
                + rerun)
    key = key or stored_key(rep, df)
    said = {"data": "other results than this page's",
            "code": "another version of the cost model's code"}
    differ = [name for name in said if stored.get(name) != key[name]]
    if not differ:
        return ""
    return ("<p class='stale'><b>These tables were computed from "
            + " and by ".join(said[name] for name in differ) + rerun)


def model_html(figures: Path, df: pd.DataFrame | None = None, rep: dict | None = None,
               key: dict | None = None) -> str:
    """The cost model's fits, held-out errors, crossovers and compile break-even
    (figures/cost_model.json, or `rep` read from it already), as tables; nothing when the run
    has none.  Given the page's data `df`, it says so where the report was computed from other
    data or by other code (`key`: stored_key, computed already)."""
    path = figures / "cost_model.json"
    if rep is None and not path.exists():
        return ""
    rep = json.loads(path.read_text()) if rep is None else rep

    def table(rows, columns, fmt):
        if not rows:
            return ""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(c, r.get(c)))}</td>" for c in columns)
                       + "</tr>" for r in rows)
        return f"<div style='overflow-x:auto'><table><tr>{head}</tr>{body}</table></div>"

    def fmt(column, v):
        if v is None:
            return "-"
        if isinstance(v, float):
            if column.endswith("error"):
                return f"{100 * v:.0f} %"
            return f"{v:.3g}"
        return str(v)

    parts = ["<h2 id='model'>The cost model: fits and held-out errors</h2>", stale_text(rep, df, key)]

    def ratios(bound):
        return ", ".join(f"{fw} {v:.2f}×" for fw, v in sorted(bound.items()))
    held_columns = ["framework", "mode", "points", "median_error", "p90_error", "regimes"]
    if rep.get("fits"):
        parts.append(f"<p>T = c0 + c1·k + max(α·F/P, β·B/W) + δ·B<sub>w</sub>/W + c2·E + c3·L "
                     "(k: the directions pushed; B<sub>w</sub>: the weights' bytes; δ: passes over "
                     "the weights outside the roofline; E: the entries of the result, n·m for a "
                     "Jacobian, and c2 what assembling each costs, such as a transpose; L: in "
                     "jacfwd, the entries of the output layer's weight, which its (m, n) result "
                     "has read transposed, and c3 what each costs), fitted "
                     "per framework and mode at widths "
                     f"{', '.join(map(str, rep['fitted_widths']))} (depth {rep['depth']}); "
                     + (f"judged on widths {', '.join(map(str, rep['held_out_widths']))}, points "
                        f"of at least {rep['min_seconds'] * 1e6:.0f} µs" if rep["held_out_widths"]
                        else "no width is held out to judge it: this run measured "
                        f"{len(rep['fitted_widths'])}, and the fit keeps the smallest and the "
                        "largest (the full grid, ADCOST_GRID=full, measures five and judges the "
                        "model on two)")
                     + sources_text(rep.get("jacobian_sources"))
                     + ". P: best matmul flop/s; W: matrix-vector bytes/s where the weights "
                     "live: the best rate of the matvecs whose matrix is at least B<sub>w</sub> "
                     "large (the weights stay in cache between calls), the largest matvec's "
                     "beyond; both measured in this run, W from the machine's curve (at each "
                     "size the best of every framework's matvecs: a framework's own holds its "
                     "call overhead, which the model counts in c0)."
                     + compute_text(rep.get("compute_from"))
                     + passes_text(rep.get("passes_from"))
                     + (f" Every time and rate is read at one machine speed, the median of the "
                        f"probes beside the cases ({rep['speed']['reference_flops_per_s'] / 1e9:.0f} "
                        "GFLOP/s of a float32 matmul; 10th-90th percentile "
                        f"{rep['speed']['p10'] / 1e9:.0f}-{rep['speed']['p90'] / 1e9:.0f}), each "
                        f"case's speed the median of the {rep['speed'].get('window', 1)} probes "
                        "around it in time: a time taken while the machine ran at half that "
                        "speed counts half. The same figures read as measured follow the tables."
                        if (rep.get("speed") or {}).get("normalized") else "")
                     + "</p>")
        curves = [r for r in rep.get("rates", [])
                  if len(r.get("own_curve") or r.get("curve") or []) > 1]
        if curves:
            own = [(r["framework"], r.get("own_curve") or r["curve"]) for r in curves]
            if curves[0].get("own_curve"):
                own.append(("the machine (the best of each size)", curves[0]["curve"]))
            if len(curves[0].get("copy_curve") or []) > 1:
                own.append(("copies, the machine's (weight passes, roofline.Copy)",
                            curves[0]["copy_curve"]))
            sizes = sorted({size for _, c in own for size, _ in c})
            label = {size: f"W at {size / 2 ** 20:g} MiB" for size in sizes}
            rows = [{"framework": fw,
                     **{label[size]: f"{rate / 1e9:.1f} GB/s" for size, rate in c}}
                    for fw, c in own]
            parts.append(table(rows, ["framework", *label.values()], fmt))
        if rep["held_out_widths"]:
            parts.append(table(rep.get("held_out", []), held_columns, fmt))
        parts.append(table(rep["fits"], ["framework", "mode", "c0", "c1", "c2", "c3", "alpha",
                                         "beta", "delta", "peak", "bandwidth", "points",
                                         "spread"], fmt))
        if rep.get("compute_bound"):
            parts.append("<p>Points the model calls compute-bound (Jacobians) take, in the median, "
                         + ratios(rep["compute_bound"]) + " the time their FLOPs take at the framework's measured matmul rate."
                         + rows_text(rep.get("compute_bound_rows")) + "</p>")
        cross = rep.get("crossovers", [])
        close = sum(1 for r in cross if r.get("ratio") is not None and r["ratio"] <= 1.5)
        agree = sum(1 for r in cross if r.get("agrees"))
        parts.append("<p>Crossover n (forward mode cheaper below it) at each m and width: measured "
                     "(the gap log T<sub>fwd</sub>/T<sub>rev</sub> made monotone in n, its zero "
                     "interpolated between measured n; source: the side-by-side ratios of "
                     "crossover.SideBySide, both modes timed in one process, or the width study's "
                     "times from separate processes), and modelled (− where the model's times do "
                     "not cross). n_low–n_high: the measured n between which the two modes are not "
                     "told apart (within the row's tolerance: "
                     f"{rep.get('paired_tolerance', 1.15):.2f}× side by side, the run's "
                     f"{rep.get('crossover_tolerance', 1.1):.2f}× apart). Model within "
                     f"1.5× of the measured crossing: {close} of {len(cross)}; within 1.5× of the "
                     f"interval: {agree} of {len(cross)}." + split_counts(rep.get("crossover_counts"))
                     + steep_text(rep.get("crossover_counts"), len(cross))
                     + ratio_text(rep.get("crossover_counts"), len(cross)) + "</p>")
        parts.append(table(cross, ["framework", "width", "m", "n_measured", "n_low", "n_high",
                                   "slope", "n_model", "model_says", "ratio", "agrees",
                                   "model_ratio", "source"], fmt))
        decided = decisions_text(rep.get("decisions"))
        if decided:
            parts.append(f"<p id='decisions'>{decided}</p>")
        for mode, found in sorted((rep.get("other_forward") or {}).items()):
            rows = found.get("crossovers") or []
            if not rows:
                continue
            counts = (found.get("crossover_counts") or {}).get("all") or {}
            parts.append(f"<p id='crossover-{html.escape(mode)}'>The same for {html.escape(mode)} "
                         "against jacrev (another forward mode, one pass over n tangents: "
                         "JAX's jacfwd_vmap, the tangents' axis first; measured side by side "
                         "with jacrev in crossover.SideBySideForward): model within 1.5× of the "
                         f"measured crossing in {counts.get('within', 0)} of {len(rows)}, within "
                         f"1.5× of the interval in {counts.get('agrees', 0)}. These are not among "
                         "the counts above, which judge jacfwd.</p>")
            parts.append(table(rows, ["framework", "width", "m", "n_measured", "n_low", "n_high",
                                      "slope", "n_model", "model_says", "ratio", "agrees",
                                      "model_ratio", "source"], fmt))
        raw = rep.get("as_measured")
        if raw:
            parts.append("<p>Read as measured, each time at the speed the machine ran it (no "
                         f"correction): model within 1.5× of the measured crossing in "
                         f"{raw['crossovers_within_1_5']} of {raw['crossovers']} cells"
                         + split_counts(raw.get("crossover_counts"), brief=True) + "; "
                         f"compute-bound points at {ratios(raw['compute_bound'])} the matmul time; held-out "
                         "errors:</p>")
            if rep["held_out_widths"]:
                parts.append(table(raw["held_out"], held_columns, fmt))
    if rep.get("break_even"):
        parts.append("<p>What compiling buys (crossover n × m grid): compile seconds, the two "
                     "times per call, and the calls after which the compiled variant has paid for "
                     "its compile (− when it is not faster).</p>")
        parts.append(table(rep["break_even"], ["compiled", "eager", "mode", "n", "m", "compile_s",
                                               "t_compiled", "t_eager", "speedup",
                                               "break_even_calls"], fmt))
    return "".join(parts)


def sources_text(sources: dict | None) -> str:
    """Where the fitted and judged Jacobian times come from (costmodel.points' sources)."""
    if not sources:
        return ""
    paired, apart = sources.get("side by side", 0), sources.get("apart", 0)
    if not paired:
        return ("; the Jacobians' times are the width study's (each mode timed in its own "
                "process)")
    return (f"; the Jacobians' times are {paired} medians of the side-by-side group (both modes "
            "timed in one process, in interleaved rounds at one machine speed)"
            + (f" and {apart} of the width study's, timed apart" if apart else ""))


def compute_text(choices: dict | None) -> str:
    """Which frameworks' F / P is their measured row products' seconds (costmodel.fit_all)."""
    if not choices:
        return ""
    measured = sorted(fw for fw, c in choices.items() if "products" in c)
    if not measured:
        return (" F / P: the analytic FLOPs at the matmul rate (this run measured no row "
                "products, roofline.RowProducts).")
    chosen = [fw for fw in measured if choices[fw]["chosen"] == "products"]

    def error(c, form):
        return f"{math.sqrt(c[form]):.3f}"
    detail = "; ".join(f"{fw}: {error(choices[fw], 'flops')} from the FLOPs, "
                       f"{error(choices[fw], 'products')} from the products" for fw in measured)
    return (" F / P: the analytic FLOPs at the matmul rate, or the seconds of the products "
            "the call makes, read off this run's measured row products (roofline.RowProducts: "
            "k rows through a width × width weight, as stored and transposed; a few rows do "
            "not run at the matmul's rate), whichever fits the framework's points on the "
            "fitted widths better: the products for "
            + (", ".join(chosen) if chosen else "none")
            + f" (root mean square of log(T / model) there, {detail})."
            + (" Where the products' term is the largest, the analytic roofline names the "
               "regime: compute where the FLOPs at the matmul rate take at least as long as "
               "the bytes at the bandwidth, else memory (the products' time holds both)."
               if chosen else ""))


def passes_text(choices: dict | None) -> str:
    """At which rate the fit reads each framework's weight passes, delta B_w: the matvecs' W or
    the run's copies' (costmodel.fit_all), or "" for a report without the choice."""
    if not choices:
        return ""
    timed = sorted(fw for fw, c in choices.items() if "copy" in c)
    if not timed:
        return (" The weight passes δ B<sub>w</sub> are read at W (this run timed copies, "
                "roofline.Copy, at fewer than two sizes: one rate is W's model with δ "
                "rescaled).")
    chosen = [fw for fw in timed if choices[fw]["chosen"] == "copy"]
    detail = "; ".join(f"{fw}: {math.sqrt(choices[fw]['read']):.3f} at W, "
                       f"{math.sqrt(choices[fw]['copy']):.3f} at the copies' rate" for fw in timed)
    return (" The weight passes δ B<sub>w</sub>: at W, or at the rate of this run's copies "
            "(roofline.Copy: a matrix scaled into a new one, read once and written once, the "
            "best of each size as for W; a pass that copies or transposes a weight writes what "
            "it reads), whichever fits the framework's points on the fitted widths better: the "
            "copies for " + (", ".join(chosen) if chosen else "none")
            + f" (root mean square of log(T / model) there, {detail}).")


def decisions_text(found: dict | None) -> str:
    """The model's forward-or-reverse answer against every side-by-side point
    (costmodel.decisions), or "" for a report without it."""
    if not found or not found.get("all", {}).get("points"):
        return ""
    every, held = found["all"], found["held_out"]
    tie = found["tie"]

    def worst(value):
        return "–" if value is None else f"{value:.2f}×"
    return (f"Forward or reverse, point by point: at each of the {every['points']} points timed "
            f"side by side ({held['points']} at held-out widths), the model names "
            f"{html.escape(found['forward'])} or jacrev where its two times differ by more than "
            f"{tie:.2f}× (<code>adcost advise</code>'s answer), else calls them tied. It named one at "
            f"{every['named']} points and the measurement had the other faster by more than "
            f"{tie:.2f}× at {every['wrong']} (held out: {held['wrong']} of {held['named']}); the "
            f"named mode took at most {worst(every['worst_named'])} the faster one's time. It called "
            f"{every['tied']} points tied, where the slower measured at most "
            f"{worst(every['worst_tied'])} the faster.")


def steep_text(counts: dict | None, cells: int) -> str:
    """The crossovers within 1.5x over the lines steep enough that the measurement places its
    own crossing within 1.5x (costmodel.crossover_counts' "steep"), or "" without them."""
    steep = (counts or {}).get("steep")
    if not steep or not cells:
        return ""
    return (" slope: how fast the measured log T<sub>fwd</sub>/T<sub>rev</sub> rises per unit "
            "of log n at the crossing; an error e in that ratio moves the crossing by "
            "exp(e / slope). On the "
            f"{steep['cells']} of {cells} lines steep enough that the row's tolerance moves the "
            f"measured crossing by at most 1.5× (slope · log 1.5 ≥ log tolerance), the model is "
            f"within 1.5× in {steep['within']}; on the other {cells - steep['cells']} one run "
            "does not place its own crossing within 1.5×.")


def ratio_text(counts: dict | None, cells: int) -> str:
    """What the model says at the measured crossings (costmodel.crossover_counts'
    "ratio_within"), or "" for a report without it."""
    found = (counts or {}).get("all", {}).get("ratio_within")
    if found is None or not cells:
        return ""
    return (" model_ratio: the model's T<sub>fwd</sub>/T<sub>rev</sub> at the measured crossing, "
            "where the measured ratio is 1; within the row's tolerance of 1 in "
            f"{found} of {cells}: where the two modes stay close over a range of n, a few per "
            "cent move the crossing far, and where the ratio is steep, 20 % hardly moves it.")


def rows_text(by_rows: dict | None) -> str:
    """The compute-bound points' median by the rows their products push
    (costmodel.compute_bound_rows), with the run's own products of those rows where it measured
    them, or "" for a report without it."""
    if not by_rows:
        return ""

    def one(r):
        own = f" (its products {r['products']:.2f}×)" if r.get("products") is not None else ""
        return f"{r['directions']} rows {r['median']:.2f}×{own}"
    parts = [f"{html.escape(fw)}: " + ", ".join(one(r) for r in rows)
             for fw, rows in sorted(by_rows.items()) if rows]
    return (" By the rows their products push (the directions, n or m), where the products' own "
            "time is measured, how far below the matmul rate products of that many rows run: "
            + "; ".join(parts) + ".") if parts else ""


def split_counts(counts: dict | None, brief: bool = False) -> str:
    """The crossovers within 1.5x at the fitted and at the held-out widths
    (costmodel.crossover_counts), or "" for a report without them or without a held-out width."""
    if not counts or not counts.get("held_out", {}).get("cells"):
        return ""
    fitted, held = counts["fitted"], counts["held_out"]
    if brief:
        return (f" ({fitted['within']} of {fitted['cells']} at the fitted widths, "
                f"{held['within']} of {held['cells']} at the held-out ones)")
    return (f" At the widths the model was fitted on (both modes' times; the side-by-side ratios "
            f"are never fitted): {fitted['within']} of {fitted['cells']} within 1.5×, "
            f"{fitted['agrees']} within the interval; at the widths held out of the fit, where it "
            f"predicts: {held['within']} of {held['cells']}, {held['agrees']} within the interval.")


def rel(path: Path, site: Path) -> str:
    import os
    return Path(os.path.relpath(path.resolve(), site.resolve())).as_posix()


def environment_html(df: pd.DataFrame, results: Path) -> str:
    rows = []
    if not df.empty:
        for column in ("machine", "device", "cpu", "caches", "num_cpu", "ram", "os", "arch",
                       "python", "commit", "date", "env_name"):
            values = sorted({str(v) for v in df[column].dropna().unique()}) if column in df else []
            if values:
                rows.append((column, ", ".join(values)))
        for text in sorted({str(v) for v in df["versions"].dropna().unique()}) if "versions" in df else []:
            try:
                rows.append(("versions", ", ".join(f"{k} {v}" for k, v in json.loads(text).items() if v)))
            except ValueError:
                rows.append(("versions", text))
        for text in sorted({str(v) for v in df["threads"].dropna().unique()}) if "threads" in df else []:
            try:
                limits = json.loads(text) or {}
            except ValueError:
                continue
            shown = ", ".join(f"{k}=" + (" ".join(f"{a} {b}" for a, b in v.items())
                                         if isinstance(v, dict) else str(v))
                              for k, v in limits.items() if v not in (None, {}, ""))
            if shown:
                rows.append(("threads", shown))
        if "steal_share" in df:
            steal = pd.to_numeric(df["steal_share"], errors="coerce").dropna()
            if not steal.empty:
                rows.append(("steal (host's share of the CPUs)",
                             f"{steal.min():.1%} to {steal.max():.1%} over the runs"))
        speed = load.probes(df)
        if speed is not None and not speed.empty:
            rows.append(("speed beside each case (float32 matmul probe)",
                         f"median {speed.median() / 1e9:.0f} GFLOP/s, 10th-90th percentile "
                         f"{speed.quantile(0.1) / 1e9:.0f}-{speed.quantile(0.9) / 1e9:.0f} "
                         f"over {len(speed)} probes"))
    smoke = results / "smoke.json"
    if smoke.exists():
        try:
            env = json.loads(smoke.read_text()).get("environment", {})
            rows.append(("smoke run", ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())))
            rows.append(("threads", ", ".join(f"{k}={v}" for k, v in env.get("threads", {}).items() if v)))
        except ValueError:
            pass
    refused = "".join(
        f"<li>{html.escape(r['key'])} at {html.escape(str(tuple(r['size'])))} "
        f"(machine {html.escape(r['machine'])}, commit {html.escape(r['commit'])}): "
        f"{html.escape(r['reason'])}</li>" for r in load.refusals(results / "asv", df))
    refused = (f"<h3 id='refused'>Refused by the validation gate</h3><p>A wrong derivative is "
               f"never timed: these cases are skipped.</p><ul>{refused}</ul>" if refused else "")
    gaps = "".join(f"<li>{html.escape(g['framework'])} on {html.escape(str(g['device']))} (machine "
                   f"{html.escape(g['machine'])}): {html.escape(g['reason'])}</li>"
                   for g in load.device_gaps(results / "asv", df))
    refused += (f"<h3 id='no-device'>Skipped: no such device</h3><p>Every row of these frameworks "
                f"is skipped in the device's run.</p><ul>{gaps}</ul>" if gaps else "")
    if not rows:
        return "<p>No environment recorded.</p>" + refused
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='env'>{body}</table>" + refused


def releases_html(results: Path, top: int = 8) -> str:
    """The release comparisons of results/releases/ (adcost releases): per later release, how
    many measurements got slower or faster beyond the noise, and the largest of each."""
    from . import compare
    pairs = compare.releases(results)
    if not pairs:
        return ("<p class='missing'>No release comparison in these results: "
                "<code>make releases RELEASES=\"jax 0.9.2 0.10.2\"</code>.</p>")
    parts = []
    for pair in pairs:
        t = pair["table"]
        counts = t["change"].value_counts()
        rows = pd.concat([t[t["change"] == "worse"].head(top),
                          t[t["change"] == "better"].sort_values("ratio").head(top)])
        body = "".join(f"<tr><td>{r['ratio']:.2f}×</td><td>{r['value_a']:.3g}</td><td>{r['value_b']:.3g}</td>"
                       f"<td>{html.escape(str(r['unit']))}</td><td style='text-align:left'>"
                       f"{html.escape(compare.label(r))}</td></tr>" for _, r in rows.iterrows())
        parts.append(f"<h3>{html.escape(pair['a'])} → {html.escape(pair['b'])}</h3><p>{len(t)} measurements "
                     f"in both: {int(counts.get('worse', 0))} slower or bigger, "
                     f"{int(counts.get('better', 0))} faster or smaller beyond the noise (a ratio beyond "
                     f"{pair['threshold']:.2f}×, the machine's spread and drift over the run, and interquartile "
                     f"ranges apart); every one in the <a href='explorer.html#releases'>explorer</a>.</p>"
                     f"<table><tr><th>B/A</th><th>A</th><th>B</th><th>unit</th><th>measurement</th></tr>"
                     f"{body}</table>")
    return "".join(parts) or "<p class='missing'>Fewer than two releases measured.</p>"


def set_aside(df: pd.DataFrame) -> str:
    """", N set aside as wrong (why)" for the rows load marked "invalid"; "" when none."""
    invalid = df[df["status"] == "invalid"]
    if invalid.empty:
        return ""
    notes = list(invalid["note"].dropna()) if "note" in invalid else []
    why = f" ({html.escape(str(notes[0]))})" if notes else ""
    return f", {len(invalid)} set aside as wrong{why}"


def build(results: Path | None = None, out: Path | None = None, df: pd.DataFrame | None = None) -> Path:
    results = paths.results(results)
    site = Path(out) if out else results / "site"
    figures = results / "figures"
    site.mkdir(parents=True, exist_ok=True)
    if df is None:
        df = load.load(results)   # its tidy data where exported, else asv/
    table = summary.summary_table(df) if not df.empty else pd.DataFrame()
    counts = (f"{int((df['status'] == 'ok').sum())} measurements, "
              f"{int((~df['status'].isin(['ok', 'invalid'])).sum())} skipped{set_aside(df)}. "
              f"Run shown: {html.escape(load.describe_run(df))}"
              + (f" ({label})" if (label := paths.reference_label(results)) else "")
              if not df.empty else "no results yet: run <code>make bench</code>")
    data_links = [f'<a href="{rel(results / n, site)}">{n}</a>' for n in load.TIDY_NAMES
                  if (results / n).exists()]
    if (figures / "summary.csv").exists():
        data_links.append(f'<a href="{rel(figures / "summary.csv", site)}">summary.csv</a>')
    asv_html = results / "html" / "index.html"
    asv_link = (f'<a href="{rel(asv_html, site)}">asv dashboard</a>' if asv_html.exists()
                else "asv dashboard: not published (<code>asv publish</code>)")
    refs = "".join(f"<tr><td>{html.escape(s)}</td><td style='text-align:left'>{html.escape(t)}</td></tr>"
                   for s, t in REFERENCES)
    summary_block = f"<div style='overflow-x:auto'>{summary.to_html(table)}</div>" if not table.empty else "<p class='missing'>No fits: no JacobianNM results.</p>"
    # the stored cost-model report and the data's provenance, once for the page and the explorer
    model = figures / "cost_model.json"
    rep = json.loads(model.read_text()) if model.exists() else None
    key = stored_key(rep, df) if rep else None
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>adcost: what derivatives cost, measured</title>
<script>{CHECK_SCRIPT}</script>
<style>{CSS}</style></head>
<body>
<h1>adcost: what derivatives cost, measured</h1>
<p>{counts}. Data: {" · ".join(data_links) or "none"} · {asv_link}</p>
<p><b><a href="explorer.html">Explore the results interactively</a></b> (crossover map, cost
curves with the model, checkpointing trade-off, every measured row; works offline).</p>
<nav>{" ".join(f'<a href="#{m.NAME}">{m.NAME.replace("_", " ")}</a>' for m in FIGURES)}
<a href="#summary">summary</a> <a href="#model">cost model</a> <a href="#releases">releases</a> <a href="#environment">environment</a></nav>
<h2 id="summary">Summary per framework</h2>
<p>c_fwd, c_rev: fitted T_J/T_f = c·n (forward) and c·m (reverse), 95 % bootstrap CI: the
textbook's line through the origin, whose c lies far below its [2, 3] because a vectorized
Jacobian is one pass over a batch of directions (the cost curves draw the cost model's ratio
instead, <a href="#model">the cost model</a> says why); crossover ratio
c_rev/c_fwd (forward mode wins while n &lt; ratio·m); R² (linearity): median over fixed m (n) of the affine fit of T_J/T_f against n (m), points of at least 100 µs, with the number of lines; ω: FLOPs of a VJP/JVP
over FLOPs of f; matmul fraction: best achieved FLOP/s of a Jacobian over the best matmul FLOP/s.</p>
{summary_block}
{"".join(figure_html(m, figures, site) for m in FIGURES)}
{model_html(figures, df, rep, key) if rep else ""}
<h2 id="releases">Framework releases side by side</h2>
{releases_html(results)}
<h2>Reference points from the literature</h2>
<table>{refs}</table>
<h2 id="environment">Environment</h2>
{environment_html(df, results)}
</body></html>
"""
    target = site / "index.html"
    target.write_text(page, encoding="utf-8")
    try:
        from . import explorer
        explorer.build(df, results, site, key)
    except ImportError as exc:    # plotly missing: the static page stands alone
        print(f"site: explorer not built ({exc}; it needs plotly: pip install adcost[analysis])")
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="adcost site", description=__doc__.splitlines()[0])
    p.add_argument("--results", help="results folder holding tidy data and figures/ (default results/)")
    p.add_argument("--out", help="folder for index.html (default <results>/site)")
    args = p.parse_args(argv)
    results = paths.results(args.results)
    if not results.is_dir():        # a mistyped --results: say so, and make no folder there
        print(f"site: no results folder at {results} (run `make bench` first, or give "
              "--results the folder that holds asv/)", file=sys.stderr)
        return 2
    df = load.load(results)
    if df.empty:                    # a folder, but not a run's: nothing to show, so write nothing
        print(f"site: no results in {results}: neither tidy data ({', '.join(load.TIDY_NAMES)}) "
              "nor asv results under asv/ (run `make bench` first)", file=sys.stderr)
        return 2
    target = build(args.results, args.out, df=df)
    print(f"site: wrote {target}")
    return 0

