"""The `adcost` command: check, jacobian, profile, smoke, list, advise, compare, sweep, releases, tidy, plots, site."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from . import __version__, check as checking, grids, threads
from .argv import Parser, compare_arguments, nonnegative, positive, seconds, size_pair
from .envvars import available_memory, check as check_environment
from .frameworks.base import DTYPES, Unsupported, error_line, framework_class, missing_reason, names
from .validate import ValidationError
from .problems import PROBLEMS, estimate_bytes, make_problem, size_names


def parser() -> Parser:
    top = Parser(prog="adcost", description="What derivatives cost, measured.")
    top.add_argument("--version", action="version", version=f"adcost {__version__}")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser,
                             metavar="COMMAND")
    problems, frameworks = sorted(PROBLEMS), list(names())

    c = sub.add_parser("check", help="validate every problem x framework x operation")
    c.add_argument("--problem", action="append", choices=problems, metavar="PROBLEM",
                   help=f"only these problems (repeatable): {', '.join(problems)}")
    c.add_argument("--framework", action="append", choices=frameworks, metavar="FRAMEWORK",
                   help=f"only these frameworks (repeatable): {', '.join(frameworks)}")
    c.add_argument("--dtype", action="append", choices=DTYPES,
                   help=f"only these dtypes (repeatable): {', '.join(DTYPES)}")
    c.add_argument("--json", action="store_true", help="rows as JSON instead of a table")

    j = sub.add_parser("jacobian", help="print one Jacobian")
    j.add_argument("--problem", choices=problems, metavar="PROBLEM",
                   help=f"one of {', '.join(problems)}")
    j.add_argument("--function", metavar="MODULE:FUNCTION",
                   help="instead of --problem: your fn(xp, x) (or fn(xp, x, data) with --data), "
                        "at the point --x0")
    j.add_argument("--x0", help="the point of --function: a .npy file of n numbers (any shape: "
                                "the function receives x in it)")
    j.add_argument("--data", help="the data of --function: an .npz file (0-d arrays become scalars)")
    j.add_argument("--framework", required=True, choices=frameworks, metavar="FRAMEWORK",
                   help=f"one of {', '.join(frameworks)}")
    j.add_argument("--mode", default="jacrev",
                   help="a Jacobian mode of the framework (default jacrev; `adcost list` shows them)")
    for name, text in (("n", "inputs"), ("m", "outputs"), ("depth", "hidden layers"),
                       ("width", "units per hidden layer"), ("batch", "inputs stacked")):
        j.add_argument(f"--{name}", type=positive, help=f"{text} (an integer >= 1)")
    j.add_argument("--seed", type=nonnegative, help="seed of the problem's parameters (>= 0)")
    j.add_argument("--size", type=size_pair, action="append", default=[],
                   help="any other size of the problem, KEY=VALUE (e.g. features=4)")
    j.add_argument("--dtype", default="float64", choices=DTYPES, help=f"one of {', '.join(DTYPES)}")
    j.add_argument("--json", action="store_true", help="the Jacobian and its sizes as JSON")

    s = sub.add_parser("smoke", help="a small timing of every installed framework")
    s.add_argument("--out", help="JSON file for the results (default results/smoke.json)")
    s.add_argument("--grid", choices=grids.GRID_NAMES, default=None,
                   help="time only the frameworks this sweep grid runs (make bench: quick); the "
                        "others are listed as skipped, with the reason")

    sub.add_parser("list", help="problems, frameworks and their modes")

    a = sub.add_parser("advise", help="which Jacobian mode to use for f: R^n -> R^m, from measured results")
    a.add_argument("--n", type=positive, help="inputs of f")
    a.add_argument("--m", type=positive, help="outputs of f")
    a.add_argument("--problem", choices=problems, metavar="PROBLEM",
                   help="instead of --n/--m: a registered problem (its n and m; modes that cannot "
                        "run it are left out); at sizes the run's workload study measured, "
                        "its measured times")
    a.add_argument("--size", type=size_pair, action="append", default=[],
                   help="a size of --problem, KEY=VALUE (repeatable)")
    a.add_argument("--depth", type=positive, help="layers (the cost model counts them; other modes "
                   "scale by the measured depth sweep)")
    a.add_argument("--width", type=positive, help="hidden width for the cost model's predictions "
                   "(default: the crossover grid's width, 64)")
    a.add_argument("--json", action="store_true", help="print the predictions as a JSON list, best "
                   "first: framework, mode, predicted_s, low_s, high_s, regime, extrapolated, "
                   "over_best, tied_with_best")
    a.add_argument("--framework", choices=frameworks, metavar="FRAMEWORK",
                   help=f"only this framework's modes: {', '.join(frameworks)}")
    a.add_argument("--results", help="results folder, tidy file or asv results folder (default ./results)")

    pr = sub.add_parser("profile", help="measure every mode of every framework on your function",
                        description="Prepare, validate and time every Jacobian mode (and the gradient "
                        "when m = 1) of every installed framework on one function, within a time "
                        "budget; print them ranked, fastest first (--order 2: its Hessian-vector "
                        "products and Hessians).")
    pr.add_argument("target", nargs="?", metavar="MODULE:FUNCTION",
                    help="fn(xp, x) -> (m,) (or fn(xp, x, data) with --data): a module importable "
                         "from here, or a .py file's path (mine.py:f)")
    pr.add_argument("--problem", choices=problems, metavar="PROBLEM",
                    help=f"a registered problem instead: {', '.join(problems)}")
    pr.add_argument("--size", type=size_pair, action="append", default=[],
                    help="a size of --problem, KEY=VALUE (repeatable; `adcost list` names them)")
    pr.add_argument("--x0", action="append",
                    help="the point: a .npy file of n numbers (with MODULE:FUNCTION; any shape: "
                         "the function receives x in it); given two or more times, points of "
                         "different sizes: each is profiled (an even share of what is left of "
                         "the budget) and the "
                         "size where forward mode stops being the faster is placed")
    pr.add_argument("--data", help="an .npz file of the function's data (arrays; 0-d ones become scalars)")
    pr.add_argument("--m", type=positive, help="outputs of the function (checked against one call)")
    pr.add_argument("--framework", action="append", choices=frameworks, metavar="FRAMEWORK",
                    help=f"only these frameworks (repeatable): {', '.join(frameworks)}")
    pr.add_argument("--budget", type=seconds, default=60.0,
                    help="seconds for the whole profile (default 60); a mode that outruns its "
                         "share is stopped and reported")
    pr.add_argument("--dtype", default="float64", choices=DTYPES, help=f"one of {', '.join(DTYPES)}")
    pr.add_argument("--order", type=int, default=1, choices=(1, 2),
                    help="1 (default): the Jacobian's modes; 2, for a scalar function (m = 1): "
                         "the Hessian-vector products by every composition and the Hessians by "
                         "every mode, each ranked on its own")
    from .profiling import MEMORY_CALLS, MEMORY_SHARE
    pr.add_argument("--memory", action="store_true",
                    help=f"also each timed mode's peak memory: the median of {MEMORY_CALLS} "
                         "calls' peak RSS above the RSS before the call, in a process per "
                         "framework started as the peak-RSS probes are, with one thread (the "
                         f"mode prepared again there); takes {MEMORY_SHARE * 100:.0f} %% of the "
                         "budget")
    pr.add_argument("--plot", metavar="FILE.png",
                    help="also draw the profile (.png, .svg or .pdf): each mode's time, and its "
                         "memory with --memory")
    pr.add_argument("--json", action="store_true", help="the ranked rows as a JSON list")
    pr.add_argument("--out", metavar="FILE.json",
                    help="also write the rows with the environment they were measured in "
                         "(versions, threads, CPU, date, commit), each row as it is measured")

    for command in (c, j, s, pr):
        command.add_argument("--device", help="cpu, cuda, gpu or cuda:N (default $ADCOST_DEVICE, else "
                                              "cpu); a framework without it here is skipped with the reason")
    compare_arguments(sub.add_parser("compare", help="what got slower or bigger between two result sets"))
    sub.add_parser("sweep", add_help=False,
                   help="the asv sweep (make bench runs it): --grid, --shard I/N, --device, --resume; "
                        "--help for its options").add_argument(
        "rest", nargs=argparse.REMAINDER, help="its options: see adcost sweep --help")
    sub.add_parser("releases", add_help=False,
                   help="a framework's releases side by side in asv's virtualenvs "
                        "(adcost releases jax 0.9.2 0.10.2; --help for its options)"
                   ).add_argument("rest", nargs=argparse.REMAINDER,
                                  help="FRAMEWORK VERSION VERSION ... [options]: see adcost releases --help")

    for name, text in (("tidy", "the tidy table (results/tidy.csv.gz) from the asv results"),
                       ("plots", "every figure, the summary table and the tidy table"),
                       ("site", "the self-contained results page (results/site/index.html)")):
        parser = sub.add_parser(name, help=text)
        parser.add_argument(
            "--results", help="results folder holding asv/ and figures/ (default ./results)")
        if name == "site":
            # a committed run's page, written where you say (a committed run is read-only)
            parser.add_argument("--out", help="folder for index.html (default <results>/site; "
                                "e.g. adcost site --results results/reference/machines/NAME "
                                "--out results/site-NAME)")
    return top


def cmd_check(args) -> int:
    rows = checking.run_check(args.problem, args.framework, tuple(args.dtype or DTYPES))
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
    else:
        print(f"{'problem':<12} {'framework':<13} {'op':<29} {'dtype':<8} {'status':<8} {'error':>8}  note")
        for r in rows:
            err = "" if r.error is None else f"{r.error:.1e}"
            print(f"{r.problem:<12} {r.framework:<13} {r.op:<29} {r.dtype:<8} {r.status:<8} {err:>8}  {r.note}")
    counts = {s: sum(r.status == s for r in rows) for s in ("ok", "skipped", "FAIL")}
    print(f"check: {counts['ok']} ok, {counts['skipped']} skipped, {counts['FAIL']} failed",
          file=sys.stderr if args.json else sys.stdout)
    return 1 if counts["FAIL"] else 0


def _user_function(spec: str, x0_path: str | None, data_path: str | None, m=None):
    """The Problem of a MODULE:FUNCTION given on the command line with its --x0 and --data."""
    from .profiling import function_problem, load_function
    if not x0_path:
        raise ValueError(f"{spec}: --x0 FILE.npy is needed with a function")
    return function_problem(load_function(spec), _load_array(x0_path, "--x0"),
                            _load_data(data_path), m, name=spec)


def _load_data(path: str | None) -> dict | None:
    """An .npz file as a problem's data: 0-d arrays become Python scalars."""
    if not path:
        return None
    with _load_array(path, "--data") as npz:
        return {k: (npz[k].item() if npz[k].ndim == 0 else npz[k]) for k in npz.files}


def cmd_jacobian(args) -> int:
    sizes = {k: getattr(args, k) for k in ("n", "m", "depth", "width", "batch", "seed")
             if getattr(args, k) is not None}
    sizes.update(dict(args.size))
    if (args.problem is None) == (args.function is None):
        raise ValueError("jacobian: give --problem NAME or --function MODULE:FUNCTION (one of them)")
    if args.function is not None:
        if sizes:
            raise ValueError("jacobian: sizes go with --problem; --function takes its n from --x0")
        return _print_jacobian(args, _user_function(args.function, args.x0, args.data))
    if args.x0 or args.data:
        raise ValueError("jacobian: --x0 and --data go with --function")
    return _print_jacobian(args, checked_problem(args.problem, sizes, op=args.mode, dtype=args.dtype))


def checked_problem(name: str, sizes: dict, op: str | None = None, dtype: str = "float64"):
    """make_problem(name, **sizes) after checking the size names and that it fits in memory,
    and, given the operation `op`, that one call of it does too (the MLP: the sweep's estimate,
    adcost.bench, checked before it is built; any other problem: at least its Jacobian and the
    basis the mode pushes, profiling.memory_reason)."""
    allowed = size_names(name)
    unknown = sorted(set(sizes) - set(allowed))
    if unknown:
        raise ValueError(f"{name} takes no size {', '.join(unknown)} "
                         f"(it takes: {', '.join(allowed) or 'none'})")
    given = " ".join(f"--{k} {v}" for k, v in sizes.items() if k in ("n", "m", "depth", "width", "batch"))
    need, have = estimate_bytes(name, sizes), available_memory()
    if need is not None and need > have:
        raise ValueError(f"{given or name}: {name} needs about {need / 2**30:.3g} GiB, "
                         f"more than the {have / 2**30:.3g} GiB this machine has available")
    # the call's own bytes come on top of the problem's: the framework holds its own copy of the
    # parameters (converted to its arrays) beside the NumPy ones
    if op is not None and name == "mlp":      # before it is built: its weights alone may be GiBs
        call = _mlp_call_bytes(op, sizes, dtype)
        call = None if call is None else call + (need or 0)
        if call is not None and call > have:
            raise ValueError(f"{given or name}: {op} on {name} needs about {call / 2**30:.3g} GiB, "
                             f"more than the {have / 2**30:.3g} GiB this machine has available")
    problem = make_problem(name, **sizes)
    if op is not None and name != "mlp":      # what the call must hold at the least
        from .profiling import memory_reason
        reason = memory_reason(problem, op, dtype)
        if reason:
            raise ValueError(f"{given or name}: {op} on {name}: {reason}")
    return problem


def _mlp_call_bytes(op: str, sizes: dict, dtype: str) -> int | None:
    """adcost.bench.estimate_bytes of one call of `op` on mlp(**sizes), its defaults filled in."""
    from .bench import estimate_bytes as call_bytes
    from .problems import with_defaults
    s = with_defaults("mlp", sizes)
    try:
        return call_bytes(op, int(s["n"]), int(s["m"]), int(s["depth"]), int(s["width"]),
                          np.dtype(dtype).itemsize)
    except (KeyError, TypeError, ValueError):
        return None


def _print_jacobian(args, problem) -> int:
    from . import jacobian
    reason = missing_reason(args.framework)
    if reason:
        raise ValueError(reason)
    modes = framework_class(args.framework).modes
    if args.mode not in modes:
        raise ValueError(f"{args.framework} has no mode {args.mode!r}; choose from {', '.join(modes)}")
    try:
        J = jacobian(problem, args.framework, args.mode, dtype=args.dtype)
    except (Unsupported, ValidationError):
        raise
    except Exception as exc:   # one line, said as the framework's or the mode's
        from .cases import cannot_run
        cannot = cannot_run(problem, args.framework, args.dtype)
        raise ValueError(f"{args.framework} cannot run {problem.name}: {cannot}" if cannot else
                         f"{args.framework} {args.mode} failed on {problem.name}: "
                         f"{error_line(exc, args.framework)}") from None
    if args.json:
        print(json.dumps({"problem": problem.name, **{k: v for k, v in problem.sizes.items()},
                          "framework": args.framework, "mode": args.mode, "dtype": args.dtype,
                          "jacobian": J.tolist()}, default=str))
    else:
        print(f"# {problem.name} n={problem.n} m={problem.m} {args.framework}/{args.mode} {args.dtype}")
        with np.printoptions(precision=6, suppress=True, linewidth=120):
            print(J)
    return 0


def cmd_smoke(args) -> int:
    from .smoke import run_smoke
    return run_smoke(args.out, grid=args.grid)


def cmd_list(args) -> int:
    print("problems:")
    for name in sorted(PROBLEMS):
        print(f"  {name:<12} sizes: {', '.join(size_names(name)) or '-'}")
    print("frameworks:")
    for name in names():
        reason = missing_reason(name)
        if reason:
            print(f"  {name:<8} not available: {reason}")
        else:
            cls = framework_class(name)
            print(f"  {name:<8} modes: {', '.join(cls.modes)}")
            if cls.second_order:
                print(f"  {'':<8} second order: {', '.join(cls.second_order)}")
            if cls.per_example:
                print(f"  {'':<8} per-example: {', '.join(cls.per_example)}")
            print(f"  {'':<8} FLOPs: {cls.record.flops or 'not counted'}")
    return 0


def cmd_advise(args) -> int:
    from .analysis.advise import run
    problem = None
    if args.problem is not None:
        if args.n is not None or args.m is not None:
            raise ValueError("advise: give --n and --m, or --problem (its n and m), not both")
        problem = checked_problem(args.problem, dict(args.size))
    elif args.n is None or args.m is None:
        raise ValueError("advise: --n and --m are needed (or --problem NAME)")
    elif args.size:
        raise ValueError("advise: --size goes with --problem")
    return run(args.n, args.m, args.depth, args.framework, args.results, problem, args.width,
               args.json, dict(args.size) if problem is not None else None)


def _load_array(path: str, what: str):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{what} {path!r}: {exc}") from None


def cmd_profile(args) -> int:
    from . import paths, profiling as prof
    if (args.target is None) == (args.problem is None):
        raise ValueError("profile: give MODULE:FUNCTION or --problem NAME (one of them)")
    if args.problem is not None:
        if args.x0 or args.data or args.m:
            raise ValueError("profile: --x0, --data and --m go with MODULE:FUNCTION, not --problem")
        target, x0, data = checked_problem(args.problem, dict(args.size)), None, None
        points = [None]
    else:
        if args.size:
            raise ValueError("profile: --size goes with --problem")
        if not args.x0:
            raise ValueError("profile: --x0 FILE.npy is needed with MODULE:FUNCTION")
        if len(args.x0) > 1 and (args.order != 1 or args.m):
            raise ValueError("profile: several --x0 (sizes) go with the first order, without --m")
        points = [_load_array(path, "--x0") for path in args.x0]
        x0, data, target = points[0], _load_data(args.data), args.target
    out = None
    if args.out:     # checked before anything is measured: bad input writes nothing
        out = paths.writable(Path(args.out))
        if out.is_dir():
            raise ValueError(f"profile: --out {args.out} is a folder; name a file (profile.json)")
    plot = None
    if args.plot:           # checked before anything is measured, as --out
        from .analysis import profile_figure
        plot = profile_figure.check_target(paths.writable(Path(args.plot)))
    quiet = args.json or not sys.stderr.isatty()
    measured: list[dict] = []
    settings = {"order": args.order, "dtype": args.dtype, "budget_s": args.budget,
                "frameworks": args.framework, "memory": args.memory, "points": len(points)}

    said_status: dict[int, str] = {}

    def progress(row):
        # a row seen before: its memory now read, or timed late (the memory pass left time)
        again = any(r is row for r in measured)
        if not again:
            measured.append(row)
        if out is not None:     # each row as it comes: an interrupted profile keeps them
            prof.write_record(out, measured, settings, complete=False)
        if not quiet:
            memory = again and said_status.get(id(row)) == row["status"]
            said = f"memory {prof.fmt_peak(row.get('peak_bytes'))}" if memory else row["status"]
            print(f"  {row['framework']} {row['mode']}: {said}", file=sys.stderr)
        said_status[id(row)] = row["status"]

    from .sweep import apply_timing_defaults
    apply_timing_defaults()                 # timed as the sweep times, unless set
    if len(points) > 1:
        df = prof.profile_sizes(target, points, data=data, frameworks=args.framework,
                                budget_s=args.budget, dtype=args.dtype, progress=progress,
                                memory=args.memory)
    else:
        df = prof.profile(target, x0=x0, data=data, frameworks=args.framework,
                          budget_s=args.budget, m=args.m, dtype=args.dtype, progress=progress,
                          order=args.order, memory=args.memory)
    if out is not None:
        prof.write_record(out, df, settings, complete=True)
        print(f"profile: wrote {out}", file=sys.stderr)
    if plot is not None:
        try:
            print(f"profile: drew {profile_figure.write(df, plot)}", file=sys.stderr)
        except profile_figure.MissingData as exc:     # measured, but nothing a figure can show
            print(f"profile: no figure: {exc}", file=sys.stderr)
    if args.json:
        print(df.to_json(orient="records"))
    elif len(points) > 1:
        for point, part in df.groupby("point"):
            part.attrs = {**df.attrs, "problem": df.attrs["sizes"][point]}
            print(f"n = {part.attrs['problem']['n']}, m = {part.attrs['problem']['m']}:\n"
                  f"{prof.table(part)}\n")
        print("\n".join(prof.sizes_summary(df)))
    else:
        print(prof.table(df))
        print("\n".join(prof.summary(df)))
    return 0 if (df["status"] == "ok").any() else 1     # nothing measured: a script can tell


def cmd_compare(args) -> int:
    from .analysis.compare import run
    return run(args)


def cmd_passing(module: str):
    """A command that hands its arguments to another module's main (sweep, releases)."""
    def run(args) -> int:
        import importlib
        try:
            return importlib.import_module(f"adcost.{module}").main(args.rest)
        except SystemExit as stop:   # its parser's one-line error (exit 2) or --help (0)
            if isinstance(stop.code, int):
                return stop.code
            if stop.code is not None:  # SystemExit("message"): Python prints it only uncaught
                print(stop.code, file=sys.stderr)
            return 2 if stop.code is not None else 0
    return run


def cmd_analysis(module: str):
    """A command that runs one analysis module's main with --results (never into the
    committed reference run unless it is being published)."""
    def run(args) -> int:
        import importlib

        from . import paths
        out = getattr(args, "out", None)
        try:
            paths.writable(Path(out) if out else paths.results(args.results))
        except ValueError as exc:
            if module != "site":
                raise
            raise ValueError(f"{exc}; or write its page elsewhere: --out DIR") from None
        main = importlib.import_module(f"adcost.analysis.{module}").main
        return main((["--results", args.results] if args.results else [])
                    + (["--out", out] if out else []))
    return run


COMMANDS = {"check": cmd_check, "jacobian": cmd_jacobian, "smoke": cmd_smoke, "list": cmd_list,
            "advise": cmd_advise, "compare": cmd_compare, "releases": cmd_passing("releases"), "sweep": cmd_passing("sweep"), "profile": cmd_profile, "tidy": cmd_analysis("load"),
            "plots": cmd_analysis("plots"), "site": cmd_analysis("site")}


PASSING = ("sweep", "releases")   # their own parsers take every argument after the name


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PASSING:   # argparse's REMAINDER would refuse a leading --option
        return cmd_passing(argv[0])(argparse.Namespace(rest=argv[1:]))
    args = parser().parse_args(argv)
    try:
        check_environment()   # every ADCOST_* variable, before any work
        threads.apply()       # $ADCOST_THREADS, before any framework is imported
        if getattr(args, "device", None):   # every case of the command runs there
            from .frameworks.base import DEVICE_VARIABLE, check_device
            check_device(args.device)
            os.environ[DEVICE_VARIABLE] = args.device
        return COMMANDS[args.command](args)
    except (ValueError, Unsupported) as exc:
        print(f"adcost: error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:   # a wrong answer refused: not the input's fault
        print(f"adcost: refused by the validation gate: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except BrokenPipeError:   # `adcost list | head -1`: the reader left; end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
