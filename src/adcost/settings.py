"""One source of truth for the numbers the library checks against."""

# A result passes when max|out - ref| / max(1, max|ref|) stays under its dtype's tolerance.
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}
# Central differences (the `fd` framework, and the check of every reference Jacobian).
FD_TOLERANCE = 1e-5
# Up to this many inputs the reference Jacobian is checked against the full central-difference
# Jacobian (2n evaluations of f); beyond, along FD_DIRECTIONS seeded random directions (J v
# against one central difference each: a wrong Jacobian fails almost surely, at 2 evaluations
# a direction instead of 2n; measured: log-sum-exp at n = 100 000 spent 100 s per case on it).
FD_FULL_MAX_N = 256
FD_DIRECTIONS = 3
# Where a check disagrees at the usual step, it is repeated at these fractions of it: a kink of
# a piecewise-smooth f (relu, abs, max) within one step of the point spoils a central
# difference (mlp, relu, n=3, depth=3, width=6, seed=2904: error 3.6e-3 at the step, 1e-10
# at 1/16 of it), a wrong derivative disagrees at every step.
FD_KINK_STEPS = (1 / 16, 1 / 256)
# Engines tried, in order, for the float64 reference of a problem.
REFERENCE_ORDER = ("numpy", "python", "torch", "jax")
