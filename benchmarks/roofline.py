"""The machine's own matmul speed per framework, measured in the same run: flop/s.

The denominator of "fraction of peak": a float32 (size x size) @ (size x size) product,
validated and warmed like every case, timed with calibrated repeats (median).
"""
from adcost import grids
from adcost.bench import FRAMEWORKS, matmul_case, matmul_flops_per_s

SIZES = grids.crossover()["matmul"]


class Matmul:
    """2 * size^3 / (median seconds of one matmul): flop/s."""
    params = (FRAMEWORKS, SIZES)
    param_names = ["framework", "size"]
    unit = "flop/s"
    timeout = grids.crossover()["timeout_s"]
    rounds = 1

    def setup(self, framework, size):
        self.case = matmul_case(framework, size)

    def track_flops_per_s(self, framework, size):
        return matmul_flops_per_s(self.case)
