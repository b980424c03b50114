"""Every path the project writes or reads, in one place.

Two kinds of results folder:

* yours: the `--results DIR` a command was given, else $ADCOST_RESULTS, else results/ in the
  current directory (git ignores it): every run, figure and site you make goes there;
* the committed reference run, results/reference/ (a file REFERENCE marks it): read-only for
  every command except `make publish-reference` (ADCOST_PUBLISH_REFERENCE=1), so a run of
  yours never lands in it or mixes with it.

Nothing is found by walking up from the current directory, and nothing here depends on a
checkout of the project.
"""
from __future__ import annotations

import os
from pathlib import Path

MARKER = "REFERENCE"   # the file that marks a results folder as the committed reference run


def results(folder: str | Path | None = None) -> Path:
    """The results folder: `folder`, else $ADCOST_RESULTS, else ./results."""
    return Path(folder or os.environ.get("ADCOST_RESULTS") or "results")


def reference() -> Path:
    """The committed reference run (relative to the current directory, the checkout)."""
    return Path("results") / "reference"


def installed_reference() -> Path | None:
    """The committed reference run of the checkout this package was installed from (an editable
    install: `make install`), where there is one: named in messages, never read unasked."""
    found = Path(__file__).resolve().parents[2] / "results" / "reference"
    return found if (found / MARKER).exists() else None


def reference_root(folder: str | Path) -> Path | None:
    """The committed reference run `folder` lies in (the nearest folder up with MARKER), or None."""
    folder = Path(folder).resolve()
    return next((p for p in (folder, *folder.parents) if (p / MARKER).exists()), None)


def is_reference(folder: str | Path) -> bool:
    return reference_root(folder) is not None


def reference_label(folder: str | Path) -> str | None:
    """How a results folder inside the reference is named to a reader: "the committed reference
    run" for the reference itself, "a committed run beside the reference, NAME" for a folder of
    results/reference/machines/NAME (another machine's or another day's run, which the
    reference's own figures never read); None outside the reference."""
    root = reference_root(folder)
    if root is None:
        return None
    parts = Path(folder).resolve().relative_to(root).parts
    if len(parts) >= 2 and parts[0] == "machines":
        return f"a committed run beside the reference, {parts[1]}"
    return "the committed reference run"


def writable(target: str | Path) -> Path:
    """`target`, or ValueError when it lies in the reference run and no publish was asked for."""
    target = Path(target)
    if is_reference(target.parent if target.suffix else target) and \
            os.environ.get("ADCOST_PUBLISH_REFERENCE") != "1":
        raise ValueError(f"{target} is part of the committed reference run (results/reference); "
                         "write your run to your own results folder (the default ./results), or "
                         "publish it as the reference with `make publish-reference`")
    return target


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
