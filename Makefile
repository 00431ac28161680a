# The two commands: `make run` (the whole system) and `make test` (every test).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SIMULATE ?= 1
CHARGERS ?= 50
HISTORY_DAYS ?= 5

# The test suite needs real services; on these machines they run locally.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tellus
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run logins test test-fast bench lint format migrate venv clean

# Running needs the project's dependencies only; testing, linting and benchmarks add the
# development tools (pytest, ruff, import-linter, granian, py-spy, playwright).
venv: $(DEV_STAMP)

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

migrate: $(RUN_STAMP)
	$(BIN)/python manage.py migrate --noinput

# `make run` serves plain http on this machine: no HTTPS redirect, HSTS or Secure cookies.
run: export TELLUS_PLAIN_HTTP ?= true
run: migrate
	@$(BIN)/python manage.py load_diagnostics > /dev/null
	@$(BIN)/python manage.py ensure_console_admin --keep-password
	@$(BIN)/python manage.py seed_console_users --operator "Demo Charging" --quiet
	@$(BIN)/python manage.py seed_demo --chargers $(CHARGERS)
	@echo "  database: $${DATABASE_URL:-SQLite under var/}  redis: $${REDIS_URL:-none (embedded default)}"
	@HOST=$(HOST) PORT=$(PORT) SIMULATE=$(SIMULATE) CHARGERS=$(CHARGERS) \
	  HISTORY_DAYS=$(HISTORY_DAYS) exec $(BIN)/python -m console.devrun

# The console's address and the demo logins again (`make run` prints them once it is up).
logins:
	@HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m console.web.demo_logins

# `make test` runs every test (what CI runs, .ci/run); `make test-fast` is the inner loop:
# everything but the tests marked browser, fuzz, live_server or slow (a few minutes).
FAST_TIER := not (browser or fuzz or live_server or slow)
# Both run TEST_WORKERS test processes, one test file each at a time (most tests wait on
# servers, browsers and clocks rather than compute, so more workers than cores pay);
# TEST_WORKERS=0 runs in this one process. Each worker has its own test database and
# Redis databases (tests/settings.py), at most 7 workers.
TEST_WORKERS ?= 4
PARALLEL := -n $(TEST_WORKERS) --dist loadfile

test: $(DEV_STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	$(BIN)/pytest $(PARALLEL) $(PYTEST_ARGS)

test-fast: $(DEV_STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	$(BIN)/pytest $(PARALLEL) -m "$(FAST_TIER)" $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run

# Style, then the layers (pyproject.toml, [tool.importlinter]): no import goes up a layer.
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/celery var/staticfiles
