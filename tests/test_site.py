"""The site: built from synthetic results, self-contained, rendered by headless Chromium.

Chromium (Debian: `apt-get update && apt-get install -y chromium`) loads the page from a local
http.server on 127.0.0.1; the test asserts no console message, no failed request, no load
error, every figure decoded (the page's inline check marks <html data-figures-loaded>), and
saves a screenshot.  Without chromium those tests skip with the reason.
"""
import functools
import http.server
import importlib.util
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from adcost.analysis import load, plots, site

pytestmark = pytest.mark.slow   # builds every figure; renders in headless Chromium

ROOT = Path(__file__).resolve().parents[1]

spec = importlib.util.spec_from_file_location("asv_fixture", ROOT / "tests" / "fixtures" / "asv_fixture.py")
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(apt-get update && apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results/ folder as `make bench` leaves it: asv/, tidy data, figures/, site/."""
    root = tmp_path_factory.mktemp("results")
    fx.write_results(root / "asv")
    df = load.load_asv(root / "asv")
    load.export(df, root)
    plots.build_all(df, root / "figures")
    site.build(root, df=df)
    return root


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    log = None

    def log_message(self, fmt, *args):
        self.log.append(fmt % args)


@pytest.fixture()
def server(results):
    log = []
    handler = functools.partial(type("H", (QuietHandler,), {"log": log}), directory=str(results))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", log
    httpd.shutdown()
    httpd.server_close()


def chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_page_is_self_contained(results):
    page = (results / "site" / "index.html").read_text()
    external = re.findall(r'(?:src|href)\s*=\s*"(?:https?:)?//[^"]*"', page)
    assert external == [], external
    assert page.count("<figure") == 6 and "data:image/svg+xml;base64," in page
    for link in ("../tidy.csv.gz", "../figures/summary.csv", "../figures/crossover_map.png"):
        assert f'href="{link}"' in page
        assert (results / "site" / link).resolve().exists()
    assert "Synthetic CPU" in page and "c_rev/c_fwd" in page and "asv publish" in page


def test_a_committed_runs_page_from_its_pngs_written_where_asked(results, tmp_path, monkeypatch,
                                                                  capsys):
    """A run under results/reference/machines has its PNGs, not its SVGs (git keeps the PNGs):
    its page inlines the PNGs, says which committed run it shows, and goes where --out says;
    without --out, one error line that names --out, and nothing written into the run."""
    from adcost import cli, paths
    reference = tmp_path / "results" / "reference"
    run = reference / "machines" / "vm-x"
    shutil.copytree(results, run, ignore=shutil.ignore_patterns("*.svg", "site"))
    (reference / paths.MARKER).write_text("the committed reference run\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ADCOST_PUBLISH_REFERENCE", raising=False)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    assert cli.main(["site", "--results", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out DIR" in err[0]
    assert cli.main(["site", "--results", str(run), "--out", str(tmp_path / "page")]) == 0
    page = (tmp_path / "page" / "index.html").read_text()
    assert page.count("<figure") == 6 and "data:image/png;base64," in page
    whole = (results / "site" / "index.html").read_text()     # the same run, from its SVGs
    assert "data:image/svg+xml" not in page
    assert page.count("Not built: its data") == whole.count("Not built: its data")
    assert "(a committed run beside the reference, vm-x)" in page
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before


def test_site_without_results(tmp_path):
    target = site.build(tmp_path)
    page = target.read_text()
    assert "no results yet" in page and "Not built" in page and "<figure" not in page


@needs_chromium
def test_site_renders_in_headless_chromium(results, server, tmp_path):
    url, log = server
    page = f"{url}/site/index.html"
    run = chromium(tmp_path, "--dump-dom", page)
    assert run.returncode == 0, run.stderr[-2000:]
    root = re.search(r"<html[^>]*>", run.stdout).group(0)
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', root))
    assert attrs.get("figures-expected") == "6", root
    assert attrs.get("figures-loaded") == "6", root
    assert attrs.get("errors") == "0", attrs.get("error-list")
    assert console_lines(run.stderr) == []
    assert log and all('" 200 ' in line or '" 304 ' in line for line in log), log

    shot = tmp_path / "site.png"
    run = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars", page)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


@needs_chromium
def test_the_check_catches_a_broken_page(results, server, tmp_path):
    """The same checks fail on a page with a console error and a missing figure."""
    url, log = server
    (results / "broken.html").write_text(
        "<html><head><script>" + site.CHECK_SCRIPT + "console.error('boom');</script></head>"
        "<body><figure><img src='missing.svg'></figure></body></html>")
    run = chromium(tmp_path, "--dump-dom", f"{url}/broken.html")
    root = re.search(r"<html[^>]*>", run.stdout).group(0)
    assert 'data-figures-loaded="0"' in root and 'data-errors="1"' in root
    assert any("boom" in line for line in console_lines(run.stderr))
    assert any('" 404 ' in line for line in log)


@needs_chromium
def test_the_explorer_works_offline_and_its_selector_changes_the_data(results, server, tmp_path):
    """explorer.html: no script or style from the network, every view drawn; with outside hosts
    unresolvable, no console error and no request but to the local server; its #selftest
    changes the crossover view's selector and sees the chart's data change."""
    page = (results / "site" / "explorer.html").read_text()
    assert re.findall(r'<(?:script|link)[^>]+(?:src|href)\s*=\s*"(?:https?:)?//', page) == []
    assert 'id="view-crossover"' in page and 'id="view-cost"' in page
    url, log = server
    run = chromium(tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                   "--virtual-time-budget=10000",   # the page's timers (table sort, search) run out
                   "--dump-dom", f"{url}/site/explorer.html#selftest")
    assert run.returncode == 0, run.stderr[-2000:]
    root = re.search(r"<html[^>]*>", run.stdout).group(0)
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', root))
    assert attrs.get("selftest") == "changed", root
    # DataTables: sort by value, search, and a view's "Drawn from" link shows its rows
    assert attrs.get("table") == "sorted,filtered,linked", root
    assert int(attrs.get("load-ms", 10 ** 6)) < 10_000 and attrs.get("ready-ms") not in (None, "never")
    assert attrs.get("errors") == "0", attrs.get("error-list")
    assert int(attrs.get("views", 0)) == 3   # crossover, cost, trade-off (one machine, no releases)
    assert 'id="view-table"' in page and "Not built: no release comparison" in page
    assert console_lines(run.stderr) == []
    assert log and all('" 200 ' in line or '" 304 ' in line for line in log), log


def test_the_page_counts_rows_set_aside_as_wrong_apart_from_skipped(results, tmp_path):
    """Rows load set aside ("invalid", with a note) are counted and explained, not lumped in
    with the skipped ones."""
    import shutil
    df = load.load_asv(results / "asv")
    shutil.copytree(results / "figures", tmp_path / "figures")
    skipped = int((df["status"] != "ok").sum())
    marked = df.assign(status=df["status"].astype(object), note=None)
    rows = marked.index[marked["status"] == "ok"][:3]
    marked.loc[rows, "status"], marked.loc[rows, "note"] = "invalid", "set aside: a test's reason"
    page = site.build(tmp_path, df=marked).read_text()
    assert f"{skipped} skipped, 3 set aside as wrong (set aside: a test&#x27;s reason)" in page
    assert ", 0 set aside" not in site.build(tmp_path / "plain", df=df).read_text()
