# Qala — two commands: `make demo` runs it, `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
QALA_TEST_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432
export QALA_TEST_PG

.DEFAULT_GOAL := help
.PHONY: help install demo serve migrate seed test lint format typecheck imports migrations-check \
        test-sqlite test-postgres test-e2e services browser i18n bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Qala needs Python 3.11 or newer"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Qala with its dev tools

migrate: install ## Apply database migrations (QALA_DATABASE_URL, default SQLite in ./var)
	$(BIN)/qala db upgrade

seed: migrate ## Load the demo cities, users and data
	$(BIN)/qala demo

DEMO_OPEN_CITY ?= astana

demo: seed ## Set up and run Qala with demo cities on http://127.0.0.1:8000
	@echo "Open http://$(HOST):$(PORT)/  — sign in as 'operator' / 'qala-demo-2026'"
	@echo "NGSI-LD at http://$(HOST):$(PORT)/ngsi-ld/v1 (tenant '$(DEMO_OPEN_CITY)' open to anonymous clients in the demo)"
	QALA_HUB_OPEN_CITY=$(DEMO_OPEN_CITY) $(BIN)/qala serve --host $(HOST) --port $(PORT)

serve: install ## Run the server without seeding
	$(BIN)/qala serve --host $(HOST) --port $(PORT)

lint: install ## Ruff lint and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

typecheck: install ## mypy, strict on src
	$(BIN)/mypy

imports: install ## Import contracts: modules independent, kernel imports no module
	$(BIN)/lint-imports

migrations-check: install ## Fail when a table change has no migration (alembic check)
	QALA_DATABASE_URL=sqlite:///$(CURDIR)/var/check.sqlite3 $(BIN)/qala db upgrade
	QALA_DATABASE_URL=sqlite:///$(CURDIR)/var/check.sqlite3 $(BIN)/qala db check
	rm -f var/check.sqlite3*

services: ## Check that PostgreSQL is reachable for the tests
	@$(BIN)/python -c "import psycopg, os; psycopg.connect(os.environ['QALA_TEST_PG'].replace('+psycopg', '') + '/test', connect_timeout=5).close()" \
		|| { echo "PostgreSQL is not reachable at $(QALA_TEST_PG) — start it (see docs/operations.md)"; exit 1; }

browser: ## Check that Chromium is installed for the browser tests
	@test -x /usr/bin/chromium || { echo "Install Chromium: apt-get install chromium"; exit 1; }

test-sqlite: install ## Test suite on SQLite
	$(BIN)/pytest -q -m "not e2e" --db sqlite

test-postgres: install services ## Test suite on PostgreSQL
	$(BIN)/pytest -q -m "not e2e" --db postgresql

test-e2e: install browser ## Browser tests (Chromium + Playwright)
	$(BIN)/pytest -q -m e2e tests/e2e

test: install lint typecheck imports migrations-check test-sqlite test-postgres test-e2e ## Every check
	@echo "All checks passed."

i18n: install ## Extract strings and update the ru/kk/en catalogs
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project=Qala \
		--copyright-holder="Qala contributors" --add-comments=TRANSLATORS: \
		-o src/qala/locale/messages.pot src/qala
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-pot-creation-date \
		-i src/qala/locale/messages.pot -d src/qala/locale

bench: install ## Run every benchmark (figures go to docs/benchmarks.md)
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
