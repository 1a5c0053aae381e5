# The two set-up commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck pytest bench clean postgres

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The operations demo (docs/operations.md): a fresh SQLite database in ./demo, two
# collections campaigns loaded from generated debtor files, agents (some shared by both
# campaigns), both campaigns run at once on the simulated PBX at 40x real time with a
# live view, then each campaign's report. `dialer demo` is the pure-simulator demo.
DEMO := demo
DEMO_DB := $(DEMO)/dialer.db
DIALER := $(BIN)/dialer
DEMO_SPEED ?= 40
DEMO_SECONDS ?= 1800

demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/python -m simulator.demo_leads $(DEMO)/early.csv --count 3000 --block 0
	$(BIN)/python -m simulator.demo_leads $(DEMO)/late.csv --count 1000 --block 1 --seed 7
	$(DIALER) db upgrade --db $(DEMO_DB)
	$(DIALER) campaign create early --mode predictive --region MX --db $(DEMO_DB)
	$(DIALER) campaign create late --mode progressive --region MX --db $(DEMO_DB)
	$(DIALER) leads import $(DEMO)/early.csv --campaign early --db $(DEMO_DB)
	$(DIALER) leads import $(DEMO)/late.csv --campaign late --db $(DEMO_DB)
	$(DIALER) agents add E01 E02 E03 E04 E05 E06 E07 E08 E09 E10 E11 E12 \
		--campaign early --db $(DEMO_DB) > $(DEMO)/agent-tokens.txt
	$(DIALER) agents add L01 L02 L03 L04 --campaign late --db $(DEMO_DB) >> $(DEMO)/agent-tokens.txt
	$(DIALER) agents add S01 S02 S03 S04 --campaign early --campaign late \
		--db $(DEMO_DB) >> $(DEMO)/agent-tokens.txt
	$(DIALER) agents list --db $(DEMO_DB)
	$(DIALER) campaign start early late --speed $(DEMO_SPEED) --for $(DEMO_SECONDS) \
		--api-port 0 --metrics-port 0 --db $(DEMO_DB)
	$(DIALER) report early --db $(DEMO_DB)
	$(DIALER) report late --db $(DEMO_DB)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The store's tests need a PostgreSQL server (tests/pg_server.py starts a throwaway one from
# Debian's binaries): install the package when it is missing, unless a server is given
# (DIALER_TEST_PG_URL) or the PostgreSQL tests are explicitly skipped (DIALER_TEST_PG=skip).
postgres:
	@if [ -z "$$DIALER_TEST_PG_URL" ] && [ "$$DIALER_TEST_PG" != skip ] \
	    && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing PostgreSQL from Debian packages for the store tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	fi

pytest: $(STAMP) postgres
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.pacing

clean:
	rm -rf $(VENV) build *.egg-info $(DEMO)
