"""Every sweep grid of the study, in one place.

`ADCOST_GRID=quick` (the default, what `make bench` runs) or `ADCOST_GRID=full`.
asv reads the grids when it imports the benchmarks, so the variable is read then.
"""
from __future__ import annotations

import os

GRID_NAMES = ("quick", "full")


def grid_name() -> str:
    name = os.environ.get("ADCOST_GRID", "quick")
    if name not in GRID_NAMES:
        raise ValueError(f"ADCOST_GRID must be one of {', '.join(GRID_NAMES)}; got {name!r}")
    return name


def powers_of_two(lo: int, hi: int) -> tuple[int, ...]:
    return tuple(2 ** k for k in range(lo, hi + 1))


# -- crossover study (issue: forward vs reverse over n, m, depth) ------------------------
LINEAR_TAIL = tuple(sorted(set(powers_of_two(0, 10)[::2]) | {512}))
CROSSOVER = {
    # quick: part of `make bench` (its sweep: 468-516 s on 2 cores of the AMD VM, 539 s on the
    # Intel VM, 2026-12-02).
    # asv forks a process per parameter combination from a server that imported the frameworks
    # once.
    "quick": {
        # n and m at the width study's (width_n, width_m): at width 64 its points are the n x m
        # group's (measured_by_nm), timed once; the loops run up to 256 directions (4 and 512
        # until 2026-12-02: 48 width-study cases more, and the loops at 512 were 17 s of setup)
        "n": (16, 256),
        "m": (16, 256),
        "depth": (1, 16),
        "fixed_depth": 4,      # depth of the n x m sweep
        "fixed_nm": 64,        # n = m of the depth sweep
        "width": 64,
        "modes": ("jacfwd", "jacrev", "jacfwd_loop", "jacrev_loop", "fd"),  # None: every mode
        # the modes of the compile-seconds and FLOPs table (crossover.Compile, Flops) besides
        # the primal, JVP and VJP: it prepares each case once more in one process (42 s of the
        # quick sweep with every mode, the loops at n or m = 512 the most); None: every mode
        "table_modes": ("jacfwd", "jacrev"),
        "table_loops": False,
        "loop_directions": None,   # the loop modes at every n and m of the grid
        # frameworks skipped in this grid: torch_compile compiles every case for 2-5 s (about
        # 70 cases here), and the eager variants only measure what compiling buys: the quick
        # grid leaves them to ADCOST_GRID=full
        "leave_out": ("torch_compile", "jax_eager", "tf_eager"),
        "leave_out_why": "ADCOST_GRID=full runs it",
        "matmul": (512,),      # roofline: (size x size) @ (size x size)
        "matvec": (4096,),     # roofline: (size x size) @ (size,), 64 MiB read per call
        # roofline.RowProducts: k rows through a (width x width) weight, at each width of the
        # width study, k the directions and batches it pushes (and 1)
        "product_rows": (1, 16, 256),
        # the cost model's width axis: vectorized Jacobians and the primal batched over k
        # inputs, at every (n, m) of width_n x width_m, depth fixed_depth
        "widths": (64, 1024),
        "width_n": (16, 256),
        "width_m": (16, 256),
        # the width study's Jacobian modes: jacfwd, jacrev and JAX's jacfwd_vmap (the tangents
        # first: no transposed output layer), which the cost model fits as a mode of its own
        "width_modes": ("jacfwd", "jacfwd_vmap", "jacrev"),
        # the compile break-even group (crossover.BreakEven): full grid only (the sweep leaves
        # it out of the quick grid: torch.compile compiles each of its cases for seconds)
        "break_even_n": (16, 256),
        "break_even_m": (16, 256),
        # the side-by-side ratios (crossover.SideBySide): full grid only (two n per line
        # place a crossover no better than the width study's own times)
        "side_by_side": False,
        "timeout_s": 60,       # asv's per-benchmark timeout
        "table_timeout_s": 300,  # the one process that builds the Compile/Flops table
        "call_budget_s": 0.5,  # one call slower than this: larger sizes of that case skipped
    },
    # full: every other power of two from 1 to 1024 in n and m, and 512 (49 points), depth 1
    # to 64.  512 gives the linearity test (points of 100 us or more) three points per line
    # in the vectorized modes, which pass 100 us only from n (m) = 256 on at width 64.
    "full": {
        "n": LINEAR_TAIL,
        "m": LINEAR_TAIL,
        "depth": (1, 2, 4, 8, 16, 32, 64),
        "fixed_depth": 4,
        "fixed_nm": 64,
        "width": 64,
        "modes": None,
        # the loop modes (adcost.ops.LOOP_MODES: n JVPs or m VJPs in sequence) in the n x m
        # grid up to this many directions: a loop's cost is its directions times one product's,
        # measured up to 256 and by the single JVP and VJP group at product_n x product_m; with the
        # halved sample budget the n x m group went from 1,133 to 585 s (torch's jacfwd_loop at
        # n = 1024: 1 s a call)
        "loop_directions": 256,
        # the compile/FLOPs table without the loop modes (None: every mode): a loop's compile
        # is one JVP's or VJP's, its FLOPs directions times one product's (table_loops)
        "table_modes": None,
        "table_loops": False,
        # the eager variants measure what compiling buys: the compile break-even group
        # (crossover.BreakEven) times them beside their compiled pairs; in the n x m, depth and
        # product grids they were hundreds of slow cases (TensorFlow's eager jacfwd: 0.5 s a
        # call at n = m = 32)
        "leave_out": ("jax_eager", "tf_eager"),
        "leave_out_why": "the compile break-even group times it beside its compiled pair",
        # left out of the crossover study's n x m, depth and product grids and its compile/FLOPs
        # table only: torch.compile compiles each case for seconds (the n x m and depth groups
        # took 2,408 s with it, one thread, 2026-12-02); its crossover is measured in the width
        # study (width 64 among others), its compile cost in the compile break-even group
        "crossover_leave_out": ("torch_compile",),
        # the compile-seconds and FLOPs table (crossover.Compile, Flops) at these n and m (None:
        # every n and m): it prepares each case once more, and asv forks a process per entry
        # to read it (at 49 points, 370 s to build and 270 s of forks)
        "table_n": (1, 16, 256, 1024),
        "table_m": (1, 16, 256, 1024),
        # the single JVP and VJP group (crossover.Products) at these n and m (None: every n and
        # m): the primitive costs, at the compile/FLOPs table's points; at all 49 it took 384 s
        # of the full sweep (each case builds and validates both products)
        "product_n": (1, 16, 256, 1024),
        "product_m": (1, 16, 256, 1024),
        "matmul": (128, 512, 1024),
        # matvec at 1, 4, 16 and 64 MiB: the bandwidth inside and beyond the caches; the cost
        # model reads the weights at the best rate of the matvecs they fit in
        # (costmodel.bandwidth_at: at width 1024 they take 16 MB, inside a 32 MiB L3)
        "matvec": (512, 1024, 2048, 4096),
        # row products at every n of the side-by-side group (steps of 2 to 256) and its m: the
        # model reads a product between two measured rows by interpolation, and XLA's products
        # are not smooth there (Intel VM, 2026-12-04, one thread, 2048 x 2048: 16, 32, 48, 64
        # rows at 58, 68, 65, 109 GFLOP/s; JAX's jacfwd at width 2048, m = 64 took 20.9 ms at
        # n = 32 and 20.3 at n = 64, where steps of 4 read n = 32 a quarter too fast)
        "product_rows": (1, 4, 8, 16, 32, 64, 128, 256, 1024),
        "widths": (16, 64, 256, 1024, 2048),
        "width_n": (4, 16, 64, 256, 1024),   # steps of 4 in n: the measured crossover's grid
        "width_m": (4, 64, 1024),
        "width_modes": ("jacfwd", "jacfwd_vmap", "jacrev"),
        # the width study's m for torch_compile (None: width_m): each of its cases compiles for
        # 4-9 s (about 900 s of the full sweep at every m, 600 s at two); at m = 64 its measured
        # crossover lies inside the n grid (at m = 4 and 1024, where it ran until 2026-12-02, it
        # lies at the grid's ends); its model is fitted on the same widths and n, so it
        # predicts other m as extrapolated
        "compiled_width_m": (64,),
        "break_even_n": (16, 256),
        "break_even_m": (16, 256),
        # T(jacfwd) / T(jacrev) timed side by side in one process at every point of the width
        # study (crossover.SideBySide): the measured crossover.  Apart, each time is read in its
        # own process at the machine's speed of that minute; at the same points of the stream
        # sweep of cd9ef4f the crossover then moved up to 4x from the side-by-side one (torch,
        # width 64, m = 1024: 85 against about 230), while two side-by-side runs of the same
        # lines 1.3x slower and faster agreed within 14 % at every point (2026-12-03, Intel VM)
        "side_by_side": True,
        # the side-by-side group's n: the width study's, and the n between them (steps of 2)
        # at m up to side_by_side_fine_m, where the measured crossings lie at small n (4 to 150
        # on the AMD runs of 2026-12-04) and the width study's steps of 4 left the crossing to
        # an interpolation across a factor of 4; at m = 1024 they cross near n = m.  The extra
        # points are fitted (and judged) with the others: costmodel.paired_rows
        "side_by_side_n": (4, 8, 16, 32, 64, 128, 256, 1024),
        "side_by_side_fine_m": 64,
        "timeout_s": 300,
        "table_timeout_s": 1800,
        "call_budget_s": 2.0,
    },
}


# -- how long asv times each case (crossover, second order and workloads; the checkpointing
# study's are in CHECKPOINT).  warmup_s: asv's warm-up before the samples (the
# first ~0.1 s of a process forked from asv's forkserver runs slow; setup has already run the
# case once); sample_budget_s: asv's most seconds of samples (one call each, up to 30).  Most
# of a quick case's time was these two (0.25 + 0.5 s against ~0.15 s to build, validate and
# warm it): the quick grid halves them.  The full grid has, since 2026-12-02, the quick grid's
# 0.1 s warm-up: a quick sweep with 0.1 s against one with 0.25 s read the same 330 crossover
# timings within the two runs' noise (median ratio 0.98), and at about 4,000 timed cases the
# full grid's 0.25 s was some 17 minutes of warm-up.  Its budget is 0.5 s (it was 1 s): at
# least 3 samples, and 30 of any call under 17 ms; the samples were 870 s of the timings of
# the full sweep at c5d8be5, most of them in the slow cases that a shorter budget cuts.
# paired_rounds, paired_min_s: the side-by-side ratios' interleaved rounds and the least
# seconds of one sample (measure.timing.measure_paired; one call per sample above it).
TIMING = {
    "quick": {"warmup_s": 0.1, "sample_budget_s": 0.25, "paired_rounds": 7, "paired_min_s": 0.02},
    "full": {"warmup_s": 0.1, "sample_budget_s": 0.5, "paired_rounds": 7, "paired_min_s": 0.02},
}

# -- checkpointing study (issue: memory and time versus depth) ----------------------------
# batch >> width so activations (batch x width per layer) outweigh the weights (width^2);
# features = width so every hidden layer has one shape (JAX stacks them under lax.scan).
# rss_depth: depths of the fresh-subprocess peak-RSS probes (PeakRSS, PeakMem, Forward);
# rss_batch: their batch.  At batch 512 a layer's activation is 128 KiB and forward mode's
# whole footprint about 1 MiB, where RSS varies by 20-100 % run to run (measured); at 8192
# the footprints are tens of MiB and repeat within about 1 %.
CHECKPOINT = {
    # quick: two strategies at two depths (each peak-RSS probe starts a fresh Python)
    "quick": {
        "strategy": ("none", "sqrt"),
        "depth": (4, 64),
        "rss_depth": (64,),
        "rss_batch": 8192,     # peak-RSS probes: 2 MiB activations, far above RSS noise
        "width": 64,
        "batch": 512,
        "outputs": 16,
        "slots": 4,            # checkpoint slots of the binomial schedule
        # the report's sqrt(L)-vs-none time at depth 64 for these widths, at a batch above the
        # widest (a layer's activation, batch x width, outweighs its weights, width^2)
        "overhead_widths": (64, 256, 1024),
        "overhead_batch": 2048,
        # asv's warm-up and samples' budget of the timings (the slow first calls of a forked
        # process last about 0.1 s; 3 to 10 samples of 5-60 ms fit in 0.5 s)
        "warmup_s": 0.25,
        "sample_budget_s": 0.5,
        # asv's own in-process peakmem (memory.PeakMem, a cross-check of the fresh-process
        # probes that counts setup and imports) at these depths: full grid only (18 s of the
        # quick sweep)
        "asv_peakmem_depths": (),
    },
    "full": {
        "strategy": ("none", "every_2", "every_4", "sqrt", "per_layer", "sqrt_sequential",
                     "per_layer_dots", "binomial"),
        # depths a factor of 4 apart and 128 (with 2, 8 and 32 too, the timings and byte
        # counts took 414 s and forward mode 117 s of the full sweep at 3b2f37f): memory over
        # depth is a power law, drawn and fitted on log axes, and 64 is the report's target
        "depth": (1, 4, 16, 64, 128),
        # each probe is a fresh process (4 depths took 564 s of the full sweep): the two ends
        # and the report's target depth
        "rss_depth": (4, 64, 128),
        "rss_batch": 8192,
        "width": 64,
        "batch": 512,
        "outputs": 16,
        "slots": 4,
        "overhead_widths": (64, 256, 1024),
        "overhead_batch": 2048,
        "warmup_s": 0.25,
        "sample_budget_s": 0.5,
        # asv's in-process peakmem, a cross-check that counts imports and setup, at the deepest
        # probe only: at every rss_depth it was 221 s of the full sweep (2026-12-02); the
        # fresh-process probes are the figures
        "asv_peakmem_depths": (128,),
    },
}


# -- second order: HVP compositions, Hessians, per-example gradients, bracketings ----------
# HVPs and Hessians of mlp_loss (n = its parameter count grows with width^2 and depth);
# per-example gradients of mlp_losses over the batch; the oracle's width profiles at a scale.
# rss: the fresh-process peak-RSS probes run at the largest size of each study only.
SECOND_ORDER = {
    "quick": {
        "features": 4, "outputs": 2, "batch": 16,
        "hvp_width": (8, 32), "hvp_depth": (4,),
        "hessian_width": (8,), "hessian_depth": (2,),
        "pe_batch": (16, 256), "pe_width": (32,), "pe_depth": 4,
        "bracket_scale": (512,),
        # peak-RSS probes: HVPs at (width, depth, batch) where activations outweigh parameters
        # (fwd_over_fwd, whose memory grows with n, is not probed there); Hessians at
        # (width, depth) of the timing batch; per-example gradients at (width, batch)
        "hvp_rss": (64, 8, 8192), "hessian_rss": (8, 2), "pe_rss": (32, 256),
        # none in the quick grid: each probe is a fresh process (9 probes took 108 s of it)
        "rss_studies": (),
        "call_budget_s": 0.5,
    },
    "full": {
        "features": 4, "outputs": 2, "batch": 16,
        # HVPs at depth 1 and 16 (depth 4 too took about a third of the group's 695 s): n
        # grows with width at both, the depth figure has its two ends
        "hvp_width": (8, 16, 32, 64), "hvp_depth": (1, 16),
        "hessian_width": (4, 8, 16), "hessian_depth": (1, 2),
        "pe_batch": (1, 16, 256, 1024), "pe_width": (16, 64), "pe_depth": 4,
        "bracket_scale": (512, 1024),
        "hvp_rss": (64, 8, 8192), "hessian_rss": (16, 2), "pe_rss": (64, 1024),
        "rss_studies": ("hvp", "hessian", "per_example"),
        "call_budget_s": 2.0,
    },
}


# -- workloads of the AD benchmark literature (issue: your function, measured) -------------
# Each workload at three or four sizes (one in the quick grid), smallest to largest; `grows` names the size plotted on x.
WORKLOADS = {
    "quick": {
        # one size each, a size of the full grid's (two sizes took 214 s of a quick sweep of
        # 1,120 s; the larger of them 157 s, whose forward modes of GMM at n = 990 and LSE at
        # n = 10,000 ran 0.3-0.8 s a call): the growth with size is the full grid's
        "sizes": {
            "gmm": ({"d": 5, "k": 10, "points": 200},),
            "lse": ({"n": 1000},),
            "lstm": ({"layers": 2, "hidden": 14, "chars": 16},),
            "ba": ({"cameras": 5, "points": 50, "observations": 100},),
            "trajectory": ({"systems": 64, "steps": 25},),
        },
        "modes": ("primal", "jacfwd", "jacrev", "grad", "fd"),
        # (framework, mode, workload) left to the full grid: TensorFlow traces the trajectory's
        # 25-step loop under vectorized_map for 29-33 s (jacfwd) and 7-8 s (jacrev) a case,
        # plus 2-6 s for grappler's first call, and the LSTM's jacfwd for 17-20 s and its
        # jacrev for 7 s (measured)
        "leave_out": (("tf", "jacfwd", "trajectory"), ("tf", "jacrev", "trajectory"),
                      ("tf", "jacfwd", "lstm"), ("tf", "jacrev", "lstm")),
        # bundle adjustment by blocks (ba_blocks, jacfwd_seeded: 15 JVPs): two sizes (the
        # full grid's go up to ADBench's ba1)
        "blocks": ({"cameras": 5, "points": 100, "observations": 400},
                   {"cameras": 10, "points": 500, "observations": 2000}),
        "call_budget_s": 0.5,
    },
    "full": {
        "sizes": {
            "gmm": ({"d": 2, "k": 5, "points": 200}, {"d": 5, "k": 10, "points": 200},
                    {"d": 10, "k": 25, "points": 200}),
            "lse": ({"n": 100}, {"n": 1000}, {"n": 10000}, {"n": 100000}),
            "lstm": ({"layers": 2, "hidden": 14, "chars": 4}, {"layers": 2, "hidden": 14, "chars": 16},
                     {"layers": 2, "hidden": 14, "chars": 64}),
            "ba": ({"cameras": 2, "points": 10, "observations": 20},
                   {"cameras": 5, "points": 50, "observations": 100},
                   {"cameras": 10, "points": 200, "observations": 400}),
            "trajectory": ({"systems": 4, "steps": 25}, {"systems": 16, "steps": 25},
                           {"systems": 64, "steps": 25}, {"systems": 256, "steps": 25}),
        },
        # the loops are the crossover study's subject; here the vectorized modes (measured: the
        # loops made torch alone take 20 minutes of the full grid)
        "modes": ("primal", "jacfwd", "jacrev", "grad", "fd"),
        "leave_out": (),
        # (framework, mode, workload) at the workload's smallest size only: TensorFlow traces
        # the trajectory's 25-step loop under vectorized_map for about 30 s (jacfwd) and 8 s
        # (jacrev) a case at 64 systems, the LSTM's at 16 characters for 17-20 and 7 s
        # (measured; the LSTM's loop is one step per character): each size cost minutes of the
        # full sweep, and the workload figure's best forward and reverse there are JAX's at
        # every size (reference run)
        "smallest_only": (("tf", "jacfwd", "trajectory"), ("tf", "jacrev", "trajectory"),
                          ("tf", "jacfwd", "lstm"), ("tf", "jacrev", "lstm")),
        "blocks": ({"cameras": 5, "points": 100, "observations": 400},
                   {"cameras": 10, "points": 1000, "observations": 4000},
                   {"cameras": 21, "points": 3000, "observations": 12000},
                   {"cameras": 49, "points": 7776, "observations": 31843}),   # ADBench ba1
        "call_budget_s": 2.0,
    },
}
# the size each workload's work grows at least linearly in, in every mode (log-sum-exp: O(n)
# a pass, n passes for jacfwd and fd; the LSTM: one step per character): from a smaller size's
# one call, a size predicted to take over twice the call budget is skipped unbuilt
# (adcost.bench.PREDICTED_OVER)
WORKLOAD_LINEAR = {"lse": "n", "lstm": "chars"}
# what the workload figure puts on its x axis
WORKLOAD_AXIS = {"gmm": "n", "lse": "n", "lstm": "chars", "ba": "n", "trajectory": "m",
                 "ba_blocks": "observations"}


def workload_label(problem: str, sizes: dict) -> str:
    """"gmm:d=2,k=5,points=100": a workload at one size, readable without the grid."""
    return f"{problem}:" + ",".join(f"{k}={v}" for k, v in sizes.items())


def workloads(name: str | None = None) -> dict:
    """The workload grid, with `labels`: one workload_label per (workload, size)."""
    grid = dict(WORKLOADS[name or grid_name()])
    grid["labels"] = tuple(workload_label(w, s) for w, sizes in grid["sizes"].items() for s in sizes)
    grid["block_labels"] = tuple(workload_label("ba_blocks", s) for s in grid["blocks"])
    return grid


def workload_sizes(label: str) -> tuple[str, dict]:
    """(problem, sizes) of a workload label such as "gmm:d=2,k=5,points=100"."""
    problem, _, rest = label.partition(":")
    sizes = {}
    for part in filter(None, rest.split(",")):
        key, _, value = part.partition("=")
        sizes[key] = int(value)
    return problem, sizes


def timing(name: str | None = None) -> dict:
    return TIMING[name or grid_name()]


def second_order(name: str | None = None) -> dict:
    return SECOND_ORDER[name or grid_name()]


def crossover(name: str | None = None) -> dict:
    return CROSSOVER[name or grid_name()]


def left_out(framework: str, name: str | None = None) -> str | None:
    """Why the grid's sweep leaves `framework` out (CROSSOVER's leave_out), None when it runs it."""
    grid = crossover(name)
    if framework not in grid.get("leave_out", ()):
        return None
    return f"{framework} is left out of the {name or grid_name()} grid ({grid['leave_out_why']})"


def checkpoint(name: str | None = None) -> dict:
    return CHECKPOINT[name or grid_name()]
