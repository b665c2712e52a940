# The targets CI runs are the ones you run: `make demo`, `make test`, `make bench`, `make lint`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mlci-installed

.PHONY: setup demo test test-fast bench bench-scale lint clean report-preview browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python scripts/demo.py

test: setup browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# headless Chromium and the mermaid npm package, for tests/report/test_browser.py
browser:
	-bash scripts/report-browser.sh >/dev/null

# the report of sample runs as GitHub shows it: build/report-preview/*.html and *.png
report-preview: setup browser
	$(BIN)/python scripts/report_preview.py

test-fast: setup
	$(BIN)/python -m pytest -q -m "not e2e" $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# mlci run vs by hand at 10k / 100k / 1M training rows (tens of minutes)
bench-scale: setup
	$(BIN)/python benchmarks/bench_scale.py $(BENCH_ARGS)

lint: setup
	$(BIN)/pre-commit run --all-files

clean:
	rm -rf build .mlci examples/*/.mlci
