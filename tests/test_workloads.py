"""The AD-benchmark workloads: each against an independent implementation, and its derivatives
across every framework that runs it (1e-10 in float64) and against central differences."""
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import adcost
from adcost.frameworks.base import missing_reason
from adcost.frameworks.fd import central_jacobian
from adcost.problems import make_problem, workloads

FRAMEWORKS = [fw for fw in ("numpy", "torch", "jax", "tf") if missing_reason(fw) is None]


def test_gmm_matches_the_definition():
    """log p(X | theta, phi) + log p(theta) from scipy's Gaussian and Wishart densities."""
    d, k, N = 3, 4, 30
    p = make_problem("gmm", d=d, k=k, points=N, seed=2)
    at, z, data = workloads.gmm_layout(d, k), p.x0, p.data
    alpha, mu = z[at["alpha"]], z[at["mu"]].reshape(k, d)
    q, l = z[at["q"]].reshape(k, d), z[at["l"]].reshape(k, -1)
    phi = np.exp(alpha) / np.exp(alpha).sum()
    precisions = []
    for j in range(k):
        Q = np.diag(np.exp(q[j]))
        pos = 0
        for col in range(d):              # column by column, strictly below the diagonal
            for row in range(col + 1, d):
                Q[row, col] = l[j, pos]
                pos += 1
        precisions.append(Q.T @ Q)
    like = sum(math.log(sum(phi[j] * stats.multivariate_normal(mu[j], np.linalg.inv(precisions[j])).pdf(xi)
                            for j in range(k))) for xi in data["x"])
    n_wishart = d + data["m"] + 1
    V = np.eye(d) / data["gamma"] ** 2
    prior = sum(stats.wishart(df=n_wishart, scale=V).logpdf(P) for P in precisions)
    np.testing.assert_allclose(p.f(np, z)[0], like + prior, rtol=1e-10)


def test_lse_is_log_sum_exp():
    p = make_problem("lse", n=50, seed=1)
    np.testing.assert_allclose(p.f(np, p.x0)[0], logsumexp(p.x0), rtol=1e-14)


def _lstm_scalar(z, data):
    """ADBench's C++ LSTM objective, transcribed as scalar loops."""
    L, b, c = data["layers"], data["hidden"], data["chars"]
    main, extra = z[:8 * L * b].reshape(2 * L, 4 * b), z[8 * L * b:].reshape(3, b)
    state = [list(row) for row in data["state"]]
    seq = data["sequence"]
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))   # noqa: E731
    total = 0.0
    for t in range(c - 1):
        out = [seq[t][i] * extra[0][i] for i in range(b)]
        for layer in range(L):
            w, bias = main[2 * layer], main[2 * layer + 1]
            hid, cell = state[2 * layer], state[2 * layer + 1]
            for i in range(b):
                forget = sig(out[i] * w[i] + bias[i])
                ingate = sig(hid[i] * w[b + i] + bias[b + i])
                outgate = sig(out[i] * w[2 * b + i] + bias[2 * b + i])
                change = math.tanh(hid[i] * w[3 * b + i] + bias[3 * b + i])
                cell[i] = cell[i] * forget + ingate * change
                hid[i] = outgate * math.tanh(cell[i])
            out = list(hid)
        ypred = [out[i] * extra[1][i] + extra[2][i] for i in range(b)]
        lse = math.log(sum(math.exp(y) for y in ypred) + 2)
        total += sum(seq[t + 1][i] * (ypred[i] - lse) for i in range(b))
    return -total / ((c - 1) * b)


def test_lstm_matches_adbench_scalar_code():
    p = make_problem("lstm", layers=2, chars=5, hidden=3, seed=4)
    np.testing.assert_allclose(p.f(np, p.x0)[0], _lstm_scalar(p.x0, p.data), rtol=1e-13)


def _ba_scalar(z, data):
    """ADBench's BA residuals, one observation at a time (Rodrigues by its axis-angle formula)."""
    nc, npt, nobs = data["cameras"], data["points"], data["observations"]
    cams, X, w = z[:11 * nc].reshape(nc, 11), z[11 * nc:11 * nc + 3 * npt].reshape(npt, 3), z[11 * nc + 3 * npt:]
    reproj = []
    for i, (ci, pi) in enumerate(data["obs"]):
        cam = cams[ci]
        xo = X[pi] - cam[3:6]
        theta = np.linalg.norm(cam[:3])
        axis = cam[:3] / theta
        xcam = xo * math.cos(theta) + np.cross(axis, xo) * math.sin(theta) + axis * (axis @ xo) * (1 - math.cos(theta))
        proj = xcam[:2] / xcam[2]
        rsq = proj @ proj
        proj = proj * (1 + cam[9] * rsq + cam[10] * rsq ** 2) * cam[6] + cam[7:9]
        reproj.extend(w[i] * (proj - data["feats"][i]))
    return np.concatenate([reproj, 1 - w * w])


def test_ba_matches_per_observation_code():
    p = make_problem("ba", cameras=2, points=5, observations=7, seed=3)
    np.testing.assert_allclose(p.f(np, p.x0), _ba_scalar(p.x0, p.data), rtol=1e-13)
    assert p.n == 2 * 11 + 5 * 3 + 7 and p.m == 3 * 7


def test_trajectory_matches_a_scalar_rk4():
    p = make_problem("trajectory", systems=2, steps=3)
    a, b, c, d = p.x0
    dt = p.data["dt"]
    f = lambda u, v: (a * u - b * u * v, c * u * v - d * v)   # noqa: E731
    want = np.zeros((3, 2, 2))
    for s in range(2):
        u, v = p.data["u0"][s], p.data["v0"][s]
        for t in range(3):
            k1 = f(u, v)
            k2 = f(u + dt / 2 * k1[0], v + dt / 2 * k1[1])
            k3 = f(u + dt / 2 * k2[0], v + dt / 2 * k2[1])
            k4 = f(u + dt * k3[0], v + dt * k3[1])
            u, v = u + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]), v + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
            want[t, :, s] = (u, v)
    np.testing.assert_allclose(p.f(np, p.x0), want.ravel(), rtol=1e-13)


@pytest.mark.parametrize("name, sizes", [
    ("gmm", {"d": 2, "k": 3, "points": 10}), ("lse", {"n": 8}),
    ("lstm", {"layers": 1, "chars": 3, "hidden": 3}),
    ("ba", {"cameras": 2, "points": 3, "observations": 4}),
    ("trajectory", {"systems": 2, "steps": 3})])
def test_workload_derivatives_agree_everywhere(name, sizes):
    """Every framework's jacrev (and the NumPy engine's jacfwd) within 1e-10 of each other,
    and of central differences to the gate's tolerance; integer gathers run in all of them."""
    p = make_problem(name, **sizes)
    fd = central_jacobian(lambda z: np.asarray(p.f(np, z)), p.x0)
    got = {fw: adcost.jacobian(p, fw, "jacrev", validate=False) for fw in FRAMEWORKS}
    got["numpy_fwd"] = adcost.jacobian(p, "numpy", "jacfwd", validate=False)
    first = next(iter(got.values()))
    for fw, J in got.items():
        assert J.shape == (p.m, p.n)
        np.testing.assert_allclose(J, first, rtol=1e-10, atol=1e-10 * np.abs(first).max(), err_msg=fw)
        assert np.abs(J - fd).max() / max(1.0, np.abs(fd).max()) < 1e-6, fw


def test_sizes_are_checked():
    with pytest.raises(ValueError, match="observations"):
        make_problem("ba", cameras=4, points=10, observations=5)
    with pytest.raises(ValueError, match="chars"):
        make_problem("lstm", chars=1)
    with pytest.raises(ValueError, match="d must be"):
        make_problem("gmm", d=0)


def test_ba_blocks_are_bas_jacobian_in_15_jvps():
    """jacfwd_seeded on ba_blocks: every 3 x 15 block, equal to ba's dense Jacobian at the same
    cameras, points and weights, in every framework (validated against the reference's JVPs)."""
    sizes = {"cameras": 2, "points": 3, "observations": 5}
    dense = adcost.jacobian(make_problem("ba", **sizes), "numpy", "jacfwd")
    p = make_problem("ba_blocks", **sizes)
    data = make_problem("ba", **sizes).data
    nc, npt, nobs = 2, 3, 5
    for fw in FRAMEWORKS:
        case = adcost.prepare(p, fw, "jacfwd_seeded", warmup=0)
        got = workloads.blocks(case.output(), nobs)
        assert case.error < 1e-9
        for i, (c, q) in enumerate(data["obs"]):
            cols = list(range(11 * c, 11 * c + 11)) + list(range(11 * nc + 3 * q, 11 * nc + 3 * q + 3)) \
                + [11 * nc + 3 * npt + i]
            want = dense[[2 * i, 2 * i + 1, 2 * nobs + i]][:, cols]
            np.testing.assert_allclose(got[i], want, rtol=1e-10, atol=1e-12, err_msg=fw)


def test_seeded_jacobian_needs_seeds():
    with pytest.raises(adcost.Unsupported, match="seed"):
        adcost.prepare(make_problem("lse", n=4), "numpy", "jacfwd_seeded")
