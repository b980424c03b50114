"""Checkpointing: memory and time of a deep MLP's gradient versus depth, per framework.

Grids come from adcost.grids.CHECKPOINT (ADCOST_GRID=quick|full); the cases (the operation
`ckpt_grad` of adcost.cases), their validation and every probe live in adcost.checkpoint and
adcost.measure.memory.  Unsupported (framework, strategy) pairs and missing frameworks skip in
setup.
"""
from adcost import grids
from adcost.bench import once_per_process, skip_if, speed_beside
from adcost.checkpoint import (analytic_bytes_at, frameworks, reports_saved_bytes, saved_bytes,
                               study_case, study_case_at_scale, unsupported_reason)

GRID = grids.checkpoint()
SIZES = {k: GRID[k] for k in ("width", "batch", "outputs", "slots")}
RSS_SIZES = {**SIZES, "batch": GRID["rss_batch"]}   # the peak-RSS probes' larger batch
STRATEGIES = GRID["strategy"]
DEPTHS = GRID["depth"]
RSS_DEPTHS = GRID["rss_depth"]
FRAMEWORKS = frameworks()


# asv's warm-up before the samples and the samples' budget, in seconds (the grid's): the first
# calls in a process forked from asv's forkserver run slower (a torch loss pass at depth 64:
# 12 ms for its first eight calls, then 4.7 ms, measured when setup still rebuilt the case
# before each sample).
WARMUP_S, SAMPLE_BUDGET_S = GRID["warmup_s"], GRID["sample_budget_s"]


def prepare_or_skip(framework, strategy, depth):
    """A validated, warm case, or NotImplementedError (asv's skip) with the reason; built
    once per process (asv re-runs setup before every sample: see adcost.bench)."""
    skip_if(unsupported_reason(framework, strategy))
    return once_per_process(("checkpoint", framework, strategy, depth),
                            lambda: study_case(framework, strategy, depth, **SIZES))


def rss_depth_reason(framework, strategy, depth):
    """Why (framework, strategy) has no peak-RSS probe at `depth` (unsupported, or a depth
    the grid leaves out of the probes); None when it has one."""
    reason = unsupported_reason(framework, strategy)
    if reason is None and depth not in RSS_DEPTHS:
        reason = f"peak RSS is probed at depths {RSS_DEPTHS} in this grid"
    return reason


def skip_unless_rss_depth(framework, strategy, depth):
    """Skip unsupported pairs, and depths the grid leaves out of the RSS probes."""
    skip_if(rss_depth_reason(framework, strategy, depth))


def probe_specs() -> dict[str, dict]:
    """Every fresh-process probe of the grid, by probe_key: each supported (framework,
    strategy) gradient and each framework's JVP ("jvp") at the grid's RSS depths and sizes."""
    specs = {}
    for framework in FRAMEWORKS:
        for strategy in STRATEGIES + ("jvp",):
            for depth in RSS_DEPTHS:
                if unsupported_reason(framework, strategy) is None:
                    specs[probe_key(framework, strategy, depth)] = {
                        "framework": framework, "strategy": strategy, "depth": depth, **RSS_SIZES}
    return specs


def probe_key(framework, strategy, depth) -> str:
    return f"{framework}/{strategy}/{depth}"


def peak_rss_bytes(probes: dict, framework, strategy, depth) -> int:
    """One probe's peak bytes above its baseline, from the table (RSSProbes.setup_cache); a
    probe that failed raises its error here."""
    from adcost.measure.memory import probe_bytes
    return probe_bytes(probes, probe_key(framework, strategy, depth))


def skip_unreported(framework, strategy, depth):
    """Skip saved bytes where the framework has no record of them (runs after setup)."""
    reason = reports_saved_bytes(framework)
    if reason:
        raise NotImplementedError(reason)


class Timed:
    """asv settings shared by the classes that time a gradient or a forward pass."""
    timeout = 120
    rounds = 1              # each round re-imports the framework: one is enough here
    repeat = (3, 10, SAMPLE_BUDGET_S)   # (min, max samples, seconds) per benchmark
    warmup_time = WARMUP_S


# the case time_gradient times, built by its own setup (gradient_case) after the class's
_GRADIENT = {}


def gradient_case(framework, strategy, depth):
    """time_gradient's setup: the validated, warm case (the class's setup builds none)."""
    _GRADIENT["case"] = prepare_or_skip(framework, strategy, depth)


def timed_gradient_case(framework, strategy, depth):
    """time_gradient's setup: gradient_case, then the machine's speed beside it."""
    gradient_case(framework, strategy, depth)
    speed_beside("memory.Checkpoint", framework, strategy, depth)


def saved_case(framework, strategy, depth):
    """track_saved_bytes's setup: skip a framework that reports no saved bytes before building."""
    skip_unreported(framework, strategy, depth)
    gradient_case(framework, strategy, depth)


class Checkpoint(Timed):
    """Bytes kept for the backward pass (framework-reported and analytic), and seconds.

    Each method builds only what it reads: the analytic count needs the sizes alone, the
    saved bytes a case of a framework that reports them (torch, NumPy), the timing its case
    (each method's own setup; asv runs each method in its own process).  With one case built
    for all three, the byte counts compiled JAX's and TensorFlow's cases twice more."""

    params = (FRAMEWORKS, STRATEGIES, DEPTHS)
    param_names = ["framework", "strategy", "depth"]

    @staticmethod
    def skip_reason(framework, strategy, depth):
        return unsupported_reason(framework, strategy)

    def setup(self, framework, strategy, depth):
        skip_if(self.skip_reason(framework, strategy, depth))

    def track_saved_bytes(self, framework, strategy, depth):
        return saved_bytes(_GRADIENT["case"])
    track_saved_bytes.unit = "bytes"
    track_saved_bytes.setup = saved_case
    track_saved_bytes.skip_reason = staticmethod(lambda framework, strategy, depth:
                                                 reports_saved_bytes(framework))

    def track_analytic_bytes(self, framework, strategy, depth):
        return analytic_bytes_at(strategy, depth, **SIZES)["stored_bytes"]
    track_analytic_bytes.unit = "bytes"

    def time_gradient(self, framework, strategy, depth):
        _GRADIENT["case"]()
    time_gradient.setup = timed_gradient_case


class RSSProbes:
    """The peak-RSS probes of PeakRSS and PeakForward, run once per asv run (setup_cache: a
    fresh process each, as many side by side as the machine has CPUs for, each pinned to its
    own: adcost.measure.memory.peak_rss_many); each benchmark reads its figure."""
    rounds = 1
    timeout = 60

    def setup_cache(self):
        from adcost.measure.memory import peak_rss_many
        return peak_rss_many(probe_specs())
    # the full grid's 100-odd probes at up to a minute each (JAX's JVP at depth 128)
    setup_cache.timeout = 3600


class PeakRSS(RSSProbes):
    """Peak resident memory of one gradient above its baseline, in a fresh process, at the
    grid's rss_batch (bytes)."""

    params = (FRAMEWORKS, STRATEGIES, DEPTHS)
    param_names = ["framework", "strategy", "depth"]

    skip_reason = staticmethod(rss_depth_reason)

    def setup(self, probes, framework, strategy, depth):
        skip_unless_rss_depth(framework, strategy, depth)

    def track_peak_rss_bytes(self, probes, framework, strategy, depth):
        return peak_rss_bytes(probes, framework, strategy, depth)
    track_peak_rss_bytes.unit = "bytes"


class PeakMem:
    """asv's own peak RSS (it counts setup and imports): read gradient minus baseline.

    Setup validates at batch 8 and builds (for JAX: compiles) the full-size gradient
    without running it, so the peak of the gradient itself falls in peakmem_gradient.
    """

    params = (FRAMEWORKS, STRATEGIES, DEPTHS)
    param_names = ["framework", "strategy", "depth"]
    timeout = 120
    rounds = 1

    @staticmethod
    def skip_reason(framework, strategy, depth):
        if depth not in GRID["asv_peakmem_depths"]:
            where = (f"at depth {', '.join(map(str, GRID['asv_peakmem_depths']))}"
                     if GRID["asv_peakmem_depths"] else "in the full grid (ADCOST_GRID=full)")
            return (f"asv's own peakmem runs {where}; the {grids.grid_name()} grid measures peak "
                    f"RSS by the fresh-process probes (PeakRSS)")
        return rss_depth_reason(framework, strategy, depth)

    def setup(self, framework, strategy, depth):
        skip_if(self.skip_reason(framework, strategy, depth))
        self.case = study_case_at_scale(framework, strategy, depth, **RSS_SIZES)

    def peakmem_gradient(self, framework, strategy, depth):
        self.case()

    def peakmem_baseline(self, framework, strategy, depth):
        pass


class Forward(Timed):
    """Forward mode (one JVP of the loss) against depth: seconds at the timing batch."""

    params = (FRAMEWORKS, DEPTHS)
    param_names = ["framework", "depth"]
    timeout = 300

    @staticmethod
    def skip_reason(framework, depth):
        return unsupported_reason(framework, "jvp")

    def setup(self, framework, depth):
        self.case = prepare_or_skip(framework, "jvp", depth)
        speed_beside(self, framework, depth)

    def time_jvp(self, framework, depth):
        self.case()


class PeakForward(RSSProbes):
    """Forward mode against depth: peak RSS bytes of one JVP of the loss at rss_batch, in a
    fresh process (apart from Forward, whose setup builds the JVP in asv's process: a probe
    needs none of it, and JAX's JVP at depth 64 compiles for seconds)."""

    params = (FRAMEWORKS, DEPTHS)
    param_names = ["framework", "depth"]

    @staticmethod
    def skip_reason(framework, depth):
        return rss_depth_reason(framework, "jvp", depth)

    def setup(self, probes, framework, depth):
        skip_unless_rss_depth(framework, "jvp", depth)

    def track_jvp_bytes(self, probes, framework, depth):
        return peak_rss_bytes(probes, framework, "jvp", depth)
    track_jvp_bytes.unit = "bytes"


class Loss(Timed):
    """One forward pass of the loss, no derivative (seconds): what each checkpointed segment
    pays again in the backward, so (T_strategy - T_none) / T_loss counts recomputed passes."""

    params = (FRAMEWORKS, DEPTHS)
    param_names = ["framework", "depth"]

    @staticmethod
    def skip_reason(framework, depth):
        return unsupported_reason(framework, "forward")

    def setup(self, framework, depth):
        self.case = prepare_or_skip(framework, "forward", depth)
        speed_beside(self, framework, depth)

    def time_loss(self, framework, depth):
        self.case()
