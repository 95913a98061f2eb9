# prmlab developer entry points. Everything runs inside ./.venv, which `make` creates
# with the system python3 and pip; nothing is installed outside it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test lint typecheck unit venv clean destroy

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Bring up the default lab on the local target and verify it.
lab: $(STAMP)
	$(BIN)/prmlab reconcile --yes

## Tear the default lab down.
destroy: $(STAMP)
	$(BIN)/prmlab reconcile --destroy --yes

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy orchestrator emulator mcp_server tests benchmarks

unit: $(STAMP)
	$(BIN)/python -m pytest -q

## Lint, type-check and run the whole test suite (this is what CI runs).
test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
