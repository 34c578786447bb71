# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo demo-scale test lint format bench clean messages docker-check

# The languages' catalogs, compiled from their .po sources (see bot/i18n/catalogs.py).
CATALOGS := $(wildcard bot/locales/*/LC_MESSAGES/wanbot.po)
COMPILED := $(CATALOGS:.po=.mo)

# For server owners: the bot alone (no test tools) installed into ./venv, languages compiled in;
# then `venv/bin/python -m bot run`. Run it again after pulling a new version.
RUN_VENV := venv

install:
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/python -m pip install --quiet "Babel>=2.12"
	$(RUN_VENV)/bin/pybabel --quiet compile --directory bot/locales --domain wanbot
	$(RUN_VENV)/bin/python -m pip install --quiet .
	@echo "Installed into $(RUN_VENV)/: $(RUN_VENV)/bin/python -m bot --help"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel --quiet compile --input-file $< --output-file $@

demo: $(STAMP) $(COMPILED)
	$(BIN)/python -m bot demo

# Two worker processes on a throwaway PostgreSQL; the scheduler is killed half way (about 30 s).
demo-scale: $(STAMP) $(COMPILED)
	$(BIN)/python -m bot demo-scale

test: $(STAMP) $(COMPILED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# Each bench/bench_*.py in turn, then the summary (see bench/run_all.py); about 14 minutes.
bench: $(STAMP) $(COMPILED)
	$(BIN)/python bench/run_all.py

# Build the image and run it: the demo, its user, /data, the health check, compose.yaml; prints
# its size. Needs a Docker engine, so it is not part of `make test` (see docs/docker.md):
#   make docker-check BASE_IMAGE=... POSTGRES_IMAGE=...
BASE_IMAGE ?= python:3.11-slim
POSTGRES_IMAGE ?=
docker-check:
	BASE_IMAGE='$(BASE_IMAGE)' POSTGRES_IMAGE='$(POSTGRES_IMAGE)' docker/check.sh

# After adding or changing a message: extract them all and merge into each language's .po.
messages: $(STAMP)
	$(BIN)/python -m bot messages

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) output .pytest_cache .ruff_cache
