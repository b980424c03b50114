"""Workloads of the AD benchmark literature (adcost.problems.workloads): GMM, log-sum-exp, LSTM,
bundle adjustment and a few-inputs/many-outputs ODE trajectory, each at the sizes of
grids.WORKLOADS, in every framework that runs it: the primal, vectorized forward and reverse
Jacobians, the gradient (m = 1) and finite differences (the `fd` framework); and bundle
adjustment by blocks (ba_blocks: all 3 x 15 blocks in 15 JVPs) up to ADBench's ba1 size.
Each case is validated against the float64 reference in setup (adcost.bench).
"""
from adcost import grids
from adcost.bench import frameworks_for, op_reason, prepare_or_skip, skip_if, speed_beside

FRAMEWORKS = frameworks_for("workloads")
GRID = grids.workloads()
TIMING = grids.timing()   # warm-up and sample budget of the grid


def _case(framework, mode, workload):
    """The validated case of `mode` on a workload label ("problem:k=v,..."), or Skip."""
    problem, sizes = grids.workload_sizes(workload)
    return prepare_or_skip(framework, mode, grow=tuple(sorted(sizes)), problem=problem,
                           call_budget_s=GRID["call_budget_s"],
                           linear_in=grids.WORKLOAD_LINEAR.get(problem), **sizes)


class _Timed:
    """asv settings of the workload timings (one warm case per process, as in crossover.Timed)."""
    param_names = ["framework", "mode", "workload"]
    timeout = 300
    rounds = 1
    repeat = (3, 30, TIMING["sample_budget_s"])
    sample_time = 0.01
    warmup_time = TIMING["warmup_s"]
    min_run_count = 2


class Workload(_Timed):
    """Seconds of one call of `mode` on a workload at one size (label "problem:index")."""
    params = (FRAMEWORKS, GRID["modes"], GRID["labels"])

    @staticmethod
    def skip_reason(framework, mode, workload):
        if (framework == "fd") != (mode == "fd"):
            return ("finite differences are the fd framework's only mode"
                    if framework == "fd" else f"{framework} has no mode 'fd'")
        problem = grids.workload_sizes(workload)[0]
        if (framework, mode, problem) in GRID["leave_out"]:
            return (f"{framework}'s {mode} of {workload.partition(':')[0]} is left out of the "
                    f"{grids.grid_name()} grid (it traces for tens of seconds; ADCOST_GRID=full "
                    "runs it)")
        smallest = next(label for label in GRID["labels"] if label.startswith(problem + ":"))
        if (framework, mode, problem) in GRID.get("smallest_only", ()) and workload != smallest:
            return (f"{framework}'s {mode} of {problem} runs at its smallest size only in the "
                    f"{grids.grid_name()} grid (it traces for tens of seconds a case)")
        return op_reason(framework, mode)

    def setup(self, framework, mode, workload):
        skip_if(self.skip_reason(framework, mode, workload))
        self.case = _case(framework, mode, workload)
        speed_beside(self, framework, mode, workload)

    def time_workload(self, framework, mode, workload):
        self.case()


class BABlocks(_Timed):
    """Seconds of bundle adjustment's primal and of all its Jacobian blocks by 15 JVPs
    (ba_blocks, jacfwd_seeded), up to ADBench's ba1 size, where the dense Jacobian cannot be held."""
    params = (FRAMEWORKS, ("primal", "jacfwd_seeded"), GRID["block_labels"])
    repeat = (3, 20, TIMING["sample_budget_s"])

    @staticmethod
    def skip_reason(framework, mode, workload):
        return op_reason(framework, mode)

    def setup(self, framework, mode, workload):
        skip_if(self.skip_reason(framework, mode, workload))
        self.case = _case(framework, mode, workload)
        speed_beside(self, framework, mode, workload)

    def time_blocks(self, framework, mode, workload):
        self.case()
