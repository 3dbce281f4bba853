# `make test` is the test command; `make setup` builds .venv with a CPU torch pinned.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: setup test lint bench demo lab clean

setup: $(VENV)/.installed

# '.[dev]' is everything: the base install, every extra ([all] = [explore] + [train]), test tools
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install $(TORCH) -e '.[dev]'
	touch $@

lint: setup
	$(BIN)/ruff check .

# two pytest workers: most tests run one thread, so two halve the suite's wall time on 2 cores
test: setup lint
	$(BIN)/pytest -q -n 2

bench: setup
	$(BIN)/python benchmarks/bench_model.py

# README command 1: the explorer's results, rendered headless with the embedded model
demo: setup
	$(BIN)/liaviz demo --out out/demo
	@echo "open out/demo/index.html"

lab: setup
	$(BIN)/jupyter lab notebooks/explore_directions.ipynb

clean:
	rm -rf $(VENV) build *.egg-info
