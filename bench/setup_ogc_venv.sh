#!/usr/bin/env bash
# Create bench/.venv-ogc with pygeoapi, the peer server for bench/ogc_items.py.
# pygeoapi lives in its own virtualenv so that its dependencies (Flask, SQLAlchemy, psycopg2)
# never touch the project's .venv; the bench runs it as a separate gunicorn process.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-ogc"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
# the PostgreSQL provider needs SQLAlchemy, GeoAlchemy2 and a psycopg2 driver
"$venv/bin/python" -m pip install --quiet pygeoapi "SQLAlchemy>=2" GeoAlchemy2 psycopg2-binary gunicorn
"$venv/bin/python" -c "from importlib.metadata import version; print('pygeoapi', version('pygeoapi'))"
