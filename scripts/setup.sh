#!/usr/bin/env bash
# Create the virtual environment and install Forestall with its test tools.
# durable-rules compiles from source: it needs a C compiler and the Python headers.
set -euo pipefail
venv="${1:-.venv}"
python="${PYTHON:-python3}"

fail() { echo "setup: $*" >&2; exit 1; }

command -v "$python" >/dev/null || fail "no $python found; install Python 3.11 or newer"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || fail "Python 3.11 or newer is needed; $python is $("$python" -V 2>&1)"
command -v cc >/dev/null || command -v gcc >/dev/null \
  || fail "no C compiler found; durable-rules compiles from source. On Debian/Ubuntu: apt-get install build-essential"
include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$include/Python.h" ] \
  || fail "no Python headers ($include/Python.h); durable-rules compiles against them. On Debian/Ubuntu: apt-get install python3-dev"

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[dev]'
touch "$venv/.installed"
echo "setup: done; $venv is ready"
