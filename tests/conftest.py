"""Shared test configuration (no Django here: engine tests must run without it)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Folder of the shared benchmark data (env CITYTWIN_DATA, default ../shared/data)."""
    return Path(os.environ.get("CITYTWIN_DATA", REPO_ROOT / ".." / "shared" / "data")).resolve()
