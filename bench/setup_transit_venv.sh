#!/usr/bin/env bash
# Create bench/.venv-transit with AequilibraE 1.7.2 (its GTFS importer), the peer of
# bench/transit_import.py. It lives in its own virtualenv so that AequilibraE's pinned
# dependencies never touch the project's .venv; the bench talks to it through a subprocess.
# AequilibraE's projects are SpatiaLite databases: it needs mod_spatialite (Debian package
# libsqlite3-mod-spatialite) and a Python whose sqlite3 may load extensions (Debian's
# /usr/bin/python3.11 can; a pyenv build usually cannot).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-transit"
python="${PYTHON:-/usr/bin/python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -e /usr/lib/x86_64-linux-gnu/mod_spatialite.so ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libsqlite3-mod-spatialite
fi
if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c \
    "import sqlite3; sqlite3.connect(':memory:').enable_load_extension(True)" 2>/dev/null; then
    rm -rf "$venv"  # made with a Python that cannot load SpatiaLite
fi
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "aequilibrae==1.7.2" pandas
"$venv/bin/python" -c "from importlib.metadata import version; print('aequilibrae', version('aequilibrae'))"
