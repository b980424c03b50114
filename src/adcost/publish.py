"""`make publish-reference`: your run becomes part of the committed reference run.

Copies the asv result files of results/asv/<machine>/ (every machine, or --machine) into
results/reference/asv/ (and those of results/releases/asv/, `adcost releases`, into
results/reference/releases/asv/) and the checkpoint report's summaries (results/
checkpoint_summary*.json, `make checkpoint-report`) into results/reference/, keeps the reference's
benchmark description where it already lists a benchmark, then rebuilds the reference's tidy
data, figures and site.  The only command that
writes into results/reference (it sets ADCOST_PUBLISH_REFERENCE=1 for itself).
"""
from __future__ import annotations

import json
import os
import shutil
import sys

from . import paths
from .argv import Parser


def publish(machine: str | None = None) -> list[str]:
    """Copy your asv results (results/asv/, and the release comparisons of
    results/releases/asv/ when there are any) into the reference run."""
    source = paths.asv_results()
    if not source.is_dir():
        raise ValueError(f"no run of yours to publish: {source} does not exist (run `make bench`)")
    copied = copy(source, paths.reference() / "asv", machine)
    if not copied:
        raise ValueError(f"nothing to publish under {source}" + (f" for machine {machine!r}" if machine else ""))
    from .releases import FOLDER
    releases = paths.asv_results(paths.results() / FOLDER)
    if releases.is_dir():
        copied += [f"{FOLDER}/{p}" for p in copy(releases, paths.asv_results(paths.reference() / FOLDER), machine)]
    for summary in sorted(paths.results().glob("checkpoint_summary*.json")):   # the report's
        shutil.copy2(summary, paths.reference() / summary.name)
        copied.append(summary.name)
    return copied


def copy(source, target, machine: str | None) -> list[str]:
    """The result files of each machine folder of `source` into `target`, and benchmarks.json."""
    copied = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and p.name != "html"):
        if machine and folder.name != machine:
            continue
        (target / folder.name).mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.glob("*.json")):
            shutil.copy2(path, target / folder.name / path.name)
            copied.append(f"{folder.name}/{path.name}")
    mine, theirs = source / "benchmarks.json", target / "benchmarks.json"
    if copied and mine.exists():   # the reference keeps its (full-grid) description of what it already has
        merged = {**json.loads(mine.read_text()), **(json.loads(theirs.read_text()) if theirs.exists() else {})}
        theirs.write_text(json.dumps(merged, indent=4, sort_keys=True))
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="make publish-reference", description=__doc__.splitlines()[0])
    parser.add_argument("--machine", help="publish only this machine's results (default: all)")
    args = parser.parse_args(argv)
    os.environ["ADCOST_PUBLISH_REFERENCE"] = "1"
    try:
        copied = publish(args.machine)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"publish: {len(copied)} result files into {paths.reference()}")
    from .analysis import plots, site
    status = plots.main(["--results", str(paths.reference())])
    site.main(["--results", str(paths.reference())])
    return status


if __name__ == "__main__":
    sys.exit(main())
