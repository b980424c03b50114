"""The machine's own rates per framework, measured in the same run: the cost model's roofline.

Compute: a float32 (size x size) @ (size x size) product (flop/s).  Memory: a float32
(size x size) @ (size,) product, which reads the matrix once per call (bytes/s; 4096: 64 MiB,
far above the caches).  Each is validated and warmed like every case, timed with calibrated
repeats (median).
"""
from adcost import grids
from adcost.bench import frameworks_for, roofline_case, roofline_rate

FRAMEWORKS = frameworks_for("roofline")
GRID = grids.crossover()


class Matmul:
    """2 * size^3 / (median seconds of one matmul): flop/s."""
    params = (FRAMEWORKS, GRID["matmul"])
    param_names = ["framework", "size"]
    unit = "flop/s"
    timeout = GRID["timeout_s"]
    rounds = 1

    def setup(self, framework, size):
        self.case = roofline_case(framework, "matmul", size)

    def track_flops_per_s(self, framework, size):
        return roofline_rate(self.case)


class Bandwidth:
    """4 * size^2 / (median seconds of one matrix-vector product): bytes/s read."""
    params = (FRAMEWORKS, GRID["matvec"])
    param_names = ["framework", "size"]
    unit = "bytes/s"
    timeout = GRID["timeout_s"]
    rounds = 1

    def setup(self, framework, size):
        self.case = roofline_case(framework, "matvec", size)

    def track_bytes_per_s(self, framework, size):
        return roofline_rate(self.case)
