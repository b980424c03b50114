"""results/site/explorer.html: the results to explore, one self-contained page.

Plotly figures (plotly.js inlined once: nothing is loaded from the network): the crossover map
(log2 T_jacfwd / T_jacrev over n x m, the value and both times on hover; a selector over
framework, dtype and depth (the sweep's: float32, depth 4), width where the width study ran,
and machine where the results hold several), the
cost curves with the cost model's lines (click a legend entry to toggle a framework and mode),
the checkpointing trade-off (saved bytes against gradient time, the strategy on hover),
framework releases side by side (`adcost releases`) and machines side by side (merged shards),
each measurement's ratio with compare's verdict; and the measured rows of every machine as one
sortable, filterable table (DataTables through itables, inlined). Under each view, the rows it
was drawn from.

A page opened with #selftest changes the first view's selector and records, on <html>, whether
the chart's data changed (data-selftest) and every script error (data-errors): the headless
browser test reads them.
"""
from __future__ import annotations

import html
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
  root.setAttribute('data-load-ms', String(Math.round(performance.now())));   // since navigation
  var polls = 0, ready = setInterval(function () {   // when the table (DataTables) is drawn
    if (document.querySelector('table#view-table.dataTable') || ++polls > 500) {
      clearInterval(ready);
      root.setAttribute('data-ready-ms', polls > 500 ? 'never' : String(Math.round(performance.now())));
    }
  }, 20);
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
    var state = shown() !== before ? 'changed' : 'unchanged';
    tableTest(function (table) { root.setAttribute('data-table', table); done(state); });
  }, function (err) { window.__errors.push(String(err)); done('failed'); });
});
// "Drawn from" links: the table below shows the rows of that benchmark (its search box)
document.addEventListener('click', function (e) {
  var link = e.target.closest && e.target.closest('a.show-rows');
  var search = document.querySelector('#view-table_wrapper .dt-search input');
  if (!link || !search) { return; }
  search.value = link.getAttribute('data-rows');
  search.dispatchEvent(new Event('input', { bubbles: true }));
});
// the table: sorting by a column changes the first row; the search box filters the rows
function tableTest(report) {
  var tries = 0;
  (function wait() {
    var table = document.querySelector('table#view-table.dataTable');
    if (!table) { if (++tries > 100) { report('absent'); return; } setTimeout(wait, 50); return; }
    var firstRow = function () { var r = table.querySelector('tbody tr'); return r ? r.textContent : ''; };
    var info = function () { var i = document.getElementById('view-table_info'); return i ? i.textContent : ''; };
    var headers = Array.prototype.slice.call(document.querySelectorAll('#view-table_wrapper thead th'));
    var valueHeader = headers.filter(function (h) { return h.textContent.trim() === 'value'; })[0];
    var row0 = firstRow(), info0 = info(), result = [];
    if (valueHeader) { (valueHeader.querySelector('.dt-column-order') || valueHeader).click(); }   // itables: the icon sorts
    setTimeout(function () {
      result.push(firstRow() !== row0 ? 'sorted' : 'unsorted');
      var search = document.querySelector('#view-table_wrapper .dt-search input');
      if (search) { search.value = 'jacrev'; search.dispatchEvent(new Event('input', { bubbles: true })); }
      setTimeout(function () {
        result.push(info() !== info0 && /jacrev/.test(firstRow()) ? 'filtered' : 'unfiltered');
        var link = document.querySelector('a.show-rows');   // a view's "Drawn from" link
        if (!link) { report(result.join(',')); return; }
        link.click();
        setTimeout(function () {
          result.push(firstRow().indexOf(link.getAttribute('data-rows')) >= 0 ? 'linked' : 'unlinked');
          report(result.join(','));
        }, 400);
      }, 400);
    }, 300);
  })();
}
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


def sweep_dtype(framework: str) -> str:
    """'float32, ': the dtype the sweep runs a framework at (bench.SWEEP_DTYPE where it has it),
    '' for a framework this checkout does not know."""
    from ..bench import sweep_dtype as pick
    from ..frameworks.base import framework_class
    try:
        dtypes = framework_class(framework).dtypes
    except Exception:   # a framework of another checkout's results, or one not importable here
        return ""
    return f"{pick(dtypes)}, "


def crossover_view(df: pd.DataFrame):
    """Heatmaps of log2(T_jacfwd / T_jacrev) over (n, m): one per framework (n x m sweep) and
    per (framework, width) of the width study; a selector shows one."""
    import plotly.graph_objects as go

    panels = []
    for bench, label in (("crossover.JacobianNM.time_jacobian", "n x m sweep"),
                         ("crossover.JacobianWidth.time_jacobian", "width")):
        rows = load.measured(df)
        if label == "width":   # with the width-study points the n x m group measured
            from .costmodel import width_rows
            rows = width_rows(rows).assign(benchmark=bench)
        rows = rows[(rows["benchmark"] == bench) & rows["op"].isin(["jacfwd", "jacrev"])]
        several = rows["machine"].astype(str).nunique() > 1   # a machine selector too
        keys = ["framework", "depth"] + (["width"] if label == "width" else []) + (["machine"] if several else [])
        for key, g in rows.groupby(keys):
            key = key if isinstance(key, tuple) else (key,)
            where = f" on {key[-1]}" if several else ""
            kind = f"{sweep_dtype(str(key[0]))}depth {key[1]}"   # the sweep's dtype; the depth measured
            wide = g.pivot_table(index="n", columns=["m", "op"], values="value", aggfunc="median")
            if "jacfwd" not in wide.columns.get_level_values("op") or \
                    "jacrev" not in wide.columns.get_level_values("op"):
                continue
            fwd = wide.xs("jacfwd", axis=1, level="op")
            rev = wide.xs("jacrev", axis=1, level="op").reindex_like(fwd)
            ratio = np.log2(fwd / rev)
            width = key[2] if label == "width" else int(g["width"].dropna().iloc[0]) if g["width"].notna().any() else None
            name = f"{key[0]} {kind}" + (f", width {width}" if label == "width" else f" ({label}, width {width})") + where
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
    """Seconds against n (jacfwd and jacfwd_vmap, middle m) and m (jacrev, middle n) of the width study, one
    trace per framework, mode and width, with the cost model's line beside each (`fits`: the
    ones `adcost plots` wrote to figures/cost_model.json, else fitted here)."""
    import plotly.graph_objects as go

    pts, rate, speed = costmodel.inputs(df)
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
        axis, other = ("n", "m") if mode.startswith("jacfwd") else ("m", "n")   # jacfwd_vmap too
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
                model = [float(fits[fw, mode].predict(*fits[fw, mode].work(
                    mode, **{axis: int(x), other: int(fixed)}, depth=depth, width=int(w)))) for x in xs]
                fig.add_trace(go.Scatter(x=xs, y=model, mode="lines", name=f"{group} (model)",
                                         line={"color": color, "width": 1},
                                         legendgroup=group, showlegend=False,
                                         hovertemplate=f"model: %{{y:.3g}} s<extra>{group}</extra>"))
    fig.update_layout(title="Cost curves: measured (dots) and the cost model (lines); click the "
                            "legend to toggle", xaxis={"type": "log", "title": "n (jacfwd) or m (jacrev)"},
                      yaxis={"type": "log", "title": "seconds" + (
                          " (at the run's median speed)" if speed["normalized"] else "")},
                      height=620)
    drawn = set(costmodel.width_rows(df)["benchmark"])   # the n x m group's width-64 points too
    jac = pts[pts["mode"] != "primal"]["source"]   # a Jacobian's time: side by side where logged
    sources = [b for b in (costmodel.WIDTH_JACOBIAN, costmodel.NM_JACOBIAN)
               if b in drawn and (jac == "apart").any()]
    if (jac == "side by side").any():
        sources.append(costmodel.SIDE_BY_SIDE)
    return fig, ", ".join(sources + ["roofline.*"])


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


TABLE_COLUMNS = ["machine", "release", "benchmark", "framework", "op", "problem", "n", "m", "depth",
                 "width", "strategy", "value", "unit", "under_load", "steal_share", "speed", "commit"]


def table_html(df: pd.DataFrame) -> tuple[str, str]:
    """The measured rows as one sortable table (click a header) with a search box and a filter
    under each column: DataTables through itables, its script inlined (offline)."""
    from itables import options, to_html_datatable
    from itables.javascript import generate_init_offline_itables_html

    ok = load.measured(df)
    if ok.empty:
        return "", ""
    rows = ok.reindex(columns=[c for c in TABLE_COLUMNS if c in ok]).copy()
    rows = rows.loc[:, rows.notna().any()]   # no column that is empty everywhere
    if "steal_share" in rows:   # the host's share of the run's CPU time, as a percentage
        rows["steal_share"] = pd.to_numeric(rows["steal_share"], errors="coerce").map(
            lambda v: "" if pd.isna(v) else f"{v:.1%}")
    if "speed" in rows:         # the machine's speed probed beside the case (measure.speed)
        rows["speed"] = pd.to_numeric(rows["speed"], errors="coerce").map(
            lambda v: "" if pd.isna(v) else f"{v / 1e9:.0f} GFLOP/s")
    for column in rows:
        if column != "value":
            rows[column] = rows[column].astype("string").fillna("")
    rows["value"] = rows["value"].map(lambda v: float(f"{v:.4g}"))
    if "commit" in rows:
        rows["commit"] = rows["commit"].str[:8]
    table = to_html_datatable(rows.reset_index(drop=True), connected=False, maxBytes=0,
                              column_filters="footer", pageLength=25, showIndex=False,
                              table_id="view-table", display_logo_when_loading=False,
                              classes="display compact", lengthMenu=[10, 25, 100, 1000],
                              scrollX=True, deferRender=True)
    return generate_init_offline_itables_html(options.dt_bundle) + table, \
        f"every measured row of tidy.csv.gz ({len(rows)} rows)"


def comparison_figure(tables: list[tuple[str, pd.DataFrame]], title: str):
    """Ratio B/A per measurement present in both, sorted, coloured by compare's verdict (beyond
    the noise: worse, better; else same), both values on hover; a selector per pair."""
    import plotly.graph_objects as go

    colors = {"worse": "#c0392b", "better": "#2471a3", "same": "#999999", "unsure": "#e6a23c",
              "under load": "#8e44ad"}
    traces, labels = [], []
    for name, t in tables:
        t = t.sort_values("ratio").reset_index(drop=True)
        from .compare import label as row_label
        text = [row_label(r) for _, r in t.iterrows()]
        for change in colors:   # unsure: compare.SPEED_UNSURE; under load: the sweep's mark
            part = t[t["change"] == change]
            traces.append(go.Scatter(
                x=part.index, y=part["ratio"], mode="markers", name=f"{change} ({len(part)})",
                marker={"color": colors[change], "size": 6}, legendgroup=change,
                text=[text[i] for i in part.index],
                customdata=np.stack([part["value_a"], part["value_b"], part["unit"].astype(str)], axis=1)
                if len(part) else None,
                hovertemplate="%{text}<br>B/A = %{y:.3f}<br>A %{customdata[0]:.4g}, "
                              "B %{customdata[1]:.4g} %{customdata[2]}<extra></extra>"))
            labels.append(name)
    if not traces:
        return None
    fig = go.Figure(traces)
    names = [n for n, _ in tables]
    for i, trace in enumerate(fig.data):
        trace.visible = labels[i] == names[0]
    visible = [[lab == n for lab in labels] for n in names]
    titles = [f"{title}: {n}" for n in names]
    fig.update_layout(updatemenus=[_selector(names, visible, titles)] if len(names) > 1 else [],
                      title={"text": titles[0], "y": 0.97}, height=560, margin={"t": 110},
                      xaxis={"title": "measurements, sorted by ratio"},
                      yaxis={"type": "log", "title": "B / A (above 1: B took longer or used more; "
                                                            "for flop/s and bytes/s, B ran faster)"})
    return fig


def releases_view(results: Path):
    """The framework releases `adcost releases` measured (results/releases/): each later release
    against the oldest, with compare's rule (the measured noise)."""
    from . import compare
    pairs = compare.releases(results)
    if not pairs:
        return None, ""
    fig = comparison_figure([(f"{p['a']} -> {p['b']}", p["table"]) for p in pairs], "Releases")
    names = dict.fromkeys([pairs[0]["a"]] + [p["b"] for p in pairs])
    return fig, f"results/releases/asv ({', '.join(names)})"


def machines_view(every: pd.DataFrame):
    """Each other machine against the newest one, measurement by measurement."""
    from . import compare

    found = load.machines(every)
    if len(found) < 2:
        return None, ""
    base = every[every["machine"].astype(str) == found[0]]
    tables = []
    for other in found[1:]:
        t = compare.compare(base, every[every["machine"].astype(str) == other])   # as measured: two machines
        if not t.empty:
            tables.append((f"{found[0]} -> {other}", t))
    fig = comparison_figure(tables, "Machines") if tables else None
    return fig, f"the asv results of {', '.join(found)}"


VIEWS = (("crossover", "Forward or reverse: the crossover map"),
         ("cost", "Cost curves and the cost model"),
         ("tradeoff", "The checkpointing trade-off"),
         ("releases", "Framework releases side by side"),
         ("machines", "Machines side by side"),
         ("table", "The measurements"))


MISSING = {
    "releases": "Not built: no release comparison in these results (run `adcost releases jax 0.9.2 "
                "0.10.2`; docs/benchmarks.md#framework-releases).",
    "machines": "Not built: these results hold one machine (merge several machines' results/asv/ "
                "folders, e.g. the shards of `adcost.sweep --shard I/N`).",
}


def every_machine(df: pd.DataFrame, results: Path) -> pd.DataFrame:
    """The newest run of every machine in the results folder (the site's tidy table holds
    one machine per study), or `df` when there is no asv folder."""
    asv = Path(results) / "asv"
    if load.result_files(asv):
        every = load.latest(load.load_asv(asv, all_runs=True))
        if not every.empty:
            return every
    return df


def build(df: pd.DataFrame, results: Path, out: Path, key: dict | None = None) -> Path:
    """The explorer page; `key`: df's provenance (costmodel.provenance), where the caller
    computed it already (the site)."""
    parts, first = [], True
    # the fits `adcost plots` stored, where they are this data's by this code (else fitted here)
    stored = costmodel.stored_report(df, Path(results) / "figures" / "cost_model.json", key=key)
    fits = costmodel.fits_from(stored) if stored else None
    every = every_machine(df, results)
    made = {"crossover": lambda: crossover_view(every), "cost": lambda: cost_view(df, fits),
            "tradeoff": lambda: tradeoff_view(df), "releases": lambda: releases_view(Path(results)),
            "machines": lambda: machines_view(every)}
    for key, title in VIEWS:
        parts.append(f"<h2 id='{key}'>{html.escape(title)}</h2>")
        if key == "table":
            table, source = table_html(every)
            if table:
                parts.append(table + f"<p class='rows'>Drawn from: {html.escape(source)} in "
                             f"<a href='../tidy.csv.gz'>tidy.csv.gz</a> (and each machine's asv results).</p>")
            continue
        fig, source = made[key]()
        if fig is None:
            parts.append(f"<p class='missing'>{MISSING.get(key, 'Not built: its data is missing from these results.')}</p>")
            continue
        parts.append(_figure_html(fig, f"view-{key}", first))
        if key in ("releases", "machines"):
            parts.append(f"<p class='rows'>Drawn from: {html.escape(source)}.</p>")
        else:   # each benchmark a link that shows its rows in the table below
            links = ", ".join(f"<a href='#table' class='show-rows' data-rows='{html.escape(b.rstrip('*'))}'>"
                              f"{html.escape(b)}</a>" for b in source.split(", "))
            parts.append(f"<p class='rows'>Drawn from: {links} in <a href='../tidy.csv.gz'>tidy.csv.gz</a> "
                         "(a name shows its rows in the table).</p>")
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
<nav>{" ".join(f'<a href="#{k}">{html.escape(t)}</a> ·' for k, t in VIEWS)}</nav>
{"".join(parts)}
</body></html>
"""
    out.mkdir(parents=True, exist_ok=True)
    target = out / "explorer.html"
    target.write_text(page, encoding="utf-8")
    return target
