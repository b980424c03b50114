"""Activation checkpointing of a layered problem: the schedules, what each must keep, the study's cases.

A checkpointed gradient is an operation like any other, `ckpt_grad` with a `schedule`, prepared,
validated (against the plain float64 gradient) and timed by adcost.cases; each adapter runs it
with its own native API (torch.utils.checkpoint, jax.checkpoint under lax.scan,
tf.recompute_grad, the NumPy engine's reverse sweep) on the problem's one layer loop.  The
schedules, the analytic bytes and the binomial recurrence are pure functions (schedules.py).

    case = study_case("torch", "sqrt", depth=64)            # mlp_loss, width 64, batch 512
    case(); framework.saved_bytes(case); analytic_bytes(case)

The study's two contrasts are not schedules: "jvp" (forward mode: one JVP of the loss along a
seeded parameter direction) and "forward" (the loss alone, no derivative: the cost a
checkpointed segment pays again in the backward).
"""
from __future__ import annotations

from ..cases import Case, prepare
from ..frameworks.base import Unsupported, missing_reason, no_saved_bytes, records
from .schedules import STRATEGIES, Sizes, analytic, study_problem, tangent

PASSES = ("jvp", "forward")   # not schedules: forward mode, and the loss alone
CHECK_BATCH = 8   # a case built for a large batch is validated at this one (same code, depth)


def frameworks() -> tuple[str, ...]:
    """The frameworks with a checkpointed gradient, installed or not (less those
    $ADCOST_FRAMEWORKS leaves out)."""
    from ..frameworks.base import only
    return only(name for name, rec in records().items() if rec.schedules)


def unsupported_reason(framework: str, strategy: str) -> str | None:
    """Why (framework, strategy) cannot run here, or None when it can (no framework import)."""
    from ..frameworks.base import device_reason
    reason = missing_reason(framework) or device_reason(framework)
    if reason:
        return reason
    schedules = records()[framework].schedules
    if strategy not in PASSES and strategy not in schedules:
        return f"{framework} has no {strategy!r} strategy (it has {', '.join(schedules) or 'none'})"
    return None


def study_case(framework: str, strategy: str, depth: int, *, width: int = 64, batch: int = 512,
               outputs: int = 16, slots: int = 4, dtype: str = "float32", seed: int = 0,
               **options) -> Case:
    """The study's prepared case: `strategy`'s checkpointed gradient, or a contrast (PASSES)."""
    problem = study_problem(depth, width, batch, outputs, seed)
    if strategy == "forward":
        return prepare(problem, framework, "primal", dtype=dtype, **options)
    if strategy == "jvp":
        return prepare(problem, framework, "jvp", v=tangent(problem), dtype=dtype, **options)
    return prepare(problem, framework, "ckpt_grad", schedule=strategy, slots=slots, dtype=dtype,
                   **options)


def study_case_at_scale(framework: str, strategy: str, depth: int, **sizes) -> Case:
    """A case at `sizes` (a large batch), validated at batch CHECK_BATCH and not yet run.

    Same code and depth as the validated one, without the float64 reference at full size
    (2.2 s of each peak-RSS probe at depth 128, batch 8192, measured); not run, so JAX
    compiles it without executing and a peak-memory window sees its first call.  `error`
    is the small case's."""
    checked = study_case(framework, strategy, depth, **{**sizes, "batch": CHECK_BATCH}, warmup=0)
    case = study_case(framework, strategy, depth, **sizes, validate_output=False, warmup=0,
                      first_call=False)
    case.error, case.reference = checked.error, checked.reference
    return case


def analytic_bytes(case: Case) -> dict:
    """What the case's schedule must keep (schedules.analytic) at its problem's sizes."""
    return analytic(case.options["schedule"], Sizes.of(case.problem, case.framework.dtype),
                    case.options["slots"])


def analytic_bytes_at(strategy: str, depth: int, *, width: int = 64, batch: int = 512,
                      outputs: int = 16, slots: int = 4, dtype: str = "float32",
                      seed: int = 0) -> dict:
    """analytic_bytes of the study's case, from its sizes alone (no case built)."""
    return analytic(strategy, Sizes.of(study_problem(depth, width, batch, outputs, seed), dtype),
                    slots)


def saved_bytes(case: Case) -> int:
    """Bytes the framework reports keeping for the backward pass; Unsupported with the reason."""
    if case.op != "ckpt_grad":
        raise Unsupported(f"{case.op!r} keeps nothing for a backward pass")
    return int(case.framework.saved_bytes(case))


def reports_saved_bytes(framework: str) -> str | None:
    """None when `framework` reports saved bytes, else why not (no framework import)."""
    return no_saved_bytes(records()[framework])


__all__ = ["CHECK_BATCH", "PASSES", "STRATEGIES", "analytic", "analytic_bytes", "analytic_bytes_at",
           "frameworks",
           "reports_saved_bytes", "saved_bytes", "study_case",
           "study_case_at_scale", "study_problem", "unsupported_reason"]
