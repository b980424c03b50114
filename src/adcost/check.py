"""`adcost check`: every problem x installed framework x operation x dtype through the gate."""
from __future__ import annotations

from dataclasses import dataclass

from .cases import prepare
from .frameworks.base import DTYPES, Unsupported, framework_class, missing_reason, names
from .problems import PROBLEMS, make_problem
from .validate import ValidationError


@dataclass
class Row:
    problem: str
    framework: str
    op: str
    dtype: str
    status: str           # ok | skipped | FAIL
    error: float | None = None
    note: str = ""


def run_check(problems=None, frameworks=None, dtypes=DTYPES, progress=None) -> list[Row]:
    """Validate every combination; a missing framework or unsupported op becomes a skipped row."""
    rows: list[Row] = []
    for fw_name in frameworks or list(names()):
        reason = missing_reason(fw_name)
        if reason is not None:
            rows.append(Row("*", fw_name, "*", "*", "skipped", note=reason))
            continue
        cls = framework_class(fw_name)
        scope = cls.record.check_problems
        for name in problems or list(PROBLEMS):
            if problems is None and scope is not None and name not in scope:
                rows.append(Row(name, fw_name, "*", "*", "skipped",
                                note=f"not in {fw_name}'s default check ({', '.join(scope)}: each "
                                     f"case compiles for seconds); adcost check --framework "
                                     f"{fw_name} --problem {name} runs it"))
                continue
            problem = make_problem(name)
            for dtype in dtypes:
                if dtype not in cls.dtypes:
                    rows.append(Row(name, fw_name, "*", dtype, "skipped",
                                    note=f"{fw_name} runs {', '.join(cls.dtypes)} only"))
                    continue
                try:
                    framework = cls(dtype=dtype)   # on $ADCOST_DEVICE (--device), else the CPU
                except Unsupported as exc:         # NoDevice: no such device here
                    rows.append(Row(name, fw_name, "*", dtype, "skipped", note=str(exc)))
                    continue
                for op, schedule in operations(cls):
                    rows.append(_one(problem, framework, op, schedule))
                    if progress:
                        progress(rows[-1])
    return rows


def operations(cls) -> list[tuple[str, str | None]]:
    """Every (operation, checkpoint schedule) an adapter offers: each schedule of ckpt_grad."""
    return [(op, schedule) for op in cls.ops()
            for schedule in (cls.record.schedules if op == "ckpt_grad" else (None,))]


def _one(problem, framework, op, schedule=None) -> Row:
    label = op if schedule is None else f"{op}:{schedule}"
    row = Row(problem.name, framework.name, label, framework.dtype, "ok")
    reason = framework.supports(problem, op, schedule)
    if reason is not None:
        row.status, row.note = "skipped", reason
        return row
    try:
        case = prepare(problem, framework, op, schedule=schedule, warmup=0)
        row.error, row.note = case.error, f"ref {case.reference}"
        if case.dot_error is not None:
            row.note += f", dot {case.dot_error:.1e}"
    except Unsupported as exc:
        row.status, row.note = "skipped", str(exc)
    except ValidationError as exc:
        row.status, row.note = "FAIL", str(exc)
    except Exception as exc:  # a crash in one case must not hide the others
        row.status, row.note = "FAIL", f"{type(exc).__name__}: {exc}"
    return row
