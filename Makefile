# Everything installs into .venv from PyPI; a fresh machine needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: install lock test lint format docs paper bench figures studies clean

## Installs the exact versions of constraints.txt (ranges in pyproject.toml, pins here).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

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
TEST_WORKERS ?= 2
test: lint docs
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## ruff: the linter and the formatter's check (`make format` rewrites the tree).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The documentation site in site/ (open site/index.html): strict, so a broken link, a missing
## page or an API name that no longer exists fails; the notebooks are shown as committed, not run.
## The headline studies' explorers (docs/explorers/, not committed) are built from studies/ first.
docs: $(STAMP)
	$(BIN)/python scripts/explorers.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

format: $(STAMP)
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
