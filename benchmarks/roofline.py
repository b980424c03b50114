"""The machine's own rates per framework, measured in the same run: the cost model's roofline.

Compute: a float32 (size x size) @ (size x size) product (flop/s).  Memory: a float32
(size x size) @ (size,) product, which reads the matrix once per call (bytes/s; 4096: 64 MiB,
far above the caches).  Each is validated and warmed like every case, timed with calibrated
repeats (median).
"""
from adcost import grids
from adcost.bench import frameworks_for, roofline_case, roofline_rate, speed_beside

FRAMEWORKS = frameworks_for("roofline")
GRID = grids.crossover()


class _Rate:
    """One roofline kernel per framework and size; the subclass names the kernel and its unit."""
    kernel = ""
    param_names = ["framework", "size"]
    timeout = GRID["timeout_s"]
    rounds = 1

    def setup(self, framework, size):
        self.case = roofline_case(framework, self.kernel, size)
        speed_beside(self, framework, size)


class Matmul(_Rate):
    """2 * size^3 / (median seconds of one matmul): flop/s."""
    kernel, unit = "matmul", "flop/s"
    params = (FRAMEWORKS, GRID["matmul"])

    def track_flops_per_s(self, framework, size):
        return roofline_rate(self.case)


class Bandwidth(_Rate):
    """4 * size^2 / (median seconds of one matrix-vector product): bytes/s read."""
    kernel, unit = "matvec", "bytes/s"
    params = (FRAMEWORKS, GRID["matvec"])

    def track_bytes_per_s(self, framework, size):
        return roofline_rate(self.case)
