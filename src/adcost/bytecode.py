"""Byte-compile the venv's packages on every CPU: what `make install` runs after pip.

pip compiles each file it installs one after another, about half of the pinned install's
90 s on 2 vCPUs; `make install` installs with `--no-compile` and runs this file (by its path,
so that nothing of adcost is imported before its dependencies are compiled), which compiles
them with one worker per CPU.  A file that does not compile (test data some packages ship) is
skipped, as pip skips it.  The packages' own test suites (folders named tests or test: about 3,000
of the pinned venv's 15,800 files) are left uncompiled: nothing of adcost imports them (one that
is imported runs from source).  Standard library only.
"""
from __future__ import annotations

import compileall
import os
import re
import sysconfig
import time


def tests_under(folder: str) -> re.Pattern:
    """Paths of test-suite folders (a component named tests or test) below `folder` only: a
    checkout that itself lies under a folder named tests is still compiled."""
    root = re.escape(os.path.join(os.path.abspath(folder), ""))
    return re.compile(rf"^{root}(?:.*[/\\])?tests?[/\\]")


def main(folders: list[str] | None = None) -> int:
    start = time.perf_counter()
    folders = folders or sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    clean = all([compileall.compile_dir(os.path.abspath(folder), quiet=2, workers=0,
                                        rx=tests_under(folder)) for folder in folders])
    print(f"bytecode: {', '.join(folders)} compiled in {time.perf_counter() - start:.0f} s"
          + ("" if clean else " (files that do not compile skipped, as pip skips them)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
