"""Every code block of the README runs as printed: Python blocks are executed, shell blocks'
make targets must be the Makefile's and their adcost commands must exist (adcost COMMAND --help)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 150
    assert any(lang == "python" for lang, _ in BLOCKS) and any(lang == "bash" for lang, _ in BLOCKS)


@pytest.mark.needs("torch", "jax")
@pytest.mark.parametrize("code", [c for lang, c in BLOCKS if lang == "python"])
def test_python_blocks_run_as_printed(code):
    exec(compile(code, "README.md", "exec"), {})


@pytest.mark.slow
@pytest.mark.parametrize("code", [c for lang, c in BLOCKS if lang == "bash"])
def test_shell_blocks_name_commands_that_exist(code):
    for line in code.splitlines():
        command = line.split("#")[0].strip()
        if not command:
            continue
        words = [w for w in command.split() if "=" not in w or w.startswith("-")]
        if words[0] == "make":
            for target in words[1:]:
                assert re.search(rf"^{re.escape(target)}:", MAKEFILE, flags=re.M), command
            continue
        if words[0].endswith("adcost"):
            out = subprocess.run([sys.executable, "-m", "adcost", words[1], "--help"], cwd=ROOT,
                                 capture_output=True, text=True)
        else:
            continue
        assert out.returncode == 0, (command, out.stderr)
