# Betaalportaal. The README's two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# Links in mails and on the console point at the server `make run` starts.
export BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run serve test lint fmt e2e bench install install-dev system-deps chromium translations login-link clean

## run: install, migrate, seed demo data, serve the portal and the worker (Ctrl-C stops both)
run: install translations
	@$(FLASK) db upgrade
	@$(FLASK) seed-demo
	@$(MAKE) --no-print-directory serve

# the running server's address, for `make login-link` without PORT
RUN_URL_FILE = $${PORTAL_INSTANCE_PATH:-instance}/run-url

serve:
	@mkdir -p "$${PORTAL_INSTANCE_PATH:-instance}" && echo "$(BASE_URL)" > "$(RUN_URL_FILE)"
	@trap 'rm -f "$(RUN_URL_FILE)"; kill 0' INT TERM EXIT; \
	$(FLASK) worker & \
	$(FLASK) run --host $(HOST) --port $(PORT) --no-reload

## test: install dev dependencies and Chromium when missing, lint, run every test
test: install-dev translations chromium lint
	$(BIN)/pytest -n 2 --dist loadgroup tests
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($$TEST_DATABASE_URL) =="; \
		PORTAL_TEST_DB="$$TEST_DATABASE_URL" $(BIN)/pytest -n 2 --dist loadgroup tests; \
	fi

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

e2e: install-dev translations chromium
	$(BIN)/pytest -m e2e tests/e2e

bench: install-dev translations
	$(BIN)/python bench/portal_pages.py

## login-link: a fresh demo login link, for the port `make run` serves on (or PORT=…)
login-link: install
	@url="$(BASE_URL)"; \
	if [ "$(origin PORT)" = file ] && [ "$(origin BASE_URL)" = file ] && [ -f "$(RUN_URL_FILE)" ]; then \
		url=$$(cat "$(RUN_URL_FILE)"); fi; \
	BASE_URL="$$url" $(FLASK) login-link

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(VENV)/.installed system-deps
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	@touch $@

install-dev: $(VENV)/.installed-dev system-deps
$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

translations: install
	@$(BIN)/pybabel compile -d portal/translations >/dev/null

# WeasyPrint needs Pango; install it from Debian's packages when it is missing.
system-deps:
	@bash scripts/system-deps.sh pango

chromium:
	@bash scripts/system-deps.sh chromium

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
