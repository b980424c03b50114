import numpy as np
import pytest

import adcost
from adcost.problems import PROBLEMS, size_names


def test_every_registered_problem_evaluates_in_numpy_with_declared_sizes():
    for name in PROBLEMS:
        p = adcost.make_problem(name)
        y = np.asarray(p.f(np, p.x0))
        assert y.shape == (p.m,), name
        assert np.all(np.isfinite(y)), name
        assert p.x0.shape == (p.n,), name


def test_public_api_example_sizes():
    p = adcost.make_problem("mlp", n=8, m=3, depth=2, width=16, seed=0)
    assert (p.n, p.m) == (8, 3)
    assert p.meta["depth"] == 2 and p.meta["width"] == 16
    assert len(p.params) == 2 * 3  # 2 hidden layers + output layer, W and b each


def test_parameters_are_seeded_and_reproducible():
    a = adcost.make_problem("mlp", seed=3)
    b = adcost.make_problem("mlp", seed=3)
    c = adcost.make_problem("mlp", seed=4)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert np.array_equal(a.x0, b.x0)
    assert not np.array_equal(a.params["W0"], c.params["W0"])


def test_mlp_batch_stacks_inputs():
    p = adcost.make_problem("mlp", n=3, m=2, batch=4)
    assert (p.n, p.m) == (12, 8)
    single = adcost.make_problem("mlp", n=3, m=2)
    # the same weights applied to each row of the batch
    rows = p.x0.reshape(4, 3)
    want = np.concatenate([single.f(np, r) for r in rows])
    assert np.allclose(p.f(np, p.x0), want)


def test_mlp_loss_counts_parameters_and_is_scalar():
    p = adcost.make_problem("mlp_loss", features=4, outputs=2, depth=2, width=8, batch=5)
    assert p.n == 4 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2
    assert p.m == 1
    assert p.f(np, p.x0)[0] > 0


def test_linear_relu_matches_the_seed_formula():
    p = adcost.make_problem("linear_relu")
    W1 = p.x0[:40].reshape(5, 8).T          # stored (fan_in, fan_out)
    W2 = p.x0[40:].reshape(8, 3).T
    x, t = p.params["X"][0], p.params["T"][0]
    loss = np.sum((W2 @ np.maximum(0, W1 @ x) - t) ** 2)
    assert p.n == 64 and np.isclose(p.f(np, p.x0)[0], loss)


def test_relu_activation_is_relu():
    p = adcost.make_problem("mlp", n=2, m=1, depth=1, width=3, activation="relu")
    z = p.x0 @ p.params["W0"] + p.params["b0"]
    want = np.maximum(z, 0) @ p.params["W1"] + p.params["b1"]
    assert np.allclose(p.f(np, p.x0), want)


def test_size_names_are_the_builder_keywords():
    assert size_names("mlp") == ("n", "m", "depth", "width", "activation", "batch", "seed")
    assert "features" in size_names("mlp_loss")
