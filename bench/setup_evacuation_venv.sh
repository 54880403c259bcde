#!/usr/bin/env bash
# Peer for bench/evacuation_vs_uxsim.py: UXsim (PyPI) in its own venv, git-ignored.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv-evacuation"
"$here/.venv-evacuation/bin/pip" install --quiet --upgrade pip
"$here/.venv-evacuation/bin/pip" install --quiet uxsim
"$here/.venv-evacuation/bin/python" -c "import uxsim; print('uxsim', uxsim.__version__)"
