#!/usr/bin/env bash
# Create bench/.venv-traffic with AequilibraE, the peer engine for bench/traffic_vs_aequilibrae.py.
# AequilibraE lives in its own virtualenv so that its pinned dependencies never touch the
# project's .venv; the bench talks to it through a subprocess.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-traffic"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "aequilibrae>=1.1" pandas
"$venv/bin/python" -c "from importlib.metadata import version; print('aequilibrae', version('aequilibrae'))"
