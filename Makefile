# Everything installs into .venv from PyPI; a fresh machine needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: install install-dev lock test test-fast lint format docs paper bench figures studies clean

## Installs the exact versions of constraints.txt (ranges in pyproject.toml, pins here).
## `make install`: the library and `w2s` with their run-time dependencies only (what make paper,
## make figures, make studies and every w2s command need); `make install-dev` adds Ray and the
## tools of the tests and the docs (make test, make docs, make lint).
DEV_STAMP := $(VENV)/.installed-dev

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools  # setuptools >= 70.1 builds a wheel offline (tests)
	$(PIP) install -q -c constraints.txt -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(PIP) install -q -c constraints.txt -e '.[dev,ray]'
	touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

## Refresh constraints.txt: the newest versions pyproject.toml's ranges allow, resolved in a
## fresh temporary venv (then run `make test` against them before committing).
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev,ray]' && \
	{ sed -n '/^#/p' constraints.txt; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable; } > "$$tmp/constraints.txt" && \
	mv "$$tmp/constraints.txt" constraints.txt
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pins"

## The whole test suite (what .ci/run runs): lint, format check and the docs site first, then pytest.
## Two pytest processes (pytest-xdist): the suite's time is mostly XLA compiles, one core each.
## pytest prints its slowest tests at the end.
TEST_WORKERS ?= 2
test: lint docs
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## The inner loop: every test not marked slow (pytest's `slow` marker, see pyproject.toml), without
## the lint and the docs site.
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow"

## ruff: the linter and the formatter's check (`make format` rewrites the tree).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The documentation site in site/ (open site/index.html): strict, so a broken link, a missing
## page or an API name that no longer exists fails; the notebooks are shown as committed, not run.
## The headline studies' explorers (docs/explorers/, not committed) are built from studies/ first.
docs: $(DEV_STAMP)
	$(BIN)/python scripts/explorers.py
	@# Not --quiet: with it, mkdocs 1.6 no longer counts warnings and --strict passes a broken link.
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict > $(VENV)/mkdocs.log 2>&1; \
	status=$$?; grep -v '^INFO' $(VENV)/mkdocs.log; exit $$status

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## The main job: the paper's table at n_st = 75 / 2000 / 20000 in the theorem's regime
## (Wishart engine, d = 30000, 2 seeds), its report and figures in results/paper/.
paper: $(STAMP)
	$(BIN)/w2s sweep sweeps/paper.toml --out results/paper
	$(BIN)/w2s report results/paper
	@echo "report: results/paper/report.md, figures: results/paper/figures/"

## Every figure and generated page (README, docs/templates/*) from the committed data in studies/,
## without a sweep; a study not committed yet is listed as waiting.
figures: $(STAMP)
	$(BIN)/python scripts/figures.py
	$(BIN)/python scripts/study_times.py studies

## The studies whose data the pages draw on, into studies/ (hours on two cores; resumable).
studies: $(STAMP)
	$(BIN)/python scripts/studies.py

## The speed benchmark (w2s bench): loop vs vmapped direct vs vmapped Gram engine.
bench: $(STAMP)
	$(BIN)/w2s bench --out results/bench.json

clean:
	rm -rf $(VENV) results .pytest_cache site .cache
