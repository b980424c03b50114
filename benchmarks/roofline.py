"""The machine's own rates per framework, measured in the same run: the cost model's roofline.

Compute: a float32 (size x size) @ (size x size) product (flop/s).  Memory: a float32
(size x size) @ (size,) product, which reads the matrix once per call (bytes/s; 4096: 64 MiB,
far above the caches).  Copy: the same matrix scaled into a new one, read once and written once
(bytes/s of the matrix read; the rate of the cost model's passes that copy or transpose a
weight).  Rows: the seconds of k rows through a float32 (width x width) weight,
X @ W and X @ W^T, at the width study's widths (the cost model's product times: a few rows
do not run at the matmul's rate).  Each is validated and warmed like every case, timed with
calibrated repeats (median).
"""
from adcost import grids
from adcost.bench import (ORIENTS, frameworks_for, product_seconds, roofline_case, roofline_rate,
                          speed_beside)

FRAMEWORKS = frameworks_for("roofline")
GRID = grids.crossover()
# the width study's frameworks but torch_compile, which compiles each case for seconds (its
# cost model reads the FLOPs at its matmul rate)
PRODUCT_FRAMEWORKS = tuple(fw for fw in frameworks_for("width") if fw != "torch_compile")


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


class Copy(_Rate):
    """4 * size^2 / (median seconds of one A * x into a new matrix): bytes/s of the matrix
    read (as many again written)."""
    kernel, unit = "copy", "bytes/s"
    params = (FRAMEWORKS, GRID["matvec"])

    def track_bytes_per_s(self, framework, size):
        return roofline_rate(self.case)


class RowProducts:
    """Median seconds of one product of `rows` rows through a (size x size) float32 weight:
    X @ W (orient "N": a layer's forward) or X @ W^T ("T": reverse mode's transpose), one
    call with its framework's per-call cost."""
    param_names = ["framework", "orient", "rows", "size"]
    params = (PRODUCT_FRAMEWORKS, ORIENTS, GRID["product_rows"], GRID["widths"])
    unit = "seconds"
    timeout = GRID["timeout_s"]
    rounds = 1

    def setup(self, framework, orient, rows, size):
        self.case = roofline_case(framework, "product", size, rows=rows, orient=orient)
        speed_beside(self, framework, orient, rows, size)

    def track_seconds(self, framework, orient, rows, size):
        return product_seconds(self.case)
