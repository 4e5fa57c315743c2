# CMS service: `make run` serves on :4000, `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: install install-test run test lint lint-sql fmt-sql clean

## What the service needs, plus the embedded PostgreSQL (`cms[embedded]`) that `make run` falls back to.
install: $(VENV)/.installed

## install, plus the test tools and linters (`cms[test]`).
install-test: $(VENV)/.installed-test

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[embedded]'
	touch $@

$(VENV)/.installed-test: setup.cfg setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[embedded,test]'
	touch $@ $(VENV)/.installed

## Install, find or start PostgreSQL, migrate, seed, and serve on PORT (default 4000).
run: install
	-@scripts/ensure-postgres
	$(BIN)/cms serve

## The whole test suite against real PostgreSQL (plus the linters): the server on 127.0.0.1:5432
## when one answers (CI's), else an embedded one (pgserver); pytest's first lines say which.
test: install-test
	-@scripts/ensure-postgres
	$(BIN)/ruff check cms tests wsgi.py
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check cms tests wsgi.py

## SQL style (sqlfluff, rules in .sqlfluff) over sql/ and seed.sql, and lock-safety of the
## migrations (squawk, excuses in .squawk.toml and in the files). See docs/dba.md.
lint-sql: install-test
	$(BIN)/sqlfluff lint --processes 2 sql seed.sql
	$(BIN)/squawk sql/migrations/*.sql

## Rewrite the SQL files into the house style where sqlfluff can; review the diff.
fmt-sql: install-test
	$(BIN)/sqlfluff fix --processes 2 sql seed.sql

## Benchmark (issue 5): the service (granian) + wrk at 10k and 1M cars, pgbench -S as the ceiling; the report
## goes to bench/results/<date>.md. BENCH_ARGS=--quick for a smoke run (10k only, 3 s per route).
.PHONY: bench
bench: install-test
	scripts/ensure-postgres
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
