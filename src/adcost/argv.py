"""Argument parsing shared by adcost's commands: bad arguments are one line and exit 2."""
from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def at_least(low: int):
    """An argparse type: an integer >= low, else the option's one-line error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value
    return parse


positive, nonnegative = at_least(1), at_least(0)


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def size_pair(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--size takes KEY=VALUE, got {text!r}")
    try:
        return key, int(value)
    except ValueError:
        return key, value


def compare_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """compare's options, on `adcost compare` and on this module's main alike."""
    p.add_argument("a", help="baseline: tidy file, asv result file or folder, commit prefix, "
                             "or a profile's result file (adcost profile --out)")
    p.add_argument("b", help="contender, the same kinds")
    p.add_argument("--factor", type=ratio_above_one, default=1.10,
                   help="minimum ratio that counts, above 1 (default 1.10)")
    p.add_argument("--all", action="store_true", help="also list the unchanged measurements")
    p.add_argument("--strict", action="store_true", help="exit 1 when anything got worse")
    p.add_argument("--csv", type=writable_file, help="write the full comparison table here")
    p.add_argument("--as-measured", action="store_true",
                   help="compare times as taken, not read at one machine speed where both runs probed it")
    p.add_argument("--results", help="results folder where commit prefixes are looked up (default ./results)")
    return p


def ratio_above_one(text: str) -> float:
    """An argparse type: a ratio > 1 (a change counts when B/A is at least it, or at most its
    inverse: 1 or less would count everything)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a ratio above 1, got {text!r}") from None
    if not value > 1 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a ratio above 1 (e.g. 1.1), got {text!r}")
    return value


def writable_file(text: str) -> str:
    """An argparse type: a file path whose folder exists (checked before any work, so a typo
    costs one line, not the run's output and a traceback)."""
    import os
    folder = os.path.dirname(os.path.abspath(os.path.expanduser(text)))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"no folder {folder!r} to write {text!r} in")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    return text


def shard_spec(text: str) -> tuple[int, int]:
    """An argparse type: "I/N" with 1 <= I <= N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N (e.g. 1/3), got {text!r}") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"expected 1 <= I <= N, got {text!r}")
    return index, count
