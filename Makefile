# The front door: `make demo` and `make test` set everything up on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo serve test lint bench bench-rules protos check-protos schemas check-schemas

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	./scripts/setup.sh $(VENV)

setup: $(VENV)/.installed

demo: setup  ## serve the sample rules with sample customers on the embedded store
	$(VENV)/bin/forestall demo

serve: setup
	$(VENV)/bin/forestall serve

test: setup  ## the whole test suite
	$(PY) -m pytest

lint: setup  ## ruff, as CI runs it
	$(VENV)/bin/ruff check engine tests bench scripts examples server.py
	$(VENV)/bin/ruff format --check engine tests bench scripts examples server.py

bench: setup  ## Decide through a real server against a no-op server
	$(PY) bench/decide.py

bench-rules: setup  ## Decide with 10, 100 and 1,000 rules
	$(PY) bench/rules_scaling.py

protos: setup  ## regenerate engine/api/generated from protos/
	$(PY) scripts/generate_protos.py

check-protos: setup
	$(PY) scripts/generate_protos.py --check

schemas: setup  ## regenerate the editor JSON Schemas in rules/schema/ and scenarios/schema/ from their models
	$(PY) scripts/generate_schemas.py

check-schemas: setup
	$(PY) scripts/generate_schemas.py --check
