"""Every sweep grid of the study, in one place.

`ADCOST_GRID=quick` (the default, what `make bench` runs) or `ADCOST_GRID=full`.
asv reads the grids when it imports the benchmarks, so the variable is read then.
"""
from __future__ import annotations

import os

GRID_NAMES = ("quick", "full")


def grid_name() -> str:
    name = os.environ.get("ADCOST_GRID", "quick")
    if name not in GRID_NAMES:
        raise ValueError(f"ADCOST_GRID must be one of {', '.join(GRID_NAMES)}; got {name!r}")
    return name


def powers_of_two(lo: int, hi: int) -> tuple[int, ...]:
    return tuple(2 ** k for k in range(lo, hi + 1))


# -- crossover study (issue: forward vs reverse over n, m, depth) ------------------------
CROSSOVER = {
    "quick": {
        "n": (1, 8, 64, 512),
        "m": (1, 8, 64, 512),
        "depth": (1, 4, 16, 64),
        "fixed_depth": 4,      # depth of the n x m sweep
        "fixed_nm": 64,        # n = m of the depth sweep
        "width": 64,
    },
    "full": {
        "n": powers_of_two(0, 10),
        "m": powers_of_two(0, 10),
        "depth": (1, 2, 4, 8, 16, 32, 64),
        "fixed_depth": 4,
        "fixed_nm": 64,
        "width": 64,
    },
}

# -- checkpointing study (issue: memory and time versus depth) ----------------------------
CHECKPOINT = {
    "quick": {
        "depth": (4, 16, 64),
        "width": 256,
        "batch": 64,
        "features": 256,
        "outputs": 16,
    },
    "full": {
        "depth": (1, 2, 4, 8, 16, 32, 64, 128),
        "width": 256,
        "batch": 64,
        "features": 256,
        "outputs": 16,
    },
}


def crossover(name: str | None = None) -> dict:
    return CROSSOVER[name or grid_name()]


def checkpoint(name: str | None = None) -> dict:
    return CHECKPOINT[name or grid_name()]
