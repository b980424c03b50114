"""One source of truth for the numbers the library checks against."""

# A result passes when max|out - ref| / max(1, max|ref|) stays under its dtype's tolerance.
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}
# Central differences (the `fd` framework, and the check of every reference Jacobian).
FD_TOLERANCE = 1e-5
# Engines tried, in order, for the float64 reference of a problem.
REFERENCE_ORDER = ("numpy", "python", "torch", "jax")
