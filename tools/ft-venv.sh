#!/usr/bin/env bash
# The free-threaded test venv of `make test-ft`: CPython 3.13t (tools/build-ft-python.sh), our
# package and the test extra, less what cannot be installed there (tools/ft_requirements.py).
# Usage: tools/ft-venv.sh VENV
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv-ft}"
py="$(tools/build-ft-python.sh)"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q)
# ada-url (a runtime dependency) has no 3.13t wheel, and its build uses cffi 2 (which refuses
# free-threaded 3.13) and the limited API (which free-threaded 3.13 lacks): build it against
# cffi 1.x without the limited API.
if ! "$venv/bin/python" -c "import ada_url" 2>/dev/null; then
    "${pip[@]}" "cffi<2" setuptools wheel
    CFLAGS="-D_CFFI_NO_LIMITED_API" "${pip[@]}" --no-build-isolation ada-url
fi
# --prefer-binary: an older release with a wheel beats a newest one that needs a Rust build
"${pip[@]}" --prefer-binary "cffi<2" . -r <(python3 tools/ft_requirements.py)
