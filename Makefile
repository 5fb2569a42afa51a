# One task runner. Every target creates .venv on first use, so the README's
# two commands work on a fresh machine with nothing but python3.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint specs docs bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/prplan demo

test: $(STAMP)
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy --strict src
	$(VENV)/bin/lint-imports --no-cache

# Regenerate what is generated: specs/ from the decision table, docs/cli.md from the commands.
specs docs: $(STAMP)
	$(PY) -m prplan.tools.specgen --write specs
	$(PY) -m prplan.tools.clidoc --write docs/cli.md

bench: $(STAMP)
	$(PY) benchmarks/bench_planner.py
	$(PY) benchmarks/bench_requests.py
	$(PY) benchmarks/bench_changeset.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
