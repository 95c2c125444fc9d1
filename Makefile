# imagegen: `make run` to serve, `make test` to test. See README.md.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# PostgreSQL the suite also runs against when it is reachable (set empty to skip).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/imagegen

.PHONY: help run dev desktop test test-fast test-sqlite test-postgres lint format install install-dev chromium desktop-deps oidc-deps clean
.DEFAULT_GOAL := help

## help: list the targets (this text)
help:
	@awk '/^##   /{sub(/^##   /, ""); printf "  %-13s %s\n", "", $$0; next} \
	  /^## /{sub(/^## /, ""); split($$0, a, ": "); printf "  %-13s %s\n", a[1], substr($$0, length(a[1]) + 3)}' \
	  $(MAKEFILE_LIST)

$(VENV)/.installed: requirements.txt
	bash scripts/ensure-venv.sh $(VENV)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-desktop: requirements-desktop.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-desktop.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements-desktop.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-dev.txt
	touch $@

# Both write .env (fresh secrets) too, so manage.py commands work in a new checkout.
install: $(VENV)/.installed .env
install-dev: $(VENV)/.installed-dev .env

.env:
	$(PY) -m imagegen.core.envfile .env

## hooks: install the git pre-commit hooks (ruff, formatting, layer contracts)
.PHONY: hooks
hooks: $(VENV)/.installed-dev
	$(VENV)/bin/pre-commit install

## run: install, write .env, migrate, then serve the web app and the job worker together
run: $(VENV)/.installed .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	@echo "Serving for this machine; beyond localhost put a reverse proxy in front (docs/deploy.md)."
	$(PY) manage.py serve

## dev: Django's autoreloading server and the worker, with DEBUG on
dev: $(VENV)/.installed .env
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py ensure_admin
	DEBUG=true $(PY) manage.py qcluster & trap 'kill %1' EXIT; \
	  DEBUG=true $(PY) manage.py runserver $${HOST:-127.0.0.1}:$${PORT:-8000}

## desktop: the studio in its own window for one person (python desktop.py; docs/desktop.md)
desktop: $(VENV)/.installed-desktop
	bash scripts/ensure-desktop-deps.sh
	$(PY) desktop.py

## chromium: install Debian's chromium for the browser tests (when missing)
chromium:
	bash scripts/ensure-chromium.sh

## desktop-deps: install Xvfb and the X libraries Qt needs, for the desktop window's test
desktop-deps:
	bash scripts/ensure-desktop-deps.sh --test

## oidc-deps: install the tests' OpenID provider (tests/oidc_provider, npm ci) when missing or stale
OIDC_PROVIDER := tests/oidc_provider
oidc-deps: $(OIDC_PROVIDER)/node_modules/.package-lock.json

$(OIDC_PROVIDER)/node_modules/.package-lock.json: $(OIDC_PROVIDER)/package.json $(OIDC_PROVIDER)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund
	touch $@

## test: lint, migrations check, the whole suite on SQLite, then on PostgreSQL if reachable
test: install-dev chromium desktop-deps oidc-deps lint test-sqlite test-postgres

## test-fast: the inner loop: no browser, no real processes, in parallel (pytest-xdist)
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -q -m "not browser and not slow" -n auto

## lint: ruff (checks and formatting), the layer contracts (import-linter), migrations
lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=imagegen.settings_test $(PY) manage.py makemigrations --check --dry-run

## test-sqlite: the whole suite on SQLite (the OpenID Connect tests fail, not skip, without node)
test-sqlite: $(VENV)/.installed-dev
	export OIDC_TESTS_REQUIRED=1; $(PY) -m pytest

## test-postgres: the suite (no browser tests) on PostgreSQL at TEST_POSTGRES_URL, if reachable
test-postgres: $(VENV)/.installed-dev
	@export OIDC_TESTS_REQUIRED=1; \
	if [ -n "$(TEST_POSTGRES_URL)" ] && $(PY) scripts/db_reachable.py "$(TEST_POSTGRES_URL)"; then \
	  echo "== the suite again on PostgreSQL ($(TEST_POSTGRES_URL)) =="; \
	  DATABASE_URL="$(TEST_POSTGRES_URL)" $(PY) -m pytest -m "not browser"; \
	else echo "PostgreSQL not reachable at $(TEST_POSTGRES_URL): skipped that run."; fi

## format: apply ruff's formatting and its safe fixes
format: $(VENV)/.installed-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## clean: remove the virtual environment and caches (keeps .env, the database and storage)
clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

## bench: every benchmark figure at full size (about 15 minutes); see docs/benchmarks.md
.PHONY: bench bench-quick
bench: $(VENV)/.installed-dev
	$(PY) bench/run.py

## bench-quick: the same with scaled-down data, under two minutes
bench-quick: $(VENV)/.installed-dev
	$(PY) bench/run.py --quick

## soak: bounded load test on loopback (SOAK_CLIENTS clients for SOAK_SECONDS) on SQLite,
##   then on PostgreSQL at SOAK_POSTGRES_URL if reachable (that database is dropped and created)
SOAK_SECONDS ?= 60
SOAK_CLIENTS ?= 50
SOAK_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/imagegen_soak
.PHONY: soak
soak: $(VENV)/.installed-dev
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CLIENTS=$(SOAK_CLIENTS) $(PY) scripts/soak.py
	@if [ -n "$(SOAK_POSTGRES_URL)" ] && $(PY) scripts/db_reachable.py "$(SOAK_POSTGRES_URL)"; then \
	  SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CLIENTS=$(SOAK_CLIENTS) \
	    $(PY) scripts/soak.py --database-url "$(SOAK_POSTGRES_URL)"; \
	else echo "PostgreSQL not reachable at $(SOAK_POSTGRES_URL): skipped that run."; fi
