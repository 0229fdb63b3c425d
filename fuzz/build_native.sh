#!/usr/bin/env bash
# Build cpqwest._parser (+ llhttp) with clang's libFuzzer coverage instrumentation, for
# fuzz_parser.py (it loads fuzz/build/_parser*.so in place of the installed module).
#   SAN=address bash fuzz/build_native.sh   # also AddressSanitizer (run with LD_PRELOAD, see README)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=fuzz/build
LL=$(ls -d subprojects/llhttp-*/lib | head -1)
[ -f "$LL/llhttp.c" ] || { echo "llhttp sources missing: build the project once (pip install -e .)" >&2; exit 1; }
mkdir -p "$OUT"
"$PY" -m cython -3 -X boundscheck=False -X wraparound=False -X cdivision=True \
    cpqwest/_parser.pyx -o "$OUT/_parser.c"
INC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
EXT=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
SANFLAGS="-fsanitize=fuzzer-no-link${SAN:+,$SAN}"
clang -O1 -g -fPIC -shared $SANFLAGS -I"$LL" -I"$INC" -Icpqwest \
    "$OUT/_parser.c" "$LL/llhttp.c" "$LL/api.c" "$LL/http.c" -o "$OUT/_parser$EXT"
echo "built $OUT/_parser$EXT ($SANFLAGS)"
