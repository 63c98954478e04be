.PHONY: help install run test test-fast check lint format typecheck bench screenshots

PY ?= python

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install:  ## install cronagents with the dev tools, at the versions the tests are checked with
	$(PY) -m pip install -c constraints/dev.txt -e '.[dev]'

run:  ## open the dashboard (local mode)
	cronagents

test:  ## the whole test suite (what CI runs)
	$(PY) -m pytest

test-fast:  ## the suite without the tests that run the real Claude Code CLI
	$(PY) -m pytest -m 'not slow'

lint:  ## ruff check and ruff format --check
	$(PY) -m ruff check app storage widgets tests bench
	$(PY) -m ruff format --check app storage widgets tests bench

format:  ## ruff format (the code's one style)
	$(PY) -m ruff format app storage widgets tests bench

typecheck:  ## mypy (strict) and the import contracts (layers)
	$(PY) -m mypy
	lint-imports

check: lint typecheck  ## lint, format, types and layers (also run by the test suite)

bench:  ## the benchmarks (figures go in README)
	$(PY) bench/api.py
	$(PY) bench/scheduler.py
	$(PY) bench/tui.py
	$(PY) bench/alerts.py

screenshots:  ## rewrite screenshots/*.svg from a seeded demo database
	$(PY) -m app.tui_demo screenshots --out screenshots
