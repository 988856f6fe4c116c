# TrepStar Fulfillment — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Notify URLs must reach this server. Printed ones (demo data) use PUBLIC_BASE_URL, by default
# this server on PORT; pages build theirs from the address the browser used, unless
# PUBLIC_BASE_URL was given (environment or `make run PUBLIC_BASE_URL=...`).
ifeq ($(origin PUBLIC_BASE_URL),undefined)
SERVER_BASE_URL :=
else
SERVER_BASE_URL = $(PUBLIC_BASE_URL)
endif
PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# The demo's SamCart API is the stand-in `make run` starts (`manage.py fake_samcart`).
SAMCART_PORT ?= 8001
DEMO_SAMCART_DATA := var/demo-samcart.json
SAMCART_ENV := SAMCART_API_BASE_URL=http://127.0.0.1:$(SAMCART_PORT)/v1
DEV_ENV := DEBUG=1 PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(SAMCART_ENV)
SERVER_ENV := DEBUG=1 PUBLIC_BASE_URL=$(SERVER_BASE_URL) $(SAMCART_ENV)

.PHONY: run worker test lint format migrate demo check-deploy bench bench-lists bench-memory bench-spool clean

# Create/refresh the virtualenv only when a requirements file changed. Development and tests
# install requirements-dev.txt (the runtime plus test tools); production installs
# requirements.txt alone (docs/operator.md).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.installed
	$(DEV_ENV) $(PY) manage.py migrate --noinput

demo: migrate
	$(DEV_ENV) $(PY) manage.py demo_data --samcart-data $(DEMO_SAMCART_DATA)

# The app and, beside it, the worker (alerts to the console, retries) and the SamCart stand-in;
# all stop together.
# E-mail links have no request to take an address from: the worker gets PUBLIC_BASE_URL.
run: demo
	$(DEV_ENV) $(PY) manage.py worker --interval 2 & worker=$$!; \
	$(PY) manage.py fake_samcart --port $(SAMCART_PORT) --data $(DEMO_SAMCART_DATA) & samcart=$$!; \
	trap 'kill $$worker $$samcart 2>/dev/null' EXIT INT TERM; \
	$(SERVER_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Background work alone (queued tasks and periodic jobs); EMAIL_URL=smtp://… sends real mail.
worker: migrate
	$(DEV_ENV) $(PY) manage.py worker

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Production-like settings must pass Django's deployment checks with no warning.
check-deploy: $(VENV)/.installed
	DEBUG=0 SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	ALLOWED_HOSTS=fulfillment.trepstar.example \
	$(PY) manage.py check --deploy --fail-level WARNING

# The Notify URL under load beside its references, on a throw-away PostgreSQL database
# (BENCH_DATABASE_URL, default trepstar_bench on 127.0.0.1); prints the tables of BENCHMARKS.md:
# the hot path, the flash sale, the lists at 1,000,000 orders, then the spool and the worker's
# memory (BENCH_ARGS=--skip-large stops after the empty database, without spool and memory).
bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)
	case "$(BENCH_ARGS)" in *--skip-large*) ;; *) $(PY) -m bench.spool_replay && $(PY) -m bench.worker_memory all ;; esac

# Issue 21's other figures, each on its own throw-away PostgreSQL database (BENCHMARKS.md).
bench-lists: $(VENV)/.installed
	DATABASE_URL=$${BENCH_LISTS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/trepstar_bench_lists} $(PY) bench/lists_large.py

bench-memory: $(VENV)/.installed
	$(PY) -m bench.worker_memory all

bench-spool: $(VENV)/.installed
	$(PY) -m bench.spool_replay

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis db.sqlite3 staticfiles test-artifacts
