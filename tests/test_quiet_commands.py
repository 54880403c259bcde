"""A newcomer's commands say what they do, not what libraries note when they are imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_manage_command_loading_every_app_prints_no_library_notes():
    env = {**os.environ, "CITYTWIN_LOG_LEVEL": "INFO"}
    env.pop("NUMEXPR_NUM_THREADS", None)
    env.pop("OMP_NUM_THREADS", None)
    # `check` imports every app, the power and water engines (pandapower, numexpr) included
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    assert "NumExpr defaulting" not in done.stderr
    assert "plotly" not in done.stderr
