# The two commands: `make run` (the whole system) and `make test` (every test).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# The test suite needs real services; on these machines they run locally.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tellus
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test bench lint format migrate venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: venv
	$(BIN)/python manage.py migrate --noinput

# `make run` serves plain http on this machine: no HTTPS redirect, HSTS or Secure cookies.
run: export TELLUS_PLAIN_HTTP ?= true
run: migrate
	@$(BIN)/python manage.py load_diagnostics > /dev/null
	@$(BIN)/python manage.py ensure_console_admin
	@echo ""
	@echo "  Tellus is starting on http://$(HOST):$(PORT)/"
	@echo "    console   http://$(HOST):$(PORT)/"
	@echo "    API docs  http://$(HOST):$(PORT)/v1/docs"
	@echo "    admin     http://$(HOST):$(PORT)/admin/"
	@echo "  database: $${DATABASE_URL:-SQLite under var/}  redis: $${REDIS_URL:-none (embedded default)}"
	@echo "  Ctrl-C stops everything."
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A console worker --beat --loglevel=INFO --concurrency=2 \
	  --schedule=var/celerybeat-schedule & \
	$(BIN)/daphne -b $(HOST) -p $(PORT) console.asgi:application

test: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	$(BIN)/pytest $(PYTEST_ARGS)

bench: venv
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/celery var/staticfiles
