"""Every path the project writes or reads, in one place.

Everything is relative to one results folder: the `--results DIR` a command was given, else
$ADCOST_RESULTS, else results/ in the current directory.  Nothing is found by walking up
from the current directory, and nothing here depends on a checkout of the project.
"""
from __future__ import annotations

import os
from pathlib import Path


def results(folder: str | Path | None = None) -> Path:
    """The results folder: `folder`, else $ADCOST_RESULTS, else ./results."""
    return Path(folder or os.environ.get("ADCOST_RESULTS") or "results")


def asv_results(folder=None) -> Path:
    return results(folder) / "asv"


def smoke_file(folder=None) -> Path:
    return results(folder) / "smoke.json"


def figures(folder=None) -> Path:
    return results(folder) / "figures"


def site(folder=None) -> Path:
    return results(folder) / "site"


def tidy(folder=None) -> Path:
    """The tidy table (compressed CSV, one file)."""
    return results(folder) / "tidy.csv.gz"


def checkpoint_summary(threads: int | None = None, folder=None) -> Path:
    """The checkpoint report; a thread-limited run (ADCOST_THREADS=N) gets its own file."""
    return results(folder) / ("checkpoint_summary.json" if threads is None
                              else f"checkpoint_summary_threads{threads}.json")
