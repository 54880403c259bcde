#!/usr/bin/env bash
# Peer tools for bench/solar_vs_peers.py in their own virtualenv (git-ignored):
#   whitebox-workflows (horizon_angle, shadow_image, time_in_daylight) and pybdshadow.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv-solar
.venv-solar/bin/pip install --quiet --upgrade pip
.venv-solar/bin/pip install --quiet whitebox-workflows pybdshadow numpy
.venv-solar/bin/python - <<'PY'
import whitebox_workflows as wbw
wbe = wbw.WbEnvironment()
print("whitebox-workflows", wbw.__version__ if hasattr(wbw, "__version__") else "?", "ok")
import pybdshadow
print("pybdshadow", pybdshadow.__version__, "ok")
PY
