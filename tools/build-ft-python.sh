#!/usr/bin/env bash
# Build free-threaded CPython (pyenv's "3.13.Nt" definition) without downloading from python.org:
# the source tarball comes from Debian's python3.13 source package, whose .orig.tar.xz is the
# upstream release byte for byte; python-build checks it against the sha256 its definition pins.
# Needs root (apt) and pyenv. Usage: tools/build-ft-python.sh [3.13.5t]
set -euo pipefail
version="${1:-3.13.5t}"
base="${version%t}"
suite="${FT_DEBIAN_SUITE:-trixie}"   # a Debian suite whose python3.13 is $base
pyenv_root="$(pyenv root)"
if [ -x "$pyenv_root/versions/$version/bin/python" ]; then
    echo "$pyenv_root/versions/$version/bin/python"; exit 0
fi
cache="${PYTHON_BUILD_CACHE_PATH:-$pyenv_root/cache}"
mkdir -p "$cache"
tarball="$cache/Python-$base.tar.xz"
if [ ! -f "$tarball" ]; then
    src_list=/etc/apt/sources.list.d/pyqwest-$suite-src.sources
    if ! apt-cache showsrc python3.13 2>/dev/null | grep -q "python3.13_$base.orig.tar.xz"; then
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$suite" >"$src_list"
        apt-get update -qq
    fi
    work="$(mktemp -d)"
    (cd "$work" && apt-get source --download-only -qq python3.13 >/dev/null)
    orig="$work/python3.13_$base.orig.tar.xz"
    [ -f "$orig" ] || { echo "Debian's python3.13 in $suite is not $base (got: $(ls "$work"))" >&2; exit 1; }
    cp "$orig" "$tarball"
    rm -rf "$work"
fi
# python-build verifies the checksum of the cached tarball against its definition and refuses a mismatch
PYTHON_BUILD_CACHE_PATH="$cache" MAKE_OPTS="${MAKE_OPTS:--j2}" nice -n 19 pyenv install -s "$version" >&2
echo "$pyenv_root/versions/$version/bin/python"
