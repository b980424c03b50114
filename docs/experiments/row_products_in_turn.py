"""Row products through one weight again and again, against the same products through several
distinct weights in turn: how far the caches make roofline.RowProducts (one weight, called
back to back) faster than the products of a network's call, which reads each layer's weight
once before it comes back to it.

Per framework (NumPy, torch, JAX under jit; TensorFlow under tf.function where installed),
float32, one thread (run it under `taskset -c 0` with OMP_NUM_THREADS=1; the script sets the
frameworks' own thread limits), median of 7 samples of calibrated calls:

- "1 weight": X @ W (or X @ W^T) with one (size x size) W, as roofline.RowProducts times it;
- "k in turn": the same product through k distinct weights of that size, one after the other,
  over k (each finds the k - 1 others, not its own, last in the caches);
- "jacrev order": the products of jacrev on a depth-4 MLP of the size, without the tanh: one
  row forward through W1..W4, then `rows` rows back through W4^T..W1^T, over the sum of the
  same eight products timed with one weight each.

Found by adcost's cost model (docs/costmodel.md, "Row products and the caches").

    taskset -c 0 env OMP_NUM_THREADS=1 python docs/experiments/row_products_in_turn.py [numpy,torch,jax,tf]
"""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import numpy as np  # noqa: E402


def median_seconds(run):
    """adcost's timing: calibrated calls per sample, the median of 7 samples."""
    from adcost.measure.timing import measure
    return measure(run, repeats=7, min_time=0.02)["median_s"]


def frameworks():
    """name -> (to_array(np.ndarray), product(X, W, transposed) -> result synced)."""
    out = {"numpy": (lambda a: a, lambda x, w, t: x @ (w.T if t else w))}
    try:
        import torch
        torch.set_num_threads(1)
        out["torch"] = (torch.from_numpy, lambda x, w, t: x @ (w.T if t else w))
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp
        jn = jax.jit(lambda x, w: x @ w)
        jt = jax.jit(lambda x, w: x @ w.T)
        out["jax"] = (jnp.asarray, lambda x, w, tr: (jt if tr else jn)(x, w).block_until_ready())
    except ImportError:
        pass
    try:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        fn = tf.function(lambda x, w: tf.matmul(x, w))
        ft = tf.function(lambda x, w: tf.matmul(x, w, transpose_b=True))
        out["tf"] = (tf.constant, lambda x, w, tr: (ft if tr else fn)(x, w).numpy())
    except ImportError:
        pass
    return out


def main(names=None, sizes=(1024, 2048), ks=(4, 8)):
    rng = np.random.default_rng(0)
    for name, (array, product) in frameworks().items():
        if names and name not in names:
            continue
        for size in sizes:
            weights = [array(rng.standard_normal((size, size), dtype=np.float32)) for _ in range(max(ks))]
            for rows, transposed in ((1, False), (4, False), (4, True), (64, False), (64, True)):
                x = array(rng.standard_normal((rows, size), dtype=np.float32))
                one = median_seconds(lambda: product(x, weights[0], transposed))
                turns = []
                for k in ks:
                    def in_turn(k=k):
                        for w in weights[:k]:
                            product(x, w, transposed)
                    turns.append(median_seconds(in_turn) / k)
                print(f"{name:6s} size {size} rows {rows:3d} {'T' if transposed else 'N'}: "
                      f"1 weight {one * 1e3:.3f} ms; "
                      + "; ".join(f"{k} in turn {t * 1e3:.3f} ms ({t / one:.2f}x)"
                                  for k, t in zip(ks, turns)), flush=True)
            for rows in (4, 64):
                x1 = array(rng.standard_normal((1, size), dtype=np.float32))
                g = array(rng.standard_normal((rows, size), dtype=np.float32))

                def jacrev_order():
                    for w in weights[:4]:
                        product(x1, w, False)
                    for w in weights[3::-1]:
                        product(g, w, True)
                alone = 4 * (median_seconds(lambda: product(x1, weights[0], False))
                             + median_seconds(lambda: product(g, weights[0], True)))
                seq = median_seconds(jacrev_order)
                print(f"{name:6s} size {size} jacrev order, {rows} rows back: {seq * 1e3:.3f} ms, "
                      f"{seq / alone:.2f}x the eight products with one weight each", flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(",") if len(sys.argv) > 1 else None)
