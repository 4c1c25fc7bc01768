# MacBot TTS — the two commands: `make run` and `make test`.
# Both create .venv and install into it when needed (again whenever pyproject.toml changes).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config/macbot.yaml

.PHONY: run test lint install clean help

help:
	@echo "make run   - set up .venv and start the daemon on 127.0.0.1:8123 (config: $(CONFIG))"
	@echo "make test  - set up .venv and run the test suite"
	@echo "make lint  - ruff and the import layers (lint-imports)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/macbot --config $(CONFIG) serve

test: $(STAMP)
	$(BIN)/ruff check macbot benchmarks scripts tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check macbot benchmarks scripts tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache
