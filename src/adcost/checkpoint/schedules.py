"""The checkpointing schedules and the analytic bytes each one must store: pure functions.

The model is a deep MLP, the training case: the gradient of the squared loss
sum((MLP(X) - T)^2) / batch with respect to every weight and bias (the `mlp_loss`
problem with features = width, so all `depth` hidden layers have the same shape).
A hidden layer is h_{k+1} = tanh(h_k @ W_k + b_k); the head is y = h_L @ W_out + b_out.

Reverse mode keeps, from the forward pass until the backward pass, the layer inputs
h_k (needed for dW_k) and the tanh outputs (needed for tanh' = 1 - h_{k+1}^2); for this
layer they are the same tensors, so plain reverse mode stores h_1 .. h_L plus the head's
residual r = y - T.  The data X, T and the parameters belong to the caller and are never
counted.  A *segment* is a run of hidden layers [start, stop): a checkpointed segment
keeps only its input h_start and recomputes h_{start+1} .. h_stop during the backward.

Strategies (depth L):
    none             plain reverse mode: one segment, not checkpointed.
    every_2/every_4  segments of k = 2 / 4 layers, each checkpointed.
    sqrt             segments of k = ceil(sqrt(L)) layers (Chen et al. 2016).
    per_layer        k = 1: each layer's input is kept, the layer's internals (pre-activation
                     and tanh output) recomputed.  For linear + tanh this stores as much as
                     `none` (the tanh output is the next input); it isolates the overhead.
    sqrt_sequential  torch.utils.checkpoint.checkpoint_sequential with round(sqrt(L))
                     segments: all but the last segment checkpointed, the last stored in full.
    per_layer_dots   JAX only: per-layer jax.checkpoint with policy dots_saveable (the
                     matmul outputs are kept as well as the layer inputs).
    binomial         revolve-style schedule with c checkpoint slots over the L + 1 steps
                     (hidden layers, then the head), optimal in recomputed steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

STRATEGIES = ("none", "every_2", "every_4", "sqrt", "per_layer", "sqrt_sequential",
              "per_layer_dots", "binomial")
SEGMENT_STRATEGIES = ("none", "every_2", "every_4", "sqrt", "per_layer", "sqrt_sequential")


def study_problem(depth: int, width: int = 64, batch: int = 512, outputs: int = 16, seed: int = 0):
    """The checkpointing study's model: `mlp_loss` with features = width, so every hidden layer
    has one shape (JAX scans them) and activations (batch x width) outweigh the weights."""
    from ..problems.mlp import mlp_loss
    return mlp_loss(features=width, outputs=outputs, depth=depth, width=width, activation="tanh",
                    batch=batch, seed=seed)


@dataclass(frozen=True)
class Sizes:
    """What the analytic count reads of a layered loss problem, in bytes."""

    depth: int
    activation_bytes: int      # one hidden activation h_k: batch x width
    residual_bytes: int        # the head's residual r = y - T: batch x outputs

    @classmethod
    def of(cls, problem, dtype: str) -> "Sizes":
        meta, item = problem.meta, np.dtype(dtype).itemsize
        return cls(problem.layers.depth, meta["batch"] * meta["width"] * item,
                   meta["batch"] * meta["n_out"] * item)


def tangent(problem, dtype: str = "float64") -> np.ndarray:
    """The seeded parameter direction of the study's forward-mode contrast (one JVP of the loss)."""
    return np.random.default_rng(7).standard_normal(problem.n).astype(dtype)


# -- segment schedules ---------------------------------------------------------------
def segment_length(strategy: str, depth: int) -> int:
    """Layers per checkpointed segment for the uniform strategies."""
    if strategy == "per_layer":
        return 1
    if strategy.startswith("every_"):
        return min(int(strategy.split("_")[1]), depth)
    if strategy == "sqrt":
        return math.ceil(math.sqrt(depth))
    raise ValueError(f"{strategy!r} has no uniform segment length")


def sequential_segments(depth: int) -> int:
    """The `segments` argument given to torch's checkpoint_sequential: round(sqrt(L))."""
    return max(1, round(math.sqrt(depth)))


def segments(strategy: str, depth: int) -> list[tuple[int, int, bool]]:
    """(start, stop, checkpointed) for each run of hidden layers, in forward order."""
    if strategy == "none":
        return [(0, depth, False)]
    if strategy == "sqrt_sequential":
        # mirrors torch.utils.checkpoint.checkpoint_sequential: len // segments per chunk,
        # the last chunk (the remainder too) runs without checkpoint
        count = sequential_segments(depth)
        size = depth // count
        out = [(i * size, (i + 1) * size, True) for i in range(count - 1)]
        return out + [((count - 1) * size, depth, False)]
    if strategy in SEGMENT_STRATEGIES or strategy == "per_layer_dots":
        k = segment_length("per_layer" if strategy == "per_layer_dots" else strategy, depth)
        return [(s, min(s + k, depth), True) for s in range(0, depth, k)]
    raise ValueError(f"{strategy!r} is not a segment strategy; choose from {', '.join(SEGMENT_STRATEGIES)}")


def stored_indices(segs: list[tuple[int, int, bool]], depth: int) -> set[int]:
    """Which h_k stay stored between forward and backward (k = 0, the data X, excluded)."""
    kept = {depth}  # the head's matmul keeps h_L for dW_out
    for start, stop, checkpointed in segs:
        kept.add(start)
        if not checkpointed:
            kept.update(range(start + 1, stop + 1))
    kept.discard(0)
    return kept


# -- binomial (revolve-style) schedule ------------------------------------------------
@lru_cache(maxsize=None)
def binomial_cost(steps: int, slots: int) -> tuple[int, int]:
    """(forward steps, first split) to reverse `steps` steps with `slots` free checkpoints.

    The start state is held; the last step of each reversal is run taped.  This is the
    recurrence revolve solves in closed form (Griewank & Walther 2000): advance m steps,
    store a checkpoint, reverse the tail with one slot fewer, then the head with all.
    """
    if steps == 1:
        return 1, 0
    if slots == 0:
        return steps * (steps + 1) // 2, 0
    best = None
    for m in range(1, steps):
        cost = m + binomial_cost(steps - m, slots - 1)[0] + binomial_cost(m, slots)[0]
        if best is None or cost < best[0]:
            best = (cost, m)
    return best


class Ledger:
    """Bytes held for the backward pass, unique by array identity (or by `key`: torch's
    binomial schedule counts storages, which a detached view shares); records the peak."""

    def __init__(self, exclude=(), key=id, nbytes=lambda a: a.nbytes):
        self.key, self.nbytes = key, nbytes
        self.exclude = {key(a) for a in exclude}
        self.count: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.held = 0
        self.peak = 0

    def hold(self, *arrays):
        for a in arrays:
            key = self.key(a)
            if key in self.exclude:
                continue
            if key not in self.count:
                self.count[key], self.size[key] = 0, int(self.nbytes(a))
                self.held += self.size[key]
                self.peak = max(self.peak, self.held)
            self.count[key] += 1

    def release(self, *arrays):
        for a in arrays:
            key = self.key(a)
            if key in self.exclude:
                continue
            self.count[key] -= 1
            if self.count[key] == 0:
                self.held -= self.size.pop(key)
                del self.count[key]


def run_binomial(steps: int, slots: int, start, advance, taped, backprop, adjoint, ledger):
    """Reverse `steps` steps from the held state `start` with `slots` checkpoints.

    advance(k, state) -> state after step k; taped(k, state) -> tape (held by the caller's
    ledger); backprop(k, tape, adjoint) -> adjoint of step k's input.  Returns the adjoint
    of the first input.  The same code runs the NumPy gradient and the symbolic count.
    """
    if steps == 0:
        return adjoint
    if steps == 1:
        tape = taped(0, start)
        adjoint = backprop(0, tape, adjoint)
        return adjoint
    if slots == 0:
        for j in reversed(range(steps)):
            state = start
            for i in range(j):
                state = advance(i, state)
            adjoint = backprop(j, taped(j, state), adjoint)
        return adjoint
    m = binomial_cost(steps, slots)[1]
    state = start
    for i in range(m):
        state = advance(i, state)
    ledger.hold(state)
    shift = lambda f: (lambda k, *a: f(k + m, *a))  # noqa: E731  steps of the tail
    adjoint = run_binomial(steps - m, slots - 1, state, shift(advance), shift(taped),
                           shift(backprop), adjoint, ledger)
    ledger.release(state)
    return run_binomial(m, slots, start, advance, taped, backprop, adjoint, ledger)


def binomial_pullbacks(steps: int, slots: int, start, advance, pull, ledger) -> list:
    """run_binomial for a framework whose taped step is recomputed and pulled back in one call
    (JAX's and TensorFlow's compiled step VJPs): the tape is the step's input, and
    pull(k, state, adjoint) -> (step k's parameter gradients, the adjoint of its input).
    Returns each step's parameter gradients, first step first."""
    grads = {}

    def backprop(k, state, adjoint):
        grads[k], adjoint = pull(k, state, adjoint)
        return adjoint if k > 0 else None

    run_binomial(steps, slots, start, advance, lambda k, state: state, backprop, None, ledger)
    return [grads[k] for k in range(steps)]


# -- the analytic formula ---------------------------------------------------------------
def analytic(strategy: str, model: Sizes, slots: int = 4) -> dict:
    """What `strategy` must store, in bytes, and the layers it recomputes.

    stored_bytes: held from the end of the forward pass until the backward starts (what
    torch's saved-tensor hooks see); peak_bytes: the most held at once, counting the
    segment being recomputed; recomputed_layers: extra layer evaluations (of L + 1).
    """
    L, a, r = model.depth, model.activation_bytes, model.residual_bytes
    if strategy == "binomial":
        return _binomial_analytic(model, slots)
    if strategy == "per_layer_dots":
        # layer input and matmul output per layer, both kept by the dots_saveable policy
        kept = 2 * L - 1 + 1
        return {"stored_bytes": kept * a + r, "peak_bytes": (kept + 1) * a + r,
                "recomputed_layers": L, "stored_activations": kept}
    segs = segments(strategy, L)
    kept = stored_indices(segs, L)
    stored = len(kept) * a + r
    peak = stored
    for j, (start, stop, checkpointed) in enumerate(segs):
        if checkpointed:  # backward of segment j: earlier checkpoints + its recomputed run
            earlier = {s for s, _, _ in segs[:j]} - {0}
            peak = max(peak, (len(earlier) + len(set(range(start, stop + 1)) - {0})) * a)
    recomputed = sum(e - s for s, e, c in segs if c)
    return {"stored_bytes": stored, "peak_bytes": peak,
            "recomputed_layers": recomputed, "stored_activations": len(kept)}


def _binomial_analytic(model: Sizes, slots: int) -> dict:
    """Run the binomial schedule on symbols (one per activation) and count bytes and steps."""
    L = model.depth

    class Sym:  # stands for one array: the Ledger reads only identity and nbytes
        def __init__(self, nbytes):
            self.nbytes = nbytes

    states = [Sym(model.activation_bytes) for _ in range(L + 1)]  # h_0 .. h_L
    residual = Sym(model.residual_bytes)
    ledger = Ledger(exclude=[states[0]])
    count = {"forward": 0}

    def advance(k, state):
        count["forward"] += 1
        return states[k + 1]

    def taped(k, state):
        count["forward"] += 1
        tape = (state, residual if k == L else states[k + 1])
        ledger.hold(*tape)
        return tape

    def backprop(k, tape, adjoint):
        count.setdefault("stored", ledger.held)
        ledger.release(*tape)
        return adjoint

    run_binomial(L + 1, slots, states[0], advance, taped, backprop, None, ledger)
    return {"stored_bytes": count["stored"], "peak_bytes": ledger.peak,
            "recomputed_layers": count["forward"] - (L + 1), "stored_activations": None,
            "slots": slots}
