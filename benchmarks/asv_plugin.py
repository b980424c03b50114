"""An asv plugin (asv.conf.json "plugins"): the environment the sweep runs in, named alike in
every checkout; and a run's results saved after each benchmark (below).

`--python=same` names asv's environment after the interpreter's path
(existing-py_home_me_adcost_.venv_bin_python), so two checkouts of the project file their
results under two names and `asv compare` pairs none of their rows.  `-E adcost:same` is the same
environment (the running interpreter, nothing built) named `adcost-py3.11` wherever the venv is.
"""
import sys

from asv import util
from asv.environment import ExistingEnvironment, get_env_name


class CheckoutIndependent(ExistingEnvironment):
    tool_name = "adcost"

    def __init__(self, conf, executable, requirements, tagged_env_vars):
        path = sys.executable if executable == "same" else util.which(executable)
        self._version = util.check_output(   # asv's own base class reads `name` while it starts
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
        super().__init__(conf, executable, requirements, tagged_env_vars)

    @property
    def name(self):
        return get_env_name(self.tool_name, self._version, {}, self._tagged_env_vars)


# -- every benchmark saved as it ends --------------------------------------------------------
# asv 0.6 saves a run's results file once, when the run ends: a run stopped by Ctrl-C, a
# timeout of the whole job or a closed terminal loses everything it measured.  Here a run that
# loaded its results file (asv does so before it runs anything, unless it saves nothing) saves
# it again after each benchmark (each method, over all its parameters), so a stop loses the
# benchmark in progress only, and `adcost sweep --resume` (asv's --skip-existing) goes on from
# there.  Every save is written beside the file and renamed over it (a stop inside a save
# leaves the previous file whole), and keeps the file's `adcost_environment`, which asv does
# not know and would drop.
import json
import os

from asv.results import Results

STAMP = "adcost_environment"
_asv_save, _asv_load_data, _asv_add_result = Results.save, Results.load_data, Results.add_result


def _stamp_of(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get(STAMP)
    except (OSError, ValueError):
        return None


def save(self, result_dir):
    """asv's save, atomic, keeping the file's adcost_environment."""
    final = self._filename
    if final is None:
        return _asv_save(self, result_dir)
    path = os.path.join(result_dir, final)
    stamp = _stamp_of(path)
    self._filename = final + ".partial"   # not *.json: asv's readers pass it by
    try:
        _asv_save(self, result_dir)
    finally:
        self._filename = final
    partial = path + ".partial"
    if stamp is not None:
        with open(partial, encoding="utf-8") as f:
            data = json.load(f)
        data[STAMP] = stamp
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
    os.replace(partial, path)


def load_data(self, result_dir):
    self._adcost_results_dir = result_dir   # where `asv run` will save this file
    return _asv_load_data(self, result_dir)


def add_result(self, *args, **kwargs):
    out = _asv_add_result(self, *args, **kwargs)
    if getattr(self, "_adcost_results_dir", None) is not None:
        self.save(self._adcost_results_dir)
    return out


Results.save, Results.load_data, Results.add_result = save, load_data, add_result


# -- skips known before a process is forked --------------------------------------------------
# asv forks a process from its forkserver for every parameter combination, and a combination
# that setup skips costs that fork too: 0.03 s each (measured: 70 such skips of the full grid's
# crossover.JacobianDepth took 13.3 s forked, 11.4 s here), about 4,100 of the full grid's
# 8,800 combinations (a mode the framework does not have, a point another group times, a
# loop past the grid's directions), and a method's own skip came after its class's setup had
# built the case (BreakEven.track_compile_s of an eager framework).  A benchmark class (or
# method) of this suite may say why before anything is built: `skip_reason(*params)` (None:
# setup decides).  Setup raises the same reason first, so a run without this plugin skips
# alike; here asv records the combination as skipped (NaN, the reason in its output) without
# forking.
import ast
import importlib
import itertools
import math

from asv import runner as _runner

_asv_single = _runner._run_benchmark_single_param
_HERE = os.path.dirname(os.path.realpath(__file__))


def _combination(benchmark: dict, param_idx) -> tuple[str, ...]:
    """The parameter combination `param_idx` of an asv benchmark, as asv's strings."""
    return next(itertools.islice(itertools.product(*benchmark["params"]), param_idx, None))


def skip_reason_of(benchmark: dict, param_idx) -> str | None:
    """Why this parameter combination of an asv benchmark of this suite is skipped, known
    before anything is built; None when its setup decides (or it is not this suite's)."""
    parts = benchmark["name"].split(".")
    if param_idx is None or not benchmark.get("params") or len(parts) < 3:
        return None
    try:
        module = importlib.import_module(f"{__package__}.{'.'.join(parts[:-2])}")
    except ImportError:
        return None
    cls = getattr(module, parts[-2], None)
    method = getattr(cls, parts[-1], None)
    checks = [c for c in (getattr(cls, "skip_reason", None), getattr(method, "skip_reason", None))
              if callable(c)]
    if not checks:
        return None
    try:
        values = [ast.literal_eval(p) for p in _combination(benchmark, param_idx)]
    except (ValueError, SyntaxError):
        return None
    for check in checks:
        try:
            reason = check(*values)
        except Exception:   # a check that breaks leaves the decision to setup, in the process
            return None
        if reason:
            return reason
    return None


def _single_param(benchmark, spawner, param_idx, profile, extra_params, cwd):
    """asv's run of one parameter combination, unless its skip is known before the fork."""
    here = os.path.realpath(getattr(spawner, "benchmark_dir", "") or "") == _HERE
    reason = skip_reason_of(benchmark, param_idx) if here and not profile else None
    if reason is None:
        return _asv_single(benchmark, spawner, param_idx, profile, extra_params, cwd)
    return _runner.BenchmarkResult(
        result=[math.nan], samples=[None], number=[None], errcode=0,
        stderr=f"For parameters: {', '.join(_combination(benchmark, param_idx))}\n"
               f"asv: skipped before its process: {reason}",
        profile=None)


_runner._run_benchmark_single_param = _single_param
