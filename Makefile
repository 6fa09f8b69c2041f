# Every target installs what it needs first, so each one works on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install system-packages test lint typecheck up down demo bench quality fault contracts clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/cxpulse: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(BIN)/cxpulse

system-packages:
	bash scripts/ensure-system-packages.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install system-packages
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

up: install
	$(BIN)/cxpulse stack up

down: install
	$(BIN)/cxpulse stack down

demo: install
	$(BIN)/cxpulse demo

bench: install
	$(BIN)/cxpulse bench

quality: install
	$(BIN)/cxpulse quality

# The whole fault suite at full size: five kills per service in 20,000-event streams and a
# one-minute broker outage. `make test` runs the same tests smaller, to stay quick in CI.
fault: install system-packages
	CXPULSE_FAULT_ROUNDS=5 CXPULSE_FAULT_EVENTS=20000 CXPULSE_FAULT_OUTAGE_S=60 $(BIN)/pytest tests/fault

contracts: install
	$(BIN)/cxpulse contracts export

clean:
	rm -rf .run .mypy_cache .ruff_cache .pytest_cache
