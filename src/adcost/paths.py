"""Every path the project writes or reads, in one place."""
from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    """The checkout: the nearest folder above the working directory holding asv.conf.json."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "asv.conf.json").exists():
            return folder
    return here


def results() -> Path:
    """results/ of the checkout, or $ADCOST_RESULTS."""
    return Path(os.environ.get("ADCOST_RESULTS") or root() / "results")


def asv_results() -> Path:
    return results() / "asv"


def smoke_file() -> Path:
    return results() / "smoke.json"


def figures() -> Path:
    return results() / "figures"


def site() -> Path:
    return results() / "site"


def tidy() -> Path:
    """The tidy table, without suffix: .csv and .parquet beside each other."""
    return results() / "tidy"


def checkpoint_summary(threads: int | None = None) -> Path:
    """The checkpoint report; a thread-limited run (ADCOST_THREADS=N) gets its own file."""
    return results() / ("checkpoint_summary.json" if threads is None
                        else f"checkpoint_summary_threads{threads}.json")
