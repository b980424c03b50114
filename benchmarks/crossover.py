"""Forward versus reverse mode: seconds (and FLOPs) of the mlp problem's Jacobian over n, m, depth.

The problem is `mlp` (tanh, width and depth from grids.CROSSOVER) at float32 (fd: float64, its
only dtype).  Every case is validated and warmed in setup; the timed call runs the operation
and the framework's sync only.  A (framework, mode) pair that does not exist is skipped.
"""
from adcost import grids, ops
from adcost.frameworks.base import REGISTRY, records
from adcost.bench import (PRODUCT_OPS, cost_table, frameworks_for, from_table, fwd_over_rev,
                          jacobian_modes, op_reason, prepare_or_skip, prepare_some, require,
                          skip_if, speed_beside)

GRID = grids.crossover()
TIMING = grids.timing()
FRAMEWORKS = frameworks_for("crossover")
WIDTH_FRAMEWORKS = frameworks_for("width")
# the batched primals of the frameworks themselves: a compiled variant's primal compiles for
# seconds per case (measured: 8 s a case for torch_compile, 225 cases in the full grid)
PRIMAL_WIDTH_FRAMEWORKS = tuple(fw for fw in WIDTH_FRAMEWORKS if records()[fw].variant_of is None)
MODES = GRID["modes"] or jacobian_modes()
TABLE_MODES = GRID["table_modes"] or tuple(m for m in MODES if GRID["table_loops"]
                                           or m not in ops.LOOP_MODES)
N, M, DEPTHS, FIXED_NM = GRID["n"], GRID["m"], GRID["depth"], GRID["fixed_nm"]
WIDTHS, WIDTH_N, WIDTH_M = GRID["widths"], GRID["width_n"], GRID["width_m"]
SIDE_N = GRID.get("side_by_side_n") or WIDTH_N      # the side-by-side group's n
VECTORIZED = ("jacfwd", "jacrev")
# the width study's modes: the vectorized two and the frameworks' other one-pass forward modes
# the cost model reads (JAX's jacfwd_vmap); a framework without one skips it by name
WIDTH_MODES = GRID["width_modes"]
# those other forward modes, timed side by side with jacrev as well (SideBySideForward)
OTHER_FORWARD = tuple(mode for mode in WIDTH_MODES if mode not in VECTORIZED)


class Timed:
    """asv settings shared by the timing classes.

    Each class's `skip_reason(*params)` says why a parameter combination is not measured where
    that is known before anything is built (None: setup decides); setup raises it first, and
    benchmarks/asv_plugin.py reads it before asv forks a process for the combination.

    With a setup method, asv_runner 0.3 times one call per sample (asv#966; our setup hands
    back the process's one warm case, see adcost.bench.prepare_or_skip), so up to 30 samples
    within the grid's sample budget.  The warm-up outlasts the slow first ~0.1 s of a process
    forked from asv's forkserver: with 0.02 s, torch.func's jacfwd at n = m = 4 read 0.9 or
    2.0 ms from one case to the next (single-call samples inside that transient).  The
    warm-up and the samples' budget are the grid's (grids.TIMING)."""
    timeout = GRID["timeout_s"]
    rounds = 1
    repeat = (3, 30, TIMING["sample_budget_s"])
    sample_time = 0.01
    warmup_time = TIMING["warmup_s"]
    min_run_count = 2


class PrimalNM(Timed):
    """T_f: seconds for one evaluation of f: R^n -> R^m at the fixed depth and width."""
    params = (FRAMEWORKS, N, M)
    param_names = ["framework", "n", "m"]

    @staticmethod
    def skip_reason(framework, n, m):
        return op_reason(framework, "primal")

    def setup(self, framework, n, m):
        skip_if(self.skip_reason(framework, n, m))
        self.case = prepare_or_skip(framework, "primal", n=n, m=m)
        speed_beside(self, framework, n, m)

    def time_primal(self, framework, n, m):
        self.case()


class JacobianNM(Timed):
    """T_J: seconds for the full (m, n) Jacobian by `mode`, at the fixed depth and width."""
    params = (FRAMEWORKS, MODES, N, M)
    param_names = ["framework", "mode", "n", "m"]

    @staticmethod
    def skip_reason(framework, mode, n, m):
        most = GRID["loop_directions"]
        if most is not None and mode in ops.LOOP_MODES and ops.directions(mode, n, m) > most:
            return (f"{mode} makes one product per direction: the {grids.grid_name()} grid "
                    f"times it up to {most} directions")
        return op_reason(framework, mode)

    def setup(self, framework, mode, n, m):
        skip_if(self.skip_reason(framework, mode, n, m))
        self.case = prepare_or_skip(framework, mode, n=n, m=m)
        speed_beside(self, framework, mode, n, m)

    def time_jacobian(self, framework, mode, n, m):
        self.case()


def measured_by_nm(framework, mode, width, n, m) -> bool:
    """Whether the n x m group (JacobianNM, PrimalNM) times this point of the width study: the
    crossover study's width and depth, its frameworks, modes, n and m.  The width study skips it
    and the cost model reads it there (costmodel.width_rows): the same computation twice
    was 120 Jacobian and 60 primal cases of the full grid."""
    return (framework in FRAMEWORKS and (mode == "primal" or mode in MODES)
            and width == GRID["width"] and n in N and m in M)


def _nm_reason(mode):
    return (f"the n x m group times this point (crossover.{'PrimalNM' if mode == 'primal' else 'JacobianNM'}"
            f", width {GRID['width']}, depth {GRID['fixed_depth']}); the cost model reads it there")


def _compiled_m_reason(framework, m):
    """Why the width study leaves torch_compile out at this m (None: it runs it)."""
    if framework == "torch_compile" and m not in (GRID.get("compiled_width_m") or WIDTH_M):
        return (f"the {grids.grid_name()} grid runs torch_compile's width study at m in "
                f"{GRID['compiled_width_m']} (each case compiles for seconds)")
    return None


class JacobianWidth(Timed):
    """T_J of the vectorized modes over width (the cost model's axis) at the fixed depth:
    seconds, at every (n, m) of the width grid."""
    params = (WIDTH_FRAMEWORKS, WIDTH_MODES, WIDTHS, WIDTH_N, WIDTH_M)
    param_names = ["framework", "mode", "width", "n", "m"]

    @staticmethod
    def skip_reason(framework, mode, width, n, m):
        missing = op_reason(framework, mode)
        if missing is None and measured_by_nm(framework, mode, width, n, m):
            return _nm_reason(mode)
        return missing or _compiled_m_reason(framework, m)

    def setup(self, framework, mode, width, n, m):
        skip_if(self.skip_reason(framework, mode, width, n, m))
        _build_on_every_cpu(framework)
        self.case = prepare_or_skip(framework, mode, grow=("width", "n", "m"), n=n, m=m,
                                    width=width)
        speed_beside(self, framework, mode, width, n, m)

    def time_jacobian(self, framework, mode, width, n, m):
        self.case()


class PrimalWidth(Timed):
    """T_f(k), the primal batched over k inputs, over width at every (n, m) of the width grid:
    k = "1", k = "n" (as many inputs as jacfwd pushes tangents) or k = "m" (as many as jacrev
    pushes cotangents). Seconds."""
    params = (PRIMAL_WIDTH_FRAMEWORKS, WIDTHS, WIDTH_N, WIDTH_M, ("1", "n", "m"))
    param_names = ["framework", "width", "n", "m", "k"]

    @staticmethod
    def skip_reason(framework, width, n, m, k):
        if k == "m" and m == n:
            return "k = m is k = n here"
        if k == "1" and measured_by_nm(framework, "primal", width, n, m):
            return _nm_reason("primal")
        return op_reason(framework, "primal")

    def setup(self, framework, width, n, m, k):
        skip_if(self.skip_reason(framework, width, n, m, k))
        batch = {"1": 1, "n": n, "m": m}[k]
        grow = ("width", "n", "m") + (("batch",) if batch > 1 else ())
        self.case = prepare_or_skip(framework, "primal", grow=grow, n=n, m=m, width=width,
                                    **({"batch": batch} if batch > 1 else {}))
        speed_beside(self, framework, width, n, m, k)

    def time_primal(self, framework, width, n, m, k):
        self.case()


def _build_on_every_cpu(framework):
    """torch_compile's builds on every CPU the run has (no compile seconds are reported here)."""
    if framework == "torch_compile":
        from adcost.frameworks.torch_compile import TorchCompiled
        from adcost.threads import machine_cpus
        TorchCompiled.compile_cpus = tuple(machine_cpus())


class SideBySide(Timed):
    """T(jacfwd) / T(jacrev) at every point of the width study, the two timed in one process in
    interleaved rounds (adcost.bench.fwd_over_rev: the median of the rounds' ratios), so the
    machine's speed, which moves between processes, cancels: the measured crossover (where
    the ratio is 1; costmodel.measured_crossovers) comes from these ratios.  Full grid only;
    at the width study's n, and between them at m up to side_by_side_fine_m (SIDE_N)."""
    params = (WIDTH_FRAMEWORKS, WIDTHS, SIDE_N, WIDTH_M)
    param_names = ["framework", "width", "n", "m"]
    unit = "ratio"

    @staticmethod
    def skip_reason(framework, width, n, m):
        if not GRID["side_by_side"]:
            return ("the side-by-side ratios run in the full grid (ADCOST_GRID=full): two n per "
                    "line place a crossover no better than the width study's own times")
        fine = GRID.get("side_by_side_fine_m")
        if n not in WIDTH_N and (fine is None or m > fine):
            return (f"the side-by-side group times n between the width study's "
                    f"{', '.join(map(str, WIDTH_N))} at m up to {fine} only, where the "
                    "crossings lie at small n")
        return (_compiled_m_reason(framework, m) or op_reason(framework, "jacfwd")
                or op_reason(framework, "jacrev"))

    def setup(self, framework, width, n, m):
        skip_if(self.skip_reason(framework, width, n, m))
        _build_on_every_cpu(framework)
        self.cases = {mode: prepare_or_skip(framework, mode, grow=("width", "n", "m"), n=n, m=m,
                                            width=width) for mode in VECTORIZED}
        speed_beside(self, framework, width, n, m)

    def track_fwd_over_rev(self, framework, width, n, m):
        return fwd_over_rev(self.cases["jacfwd"], self.cases["jacrev"], self, framework, width,
                            n, m)


class SideBySideForward(Timed):
    """T(forward) / T(jacrev) as SideBySide, for a framework's other one-pass forward modes
    (WIDTH_MODES beyond jacfwd and jacrev: JAX's jacfwd_vmap), at the same points: their
    measured crossover with reverse mode (costmodel.measured_crossovers, forward=mode).
    Full grid only."""
    params = (tuple(fw for fw in WIDTH_FRAMEWORKS
                    if any(mode in REGISTRY[fw].modes for mode in OTHER_FORWARD)),
              OTHER_FORWARD, WIDTHS, SIDE_N, WIDTH_M)
    param_names = ["framework", "mode", "width", "n", "m"]
    unit = "ratio"

    @staticmethod
    def skip_reason(framework, mode, width, n, m):
        return (SideBySide.skip_reason(framework, width, n, m)
                or op_reason(framework, mode))

    def setup(self, framework, mode, width, n, m):
        skip_if(self.skip_reason(framework, mode, width, n, m))
        self.cases = {op: prepare_or_skip(framework, op, grow=("width", "n", "m"), n=n, m=m,
                                          width=width) for op in (mode, "jacrev")}
        speed_beside(self, framework, mode, width, n, m)

    def track_fwd_over_rev(self, framework, mode, width, n, m):
        return fwd_over_rev(self.cases[mode], self.cases["jacrev"], self, framework, mode,
                            width, n, m)


def _break_even_frameworks() -> tuple[str, ...]:
    """Each compiled variant and the eager framework it pairs with (no pandas at import)."""
    from adcost.bench import FRAMEWORKS as SWEEP
    from adcost.frameworks.base import variant_pairs
    names = {fw for pair in variant_pairs() for fw in pair}
    return tuple(fw for fw in SWEEP if fw in names)


def _eager_reason(framework, *params):
    """Why an eager framework has no compile seconds (None for a compiled one)."""
    if not records()[framework].compiled:
        return f"{framework} compiles nothing ahead of the first call"
    return None


def _compiled_only(framework, *params):
    """Skip the compile seconds of an eager framework (a method's own setup: asv counts a skip
    raised in the benchmark itself as a failure)."""
    skip_if(_eager_reason(framework))


class BreakEven(Timed):
    """What compiling buys, in the full grid: per framework of each (compiled, eager) pair
    (torch_compile and torch, jax and jax_eager, tf and tf_eager), mode and (n, m): seconds per
    call (time_call) and the compiled side's compile seconds, kept out of it (track_compile_s).
    costmodel.break_even turns them into the calls after which compiling has paid.  A point the
    n x m group times (jax, tf and torch: measured_by_nm) is skipped here; the break-even reads
    its time there and a compiled side's compile seconds in the compile/FLOPs table
    (crossover.Compile), whose n and m hold the group's."""
    params = (_break_even_frameworks(), PRODUCT_OPS[:1] + VECTORIZED, GRID["break_even_n"],
              GRID["break_even_m"])
    param_names = ["framework", "mode", "n", "m"]

    @staticmethod
    def skip_reason(framework, mode, n, m):
        if grids.grid_name() != "full":
            return ("the compile break-even group runs in the full grid (ADCOST_GRID=full): "
                    "torch.compile compiles each case for seconds")
        if measured_by_nm(framework, mode, GRID["width"], n, m):
            return _nm_reason(mode)
        return op_reason(framework, mode, left_out_ok=True)

    def setup(self, framework, mode, n, m):
        skip_if(self.skip_reason(framework, mode, n, m))
        self.case = prepare_or_skip(framework, mode, n=n, m=m, left_out_ok=True)
        speed_beside(self, framework, mode, n, m)

    def time_call(self, framework, mode, n, m):
        self.case()

    def track_compile_s(self, framework, mode, n, m):
        return self.case.compile_s
    track_compile_s.unit = "seconds"
    track_compile_s.setup = _compiled_only
    track_compile_s.skip_reason = _eager_reason


class PrimalDepth(Timed):
    """T_f over depth at n = m = fixed_nm: seconds."""
    params = (FRAMEWORKS, DEPTHS)
    param_names = ["framework", "depth"]

    @staticmethod
    def skip_reason(framework, depth):
        return op_reason(framework, "primal")

    def setup(self, framework, depth):
        skip_if(self.skip_reason(framework, depth))
        self.case = prepare_or_skip(framework, "primal", grow=("depth",), n=FIXED_NM, m=FIXED_NM,
                                    depth=depth)
        speed_beside(self, framework, depth)

    def time_primal(self, framework, depth):
        self.case()


class JacobianDepth(Timed):
    """T_J over depth at n = m = fixed_nm: seconds."""
    params = (FRAMEWORKS, MODES, DEPTHS)
    param_names = ["framework", "mode", "depth"]

    @staticmethod
    def skip_reason(framework, mode, depth):
        return op_reason(framework, mode)

    def setup(self, framework, mode, depth):
        skip_if(self.skip_reason(framework, mode, depth))
        self.case = prepare_or_skip(framework, mode, grow=("depth",), n=FIXED_NM, m=FIXED_NM,
                                    depth=depth)
        speed_beside(self, framework, mode, depth)

    def time_jacobian(self, framework, mode, depth):
        self.case()


class Products(Timed):
    """One JVP (J v) and one VJP (J^T u), each with its primal: seconds, at the grid's
    product_n x product_m (every n and m without them)."""
    params = (FRAMEWORKS, GRID.get("product_n") or N, GRID.get("product_m") or M)
    param_names = ["framework", "n", "m"]

    @staticmethod
    def skip_reason(framework, n, m):
        reasons = [op_reason(framework, op) for op in ("jvp", "vjp")]
        return None if None in reasons else "; ".join(dict.fromkeys(reasons))

    def setup(self, framework, n, m):
        skip_if(self.skip_reason(framework, n, m))
        self.cases = prepare_some(framework, ("jvp", "vjp"), n=n, m=m)
        speed_beside(self, framework, n, m)

    def time_jvp(self, framework, n, m):
        self.cases["jvp"]()
    time_jvp.setup = require("jvp")
    time_jvp.skip_reason = staticmethod(lambda framework, n, m: op_reason(framework, "jvp"))

    def time_vjp(self, framework, n, m):
        self.cases["vjp"]()
    time_vjp.setup = require("vjp")
    time_vjp.skip_reason = staticmethod(lambda framework, n, m: op_reason(framework, "vjp"))


class CostTable:
    """Compile seconds and FLOPs come from one table built once in one process (setup_cache,
    shared by Compile and Flops): importing a framework per parameter combination would cost
    far more than the figures themselves."""
    params = (FRAMEWORKS, PRODUCT_OPS + TABLE_MODES, GRID.get("table_n") or N,
              GRID.get("table_m") or M)
    timeout = GRID["timeout_s"]
    rounds = 1

    def setup_cache(self):
        return cost_table(*self.params)
    setup_cache.timeout = GRID["table_timeout_s"]


class Compile(CostTable):
    """Seconds of the ahead-of-time step kept out of the timings (JAX lower+compile, TF trace)."""
    param_names = ["framework", "mode", "n", "m"]
    unit = "seconds"

    @staticmethod
    def skip_reason(framework, mode, n, m):
        return op_reason(framework, mode) or _eager_reason(framework)

    def setup(self, table, framework, mode, n, m):
        self.seconds = from_table(table, "compile_s", framework, mode, n, m)

    def track_compile_s(self, table, framework, mode, n, m):
        return self.seconds


class Flops(CostTable):
    """FLOPs of one call (adcost.measure.flops): torch FlopCounterMode (matmuls only), XLA cost
    analysis (every op), analytic matmul count for numpy.  omega = FLOPs(op) / FLOPs(primal)."""
    param_names = ["framework", "op", "n", "m"]
    unit = "flop"

    @staticmethod
    def skip_reason(framework, op, n, m):
        return op_reason(framework, op)

    def setup(self, table, framework, op, n, m):
        self.flops = from_table(table, "flops", framework, op, n, m)

    def track_flops(self, table, framework, op, n, m):
        return self.flops
