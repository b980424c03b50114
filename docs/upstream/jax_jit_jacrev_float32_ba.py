"""JAX 0.10.2 (CPU): jax.jit(jax.jacrev(f)) returns a wrong float32 Jacobian for bundle
adjustment's residuals, while jax.jacrev(f) without jit, jax.jit(jax.jacfwd(f)) and float64 are
right.  Found by adcost's validation gate (docs/results-2026-12-01.md#workloads).

    python docs/upstream/jax_jit_jacrev_float32_ba.py
"""
import jax
import jax.numpy as jnp
import numpy as np

from adcost.problems import make_problem

p = make_problem("ba", cameras=5, points=50, observations=100)   # seeded: the same data every run
obs, feats = np.asarray(p.data["obs"], np.int32), p.data["feats"]
nc, npt, nobs = 5, 50, 100


def residuals(z):
    cams, X, w = z[:11 * nc].reshape(nc, 11), z[11 * nc:11 * nc + 3 * npt].reshape(npt, 3), z[11 * nc + 3 * npt:]
    cam, pt = jnp.take(cams, obs[:, 0], axis=0), jnp.take(X, obs[:, 1], axis=0)
    rot, xo = cam[:, 0:3], pt - cam[:, 3:6]
    theta = jnp.sqrt(jnp.sum(rot * rot, axis=1, keepdims=True))
    axis = rot / theta
    cross = jnp.stack([axis[:, 1] * xo[:, 2] - axis[:, 2] * xo[:, 1],
                       axis[:, 2] * xo[:, 0] - axis[:, 0] * xo[:, 2],
                       axis[:, 0] * xo[:, 1] - axis[:, 1] * xo[:, 0]], axis=1)
    xcam = (xo * jnp.cos(theta) + cross * jnp.sin(theta)
            + axis * jnp.sum(axis * xo, axis=1, keepdims=True) * (1 - jnp.cos(theta)))
    proj = xcam[:, 0:2] / xcam[:, 2:3]
    rsq = jnp.sum(proj * proj, axis=1, keepdims=True)
    proj = proj * (1 + cam[:, 9:10] * rsq + cam[:, 10:11] * rsq * rsq) * cam[:, 6:7] + cam[:, 7:9]
    return jnp.concatenate([(w[:, None] * (proj - feats)).reshape(-1), 1 - w * w])


x = jnp.asarray(p.x0, jnp.float32)
forward = jax.jit(jax.jacfwd(residuals))(x)
print("jax", jax.__version__)
print("jit(jacrev) vs jit(jacfwd), max |difference|:", float(jnp.abs(jax.jit(jax.jacrev(residuals))(x) - forward).max()))
print("jacrev     vs jit(jacfwd), max |difference|:", float(jnp.abs(jax.jacrev(residuals)(x) - forward).max()))
