# The two commands a newcomer runs:
#   make bench   build, then benchmark us against the peers on an embedded local server
#   make test    build, then run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: test bench lint typecheck clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip

# A regular (non-editable) install of the checkout, with default build isolation: what users get.
install: $(PY)
	$(PY) -m pip install -q ".[test]"

test: install
	cd tests && ../$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: $(PY)
	$(PY) -m pip install -q ruff mypy
	$(PY) -m ruff check pyqwest cpqwest tests benchmarks
	$(PY) -m mypy

bench: $(PY)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf build dist $(VENV) .bench subprojects/llhttp-*/ subprojects/packagefiles/*.tar.gz
