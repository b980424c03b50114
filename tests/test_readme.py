"""Every code block of the README runs as printed: Python blocks are executed, shell blocks'
make targets must be the Makefile's and their adcost commands must exist (adcost COMMAND --help)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
# the page of the reference run, which quotes the whole runs beside it
RESULTS = (ROOT / "docs" / "results-2026-12-05.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 150
    assert any(lang == "python" for lang, _ in BLOCKS) and any(lang == "bash" for lang, _ in BLOCKS)


@pytest.mark.needs("torch", "jax")
@pytest.mark.parametrize("code", [c for lang, c in BLOCKS if lang == "python"])
def test_python_blocks_run_as_printed(code):
    exec(compile(code, "README.md", "exec"), {})


@pytest.mark.slow
@pytest.mark.parametrize("code", [c for lang, c in BLOCKS if lang == "bash"])
def test_shell_blocks_name_commands_that_exist(code):
    for line in code.splitlines():
        command = line.split("#")[0].strip()
        if not command:
            continue
        words = [w for w in command.split() if "=" not in w or w.startswith("-")]
        if words[0] == "make":
            for target in words[1:]:
                assert re.search(rf"^{re.escape(target)}:", MAKEFILE, flags=re.M), command
            continue
        if words[0].endswith("adcost"):
            out = subprocess.run([sys.executable, "-m", "adcost", words[1], "--help"], cwd=ROOT,
                                 capture_output=True, text=True)
        else:
            continue
        assert out.returncode == 0, (command, out.stderr)


# -- the README's figures are the committed reference run's ------------------------------------
# "What the reference run shows" quotes numbers of results/reference; each is recomputed here
# from the committed files, formatted as the README prints it, and looked up in the README: a
# new reference run (make publish-reference) that changes one fails this test, naming it.

def _reference():
    import pandas as pd

    from adcost.analysis import load
    ref = ROOT / "results" / "reference"
    return ref, load.load(ref / "tidy.csv.gz"), pd.read_csv(ref / "figures" / "summary.csv")


def _quoted(text: str, page: str = README, name: str = "the README") -> None:
    flat = " ".join(page.split())
    assert text in flat, f"{name} should quote the committed runs as {text!r}"


def _on_results_page(text: str) -> None:
    _quoted(text, RESULTS, "docs/results-2026-12-05.md")


def pairs_met(report: dict) -> list:
    """The held-out pairs the issue's targets judge (jacfwd and jacrev of each framework) of a
    cost-model report, within those targets."""
    return [h for h in report["held_out"] if h["mode"] in ("jacfwd", "jacrev")
            and h["median_error"] <= 0.25 and h["p90_error"] <= 0.60]


def report_of(ref, name: str) -> dict:
    """The cost-model report of a committed run beside the reference."""
    import json
    return json.loads((ref / "machines" / name / "figures" / "cost_model.json").read_text())


def run_text(ref, name: str, minutes: int, decisions: bool = False) -> str:
    """How the README quotes a committed whole run: its crossovers, held-out pairs and (with
    `decisions`) its forward-or-reverse answers, recomputed from its report."""
    report = report_of(ref, name)
    counts, met, wrong = (report["crossover_counts"]["all"], pairs_met(report),
                          report["decisions"]["all"])
    text = (f"(`machines/{name}`, {minutes} min) places {counts['within']} of {counts['cells']}, "
            f"{counts['agrees']} of {counts['cells']} within the interval, {len(met)} of 10 pairs")
    return text + (f", names the cheaper mode wrongly at {wrong['wrong']} of {wrong['named']} points"
                   if decisions else "")


def moved_lines(a, b) -> tuple[int, int]:
    """(lines whose measured crossing moved beyond 1.5x, lines that cross in both) between two
    runs' side-by-side ratios."""
    from adcost.analysis import compare, costmodel
    table = compare.crossover_table(costmodel.side_by_side(a), costmodel.side_by_side(b))
    both = table[table["change"].isin(["same", "moved"])]
    return int((both["change"] == "moved").sum()), len(both)


def test_the_readme_quotes_the_reference_runs_crossover():
    from adcost.analysis import load, speedups
    ref, df, summary = _reference()
    ratio = summary.set_index("framework")["crossover_ratio"]
    textbook = ratio[["jax", "numpy", "tf"]]
    _quoted(f"n ≈ {textbook.min():.2f}–{textbook.max():.2f} · m")
    _quoted(f"fitted crossover is n ≈ {ratio['torch']:.2f} · m")
    nm = load.measured(df, "JacobianNM.time_jacobian")

    def ms(fw, op, n, m):
        (value,) = nm[(nm["framework"] == fw) & (nm["op"] == op) & (nm["n"] == n) & (nm["m"] == m)]["value"]
        return value * 1e3
    _quoted(f"JAX at n = 16, m = 1024: jacfwd {ms('jax', 'jacfwd', 16, 1024):.2f} ms, "
            f"jacrev {ms('jax', 'jacrev', 16, 1024):.2f} ms")
    _quoted(f"about {ms('torch', 'jacfwd', 1, 1):.1f} ms even at n = m = 1 (jacrev "
            f"{ms('torch', 'jacrev', 1, 1):.2f} ms)")
    s = speedups.speedup_table(df)
    top = s[s["n"] == s["m"]]["n"].max()          # the largest n = m the loops ran at
    s = s[(s["n"] == top) & (s["m"] == top) & s["op"].isin(["jacfwd", "jacrev"])]
    jax, torch = (sorted(s[s["framework"] == fw]["speedup"]) for fw in ("jax", "torch"))
    _quoted(f"at n = m = {top} the speed-up over the loop of single products is "
            f"{jax[0]:.0f}–{jax[-1]:.0f}× in JAX and {torch[0]:.0f}–{torch[-1]:.0f}× in torch.func")
    import json
    cells = json.loads((ref / "figures" / "cost_model.json").read_text())["crossovers"]
    strict = sum(c["ratio"] is not None and c["ratio"] <= 1.5 for c in cells)
    _quoted(f"within 1.5× of the measured one in {strict} of {len(cells)} cells of the reference run")
    _quoted(f"within the measured interval in {sum(c['agrees'] for c in cells)} of {len(cells)}")
    held = [c for c in cells if c["width_fitted"] is False]
    _quoted(f"{sum(c['ratio'] is not None and c['ratio'] <= 1.5 for c in held)} of the {len(held)} "
            "at widths held out of the fit")
    report = json.loads((ref / "figures" / "cost_model.json").read_text())
    measured = report["as_measured"]["crossover_counts"]["all"]["within"]
    _quoted(f"in {strict} of {len(cells)} cells of the reference run (at one machine speed; "
            f"{measured} as measured;")
    steep = report["crossover_counts"]["steep"]
    _quoted(f"in {steep['within']} of the {steep['cells']} lines steep enough for one run to place "
            "its own crossing within 1.5×")
    # the compute-bound target: the frameworks above 2x, and their own products at 64 rows
    bound = report["compute_bound"]
    assert {fw for fw, v in bound.items() if v > 2} == {"torch"}, bound
    at64 = next(r["products"] for r in report["compute_bound_rows"]["torch"] if r["directions"] == 64)
    _quoted(f"its compute-bound points run at {min(bound.values()):.2f}–{max(bound.values()):.2f}× "
            f"the matmul time (torch {bound['torch']:.2f}; at 64 rows its own row products take "
            f"{at64:.2f}× it")
    _quoted(f"TensorFlow {bound['tf']:.2f} since points whose call costs more than their FLOPs")
    for view in (report, report["as_measured"]):
        assert len(pairs_met(view)) == 10
    _quoted("the held-out errors (10 of 10 framework-and-mode pairs, at one speed and as measured)")
    # the two whole grids in one sweep on the AMD VM: every study's benchmarks in each results
    # file, their counts, and how far the measured crossing moved from one to the other
    from adcost.analysis import costmodel
    runs = {}
    for name, minutes in (("vm-amd-epyc-2026-12-04-sync", 62), ("vm-amd-epyc-2026-12-04-vmap", 53)):
        runs[name] = load.load(ref / "machines" / name / "asv")
        suites = set(runs[name]["suite"])
        assert {"crossover", "memory", "roofline", "second_order", "workloads"} <= suites, suites
        _on_results_page(run_text(ref, name, minutes))
    # the newest ran JAX's computations on the calling thread (every JAX row records it), the
    # one before with JAX's default (no row records the variable)
    def dispatch(name):
        jax = runs[name][runs[name]["framework"] == "jax"]["threads"].dropna()
        return {json.loads(t).get("JAX_CPU_ENABLE_ASYNC_DISPATCH") for t in jax}
    assert dispatch("vm-amd-epyc-2026-12-04-sync") == {"false"}
    assert dispatch("vm-amd-epyc-2026-12-04-vmap") == {None}
    # both time JAX's jacfwd_vmap in the width study, and model it
    for run in runs.values():
        assert "jacfwd_vmap" in set(run.loc[run["benchmark"] == costmodel.WIDTH_JACOBIAN, "op"])
    moved, both = moved_lines(runs["vm-amd-epyc-2026-12-04-vmap"], runs["vm-amd-epyc-2026-12-04-sync"])
    _on_results_page(f"moved beyond 1.5× in {moved} of the {both} lines that crossed in both")
    # the model's forward-or-reverse answer at every side-by-side point (costmodel.decisions)
    sync = json.loads((ref / "machines" / "vm-amd-epyc-2026-12-04-sync" / "figures" /
                       "cost_model.json").read_text())["decisions"]["all"]
    mine = json.loads((ref / "figures" / "cost_model.json").read_text())["decisions"]["all"]
    _on_results_page(f"at {sync['wrong']} of {sync['named']} side-by-side points of `-sync`, "
                     f"{mine['wrong']} of {mine['named']} of the reference run")
    _quoted(f"at {mine['wrong']} of {mine['named']} side-by-side points of the reference run")
    # the whole grid on the other Intel VM: its counts, its compute-bound range, and how far the
    # measured crossing moved from the AMD VM's -sync run
    name = "vm-intel-xeon-2026-12-04"
    bound = report_of(ref, name)["compute_bound"].values()
    _on_results_page(run_text(ref, name, 48, decisions=True) + ", and its compute-bound points run at "
            f"{min(bound):.2f}–{max(bound):.2f}× the matmul time")
    other = load.load(ref / "machines" / name / "asv")
    assert {"crossover", "memory", "roofline", "second_order", "workloads"} <= set(other["suite"])
    moved, both = moved_lines(runs["vm-amd-epyc-2026-12-04-sync"], other)
    _on_results_page(f"moved beyond 1.5× from the AMD VM's in {moved} of the {both} lines that cross on both")
    # the second whole run on that VM, the copies (roofline.Copy) timed in it, and how far the
    # measured crossing moved between the two runs
    name = "vm-intel-xeon-2026-12-04-copy"
    _on_results_page(run_text(ref, name, 50, decisions=True))
    second = load.load(ref / "machines" / name / "asv")
    assert "Copy" in set(second.loc[second["suite"] == "roofline", "benchmark"].str.split(".").str[1])
    moved, both = moved_lines(other, second)
    _on_results_page(f"moved beyond 1.5× in {moved} of the {both} lines that cross in both")
    # the third, the row products at steps of 2 in rows (8, 32 and 128 among them), and how far
    # the measured crossing moved from the second
    name = "vm-intel-xeon-2026-12-04-rows"
    bound = report_of(ref, name)["compute_bound"].values()
    _on_results_page(run_text(ref, name, 50, decisions=True) + ", and its compute-bound points run at "
            f"{min(bound):.2f}–{max(bound):.2f}× the matmul time")
    third = load.load(ref / "machines" / name / "asv")
    rows = third.loc[third["benchmark"] == "roofline.RowProducts.track_seconds", "rows"]
    assert {8, 32, 128} <= set(rows.dropna().astype(int))
    moved, both = moved_lines(second, third)
    _on_results_page(f"from the second run the measured crossing moved beyond 1.5× in {moved} of the {both} "
            "lines that cross in both")
    moved, both = moved_lines(third, df)
    _on_results_page(f"the measured crossing moved beyond 1.5× in {moved} of the {both} lines that cross in both")
    # the whole run after the reference, the first with TensorFlow's FLOPs, and how far the
    # measured crossing moved from the reference's
    name = "vm-intel-xeon-2026-12-05-flops"
    bound = report_of(ref, name)["compute_bound"].values()
    _on_results_page(run_text(ref, name, 48, decisions=True) + ", and its compute-bound points run at "
            f"{min(bound):.2f}–{max(bound):.2f}× the matmul time")
    fifth = load.load(ref / "machines" / name / "asv")
    flops = fifth[(fifth["benchmark"] == "crossover.Flops.track_flops") & (fifth["framework"] == "tf")]
    assert flops["value"].notna().sum() >= 20, flops
    moved, both = moved_lines(df, fifth)
    _on_results_page(f"from the reference the measured crossing moved beyond 1.5× in {moved} of the "
                     f"{both} lines that cross in both")

def test_the_readme_quotes_the_reference_runs_memory_second_order_and_workloads():
    import json

    from adcost.analysis import hvp, load, oracle, workloads
    ref, df, _ = _reference()
    targets = json.loads((ref / "checkpoint_summary_threads1.json").read_text())["targets"]
    sqrt = {targets[f"{fw}_sqrt_at_64"]["saved_ratio"] for fw in ("numpy", "tf", "torch")}
    assert len({round(r, 3) for r in sqrt}) == 1 and targets["torch_saved_equals_analytic"]["met"]
    _quoted(f"√L segments keep {sqrt.pop():.3f} of plain reverse mode's bytes at depth 64")
    times = hvp.with_n(load.measured(df, "HVP.time_hvp"))
    best = {fw: v["fastest"] for fw, v in hvp.winners(times, times.iloc[:0], ()).items()}
    (n,) = {b[2] for b in best.values()}
    _quoted(f"at n = {n:,}".replace(",", " ") + " the fastest is "
            + ", ".join(f"{best[fw][0].removeprefix('hvp_')} in {name} ({best[fw][1] * 1e3:.2f} ms)"
                        for fw, name in (("jax", "JAX"), ("tf", "TensorFlow"), ("torch", "torch"))))
    per = load.measured(df, "PerExample.time_per_example")
    wins = per.pivot_table(index=["framework", "width", "batch"], columns="op", values="value")
    wins = wins.dropna(subset=["pe_grad_vmap"])          # NumPy has no vmap
    vmap_first = wins["pe_grad_vmap"] < wins[["pe_grad_loop", "jacrev"]].min(axis=1)
    batches = vmap_first.index.get_level_values("batch")
    assert not vmap_first[batches < 256].all()
    late = vmap_first[(batches >= 256) & ~vmap_first]   # batch 256 on, where vmap(grad) is not first
    assert list(late.index) == [("torch", 64, 1024)], late
    loop, vmap = (wins.loc[("torch", 64, 1024), op] for op in ("pe_grad_loop", "pe_grad_vmap"))
    _quoted("`vmap(grad)` beat the loop and the batched Jacobian from batch 256 on, but for torch at "
            f"width 64, batch 1024 (the loop {vmap / loop:.2f}× faster)")
    table = oracle.oracle_table(df)
    hourglass = table[table["profile"] == "hourglass"]
    _quoted(f"the mixed bracketing measured {hourglass['measured_ratio'].max():.1f}× faster")
    best = workloads.best_per_family(load.measured(df, "Workload.time_workload"))

    def ratio(problem, dearer, cheaper):
        g = best[best["problem"] == problem]
        sizes = [s for s, h in g.groupby("size") if {dearer, cheaper} <= set(h["family"])]
        top = g[g["size"] == max(sizes)]
        fam = top.groupby("family")["value"].min()
        return fam[dearer] / fam[cheaper], max(sizes)
    gmm, gmm_n = ratio("gmm", "forward", "reverse")
    trajectory, trajectory_m = ratio("trajectory", "reverse", "forward")
    def three(x):   # three significant figures, as a whole number: 2533.6 -> 2530
        return f"{float(f'{x:.3g}'):.0f}"
    _quoted(f"reverse mode wins GMM by {three(gmm)}× (n = {gmm_n})")
    _quoted(f"forward mode the trajectory by {three(trajectory)}× (m = {trajectory_m})")
    blocks = load.measured(df, "BABlocks.time_blocks")
    ba1 = blocks[(blocks["framework"] == "jax") & (blocks["size"] == blocks["size"].max())
                 & (blocks["op"] == "jacfwd_seeded")]["value"]
    _quoted(f"ADBench's ba1 size take {ba1.iloc[0] * 1e3:.0f} ms in JAX by 15 JVPs")
