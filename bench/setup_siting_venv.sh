#!/usr/bin/env bash
# Create bench/.venv-siting with PySAL's spopt, the peer solver for bench/siting_vs_spopt.py and
# bench/siting_scale.py. spopt (and the PuLP/CBC it models with) lives in its own virtualenv so
# that its dependencies never touch the project's .venv; the benches talk to it through a
# subprocess (bench/siting_spopt_runner.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-siting"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "spopt>=0.6" pulp
"$venv/bin/python" -c "from importlib.metadata import version; print('spopt', version('spopt'), 'pulp', version('pulp'))"
