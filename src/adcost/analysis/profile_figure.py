"""One profile of your function, drawn (`adcost profile --plot FILE`, or from a profile's result
file: `python -m adcost.analysis.profile_figure profile.json --out profile.png`).

A bar per timed mode: its median seconds on a log axis, with its calls' 25th-75th percentiles,
fastest on top, one colour per framework, the recommended mode's label in bold.  Beside it, each
mode's peak memory where the profile read it (--memory).  A second-order profile draws its
Hessian-vector products and its Hessians in rows of their own, each ranked on its own.  A
profile at several sizes (--x0 given more than once) draws each framework's fastest forward and
reverse mode against the size, with the crossings.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .plotting import STYLE, MissingData, figure
from ..profiling import MEMORY_RESOLUTION

NAME = "profile"
FORMATS = (".png", ".svg", ".pdf")
GROUPS = {"J": "the Jacobian", "H v": "H v", "H": "the Hessian"}


def frame_of(record: dict) -> pd.DataFrame:
    """The rows of a profile's result file (`adcost profile --out`) as the profile's frame."""
    df = pd.DataFrame(record["rows"])
    df.attrs["problem"] = record.get("problem") or {}
    df.attrs["memory"] = bool((record.get("settings") or {}).get("memory"))
    df.attrs["date"] = (record.get("environment") or {}).get("date")
    return df


def build(df: pd.DataFrame):
    """The figure: a row of panels per group the profile computes (J; or H v, H); for a
    profile at several sizes (a `point` column), `build_sizes`."""
    if "point" in df and df["point"].nunique() > 1:
        return build_sizes(df)
    ok = df[df["status"] == "ok"] if "status" in df else df.iloc[:0]
    if ok.empty:
        raise MissingData("the profile timed no mode")
    ok = ok.assign(computes=ok["computes"] if "computes" in ok else "J",
                   recommended=ok["recommended"] if "recommended" in ok else False)
    held = pd.to_numeric(ok["peak_bytes"], errors="coerce") if "peak_bytes" in ok else None
    memory = held is not None and held.notna().any()
    groups = [g for g in GROUPS if g in set(ok["computes"])]
    tallest = max((ok["computes"] == g).sum() for g in groups)
    fig, axes = figure(ncols=1 + memory, nrows=len(groups), width=4.8,
                       height=max(2.2, 0.24 * tallest + 1.0))
    colors = {fw: f"C{i}" for i, fw in enumerate(sorted(ok["framework"].unique()))}
    for row, group in enumerate(groups):
        part = ok[ok["computes"] == group].sort_values("seconds")
        y = np.arange(len(part))[::-1]
        ax = axes[row][0]
        seconds = part["seconds"].to_numpy(float)
        low = seconds - pd.to_numeric(part.get("q25"), errors="coerce").to_numpy(float)
        high = pd.to_numeric(part.get("q75"), errors="coerce").to_numpy(float) - seconds
        spread = np.nan_to_num(np.vstack([low, high]).clip(min=0))
        ax.barh(y, seconds, xerr=spread, color=[colors[f] for f in part["framework"]],
                error_kw={"lw": 0.8, "capsize": 2})
        ax.set_xscale("log")
        ax.set_yticks(y, [f"{f} {m}" for f, m in zip(part["framework"], part["mode"])],
                      fontsize=7)
        for label, best in zip(ax.get_yticklabels(), part["recommended"].astype(bool)):
            label.set_fontweight("bold" if best else "normal")
        flops = pd.to_numeric(part.get("flops"), errors="coerce").to_numpy(float) \
            if "flops" in part else np.full(len(part), np.nan)
        ends = seconds + np.nan_to_num(high.clip(min=0))     # right of the error bar
        for yi, f, t, end in zip(y, flops, seconds, ends):    # the framework's count, its rate
            if np.isfinite(f):
                ax.annotate(f"{f / t / 1e9:.2g} GFLOP/s", (end, yi), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=5.5,
                            color="0.3")
        ax.set_xlabel("seconds a call (median; bars: 25th-75th percentile)"
                      + ("; text: its FLOPs' rate" if np.isfinite(flops).any() else ""))
        ax.set_title(f"{GROUPS[group]}: the fastest in bold", fontsize=9)
        if memory:
            mem_ax = axes[row][1]
            bytes_ = held[part.index].to_numpy(float) / 2 ** 20
            read = np.isfinite(bytes_)
            mem_ax.barh(y[read], bytes_[read],
                        color=[colors[f] for f, r in zip(part["framework"], read) if r])
            mem_ax.set_yticks(y, [""] * len(y))
            resolution = MEMORY_RESOLUTION / 2 ** 20
            unresolved = bool((bytes_[read] < resolution).any())
            if unresolved:   # peaks below it are not told apart (profiling.MEMORY_RESOLUTION)
                mem_ax.axvspan(0, resolution, color="0.85", zorder=0)
            mem_ax.set_xlabel("peak memory, MiB (none: not read"
                              + ("; grey: under 64 KiB, not resolved)" if unresolved else ")"))
            mem_ax.set_title("peak memory above the process's", fontsize=9)
    info = df.attrs.get("problem") or {}
    when = f", {str(df.attrs['date'])[:10]}" if df.attrs.get("date") else ""
    fig.suptitle(f"adcost profile of {info.get('name', 'f')}: n = {info.get('n')}, "
                 f"m = {info.get('m')}{when}", fontsize=10)
    fig.tight_layout()
    return fig


def build_sizes(df: pd.DataFrame):
    """A profile at several sizes: each framework's fastest forward-family mode (dashed) and
    reverse-family mode (solid) against the size, log-log, and each crossing placed
    (profiling.size_crossings) as a dotted vertical line in the framework's colour (black: all
    frameworks together)."""
    from ..profiling import by_size, size_crossings
    crossings = size_crossings(df)
    if not crossings:
        raise MissingData("no two sizes with a timed forward and reverse mode")
    axis = crossings[0]["axis"]
    fig, axes = figure(width=5.6, height=4.0)
    ax = axes[0][0]
    frameworks = sorted(c["scope"] for c in crossings if c["scope"] != "all")
    colors = {fw: f"C{i}" for i, fw in enumerate(frameworks)}
    for fw in frameworks:
        t = by_size(df, fw).sort_values(axis)
        ax.plot(t[axis], t["forward_s"], "--", marker="^", color=colors[fw], label=f"{fw} forward")
        ax.plot(t[axis], t["reverse_s"], "-", marker="o", color=colors[fw], label=f"{fw} reverse")
    for c in crossings:
        if "at" in c:
            ax.axvline(c["at"], ls=":", lw=1.2, color=colors.get(c["scope"], "black"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{axis} (dotted: where forward mode stops being the faster; black: all "
                  "frameworks)", fontsize=8)
    ax.set_ylabel("seconds a call, the fastest mode of each family")
    ax.legend(fontsize=7)
    info = df.attrs.get("problem") or {}
    ax.set_title(f"adcost profile of {info.get('name', 'f')} at {df['point'].nunique()} sizes",
                 fontsize=10)
    fig.tight_layout()
    return fig


def check_target(target: Path) -> Path:
    """`target` as a figure's file: ValueError (one line) for a folder or another format."""
    target = Path(target)
    if target.is_dir():
        raise ValueError(f"{target} is a folder; name a file ({NAME}.png)")
    if target.suffix.lower() not in FORMATS:
        raise ValueError(f"{target}: the figure's file must end in {', '.join(FORMATS)}")
    return target


def write(df: pd.DataFrame, target: Path) -> Path:
    """Draw `df` (profile's frame) into `target` (.png, .svg or .pdf)."""
    import matplotlib.pyplot as plt
    target = check_target(target)
    fig = build(df)
    target.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.savefig(target, bbox_inches="tight",
                    metadata={"Date": None} if target.suffix.lower() == ".svg" else None)
    plt.close(fig)
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m adcost.analysis.profile_figure",
                                description=__doc__.splitlines()[0])
    p.add_argument("record", help="a profile's result file (adcost profile --out FILE.json)")
    p.add_argument("--out", help=f"the figure's file (default: the record's name, {NAME}.png "
                                 "beside it)")
    args = p.parse_args(argv)
    source = Path(args.record)
    try:
        from .load import profile_record
        record = profile_record(source)
        if record is None:
            raise ValueError(f"{source} is not a profile's result file (adcost profile --out)")
        target = write(frame_of(record), Path(args.out) if args.out
                       else source.with_suffix(".png"))
    except (ValueError, MissingData) as exc:
        print(f"profile_figure: {exc}", file=sys.stderr)
        return 2
    print(f"profile_figure: wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
