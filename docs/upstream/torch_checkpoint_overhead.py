"""torch 2.13 (CPU): torch.utils.checkpoint(use_reentrant=False) costs about 11 us per recorded
op on top of running the segment's forward pass again, where a hand-written
torch.autograd.Function that runs the segment under no_grad and again in its backward does not.

A tanh MLP of 64 layers, its hidden layers in sqrt(64) = 8 checkpointed segments, the gradient of
a sum of squares by torch.autograd.grad (as adcost's checkpointing study runs it, the
non-reentrant variant; the reentrant one does not support autograd.grad), one thread.  The
overhead over the plain gradient, in forward passes (no_grad) recomputed: 1 is the theory's.
Found by adcost's checkpoint report (docs/checkpointing.md: torch's sqrt(L) time overhead at
depth 64 misses its 40 % target at width 64, batch 512).

    python docs/upstream/torch_checkpoint_overhead.py [WIDTH BATCH]
"""
import math
import sys
import time

import torch
from torch.utils import checkpoint

torch.set_num_threads(1)
L = 64
width, batch = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (64, 512)
k = math.isqrt(L)
g = torch.Generator().manual_seed(0)
Ws = [(torch.randn(width, width, generator=g) / width ** 0.5).requires_grad_() for _ in range(L)]
bs = [torch.zeros(width).requires_grad_() for _ in range(L)]
X = torch.randn(batch, width, generator=g)
leaves = Ws + bs


def layers(a, b):
    def run(h):
        for i in range(a, b):
            h = torch.tanh(h @ Ws[i] + bs[i])
        return h
    return run


class Segment(torch.autograd.Function):
    """Layers a..b: the forward under no_grad, its input kept; the backward runs them again
    with the graph on and pulls back through them."""

    @staticmethod
    def forward(ctx, h, a, b, *params):
        ctx.save_for_backward(h)
        ctx.a, ctx.b = a, b
        with torch.no_grad():
            return layers(a, b)(h)

    @staticmethod
    def backward(ctx, grad):
        (h,) = ctx.saved_tensors
        with torch.enable_grad():
            x = h.detach().requires_grad_()
            got = torch.autograd.grad(layers(ctx.a, ctx.b)(x),
                                      [x, *Ws[ctx.a:ctx.b], *bs[ctx.a:ctx.b]], grad)
        return (got[0], None, None, *got[1:])


def gradient(how):
    h = X
    if how == "forward":
        with torch.no_grad():
            return layers(0, L)(h)
    for a in range(0, L, L if how == "plain" else k):
        b = L if how == "plain" else min(a + k, L)
        if how == "plain":
            h = layers(a, b)(h)
        elif how == "torch.utils.checkpoint":
            h = checkpoint.checkpoint(layers(a, b), h, use_reentrant=False,
                                      preserve_rng_state=False)
        else:
            h = Segment.apply(h, a, b, *Ws[a:b], *bs[a:b])
    return torch.autograd.grad((h ** 2).sum(), leaves)


HOW = ("plain", "forward", "torch.utils.checkpoint", "autograd.Function")
plain = gradient("plain")
for how in HOW[2:]:
    got = gradient(how)
    worst = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(got, plain))
    assert worst < 1e-5, (how, worst)
times = {how: [] for how in HOW}
for _ in range(5):
    for how in HOW:
        gradient(how)
for _ in range(15):                         # interleaved rounds: the same machine speed for all
    for how in HOW:
        start = time.perf_counter()
        gradient(how)
        times[how].append(time.perf_counter() - start)
ms = {how: sorted(t)[len(t) // 2] * 1e3 for how, t in times.items()}
print(f"torch {torch.__version__}, depth {L}, width {width}, batch {batch}, {k} segments, one thread")
for how in HOW:
    extra = (f"  +{100 * (ms[how] / ms['plain'] - 1):.0f} %, "
             f"{(ms[how] - ms['plain']) / ms['forward']:.2f} forward passes"
             if how in HOW[2:] else "")
    print(f"  {how:24s} {ms[how]:8.2f} ms{extra}")
