"""JAX 0.10.2 (CPU): jax.jit(jax.jacfwd(f)) of an MLP with few inputs and many outputs runs
several times slower than the same JVPs vmapped with the tangents first and transposed once.

jax.jacfwd maps the JVP with out_axes=-1, so the output layer's dot produces (m, n) and XLA's CPU
backend contracts the (width, m) weight over its first axis (lhs_contracting_dims={0}).
A `.T` inside the same jit is folded back into that dot; behind lax.optimization_barrier it is
not.  Found by adcost's cost model (docs/costmodel.md, "jacfwd's output layer, read transposed").

    python docs/upstream/jax_jacfwd_transposed_dot.py
"""
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_platforms", "cpu")
n, width, m = 4, 256, 1024
rng = np.random.default_rng(0)
Ws = [jnp.asarray(rng.standard_normal(s) / np.sqrt(s[0]), jnp.float32)
      for s in [(n, width), (width, width), (width, width), (width, m)]]


def f(x):
    h = x
    for W in Ws[:-1]:
        h = jnp.tanh(h @ W)
    return h @ Ws[-1]


def tangents_first(x):
    return jax.vmap(lambda t: jax.jvp(f, (x,), (t,))[1])(jnp.eye(n, dtype=x.dtype))   # (n, m)


variants = {
    "jax.jacfwd": jax.jit(jax.jacfwd(f)),
    "vmap(jvp).T": jax.jit(lambda x: tangents_first(x).T),
    "barrier(vmap(jvp)).T": jax.jit(lambda x: jax.lax.optimization_barrier(tangents_first(x)).T),
}
x = jnp.ones(n, jnp.float32)
want = np.asarray(variants["jax.jacfwd"](x))
for name, fn in variants.items():
    assert np.allclose(np.asarray(fn(x)), want, rtol=1e-4, atol=1e-5), name
    for _ in range(10):
        fn(x).block_until_ready()
    times = []
    for _ in range(200):
        start = time.perf_counter()
        fn(x).block_until_ready()
        times.append(time.perf_counter() - start)
    print(f"{name:22s} {np.median(times) * 1e6:8.1f} us")
# jax.jacfwd's program: its last dot reads the output weight transposed
print([line.strip()[:120] for line in variants["jax.jacfwd"].lower(x).compile().as_text().splitlines()
       if " dot(" in line][-1])
