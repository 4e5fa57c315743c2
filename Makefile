# CMS service: `make run` serves on :4000, `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: install run test lint fmt-sql clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

## Install, find or start PostgreSQL, migrate, seed, and serve on PORT (default 4000).
run: install
	-@scripts/ensure-postgres
	$(BIN)/cms serve

## The whole test suite against real PostgreSQL (plus the linters).
test: install
	scripts/ensure-postgres
	$(BIN)/ruff check cms tests wsgi.py
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check cms tests wsgi.py

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
