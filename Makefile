# Two commands for a new user:  `make bench` (the main job)  and  `make test`.
# Both create .venv and install the pinned environment (constraints.txt) by themselves.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= all,tf
# one stamp per extras set: changing EXTRAS installs again
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
# Extra pip options, e.g. PIP_EXTRA='--extra-index-url URL-of-the-PyTorch-CPU-wheels'
PIP_EXTRA ?=

.PHONY: install test test-fast bench smoke sweep resume releases checkpoint-report check clean plots site publish-reference

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --no-compile $(PIP_EXTRA) -c constraints.txt -e ".[$(EXTRAS)]"
	$(BIN)/python src/adcost/bytecode.py
	touch $(STAMP)

# Every test (3.2-5.8 minutes on 2 cores as the VM's speed moves, 1.5-2 more with the install), on TEST_WORKERS pytest-xdist
# workers (0: in one process); test-fast leaves out the slow ones (subprocesses, asv, Chromium,
# fresh-process probes, whole sites): about 1.5 minutes on the same workers.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow"

check: $(STAMP)
	$(BIN)/adcost check

# The sweep: asv from this venv (-E adcost:same), results under results/asv for HEAD's commit,
# one `asv run` per group of benchmarks (per study in the quick grid: src/adcost/sweep.py) so a
# stop loses one run at most;
# `make resume` goes on where a stopped sweep left off.  ASV_ARGS='--show-stderr' prints every
# skip's reason.  The site is built even when a benchmark failed; the exit status says so.
MACHINE ?=
ADCOST_GRID ?= quick
# One thread per case (figures repeat: src/adcost/threads.py), as many cases side by side as the
# machine has CPUs (the sweep's streams: src/adcost/sweep.py).  ADCOST_THREADS= (empty): each
# framework's own threads, one case at a time.
ADCOST_THREADS ?= 1
ASV_ARGS ?=
SHARD ?=
DEVICE ?=
SWEEP = ADCOST_THREADS=$(ADCOST_THREADS) $(BIN)/python -m adcost.sweep $(if $(MACHINE),--machine $(MACHINE)) $(if $(SHARD),--shard $(SHARD)) $(if $(DEVICE),--device $(DEVICE)) --grid $(ADCOST_GRID)
OPEN_SITE = @echo "site: open results/site/index.html, or serve it: $(BIN)/python -m http.server -d results 8000 -> http://127.0.0.1:8000/site/"

# The sweep validates every case it times (the gate, in each benchmark's setup); `make check`
# validates every (problem, framework, operation, dtype), timed or not (about 8 minutes).
bench: $(STAMP)  ## the quick sweep and the site; DEVICE=cuda runs every case there
	status=0; $(SWEEP) -- $(ASV_ARGS) || status=$$?; \
	  $(MAKE) --no-print-directory site && exit $$status
	$(OPEN_SITE)

# One validated timing per Jacobian mode of each framework the grid's sweep runs, at n = m = 32
# (results/smoke.json; about 45 s): a first look in a minute.  Not part of `make bench` since
# 2026-12-03: the sweep validates and times every case it runs.
smoke: $(STAMP)
	$(BIN)/adcost smoke --grid $(ADCOST_GRID) $(if $(DEVICE),--device $(DEVICE))

sweep: $(STAMP)  ## the full grid (fresh clones, two streams: 1 h 15 min on the Intel 2-vCPU VM at 9128e62, 53 and 62 min on the AMD one at 4e27ae0 and 4ec17f8, 48, 50, 50 and 48 min on an Intel one with a 480 MiB L3 at e7e6f08, 74a337a, c985867 and 92c4286)
	$(MAKE) --no-print-directory bench ADCOST_GRID=full

resume: $(STAMP)  ## finish a stopped sweep: the benchmarks not yet saved for HEAD
	status=0; $(SWEEP) --resume -- $(ASV_ARGS) || status=$$?; \
	  $(MAKE) --no-print-directory site && exit $$status
	$(OPEN_SITE)

# Framework releases side by side, each in asv's own virtualenv (results/releases/):
#   make releases RELEASES="jax 0.9.2 0.10.2"   (quick grid, that framework's cases only)
RELEASES ?= jax 0.9.2 0.10.2
releases: $(STAMP)
	$(BIN)/adcost releases $(RELEASES) $(if $(MACHINE),--machine $(MACHINE)) --grid $(ADCOST_GRID)
	$(MAKE) --no-print-directory site

# The checkpointing study's summary with each issue target (results/checkpoint_summary.json).
checkpoint-report: $(STAMP)
	$(BIN)/python -m adcost.checkpoint.report --grid $(ADCOST_GRID)

# Figures and tidy data from results/asv (a figure whose data is missing is skipped, with a message).
plots: $(STAMP)
	$(BIN)/adcost plots

# results/site/index.html: self-contained (figures inline), beside results/asv/html when published.
site: plots
	@if [ -f results/asv/benchmarks.json ]; then $(BIN)/asv publish >/dev/null 2>&1 \
	  && echo "site: asv dashboard in results/html" || echo "site: asv publish failed; the site links no dashboard"; fi
	$(BIN)/adcost site

# Your run (results/asv) becomes the committed reference run (results/reference): its asv files
# are copied in beside the earlier ones (results/checkpoint_summary*.json, the checkpoint report's,
# over the reference's), and the reference's tidy data, figures and site rebuilt.
publish-reference: $(STAMP)
	ADCOST_PUBLISH_REFERENCE=1 $(BIN)/python -m adcost.publish

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
