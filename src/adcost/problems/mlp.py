"""The MLP family: the Jacobian problem `mlp` and the training problem `mlp_loss`.

Parameters are drawn once from `numpy.random.default_rng(seed)`; weights are stored as
(fan_in, fan_out) so that one `xp.matmul(h, W)` serves a single input and a batch.
The layer loop is written once, in `Layers.run`: every framework's primal and AD, and
every checkpointed segment, run it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .spec import Problem, choice, positive_int

ACTIVATIONS = ("tanh", "relu")


def activate(xp, z, activation: str):
    if activation == "tanh":
        return xp.tanh(z)
    return xp.where(z > 0, z, 0 * z)  # relu, in the subset every namespace shares


def layer_shapes(n_in: int, n_out: int, depth: int, width: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of each linear layer: `depth` hidden layers, then the output."""
    dims = [n_in] + [width] * depth + [n_out]
    return list(zip(dims[:-1], dims[1:]))


def init_layers(rng, shapes, bias: bool, scale: float | None) -> dict[str, np.ndarray]:
    """Weights ~ N(0, 1/fan_in) (or N(0, scale^2)), biases ~ N(0, 0.1^2)."""
    params = {}
    for k, (fan_in, fan_out) in enumerate(shapes):
        std = scale if scale is not None else 1.0 / np.sqrt(fan_in)
        params[f"W{k}"] = rng.standard_normal((fan_in, fan_out)) * std
        if bias:
            params[f"b{k}"] = rng.standard_normal(fan_out) * 0.1
    return params


@dataclass(frozen=True)
class Layers:
    """A chain of dense layers h -> act(h @ W_k + b_k), no activation after the last.

    What checkpointing, the NumPy engine's layer rules and the analytic memory figures read
    instead of re-implementing the model.  Hidden layers (all but the last) of a problem
    with features = width share one shape, so JAX can scan them.
    """

    shapes: tuple[tuple[int, int], ...]      # (fan_in, fan_out) per layer
    activation: str
    bias: bool

    @property
    def count(self) -> int:
        return len(self.shapes)

    @property
    def depth(self) -> int:
        """Hidden layers: all but the output layer."""
        return self.count - 1

    def names(self, k: int) -> tuple[str, ...]:
        return (f"W{k}", f"b{k}") if self.bias else (f"W{k}",)

    def split(self, named: Mapping) -> list[tuple]:
        """Named parameters (W0, b0, W1, ...) as one tuple per layer."""
        return [tuple(named[name] for name in self.names(k)) for k in range(self.count)]

    def apply(self, xp, h, params: Sequence, last: bool = False):
        """One layer: h @ W (+ b), then the activation unless it is the output layer."""
        z = xp.matmul(h, params[0])
        if self.bias:
            z = z + params[1]
        return z if last else activate(xp, z, self.activation)

    def run(self, xp, h, per_layer: Sequence[Sequence], start: int = 0, stop: int | None = None):
        """Layers [start, stop) on h, (features,) or (batch, features): the one layer loop."""
        stop = self.count if stop is None else stop
        for k in range(start, stop):
            h = self.apply(xp, h, per_layer[k - start], last=k == self.count - 1)
        return h


def squared_loss(xp, y, target, batch: int):
    """sum((y - T)^2) / batch as a (1,) array."""
    r = y - target
    return xp.reshape(xp.sum(r * r) / batch, (1,))


def mlp(n=8, m=3, depth=2, width=16, activation="tanh", batch=None, seed=0) -> Problem:
    """x in R^n (or R^(batch*n): `batch` inputs stacked) -> R^m (or R^(batch*m))."""
    name = "mlp"
    n, m = positive_int("n", n, name), positive_int("m", m, name)
    depth, width = positive_int("depth", depth, name), positive_int("width", width, name)
    activation = choice("activation", activation, ACTIVATIONS, name)
    if batch is not None:
        batch = positive_int("batch", batch, name)
    rng = np.random.default_rng(seed)
    shapes = layer_shapes(n, m, depth, width)
    params = init_layers(rng, shapes, bias=True, scale=None)
    layers = Layers(tuple(shapes), activation, bias=True)

    def fn(xp, x, p):
        h = x if batch is None else xp.reshape(x, (batch, n))
        y = layers.run(xp, h, layers.split(p))
        return y if batch is None else xp.reshape(y, (batch * m,))

    rows = 1 if batch is None else batch
    x0 = rng.standard_normal(rows * n)
    meta = {"arch": "mlp", "depth": depth, "width": width, "activation": activation,
            "batch": batch, "seed": seed, "n_in": n, "n_out": m}
    return Problem(name, rows * n, rows * m, x0, fn, params, meta, layers=layers)


def unflatten(xp, x, layout) -> dict:
    """Views of the flat parameter vector x as the named parameters of `layout`."""
    return {k: xp.reshape(x[o:o + int(np.prod(s))], s) for k, s, o in layout}


def _loss_problem(name, features, outputs, depth, width, activation, batch, seed,
                  bias, scale, per_example: bool = False) -> Problem:
    rng = np.random.default_rng(seed)
    shapes = layer_shapes(features, outputs, depth, width)
    theta = init_layers(rng, shapes, bias=bias, scale=scale)
    layout, offset = [], 0  # (name, shape, offset) of each parameter inside x
    for key, value in theta.items():
        layout.append((key, value.shape, offset))
        offset += value.size
    x0 = np.concatenate([v.ravel() for v in theta.values()])
    data = {"X": rng.standard_normal((batch, features)), "T": rng.standard_normal((batch, outputs))}
    layers = Layers(tuple(shapes), activation, bias)

    def fn(xp, x, p):
        y = layers.run(xp, p["X"], layers.split(unflatten(xp, x, layout)))
        if per_example:   # one loss per row of X (any number of rows): sum_j r_ij^2
            r = y - p["T"]
            return xp.sum(r * r, axis=1)
        return squared_loss(xp, y, p["T"], batch)

    if per_example:
        meta = {"arch": "mlp_losses", "depth": depth, "width": width, "activation": activation,
                "batch": batch, "seed": seed, "n_in": features, "n_out": outputs, "bias": bias,
                "layout": tuple(layout), "per_example": ("X", "T")}
        return Problem(name, int(offset), batch, x0, fn, data, meta, layers=layers)
    meta = {"arch": "mlp_loss", "depth": depth, "width": width, "activation": activation,
            "batch": batch, "seed": seed, "n_in": features, "n_out": outputs, "bias": bias,
            "layout": tuple(layout)}
    return Problem(name, int(offset), 1, x0, fn, data, meta, layers=layers)


def _checked_loss(name, features, outputs, depth, width, activation, batch, seed,
                  per_example: bool) -> Problem:
    features, outputs = positive_int("features", features, name), positive_int("outputs", outputs, name)
    depth, width = positive_int("depth", depth, name), positive_int("width", width, name)
    batch = positive_int("batch", batch, name)
    activation = choice("activation", activation, ACTIVATIONS, name)
    return _loss_problem(name, features, outputs, depth, width, activation, batch, seed,
                         bias=True, scale=None, per_example=per_example)


def mlp_loss(features=4, outputs=2, depth=2, width=8, activation="tanh", batch=4,
             seed=0) -> Problem:
    """Squared-error loss sum((MLP(X) - T)^2) / batch as a function of all parameters.

    x is the flat parameter vector (n = number of parameters), m = 1: the training case.
    The checkpointing study runs it with features = width (every hidden layer one shape).
    """
    return _checked_loss("mlp_loss", features, outputs, depth, width, activation, batch, seed,
                         per_example=False)


def mlp_losses(features=4, outputs=2, depth=2, width=8, activation="tanh", batch=4,
               seed=0) -> Problem:
    """The per-example losses of mlp_loss: f_i = sum_j (MLP(X_i) - T_i)_j^2, i < batch.

    x is the flat parameter vector, m = batch; row i of the Jacobian is example i's gradient
    (the per-example gradients: ops pe_grad_loop, pe_grad_vmap, and any Jacobian mode)."""
    return _checked_loss("mlp_losses", features, outputs, depth, width, activation, batch, seed,
                         per_example=True)


def linear_relu(features=5, width=8, outputs=3, seed=0) -> Problem:
    """Seed notebook 001: L = ||W2 relu(W1 x) - t||^2 w.r.t. (W1, W2), weights ~ 0.1 N(0, 1)."""
    name = "linear_relu"
    features, outputs = positive_int("features", features, name), positive_int("outputs", outputs, name)
    width = positive_int("width", width, name)
    return _loss_problem(name, features, outputs, 1, width, "relu", 1, seed, bias=False, scale=0.1)


def split_parameters(problem, x=None) -> list[tuple[np.ndarray, ...]]:
    """The flat parameter vector of an mlp_loss-like problem as one NumPy tuple per layer."""
    named = unflatten(np, problem.point(x), problem.meta["layout"])
    return problem.layers.split(named)


def flatten_parameters(problem, per_layer) -> np.ndarray:
    """The inverse of split_parameters: per-layer arrays in the flat layout (W0, b0, W1, ...)."""
    return np.concatenate([np.asarray(a).ravel() for params in per_layer for a in params])
