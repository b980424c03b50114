"""Golden values: printed in the seed notebooks (003, 004) or derived by hand."""
import numpy as np

# Seed 003 (printed in float32, 7 significant digits).
POLY_X = [1.0, 0.5, 1.5, 2.0]
POLY_F = [9.61084, 7.59375, 8.542969]
POLY_J = [[57.66504, 76.88672, 57.66504, 9.61084],
          [15.1875, 45.5625, 25.3125, 11.390625],
          [42.714844, 119.60156, 39.867188, 25.628906]]
POLY_V = [0.2, 0.3, 0.4, 0.8]
POLY_JV = [65.353714, 35.943752, 80.87344]
POLY_U = [0.5, 0.8, 1.0]
POLY_JTU = [83.697365, 194.49492, 88.94971, 39.546825]
PRINTED_RTOL = 2e-6

# Seed 004, printed in float64.
XY_SIN_F = 6.909297426825682
XY_SIN_GRAD = [2.5838531634528574, 2.0]


def hand_jacobians():
    """Jacobians of the small examples at their points, from the chain rule by hand."""
    x = 0.3
    e = np.exp(3 * x + 1)
    return {
        "chain_sin": [[np.cos((2 * x) ** 2) * 8 * x]],
        "chain_tanh": [[(1 - np.tanh(e) ** 2) * e * 3]],
        "sin_product": [[2 * np.cos(2.0), np.cos(2.0)], [2.0, 1.0]],
        "poly_sin": [[2.0, 1.0, 1.0], [np.cos(1.0), 4.0, 0.0]],
        "xy_sin": [XY_SIN_GRAD],
        "polynomial": POLY_J,
    }


def affine_jacobian(z, k, m):
    """d(Wx + b)/d(x, vec W, b) = [W | I_m kron x^T | I_m]."""
    x, W = z[:k], z[k:k + m * k].reshape(m, k)
    return np.hstack([W, np.kron(np.eye(m), x[None, :]), np.eye(m)])
