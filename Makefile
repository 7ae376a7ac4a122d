# Two commands: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
SCALE ?= small

.PHONY: run test lint typecheck setup-dev setup-run migrate seed bench serve-prod clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

setup-run: $(VENV)/.runtime-installed
setup-dev: $(VENV)/.dev-installed

migrate: setup-run
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo --ehr-inbox-port $(EHR_PORT)

# The clock jobs (feedback escalation, credential reminders, scheduled reports: config/periodic.py)
# run in a background runner that stops with the server; production uses Celery beat instead.
# The HL7 v2 ADT listener for the demo program runs beside them on ADT_PORT, and the demo EHR's
# FHIR inbox, which receives the program's feedback, on EHR_PORT (docs/interop.md).
ADT_PORT ?= 2575
EHR_PORT ?= 8090
export ADT_PORT
run: seed
	$(PY) manage.py periodic_runner & runner=$$!; \
	$(PY) manage.py adt_listener --program riverside-peer --port $(ADT_PORT) & listener=$$!; \
	$(PY) manage.py ehr_inbox --program riverside-peer --port $(EHR_PORT) & inbox=$$!; \
	trap 'kill $$runner $$listener $$inbox 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# The suite runs on every core (pytest-xdist; each worker has its own test database). Tests are
# handed out in collection order (--dist load), so each worker keeps pytest-django's order:
# transactional tests, which empty the tables migrations filled, come after the others.
PYTEST_WORKERS ?= auto
test: setup-dev
	$(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist load $(PYTEST_ARGS)

# Benchmarks beside their baselines (docs/scale.md). DATABASE_URL picks the database
# (default bench/bench.sqlite3); SCALE=large needs PostgreSQL.
bench: setup-run
	$(PY) bench/run.py --scale $(SCALE)

# Production-style serving on this machine: gunicorn, 2 x cores + 1 workers (WEB_CONCURRENCY),
# production settings (needs SECRET_KEY; SECURE_SSL_REDIRECT=false without a TLS proxy).
serve-prod: migrate
	DJANGO_SETTINGS_MODULE=config.settings.production $(PY) manage.py collectstatic --noinput -v0
	DJANGO_SETTINGS_MODULE=config.settings.production GUNICORN_BIND=$(HOST):$(PORT) $(VENV)/bin/gunicorn -c gunicorn.conf.py

lint: setup-dev typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# mypy with the Django and DRF plugins over every app package ([tool.mypy] in pyproject.toml).
typecheck: setup-dev
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
