"""A pid file for the long-running commands that ``bin/citytwin`` starts and stops."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def pidfile(path: str | None):
    if not path:
        yield
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(str(os.getpid()))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if p.read_text().strip() == str(os.getpid()):
                p.unlink()
