# The two commands a new user needs: `make run` and `make test` (see README.md).
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
# python3.12 from PATH, else from pyenv or the usual prefixes.
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo $$p; break; }; done)
TEST_PGDATA := var/test-pgdata
# The browser tests drive Debian's chromium (Playwright's own browser downloads are not used).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help run test screenshots venv clean-test-db

help:
	@echo "make run   start Aviary on http://localhost:$${PORT:-8000}/ (embedded PostgreSQL, demo workspace)"
	@echo "make test  run the whole test suite"
	@echo "make screenshots  retake docs/screenshots/ with the browser tests"

$(VENV)/bin/python:
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is required (python3.12 not found)"; exit 1; }
	$(PYTHON312) -m venv $(VENV)

# Reinstall whenever a requirements file changes.
$(VENV)/.installed: requirements/base.txt requirements/test.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/test.txt
	touch $@

venv: $(VENV)/.installed

# Installed only when missing.
$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

run: venv
	$(PY) manage.py runplatform

test: venv $(CHROMIUM)
	@status=0; \
	AVIARY_PGDATA=$(TEST_PGDATA) AVIARY_PGDATA_THROWAWAY=1 $(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
	$(PY) -m config.embedded_postgres stop $(TEST_PGDATA) >/dev/null; \
	exit $$status

screenshots:
	UPDATE_SCREENSHOTS=1 $(MAKE) test PYTEST_ARGS="-n 0 tests/browser/test_signup_to_live_fill.py"

clean-test-db:
	$(PY) -m config.embedded_postgres stop $(TEST_PGDATA)
	rm -rf $(TEST_PGDATA)
