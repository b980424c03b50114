"""Beyond first order: Hessian-vector products by each composition of the two modes, Hessians,
per-example gradients, and the mixed-mode oracle's bracketings (NumPy).

HVPs and Hessians are of `mlp_loss` (n = its parameter count, grown by width and depth),
per-example gradients of `mlp_losses` over the batch; both at float32 (adcost.bench), each case
validated and warmed in setup (second order: against another framework's float64 result,
itself checked against central differences of the gradient).  Peak RSS (a fresh process per
probe, as the checkpointing study measures it) at one size per study (grids.SECOND_ORDER's
*_rss); XLA's own temporary bytes where JAX compiles.  Bracketings: the chain's layer Jacobians
multiplied forward, reverse and in the oracle's cheapest order (float64, NumPy's BLAS).
"""
from adcost import grids, ops
from adcost.bench import (Skip, dtype_for, frameworks_for, once_per_process, op_reason,
                          prepare_or_skip, skip_if, speed_beside)

FRAMEWORKS = frameworks_for("second_order")
GRID = grids.second_order()
TIMING = grids.timing()   # warm-up and sample budget of the grid
SIZES = {k: GRID[k] for k in ("features", "outputs", "batch")}
PE_ROUTES = ops.PER_EXAMPLE_OPS + ("jacrev",)


class Timed:
    """asv settings of the timings; each class's `skip_reason` as in crossover.Timed."""
    timeout = 180
    rounds = 1
    repeat = (3, 30, TIMING["sample_budget_s"])
    sample_time = 0.01
    warmup_time = TIMING["warmup_s"]
    min_run_count = 2


def _case(framework, op, problem, grow, **sizes):
    return prepare_or_skip(framework, op, grow=grow, problem=problem,
                           call_budget_s=GRID["call_budget_s"], **sizes)


def study_of(op: str) -> str:
    return "hvp" if op in ops.HVP_OPS else "hessian" if op in ops.HESSIAN_OPS else "per_example"


def _loss_case(framework, op, width, depth):
    """An op of mlp_loss at (width, depth): the HVP and Hessian studies grow both."""
    return _case(framework, op, "mlp_loss", ("width", "depth"), width=width, depth=depth, **SIZES)


def _op_skip_reason(framework, op, *sizes):
    """skip_reason of the classes whose parameters are (framework, op, sizes...)."""
    return op_reason(framework, op)


def _rss_spec(framework, op) -> dict:
    """The fresh-process probe of `op` at its study's *_rss size (SecondOrderRSS)."""
    study = study_of(op)
    if study == "hvp":
        width, depth, batch = GRID["hvp_rss"]
        problem, sizes = "mlp_loss", {"width": width, "depth": depth, "batch": batch}
    elif study == "hessian":
        width, depth = GRID["hessian_rss"]
        problem, sizes = "mlp_loss", {"width": width, "depth": depth}
    else:
        width, batch = GRID["pe_rss"]
        problem, sizes = "mlp_losses", {"width": width, "batch": batch, "depth": GRID["pe_depth"]}
    return {"problem": problem, "framework": framework, "op": op, "dtype": dtype_for(framework),
            **{**SIZES, **sizes}}


def _rss_skip_reason(framework, op) -> str | None:
    """Why SecondOrderRSS does not probe (framework, op), None when it does."""
    reason = op_reason(framework, op)
    if reason:
        return reason
    study = study_of(op)
    if study not in GRID["rss_studies"]:
        return f"the {study} peak RSS is probed in the full grid"
    if op == "hvp_fwd_over_fwd":
        return ("fwd_over_fwd pushes n tangents: its memory grows with n (n x the activations), "
                "so it is not probed at the HVP probe's size; see HVPTempBytes (JAX) at the "
                "timing sizes")
    return None


class HVP(Timed):
    """Seconds of one Hessian-vector product of the MLP loss, per composition (mode)."""
    params = (FRAMEWORKS, ops.HVP_OPS, GRID["hvp_width"], GRID["hvp_depth"])
    param_names = ["framework", "mode", "width", "depth"]
    skip_reason = staticmethod(_op_skip_reason)

    def setup(self, framework, mode, width, depth):
        skip_if(self.skip_reason(framework, mode, width, depth))
        self.case = _loss_case(framework, mode, width, depth)
        speed_beside(self, framework, mode, width, depth)

    def time_hvp(self, framework, mode, width, depth):
        self.case()


class HVPTempBytes:
    """The compiler's own figure for an HVP's temporary buffers (XLA's memory analysis: JAX),
    bytes; frameworks whose compiler reports none are skipped before anything is built."""
    params = HVP.params
    param_names = HVP.param_names
    timeout = 180
    rounds = 1

    @staticmethod
    def skip_reason(framework, mode, width, depth):
        from adcost.bench import _adapter
        from adcost.frameworks.base import Framework
        reason = op_reason(framework, mode)
        if reason is None and _adapter(framework).temp_bytes is Framework.temp_bytes:
            reason = f"{framework} reports no compiled temporary bytes"
        return reason

    def setup(self, framework, mode, width, depth):
        skip_if(self.skip_reason(framework, mode, width, depth))
        self.case = _loss_case(framework, mode, width, depth)

    def track_temp_bytes(self, framework, mode, width, depth):
        found = self.case.framework.temp_bytes(self.case)
        if found is None:
            raise Skip(f"{framework} reported no temporary bytes for {mode}")
        return found
    track_temp_bytes.unit = "bytes"


class Hessian(Timed):
    """Seconds of the full (n, n) Hessian of the MLP loss, per mode."""
    params = (FRAMEWORKS, ops.HESSIAN_OPS, GRID["hessian_width"], GRID["hessian_depth"])
    param_names = ["framework", "mode", "width", "depth"]
    skip_reason = staticmethod(_op_skip_reason)

    def setup(self, framework, mode, width, depth):
        skip_if(self.skip_reason(framework, mode, width, depth))
        self.case = _loss_case(framework, mode, width, depth)
        speed_beside(self, framework, mode, width, depth)

    def time_hessian(self, framework, mode, width, depth):
        self.case()


class PerExample(Timed):
    """Seconds of the (batch, n) per-example gradients of the MLP loss, per route."""
    params = (FRAMEWORKS, PE_ROUTES, GRID["pe_width"], GRID["pe_batch"])
    param_names = ["framework", "route", "width", "batch"]
    skip_reason = staticmethod(_op_skip_reason)

    def setup(self, framework, route, width, batch):
        skip_if(self.skip_reason(framework, route, width, batch))
        sizes = {**SIZES, "width": width, "batch": batch, "depth": GRID["pe_depth"]}
        self.case = _case(framework, route, "mlp_losses", ("batch",), **sizes)
        speed_beside(self, framework, route, width, batch)

    def time_per_example(self, framework, route, width, batch):
        self.case()


class SecondOrderRSS:
    """Peak resident bytes above baseline of one call, in a fresh process, at the grid's
    *_rss sizes: HVP and Hessian modes (mlp_loss), per-example routes (mlp_losses).  The probes
    run once per asv run (setup_cache), side by side on the machine's CPUs
    (adcost.measure.memory.peak_rss_many)."""
    params = (FRAMEWORKS, ops.SECOND_ORDER_OPS + PE_ROUTES)
    param_names = ["framework", "op"]
    timeout = 60
    rounds = 1

    def setup_cache(self):
        from adcost.measure.memory import peak_rss_many
        specs = {f"{fw}/{op}": _rss_spec(fw, op) for fw in FRAMEWORKS for op in self.params[1]
                 if _rss_skip_reason(fw, op) is None}
        return peak_rss_many(specs, timeout=170)
    setup_cache.timeout = 1800
    skip_reason = staticmethod(_rss_skip_reason)

    def setup(self, probes, framework, op):
        skip_if(_rss_skip_reason(framework, op))

    def track_peak_rss_bytes(self, probes, framework, op):
        from adcost.measure.memory import probe_bytes
        return probe_bytes(probes, f"{framework}/{op}")
    track_peak_rss_bytes.unit = "bytes"


class Bracketing(Timed):
    """Seconds of the chain's Jacobian product in one bracketing (NumPy, float64): forward,
    reverse, or the oracle's fewest multiply-adds, per width profile and scale."""
    params = (("hourglass", "diamond", "funnel", "random"), GRID["bracket_scale"],
              ("forward", "reverse", "optimal"))
    param_names = ["profile", "scale", "order"]

    def setup(self, profile, scale, order):
        from adcost import bracketing
        widths = bracketing.profile_widths(profile, scale)
        self.product = once_per_process(("bracketing", widths, order),
                                        lambda: bracketing.Product(widths, order))
        speed_beside(self, profile, scale, order)

    def time_product(self, profile, scale, order):
        self.product()


class Rates:
    """NumPy's multiply-add rate (a 1024^3 matmul) and copy bandwidth on this machine, float64:
    the bracketing time model's two constants (adcost.bracketing.measure_rates)."""
    timeout = 120
    rounds = 1

    def setup_cache(self):
        from adcost.bracketing import measure_rates
        return measure_rates()

    def track_madds_per_s(self, rates):
        return rates["madds_per_s"]
    track_madds_per_s.unit = "madds/s"

    def track_bytes_per_s(self, rates):
        return rates["bytes_per_s"]
    track_bytes_per_s.unit = "bytes/s"
