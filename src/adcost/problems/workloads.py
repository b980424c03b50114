"""Workloads of the AD benchmark literature, each written once against `xp` with seeded data.

From their published specifications (the ADBench paper, arXiv:1807.10129, and GradBench's
eval descriptions); our own code:

  gmm         log posterior of a Gaussian mixture with a Wishart prior (m = 1)       reverse wins
  lse         stable log-sum-exp from max and sum (m = 1)                             reverse wins
  lstm        ADBench's LSTM loss over a character sequence (m = 1)                    reverse wins
  ba          bundle adjustment's reprojection and weight residuals (m = 3p >> n/p)    blocks of 15
  trajectory  K predator-prey systems (Lotka-Volterra, RK4) as a function of their 4
              rate parameters: every state at every step (m = 2 K steps, n = 4)        forward wins

Each builder takes its sizes and a seed and returns a Problem whose `data` holds the constants
(arrays, integer index arrays, Python scalars) named as in the specification.  The defaults are
small (what `adcost check` validates); the sweep's sizes are in adcost.grids.WORKLOADS.
"""
from __future__ import annotations

import numpy as np
from scipy.special import multigammaln

from .spec import Problem, positive_int


def _sigmoid(xp, z):
    return 1.0 / (1.0 + xp.exp(-z))


# -- GMM -------------------------------------------------------------------------------------
def gmm_layout(d: int, k: int) -> dict[str, slice]:
    """Where alpha (k), mu (k x d), q (k x d) and l (k x d(d-1)/2) sit in x (row-major)."""
    tri = d * (d - 1) // 2
    sizes = {"alpha": k, "mu": k * d, "q": k * d, "l": k * tri}
    out, start = {}, 0
    for name, size in sizes.items():
        out[name] = slice(start, start + size)
        start += size
    return out


def lower_index(d: int) -> np.ndarray:
    """(d*d,) positions in l of each entry of Q's strictly lower triangle, filled column by
    column; entries on or above the diagonal point at the extra zero slot d(d-1)/2."""
    tri = d * (d - 1) // 2
    index = np.full((d, d), tri, dtype=np.int64)
    pos = 0
    for col in range(d):
        for row in range(col + 1, d):
            index[row, col] = pos
            pos += 1
    return index.reshape(-1)


def gmm_objective(xp, z, data):
    """The log posterior F_X(theta, phi) of GradBench's gmm eval (its simplified form)."""
    d, k, N = data["d"], data["k"], data["N"]
    at = gmm_layout(d, k)
    alpha = z[at["alpha"]]
    mu = xp.reshape(z[at["mu"]], (k, d))
    q = xp.reshape(z[at["q"]], (k, d))
    l = xp.reshape(z[at["l"]], (k, d * (d - 1) // 2))
    padded = xp.concatenate([l, xp.zeros_like(q[:, :1])], axis=1)       # the zero slot
    strict = xp.reshape(xp.take(padded, data["tril"], axis=1), (k, d, d))
    Q = strict + xp.reshape(xp.exp(q), (k, d, 1)) * data["eye"]          # (k, d, d)
    diff = xp.reshape(data["x"], (N, 1, d)) - xp.reshape(mu, (1, k, d))
    Qdiff = xp.einsum("kab,nkb->nka", Q, diff)
    beta = (xp.reshape(alpha, (1, k)) - 0.5 * xp.sum(Qdiff * Qdiff, axis=2)
            + xp.reshape(xp.sum(q, axis=1), (1, k)))
    loglik = (-N * (0.5 * d * np.log(2 * np.pi) + xp.logsumexp(alpha))
              + xp.sum(xp.logsumexp(beta, axis=1)))
    gamma, m = data["gamma"], data["m"]
    frob = xp.sum(xp.exp(q) ** 2) + xp.sum(l * l)
    logprior = data["prior_const"] - 0.5 * gamma ** 2 * frob + m * xp.sum(q)
    return xp.reshape(loglik + logprior, (1,))


def gmm(d: int = 2, k: int = 3, points: int = 20, seed: int = 0) -> Problem:
    """GMM log posterior: d dimensions, k components, `points` observations (m = 1)."""
    d, k = positive_int("d", d, "gmm"), positive_int("k", k, "gmm")
    points = positive_int("points", points, "gmm")
    rng = np.random.default_rng(seed)
    at = gmm_layout(d, k)
    x0 = np.concatenate([rng.standard_normal(k), rng.standard_normal(k * d),
                         0.3 * rng.standard_normal(k * d),
                         0.3 * rng.standard_normal(k * d * (d - 1) // 2)])
    m_prior, gamma = 0, 1.0
    n_wishart = d + m_prior + 1
    const = k * (n_wishart * d * np.log(gamma / np.sqrt(2)) - multigammaln(0.5 * n_wishart, d))
    data = {"x": rng.standard_normal((points, d)), "m": m_prior, "gamma": gamma,
            "tril": lower_index(d), "eye": np.eye(d), "prior_const": float(const),
            "d": d, "k": k, "N": points}
    return Problem("gmm", at["l"].stop, 1, x0, gmm_objective, params=data,
                   meta={"arch": "gmm", "d": d, "k": k, "points": points, "seed": seed})


# -- log-sum-exp -----------------------------------------------------------------------------
def lse(n: int = 20, seed: int = 0) -> Problem:
    """log sum exp(x), computed stably from its max and a sum (not a built-in logsumexp)."""
    n = positive_int("n", n, "lse")
    x0 = np.random.default_rng(seed).standard_normal(n) * 3.0

    def fn(xp, x, data):
        top = xp.amax(x)
        return xp.reshape(top + xp.log(xp.sum(xp.exp(x - top))), (1,))
    return Problem("lse", n, 1, x0, fn, meta={"arch": "lse", "seed": seed})


# -- LSTM ------------------------------------------------------------------------------------
def lstm_objective(xp, z, data):
    """ADBench's LSTM loss: diagonal weights; gates forget/outgate read the input, ingate and
    change the hidden state; log-softmax with ADBench's log(sum exp + 2); the mean of
    -ygold . ynorm over c - 1 steps and b entries.  The time loop is `xp.scan`."""
    layers, b, c = data["layers"], data["hidden"], data["chars"]
    main = xp.reshape(z[:8 * layers * b], (2 * layers, 4 * b))
    extra = xp.reshape(z[8 * layers * b:], (3, b))
    state, seq = data["state"], data["sequence"]

    def step(carry, pair):
        hidden, cell, total = carry
        now, gold = pair
        hidden, cell = list(hidden), list(cell)
        h = now * extra[0]
        for i in range(layers):
            w, bias = main[2 * i], main[2 * i + 1]
            forget = _sigmoid(xp, h * w[:b] + bias[:b])
            ingate = _sigmoid(xp, hidden[i] * w[b:2 * b] + bias[b:2 * b])
            outgate = _sigmoid(xp, h * w[2 * b:3 * b] + bias[2 * b:3 * b])
            change = xp.tanh(hidden[i] * w[3 * b:] + bias[3 * b:])
            cell[i] = cell[i] * forget + ingate * change
            hidden[i] = outgate * xp.tanh(cell[i])
            h = hidden[i]
        ypred = h * extra[1] + extra[2]
        ynorm = ypred - xp.log(xp.sum(xp.exp(ypred)) + 2.0)
        return (tuple(hidden), tuple(cell), total + xp.sum(gold * ynorm)), None

    start = (tuple(state[2 * i] for i in range(layers)),
             tuple(state[2 * i + 1] for i in range(layers)), xp.sum(z[:1] * 0.0))
    (_, _, total), _ = xp.scan(step, start, (seq[:-1], seq[1:]))
    return xp.reshape(-total / ((c - 1) * b), (1,))


def lstm(layers: int = 1, chars: int = 3, hidden: int = 3, seed: int = 0) -> Problem:
    """ADBench LSTM: `layers` layers, a sequence of `chars` characters of `hidden` bits;
    x = concat(main_params (2 layers x 4 hidden), extra_params (3 x hidden)), row-major."""
    layers = positive_int("layers", layers, "lstm")
    chars, hidden = positive_int("chars", chars, "lstm"), positive_int("hidden", hidden, "lstm")
    if chars < 2:
        raise ValueError("lstm: chars must be at least 2 (the loss compares step t with t + 1)")
    rng = np.random.default_rng(seed)
    n = 8 * layers * hidden + 3 * hidden
    data = {"state": rng.uniform(-1, 1, (2 * layers, hidden)),
            "sequence": rng.uniform(0, 1, (chars, hidden)),
            "layers": layers, "hidden": hidden, "chars": chars}
    return Problem("lstm", n, 1, rng.uniform(-1, 1, n), lstm_objective, params=data,
                   meta={"arch": "lstm", "layers": layers, "chars": chars, "hidden": hidden,
                         "seed": seed})


# -- bundle adjustment -----------------------------------------------------------------------
def _cross(xp, a, b):
    """Row-wise cross product of (p, 3) arrays."""
    return xp.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
                     a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], axis=1)


def reprojection(xp, cam, pt, w, feats):
    """w (proj - feat), (p, 2), for each observation's camera (p, 11), point (p, 3) and weight
    (p,).  The Rodrigues rotation uses its theta != 0 branch (the generator's rotations are
    nonzero)."""
    rot, centre = cam[:, 0:3], cam[:, 3:6]
    xo = pt - centre
    theta = xp.sqrt(xp.sum(rot * rot, axis=1, keepdims=True))
    axis = rot / theta
    cos, sin = xp.cos(theta), xp.sin(theta)
    along = xp.sum(axis * xo, axis=1, keepdims=True) * (1.0 - cos)
    xcam = xo * cos + _cross(xp, axis, xo) * sin + axis * along
    proj = xcam[:, 0:2] / xcam[:, 2:3]
    rsq = xp.sum(proj * proj, axis=1, keepdims=True)
    distort = 1.0 + cam[:, 9:10] * rsq + cam[:, 10:11] * rsq * rsq
    proj = proj * distort * cam[:, 6:7] + cam[:, 7:9]
    return xp.reshape(w, (-1, 1)) * (proj - feats)


def ba_residuals(xp, z, data):
    """(w (proj - feat) for every observation, row-major (2p), then 1 - w^2 (p))."""
    nc, npt, nobs = data["cameras"], data["points"], data["observations"]
    cams = xp.reshape(z[:11 * nc], (nc, 11))
    X = xp.reshape(z[11 * nc:11 * nc + 3 * npt], (npt, 3))
    w = z[11 * nc + 3 * npt:]
    cam = xp.take(cams, data["obs"][:, 0], axis=0)            # (p, 11)
    pt = xp.take(X, data["obs"][:, 1], axis=0)                # (p, 3)
    reproj = xp.reshape(reprojection(xp, cam, pt, w, data["feats"]), (2 * nobs,))
    return xp.concatenate([reproj, 1.0 - w * w], axis=0)


def ba(cameras: int = 2, points: int = 4, observations: int = 6, seed: int = 0) -> Problem:
    """Bundle adjustment: x = concat(cams (cameras x 11: rotation, centre, focal, principal
    point, radial distortion), X (points x 3), w (observations)); observation i sees camera
    i mod cameras and point i mod points (ADBench's pattern, from distinct random values)."""
    nc = positive_int("cameras", cameras, "ba")
    npt = positive_int("points", points, "ba")
    nobs = positive_int("observations", observations, "ba")
    if nobs < max(nc, npt):
        raise ValueError(f"ba: observations ({nobs}) must be at least cameras and points "
                         f"({max(nc, npt)}), so every one is observed")
    rng = np.random.default_rng(seed)
    cams = np.concatenate([rng.uniform(0.1, 0.4, (nc, 3)) * rng.choice([-1, 1], (nc, 3)),
                           rng.uniform(-0.5, 0.5, (nc, 3)), rng.uniform(0.8, 1.2, (nc, 1)),
                           rng.uniform(-0.1, 0.1, (nc, 2)), rng.uniform(-0.05, 0.05, (nc, 2))],
                          axis=1)
    X = np.concatenate([rng.uniform(-1, 1, (npt, 2)), rng.uniform(4, 6, (npt, 1))], axis=1)
    w = rng.uniform(0.5, 1.5, nobs)
    obs = np.stack([np.arange(nobs) % nc, np.arange(nobs) % npt], axis=1).astype(np.int64)
    data = {"obs": obs, "feats": rng.uniform(-0.5, 0.5, (nobs, 2)),
            "cameras": nc, "points": npt, "observations": nobs}
    x0 = np.concatenate([cams.ravel(), X.ravel(), w])
    return Problem("ba", x0.size, 3 * nobs, x0, ba_residuals, params=data,
                   meta={"arch": "ba", "cameras": nc, "points": npt, "observations": nobs,
                         "seed": seed})


def ba_block_residuals(xp, z, data):
    """Bundle adjustment by blocks: z holds each observation's own 15 inputs (camera 11,
    point 3, weight 1), so observation i's residuals (rx, ry, 1 - w^2) depend on its block alone."""
    Z = xp.reshape(z, (data["observations"], 15))
    w = Z[:, 14]
    reproj = reprojection(xp, Z[:, 0:11], Z[:, 11:14], w, data["feats"])
    return xp.reshape(xp.concatenate([reproj, xp.reshape(1.0 - w * w, (-1, 1))], axis=1), (-1,))


def ba_blocks(cameras: int = 2, points: int = 4, observations: int = 6, seed: int = 0) -> Problem:
    """`ba`'s residuals with each observation's camera, point and weight as its own 15 inputs
    (n = 15p, m = 3p): the Jacobian is block diagonal, so `jacfwd_seeded` with the 15 seeds
    "input j of every block" gets every 3 x 15 block in 15 JVPs (`blocks` unpacks them).  At x0
    the blocks equal `ba`'s Jacobian at the same cameras, points and weights."""
    base = ba(cameras, points, observations, seed)
    nc, npt, nobs = cameras, points, observations
    z = base.x0
    cams, X = z[:11 * nc].reshape(nc, 11), z[11 * nc:11 * nc + 3 * npt].reshape(npt, 3)
    obs = base.data["obs"]
    x0 = np.concatenate([cams[obs[:, 0]], X[obs[:, 1]], z[11 * nc + 3 * npt:, None]], axis=1)
    seeds = np.tile(np.eye(15), (1, nobs))            # seed j: input j of every block
    data = {"feats": base.data["feats"], "observations": nobs}
    return Problem("ba_blocks", 15 * nobs, 3 * nobs, x0.ravel(), ba_block_residuals, params=data,
                   meta={"arch": "ba_blocks", "cameras": nc, "points": npt, "observations": nobs,
                         "seed": seed, "seeds": seeds})


def blocks(compressed: np.ndarray, observations: int) -> np.ndarray:
    """(p, 3, 15) Jacobian blocks from jacfwd_seeded's (3p, 15) result of ba_blocks."""
    return np.asarray(compressed).reshape(observations, 3, 15)


# -- few inputs, many outputs ----------------------------------------------------------------
def trajectory_states(xp, z, data):
    """K Lotka-Volterra systems du = a u - b u v, dv = c u v - d v under one rate vector
    z = (a, b, c, d), from K initial states, by `steps` RK4 steps of dt (an `xp.scan`): every
    state after every step, step-major ((steps, 2, K) flattened)."""
    a, b, c, d = z[0], z[1], z[2], z[3]
    dt = data["dt"]

    def rate(u, v):
        return a * u - b * u * v, c * u * v - d * v

    def step(carry, _):
        u, v = carry
        k1u, k1v = rate(u, v)
        k2u, k2v = rate(u + 0.5 * dt * k1u, v + 0.5 * dt * k1v)
        k3u, k3v = rate(u + 0.5 * dt * k2u, v + 0.5 * dt * k2v)
        k4u, k4v = rate(u + dt * k3u, v + dt * k3v)
        u = u + dt / 6.0 * (k1u + 2.0 * k2u + 2.0 * k3u + k4u)
        v = v + dt / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
        return (u, v), xp.stack([u, v], axis=0)

    _, states = xp.scan(step, (data["u0"] + 0.0 * a, data["v0"] + 0.0 * a), length=data["steps"])
    return xp.reshape(states, (-1,))


def trajectory(systems: int = 3, steps: int = 3, seed: int = 0) -> Problem:
    """The few-inputs, many-outputs workload: n = 4 rates, m = 2 x systems x steps states."""
    systems = positive_int("systems", systems, "trajectory")
    steps = positive_int("steps", steps, "trajectory")
    rng = np.random.default_rng(seed)
    data = {"u0": rng.uniform(0.5, 1.5, systems), "v0": rng.uniform(0.5, 1.5, systems),
            "dt": 0.1, "steps": steps}
    x0 = np.array([1.1, 0.4, 0.1, 0.4])
    return Problem("trajectory", 4, 2 * systems * steps, x0, trajectory_states, params=data,
                   meta={"arch": "trajectory", "systems": systems, "steps": steps, "seed": seed})
