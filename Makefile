# The two commands of the README: `make demo` runs docket end to end on the embedded default
# (SQLite and local files in ./demo-instance); `make test` runs the test suite. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf demo-instance
	$(BIN)/docket demo demo-instance

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -n 3 --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/submit_throughput.py
	$(BIN)/python benchmarks/hashing.py
	$(BIN)/python benchmarks/checks_vs_frictionless.py
	$(BIN)/python benchmarks/transfer_cli.py
	$(BIN)/python benchmarks/input_memory.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/exports.py
	$(BIN)/python benchmarks/search.py
	$(BIN)/python benchmarks/upload.py --size 1G --also 2G

clean:
	rm -rf $(VENV) demo-instance
