# Two set-up commands (README): `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/congress
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=
# The suites that start their own servers and fault injectors (minutes, not seconds).
SLOW_SUITES := --ignore=tests/resilience --ignore=tests/fuzz -m "not resilience and not fuzz"

.PHONY: run test test-fast install install-dev bench lint

# Runtime only (requirements.txt), enough for `make run`.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

# Runtime plus tests, lint and profiling (requirements-dev.txt).
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Embedded default: SQLite, no Redis, eager Celery, console e-mail, offline answers.
# load_demo_event only fills a database without events, so this is safe to
# run again, also on a database that holds a real event.
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo_event
	$(PY) manage.py runserver 127.0.0.1:8000

# The whole suite on real PostgreSQL and Redis (started or installed when missing).
test: $(VENV)/.installed-dev
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) ./scripts/ensure-services.sh
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

# Everything but the resilience and fuzz suites.
test-fast: $(VENV)/.installed-dev
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) ./scripts/ensure-services.sh
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(SLOW_SUITES) $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(PY) bench/run.py --quick

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
