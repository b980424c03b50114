"""PyTorch compiled: the torch adapter's callables under torch.compile (inductor on CPU).

Every case is compiled before timing: `compile` calls torch.compile(fn, fullgraph=True) and runs
it once on the case's arguments, which is when TorchDynamo traces and inductor generates and
builds the code; those seconds are the case's compile_s, kept out of every timing. fullgraph
makes a graph break an error, and a recompile past the limit fails instead of falling back to
eager code: a variant that does not compile whole is skipped with the compiler's reason, never
timed as eager code under a compiled name.
"""
from __future__ import annotations

import time

from dataclasses import replace

from .base import Unsupported, Variant, register
from .torch_adapter import Torch



@register(replace(
    Torch.record, name="torch_compile", order=11, compiled=True, variant_of="torch",
    lazy_imports=("torch._dynamo", "torch._inductor", "torch.func",
                  "torch._decomp.decompositions_for_jvp"), schedules=(),
    saved_bytes=None,
    flops="torch.utils.flop_counter.FlopCounterMode on the eager callable: matmul-like ops only",
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
    def __init__(self, dtype="float64", device=None):
        super().__init__(dtype, device)
        config = self.torch._dynamo.config
        config.recompile_limit = max(config.recompile_limit, 1024)   # a case per shape
        config.accumulated_recompile_limit = max(config.accumulated_recompile_limit, 1 << 16)
        config.fail_on_recompile_limit_hit = True

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
            compiled = self.torch.compile(fn, fullgraph=True)
            self.block(compiled(*args))
        except Exception as exc:   # the compiler's reason, on one line
            reason = str(exc).strip().splitlines()
            raise Unsupported(f"torch.compile failed: {type(exc).__name__}: "
                              f"{reason[0] if reason else ''}"[:400]) from None
        return compiled, time.perf_counter() - start
