# Two commands for a new user:  `make bench` (the main job)  and  `make test`.
# Both create .venv and install the pinned environment (constraints.txt) by themselves.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= all,tf
STAMP  := $(VENV)/.installed
# Extra pip options, e.g. PIP_EXTRA='--extra-index-url URL-of-the-PyTorch-CPU-wheels'
PIP_EXTRA ?=

.PHONY: install test bench sweep check clean plots site

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(PIP_EXTRA) -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

check: $(STAMP)
	$(BIN)/adcost check

# asv from this venv (--python=same), results saved under results/asv for HEAD's commit.
# forkserver: one process per parameter combination without re-importing asv and adcost.
# ADCOST_RESULTS: asv runs benchmarks from a temporary folder; this says where results/ is.
# ASV_ARGS=--show-stderr prints every skip's reason; ASV_ARGS='-b crossover' runs a subset.
MACHINE ?= $(shell hostname)
ADCOST_GRID ?= quick
ASV_ARGS ?=
ASV_RUN = $(BIN)/asv run --python=same --launch-method forkserver $(ASV_ARGS) \
	--machine $(MACHINE) --set-commit-hash=$$(git rev-parse HEAD)

bench: $(STAMP)  ## the quick sweep (minutes); ADCOST_GRID=full for the full one
	$(BIN)/adcost check
	$(BIN)/asv machine --yes --machine $(MACHINE) >/dev/null
	ADCOST_GRID=$(ADCOST_GRID) ADCOST_RESULTS=$(CURDIR)/results $(ASV_RUN)

sweep: $(STAMP)  ## the full sweep (about an hour on a quiet machine)
	$(MAKE) bench ADCOST_GRID=full
	$(MAKE) --no-print-directory site
	@echo "site: open results/site/index.html, or serve it: $(BIN)/python -m http.server -d results 8000 -> http://127.0.0.1:8000/site/"

# Figures and tidy data from results/asv (a figure whose data is missing is skipped, with a message).
plots: $(STAMP)
	$(BIN)/python -m analysis.plots

# results/site/index.html: self-contained (figures inline), beside results/asv/html when published.
site: plots
	@if [ -f results/asv/benchmarks.json ]; then $(BIN)/asv publish >/dev/null 2>&1 \
	  && echo "site: asv dashboard in results/asv/html" || echo "site: asv publish failed; the site links no dashboard"; fi
	$(BIN)/python -m analysis.site

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
