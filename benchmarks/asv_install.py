"""asv's install step in its own virtualenvs (asv.conf.json "install_command"): pip installs the
built wheel with the pinned environment; when pip fails, one line says why instead of pip's page.

    python asv_install.py WHEEL CONSTRAINTS EXTRAS

Runs with the new virtualenv's interpreter before adcost is installed: it imports nothing of
adcost. pip gets --timeout 10 --retries 1, so an index it cannot reach fails in seconds.

asv's environment matrix ("req" in the config; `adcost.releases` writes one) installs its
packages before this step and names them in the environment's asv-env-info.json: those keep
their versions (their pins in CONSTRAINTS are replaced by what the matrix installed),
everything else stays pinned.  So an environment of
jax==0.9.2 jaxlib==0.9.2 runs the release it names, beside NumPy, torch and TF as pinned.
"""
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile

def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def matrix(env_dir: str | None = None) -> dict:
    """The packages asv's matrix installed in this environment (its asv-env-info.json, in the
    environment's folder: ASV_ENV_DIR, else the current one), name -> installed version."""
    path = os.path.join(env_dir or os.environ.get("ASV_ENV_DIR") or os.getcwd(), "asv-env-info.json")
    try:
        with open(path) as fh:
            names = json.load(fh).get("requirements") or {}
    except (OSError, ValueError):
        return {}
    found = {}
    for name in names:
        try:
            found[canonical(name)] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def constraints_keeping(text: str, keep: dict) -> str:
    """The constraints `text` with the pin of every package in `keep` set to its version there."""
    lines = []
    for line in text.splitlines():
        pin = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^]]*\])?\s*[=<>!~]", line)
        name = canonical(pin.group(1)) if pin else None
        lines.append(f"{name}=={keep[name]}  # asv's matrix (was: {line.strip()})"
                     if name in keep else line)
    return "\n".join(lines) + "\n"

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def reason(text: str) -> str:
    """The one line that says why pip failed, from pip's output."""
    pins = re.findall(r"The user requested \(constraint\) (\S+)", text)
    missing = re.search(r"no matching distributions available for your environment:\s*\n\s*(\S+)", text)
    if missing:
        name = missing.group(1)
        pin = next((p for p in pins if p.split("=")[0].lower() == name.lower()), name)
        if "+cpu" in pin:
            return (f"{pin} is on no index pip reached (PyPI has no +cpu builds): set "
                    f"PIP_EXTRA_INDEX_URL={CPU_INDEX} (or a wheel folder in PIP_FIND_LINKS) and run again")
        return f"{pin} is on no index pip reached"
    found = re.search(r"Could not find a version that satisfies the requirement (\S+)", text)
    if found:
        return f"{found.group(1)} is on no index pip reached"
    if re.search(r"NewConnectionError|Failed to establish a new connection|Read timed out|"
                 r"Temporary failure in name resolution|Network is unreachable", text):
        return ("the package index is unreachable from this machine (pip gave up after 10 s): "
                "point PIP_INDEX_URL / PIP_FIND_LINKS at one it reaches")
    errors = [line.strip() for line in text.splitlines() if line.strip().startswith("ERROR:")]
    return errors[0][len("ERROR:"):].strip() if errors else "pip failed (no ERROR line)"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: asv_install.py WHEEL CONSTRAINTS EXTRAS", file=sys.stderr)
        return 2
    wheel, constraints, extras = argv
    keep = matrix()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write(constraints_keeping(open(constraints).read(), keep))
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "install", "--timeout", "10",
                              "--retries", "1", "-c", fh.name, f"{wheel}[{extras}]"],
                             capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    if out.returncode:
        print(f"adcost: installing the pinned environment failed: {reason(out.stdout + out.stderr)}",
              file=sys.stderr)
    return out.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
