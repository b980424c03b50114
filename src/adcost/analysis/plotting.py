"""Shared plotting pieces: the Agg backend, saving SVG + PNG, and the figure-module main()."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")   # explicit here, never at import of the adcost package
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .. import paths  # noqa: E402

from . import load  # noqa: E402

STYLE = {"figure.dpi": 100, "savefig.dpi": 120, "axes.grid": True, "grid.alpha": 0.3,
         "font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8, "svg.fonttype": "none",
         "svg.hashsalt": "adcost"}   # fixed salt: the same data gives the same SVG


class MissingData(Exception):
    """The figure's data is not in the results; the message says which."""


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.6, height: float = 3.8, **kw):
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                                 squeeze=False, **kw)
    return fig, axes


def save(fig: Figure, name: str, out: Path | None = None) -> list[Path]:
    """name.svg and name.png under out (default results/figures)."""
    out = Path(out) if out else paths.figures()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with plt.rc_context(STYLE):
        for ext in ("svg", "png"):
            path = out / f"{name}.{ext}"
            fig.savefig(path, bbox_inches="tight", metadata={"Date": None} if ext == "svg" else None)
            written.append(path)
    plt.close(fig)
    return written


def frameworks_in(df, benchmark: str) -> list[str]:
    ok = load.measured(df, benchmark)
    return sorted(ok["framework"].dropna().unique())


def figure_main(name: str, build: Callable, doc: str, argv: list[str] | None = None) -> int:
    """main() of a figure module: --results (tidy file or asv folder), --out; missing data → message, 0."""
    p = argparse.ArgumentParser(prog=f"python -m adcost.analysis.{name}", description=doc.splitlines()[0])
    p.add_argument("--results", help="tidy CSV/parquet or asv results folder (default results/)")
    p.add_argument("--out", help="folder for the SVG and PNG (default results/figures)")
    args = p.parse_args(argv)
    return render(name, build, load.load(args.results), args.out)


def render(name: str, build: Callable, df, out=None) -> int:
    try:
        fig = build(df)
    except MissingData as exc:
        print(f"{name}: skipped, {exc}")
        return 0
    paths = save(fig, name, out)
    print(f"{name}: wrote {', '.join(str(p) for p in paths)}")
    return 0


def main_for(name: str, build: Callable, doc: str):
    def main(argv: list[str] | None = None) -> int:
        return figure_main(name, build, doc, argv)
    return main


if __name__ == "__main__":
    sys.exit("analysis.plotting is a library; run python -m adcost.analysis.plots")
