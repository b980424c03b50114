"""results/site/explorer.html: the results to explore, one self-contained page.

Plotly figures (plotly.js inlined once: nothing is loaded from the network): the crossover map
(log2 T_jacfwd / T_jacrev over n x m, the value and both times on hover; a selector for
framework, and width where the width study ran), the cost curves with the cost model's lines
(click a legend entry to toggle a framework and mode), the checkpointing trade-off (saved bytes
against gradient time, the strategy on hover), and the measured rows as a table (a selector per
study). Under each view, the rows it was drawn from: which benchmark of tidy.csv.gz.

A page opened with #selftest changes the first view's selector and records, on <html>, whether
the chart's data changed (data-selftest) and every script error (data-errors): the headless
browser test reads them.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import costmodel, load

SELFTEST = """
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(e.message || 'error'); }, true);
window.addEventListener('load', function () {
  var root = document.documentElement;
  function done(state) {
    root.setAttribute('data-selftest', state);
    root.setAttribute('data-errors', String(window.__errors.length));
    root.setAttribute('data-error-list', window.__errors.join(' | '));
  }
  root.setAttribute('data-views', String(document.querySelectorAll('.js-plotly-plot').length));
  if (location.hash !== '#selftest') { done('off'); return; }
  var div = document.getElementById('view-crossover');
  var menus = div && div.layout && div.layout.updatemenus;
  if (!menus || !menus.length || menus[0].buttons.length < 2) { done('no-selector'); return; }
  var shown = function () {
    return JSON.stringify(div.data.filter(function (t) { return t.visible !== false; })
                                  .map(function (t) { return t.z || t.y; }));
  };
  var before = shown();
  var button = menus[0].buttons[1];
  Plotly.update(div, button.args[0], button.args[1] || {}).then(function () {
    done(shown() !== before ? 'changed' : 'unchanged');
  }, function (err) { window.__errors.push(String(err)); done('failed'); });
});
"""


def _figure_html(fig, div_id: str, first: bool) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=first, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _selector(labels: list[str], per_label: list[list[bool]], titles: list[str] | None = None) -> dict:
    buttons = []
    for i, label in enumerate(labels):
        layout = {"title.text": titles[i]} if titles else {}
        buttons.append({"label": label, "method": "update",
                        "args": [{"visible": per_label[i]}, layout]})
    return {"buttons": buttons, "direction": "down", "x": 0, "xanchor": "left", "y": 1.15,
            "yanchor": "top", "showactive": True}


def crossover_view(df: pd.DataFrame):
    """Heatmaps of log2(T_jacfwd / T_jacrev) over (n, m): one per framework (n x m sweep) and
    per (framework, width) of the width study; a selector shows one."""
    import plotly.graph_objects as go

    panels = []
    for bench, label in (("crossover.JacobianNM.time_jacobian", "n x m sweep"),
                         ("crossover.JacobianWidth.time_jacobian", "width")):
        rows = load.measured(df)
        rows = rows[(rows["benchmark"] == bench) & rows["op"].isin(["jacfwd", "jacrev"])]
        keys = ["framework"] + (["width"] if label == "width" else [])
        for key, g in rows.groupby(keys):
            key = key if isinstance(key, tuple) else (key,)
            wide = g.pivot_table(index="n", columns=["m", "op"], values="value", aggfunc="median")
            if "jacfwd" not in wide.columns.get_level_values("op") or \
                    "jacrev" not in wide.columns.get_level_values("op"):
                continue
            fwd = wide.xs("jacfwd", axis=1, level="op")
            rev = wide.xs("jacrev", axis=1, level="op").reindex_like(fwd)
            ratio = np.log2(fwd / rev)
            width = key[1] if len(key) > 1 else int(g["width"].dropna().iloc[0]) if g["width"].notna().any() else None
            name = f"{key[0]}" + (f", width {width}" if label == "width" else f" ({label}, width {width})")
            custom = np.dstack([fwd.to_numpy() * 1e3, rev.to_numpy() * 1e3])
            panels.append((name, go.Heatmap(
                z=ratio.to_numpy(), x=[str(m) for m in ratio.columns], y=[str(n) for n in ratio.index],
                customdata=custom, colorscale="RdBu_r", zmid=0, name=name,
                colorbar={"title": {"text": "log2 fwd/rev"}},
                hovertemplate="n=%{y}, m=%{x}<br>log2(T_jacfwd/T_jacrev) = %{z:.2f}<br>"
                              "jacfwd %{customdata[0]:.3g} ms, jacrev %{customdata[1]:.3g} ms"
                              "<extra>%{fullData.name}</extra>"), bench))
    if not panels:
        return None, ""
    fig = go.Figure([trace for _, trace, _ in panels])
    n = len(panels)
    visible = [[i == j for j in range(n)] for i in range(n)]
    for i, trace in enumerate(fig.data):
        trace.visible = i == 0
    titles = [f"Crossover: {name} (blue: forward mode faster)" for name, _, _ in panels]
    fig.update_layout(updatemenus=[_selector([p[0] for p in panels], visible, titles)],
                      title={"text": titles[0], "y": 0.97}, xaxis_title="m (outputs)",
                      yaxis_title="n (inputs)", height=560, margin={"t": 110})
    sources = sorted({bench for _, _, bench in panels})
    return fig, ", ".join(sources)


def cost_view(df: pd.DataFrame, fits: dict | None = None):
    """Seconds against n (jacfwd, middle m) and m (jacrev, middle n) of the width study, one
    trace per framework, mode and width, with the cost model's line beside each (`fits`: the
    ones `adcost plots` wrote to figures/cost_model.json, else fitted here)."""
    import plotly.graph_objects as go

    pts, rate = costmodel.inputs(df)
    if pts.empty:
        return None, ""
    if fits is None:
        train, _ = costmodel.split(pts)
        fits = costmodel.fit_all(train, rate) if not rate.empty else {}
    import plotly.colors

    fig = go.Figure()
    depth = int(pts["depth"].iloc[0])
    palette = plotly.colors.qualitative.Dark24
    count = 0
    for (fw, mode), g in pts[pts["mode"] != "primal"].groupby(["framework", "mode"]):
        axis, other = ("n", "m") if mode == "jacfwd" else ("m", "n")
        values = sorted(g[other].unique())
        fixed = values[len(values) // 2]
        for w, h in g[g[other] == fixed].groupby("width"):
            h = h.sort_values(axis)
            group = f"{fw} {mode} width {w}"
            color = palette[count % len(palette)]
            count += 1
            fig.add_trace(go.Scatter(
                x=h[axis], y=h["seconds"], mode="markers", name=group, legendgroup=group,
                marker={"color": color},
                hovertemplate=f"{fw} {mode}, width {w}, {other}={fixed}<br>{axis}=%{{x}}: "
                              "%{y:.3g} s measured<extra></extra>"))
            if (fw, mode) in fits:
                xs = np.unique(np.geomspace(h[axis].min(), h[axis].max(), 30).round().astype(int))
                model = [float(fits[fw, mode].predict(*costmodel.work(
                    mode, **{axis: int(x), other: int(fixed)}, depth=depth, width=int(w)))) for x in xs]
                fig.add_trace(go.Scatter(x=xs, y=model, mode="lines", name=f"{group} (model)",
                                         line={"color": color, "width": 1},
                                         legendgroup=group, showlegend=False,
                                         hovertemplate=f"model: %{{y:.3g}} s<extra>{group}</extra>"))
    fig.update_layout(title="Cost curves: measured (dots) and the cost model (lines); click the "
                            "legend to toggle", xaxis={"type": "log", "title": "n (jacfwd) or m (jacrev)"},
                      yaxis={"type": "log", "title": "seconds"}, height=620)
    return fig, "crossover.JacobianWidth.time_jacobian, roofline.*"


def tradeoff_view(df: pd.DataFrame):
    """Saved bytes against gradient seconds per framework, strategy and depth."""
    import plotly.graph_objects as go

    ok = load.measured(df)
    saved = ok[ok["benchmark"] == "memory.Checkpoint.track_saved_bytes"]
    timed = ok[ok["benchmark"] == "memory.Checkpoint.time_gradient"]
    if saved.empty or timed.empty:
        return None, ""
    j = saved.merge(timed, on=["framework", "strategy", "depth"], suffixes=("_bytes", "_s"))
    fig = go.Figure()
    for fw, g in j.groupby("framework"):
        fig.add_trace(go.Scatter(
            x=g["value_s"], y=g["value_bytes"] / 2 ** 20, mode="markers", name=fw,
            customdata=np.stack([g["strategy"].astype(str), g["depth"].astype(str)], axis=1),
            hovertemplate="%{customdata[0]} at depth %{customdata[1]}<br>%{x:.3g} s, "
                          "%{y:.3g} MiB saved<extra>" + fw + "</extra>"))
    fig.update_layout(title="Checkpointing: memory kept for the backward pass against gradient time",
                      xaxis={"type": "log", "title": "gradient seconds"},
                      yaxis={"type": "log", "title": "saved MiB"}, height=520)
    return fig, "memory.Checkpoint.track_saved_bytes, memory.Checkpoint.time_gradient"


TABLE_COLUMNS = ["benchmark", "framework", "op", "n", "m", "depth", "width", "value", "unit"]


def table_view(df: pd.DataFrame, limit: int = 4000):
    """The measured rows, one selector entry per study (suite)."""
    import plotly.graph_objects as go

    ok = load.measured(df)
    if ok.empty:
        return None, ""
    traces, labels = [], []
    for suite, g in ok.groupby("suite"):
        g = g.reindex(columns=TABLE_COLUMNS).head(limit).astype(object).where(g.notna(), "")
        traces.append(go.Table(header={"values": TABLE_COLUMNS},
                               cells={"values": [g[c].tolist() for c in TABLE_COLUMNS]},
                               visible=not traces))
        labels.append(f"{suite} ({len(g)} rows)")
    fig = go.Figure(traces)
    visible = [[i == j for j in range(len(traces))] for i in range(len(traces))]
    fig.update_layout(updatemenus=[_selector(labels, visible)], height=600, margin={"t": 80})
    return fig, "every measured row of tidy.csv.gz"


VIEWS = (("crossover", "Forward or reverse: the crossover map", crossover_view),
         ("cost", "Cost curves and the cost model", cost_view),
         ("tradeoff", "The checkpointing trade-off", tradeoff_view),
         ("table", "The measurements", table_view))


def build(df: pd.DataFrame, results: Path, out: Path) -> Path:
    parts, first = [], True
    model = Path(results) / "figures" / "cost_model.json"
    fits = costmodel.fits_from(json.loads(model.read_text())) if model.exists() else None
    for key, title, view in VIEWS:
        fig, source = view(df, fits) if view is cost_view else view(df)
        parts.append(f"<h2 id='{key}'>{html.escape(title)}</h2>")
        if fig is None:
            parts.append("<p class='missing'>Not built: its data is missing from these results.</p>")
            continue
        parts.append(_figure_html(fig, f"view-{key}", first))
        parts.append(f"<p class='rows'>Drawn from: {html.escape(source)} in "
                     f"<a href='../tidy.csv.gz'>tidy.csv.gz</a>.</p>")
        first = False
    described = html.escape(load.describe_run(df)) if not df.empty else "no results"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>adcost explorer</title>
<link rel="icon" href="data:,">
<script>{SELFTEST}</script>
<style>body {{ font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em }}
.missing {{ color: #a00 }} .rows {{ color: #555; font-size: 13px }}</style></head><body>
<h1>adcost explorer</h1>
<p>Run shown: {described}. <a href="index.html">Figures, summary and environment</a>.</p>
<nav>{" ".join(f'<a href="#{k}">{html.escape(t)}</a> ·' for k, t, _ in VIEWS)}</nav>
{"".join(parts)}
</body></html>
"""
    out.mkdir(parents=True, exist_ok=True)
    target = out / "explorer.html"
    target.write_text(page, encoding="utf-8")
    return target
