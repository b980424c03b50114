# Two commands for a new user:  `make bench` (the main job)  and  `make test`.
# Both create .venv and install the pinned environment (constraints.txt) by themselves.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= all,tf
STAMP  := $(VENV)/.installed
# Extra pip options, e.g. PIP_EXTRA='--extra-index-url URL-of-the-PyTorch-CPU-wheels'
PIP_EXTRA ?=

.PHONY: install test bench check clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(PIP_EXTRA) -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

check: $(STAMP)
	$(BIN)/adcost check

bench: $(STAMP)
	$(BIN)/adcost check
	$(BIN)/adcost smoke

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
