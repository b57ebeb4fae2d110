# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test typecheck lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## Run the default scenario (public goods, embedded, no cluster); results in results/public-goods-0-<config hash>/
run: $(STAMP)
	$(BIN)/mechsim run public-goods

## Lint, type-check and run the whole test suite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

## Type-check abm, agents, mechanisms, scenarios ([tool.mypy] in pyproject.toml); part of `test`
typecheck: $(STAMP)
	$(BIN)/python -m mypy

## Every benchmark (docs/benchmarks.md); each prints PASS/FAIL; exits 1 if any failed
bench: $(STAMP)
	@fail=0; for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || fail=1; done; exit $$fail

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache .mypy_cache
