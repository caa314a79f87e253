# hubspot-lead-handoff: everything runs from .venv, installed from uv.lock.
# Needs only python3 (3.11+) and make; uv is bootstrapped into .uv-bootstrap/ when it is not on PATH.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .uv-bootstrap/bin/uv
endif
export DAGSTER_HOME ?= $(CURDIR)/.dagster
# the stamp names how the venv was synced: a venv synced before --compile-bytecode is synced again once
VENV_STAMP := .venv/.synced-bytecode

.PHONY: install demo test lint typecheck dev bench clean lock

$(UV):
	@echo "uv not found: bootstrapping it into .uv-bootstrap/ with pip"
	$(PYTHON) -m venv .uv-bootstrap
	.uv-bootstrap/bin/pip install --quiet uv

# --compile-bytecode: every library's .pyc is written at install, so no process compiles dagster, dbt, dlt or Great
# Expectations from source (Python would cache it on first import, but not where PYTHONDONTWRITEBYTECODE is set or
# site-packages is read-only): that halves the code location's load and a run's imports (docs/metrics.md)
$(VENV_STAMP): uv.lock pyproject.toml sandbox/pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode --extra sandbox --python $(PYTHON)
	@touch $(VENV_STAMP)

install: $(VENV_STAMP)

demo: install
	.venv/bin/handoff demo

# lint and type checks first (seconds), then the whole suite; CI runs exactly this (.ci/run)
test: install lint typecheck
	.venv/bin/python -m pytest -n 2 --dist loadgroup -q -rs --durations=20

lint: install
	.venv/bin/ruff check .

typecheck: install
	.venv/bin/mypy

dev: install
	.venv/bin/handoff dev

bench: install
	.venv/bin/python -m bench

lock: | $(UV)
	$(UV) lock

clean:
	rm -rf .venv .uv-bootstrap data .dagster out .pytest_cache
