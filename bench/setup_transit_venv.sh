#!/usr/bin/env bash
# Create bench/.venv-transit with AequilibraE 1.7.2 (its GTFS importer), the peer of
# bench/transit_import.py. It lives in its own virtualenv so that AequilibraE's pinned
# dependencies never touch the project's .venv; the bench talks to it through a subprocess.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-transit"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "aequilibrae==1.7.2" pandas
"$venv/bin/python" -c "from importlib.metadata import version; print('aequilibrae', version('aequilibrae'))"
