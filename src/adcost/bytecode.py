"""Byte-compile the venv's packages on every CPU: what `make install` runs after pip.

pip compiles each file it installs one after another, about half of the pinned install's
90 s on 2 vCPUs; `make install` installs with `--no-compile` and runs this file (by its path,
so that nothing of adcost is imported before its dependencies are compiled), which compiles
them with one worker per CPU.  A file that does not compile (test data some packages ship) is
skipped, as pip skips it.  Standard library only.
"""
from __future__ import annotations

import compileall
import sysconfig
import time


def main(folders: list[str] | None = None) -> int:
    start = time.perf_counter()
    folders = folders or sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    clean = all([compileall.compile_dir(folder, quiet=2, workers=0) for folder in folders])
    print(f"bytecode: {', '.join(folders)} compiled in {time.perf_counter() - start:.0f} s"
          + ("" if clean else " (files that do not compile skipped, as pip skips them)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
