"""torch.func.jacfwd of the MLP against the same tangents pushed through it by hand: what torch's
forward mode does per call beyond the tangents' products.

For each width and n (m = 4, depth 4, float32, one thread), side by side in one process:

- "jacfwd": adcost's prepared case, `torch.func.jacfwd` (vmap over JVPs), as the sweep times it;
- "by hand": h -> tanh(h W + b) with the tangents T -> (T W) * (1 - h^2), the same products,
  checked against jacfwd's Jacobian;
- "jacrev", "primal": adcost's cases, for scale;

then one jacfwd call under torch.profiler, its operations grouped by input shapes: the weights'
zero tangents (`aten::copy_` of a width x width matrix: an expanded scalar zero made dense for
the matmul) and the matrix-vector products (`aten::mm` of one row through a width x width
weight).  Timed with adcost's timing (calibrated calls, median of 7 samples), in alternation,
two rounds.

Found by adcost's cost model (docs/costmodel.md, "torch.func's forward mode: a zero tangent per
weight"); TensorFlow's `jacfwd` beside the same push by hand in a tf.function, where installed.

    taskset -c 0 env OMP_NUM_THREADS=1 \
        GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647 \
        python docs/experiments/torch_forward_zero_tangents.py [WIDTH ...]
"""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def median_ms(run) -> float:
    from adcost.measure.timing import measure
    return measure(run, repeats=7, min_time=0.02)["median_s"] * 1e3


def push(h, T, W, b, tanh):
    """The MLP's primal h and its n tangents T (rows) through the layers: T -> (T W) * (1 - h^2)."""
    for k in range(len(W)):
        z, T = h @ W[k] + b[k], T @ W[k]
        if k < len(W) - 1:
            h = tanh(z)
            T = T * (1 - h * h)
    return T


def cases(width: int, n: int):
    """name -> a call, and the largest difference between jacfwd's and the by-hand Jacobian."""
    import torch

    import adcost
    p = adcost.make_problem("mlp", n=n, m=4, depth=4, width=width, seed=0)
    out = {mode: adcost.prepare(p, "torch", mode, dtype="float32")
           for mode in ("jacfwd", "jacrev", "primal")}
    layers = len(p.layers.shapes)
    W = [torch.as_tensor(p.params[f"W{k}"], dtype=torch.float32) for k in range(layers)]
    b = [torch.as_tensor(p.params[f"b{k}"], dtype=torch.float32) for k in range(layers)]
    x = torch.as_tensor(p.x0, dtype=torch.float32)
    eye = torch.eye(n)

    def by_hand():
        return push(x, eye, W, b, torch.tanh)

    gap = float(np.max(np.abs(by_hand().T.numpy() - np.asarray(out["jacfwd"].validated))))
    return {"jacfwd": out["jacfwd"], "by hand": by_hand, "jacrev": out["jacrev"],
            "primal": out["primal"]}, gap


def tf_cases(width: int, n: int):
    """TensorFlow's jacfwd, jacrev and primal (adcost's cases) and the same tangents by hand in a
    tf.function; None where TensorFlow is not installed."""
    from adcost.frameworks.base import missing_reason
    if missing_reason("tf"):
        return None
    import tensorflow as tf

    import adcost
    p = adcost.make_problem("mlp", n=n, m=4, depth=4, width=width, seed=0)
    out = {mode: adcost.prepare(p, "tf", mode, dtype="float32")
           for mode in ("jacfwd", "jacrev", "primal")}
    layers = len(p.layers.shapes)
    W = [tf.constant(p.params[f"W{k}"], tf.float32) for k in range(layers)]
    b = [tf.constant(p.params[f"b{k}"], tf.float32) for k in range(layers)]
    x = tf.constant(p.x0, tf.float32)

    by_hand = tf.function(lambda x: push(x[None, :], tf.eye(n), W, b, tf.tanh))
    gap = float(np.max(np.abs(by_hand(x).numpy().T - np.asarray(out["jacfwd"].validated))))
    return {"jacfwd": out["jacfwd"], "by hand": lambda: by_hand(x).numpy(),
            "jacrev": out["jacrev"], "primal": out["primal"]}, gap


def profiled(call, width: int) -> dict:
    """One call's weight-sized copies and one-row products through a weight: count and ms."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        call()
    found = {"zero tangents (copy_ w x w)": [0, 0.0], "one-row products (mm 1 x w, w x w)": [0, 0.0]}
    for e in prof.key_averages(group_by_input_shape=True):
        shapes = [list(s) for s in e.input_shapes if s]
        if e.key == "aten::copy_" and shapes[:2] == [[width, width]] * 2:
            key = "zero tangents (copy_ w x w)"
        elif e.key == "aten::mm" and shapes[:2] == [[1, width], [width, width]]:
            key = "one-row products (mm 1 x w, w x w)"
        else:
            continue
        found[key][0] += e.count
        found[key][1] += e.self_cpu_time_total / 1e3
    return found


def main(widths):
    import torch
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, one thread, float32, depth 4, m = 4; ms, two rounds")
    for width in widths:
        for n in (4, 64):
            calls, gap = cases(width, n)
            rounds = [{name: median_ms(call) for name, call in calls.items()} for _ in range(2)]
            cells = "  ".join(f"{name} {min(r[name] for r in rounds):.2f}-"
                              f"{max(r[name] for r in rounds):.2f}" for name in calls)
            print(f"width {width}, n = {n}: {cells}  (jacfwd vs by hand: max |diff| {gap:.1e})")
            for what, (count, ms) in profiled(calls["jacfwd"], width).items():
                print(f"    one jacfwd call under the profiler: {what}: {count}, {ms:.2f} ms")
            found = tf_cases(width, n)
            if found is not None:
                calls, gap = found
                rounds = [{name: median_ms(call) for name, call in calls.items()} for _ in range(2)]
                cells = "  ".join(f"{name} {min(r[name] for r in rounds):.2f}-"
                                  f"{max(r[name] for r in rounds):.2f}" for name in calls)
                print(f"    TensorFlow: {cells}  (max |diff| {gap:.1e})")


if __name__ == "__main__":
    main([int(w) for w in sys.argv[1:]] or [1024, 2048])
