"""PyTorch compiled: the torch adapter's callables under torch.compile (inductor on CPU).

Every case is compiled before timing: `compile` calls torch.compile(fn, fullgraph=True) and runs
it once on the case's arguments, which is when TorchDynamo traces and inductor generates and
builds the code; those seconds are the case's compile_s, kept out of every timing. fullgraph
makes a graph break an error, and a recompile past the limit fails instead of falling back to
eager code: a variant that does not compile whole is skipped with the compiler's reason, never
timed as eager code under a compiled name.

What a compile costs depends on inductor's on-disk cache (TORCHINDUCTOR_CACHE_DIR, by default
a folder under the system's temporary one that outlives the process): measured on the 2-vCPU
VM, a jacrev of a width-96 MLP compiled in 15.5-17 s in an empty folder, 5.7 s in a folder
where any other function had been compiled once (inductor's one-off work: its C++ prelude),
and 3.3-4.5 s when the same graph had been compiled before.  The sweep gives each run a fresh
folder and warms it with `warm_toolchain`, so every compile_s it records is that of a graph
not compiled before, with the toolchain warm (adcost.sweep.warm_compiler).
"""
from __future__ import annotations

import contextlib
import os
import time
import warnings

from dataclasses import replace

from .base import Unsupported, Variant, error_line, register
from .torch_adapter import Torch



@register(replace(
    Torch.record, name="torch_compile", order=11, compiled=True, variant_of="torch",
    lazy_imports=("torch._dynamo", "torch._inductor", "torch.func",
                  "torch._decomp.decompositions_for_jvp"), schedules=(),
    saved_bytes=None,
    flops="torch.utils.flop_counter.FlopCounterMode on the eager callable: matmul-like ops only "
          "(with adcost's formulas for matrix-vector and dot products)",
    check_problems=("mlp",), studies=("crossover", "width", "roofline"),
    notes={
        "primal": "torch.compile(f, fullgraph=True)",
        "jvp": "torch.compile(torch.func.jvp(f, ...), fullgraph=True)",
        "vjp": "torch.compile(torch.func.vjp(f, ...) and its pullback, fullgraph=True)",
        "jacfwd": "torch.compile(torch.func.jacfwd(f), fullgraph=True)",
        "jacrev": "torch.compile(torch.func.jacrev(f), fullgraph=True)",
        "grad": "torch.compile(torch.func.grad(f), fullgraph=True)",
    }))
class TorchCompiled(Variant, Torch):
    # CPUs inductor may build a case's code on (None or one CPU: the process's own, serially).
    # A study that reports no compile seconds sets it (the width study: benchmarks/crossover.py):
    # with both CPUs of the 2-vCPU VM a case compiled in 4.0-6.5 s instead of 5.9-8.9 s (forked
    # workers); the process is back on its own CPUs, the workers shut down, before its first call
    # is timed.  compile_s is then not the one-CPU figure the break-even reports.
    compile_cpus: tuple[int, ...] | None = None

    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        config = self.torch._dynamo.config
        config.recompile_limit = max(config.recompile_limit, 1024)   # a case per shape
        config.accumulated_recompile_limit = max(config.accumulated_recompile_limit, 1 << 16)
        config.fail_on_recompile_limit_hit = True
        # inductor 2.13 calls its own deprecated torch._prims_common.check while lowering some
        # ops (a clip's): a FutureWarning about torch's code, printed on every compile
        warnings.filterwarnings("ignore", message=r"`torch\._prims_common\.check` is deprecated",
                                category=FutureWarning)

    def op_grad(self, f):
        """torch.func.grad (the eager adapter's autograd.grad path breaks the graph)."""
        grad = self.torch.func.grad
        return lambda params, x: grad(lambda z: f(params, z)[0])(x)

    def flops(self, case) -> float | None:
        """The eager callable's count: inductor's kernels do not dispatch the ops it counts."""
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            (case.source or case.fn)(*case.args)
        return float(counter.get_total_flops())

    def compile(self, fn, args):
        """torch.compile and one call on the case's arguments: (compiled, seconds)."""
        start = time.perf_counter()
        try:
            with compile_workers(self.compile_cpus):
                compiled = self.torch.compile(fn, fullgraph=True)
                self.block(compiled(*args))
        except Exception as exc:   # the compiler's reason, on one line
            raise Unsupported(f"torch.compile failed: {error_line(exc, self.name)}") from None
        return compiled, time.perf_counter() - start


@contextlib.contextmanager
def compile_workers(cpus):
    """Inductor builds on `cpus` (forked workers, one per CPU) inside the block; afterwards the
    process runs on its own CPUs again and the workers are gone.  Nothing changes for None, one
    CPU, or a platform without CPU affinity."""
    if not cpus or len(set(cpus)) < 2 or not hasattr(os, "sched_setaffinity"):
        yield
        return
    from torch._inductor import async_compile, config

    own = os.sched_getaffinity(0)
    saved = config.compile_threads, config.worker_start_method
    os.sched_setaffinity(0, set(cpus))
    config.compile_threads, config.worker_start_method = len(set(cpus)), "fork"
    try:
        yield
    finally:
        async_compile.shutdown_compile_workers()
        config.compile_threads, config.worker_start_method = saved
        os.sched_setaffinity(0, own)


def warm_toolchain() -> float:
    """Compile a tiny function: inductor's one-off work in its cache folder (14 s in an empty
    one, 2-vCPU VM), which every later compile there reuses.  Seconds."""
    import torch

    start = time.perf_counter()
    compiled = torch.compile(lambda x: torch.tanh(x @ x).sum(), fullgraph=True)
    compiled(torch.ones(3, 3)).item()
    return time.perf_counter() - start
