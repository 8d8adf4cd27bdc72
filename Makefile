# Set-up and the two main jobs. `make run` and `make test` create the virtual
# environment and install the package with its pinned dependencies on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: run test test-slow reproduce docs bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed          ## the self-assembly experiment on its defaults (ARGS="--quick" etc.)
	$(VENV)/bin/selfassembly run $(ARGS)

test: $(VENV)/.installed         ## the test suite (slow tests excluded)
	$(PY) -m pytest -q

test-slow: $(VENV)/.installed    ## only the slow tests (full learning runs, cpp_standalone builds)
	$(PY) -m pytest -q -m slow

reproduce: $(VENV)/.installed    ## rerun a slice of every committed result from its manifest and compare (slow, not in CI)
	$(PY) tools/reproduce.py $(ARGS)

$(VENV)/.installed-docs: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test,docs]"
	touch $@

docs: $(VENV)/.installed-docs    ## the HTML site in docs/_build/html (warnings and broken references are errors)
	$(VENV)/bin/sphinx-build -W --keep-going -n -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/auto_examples
