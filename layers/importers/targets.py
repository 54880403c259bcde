"""Import targets of other apps (e.g. ``water`` for EPANET files): registered at app start.

A target owns its file types, its cheap checks before the job is queued and the import itself
(one transaction, a report); it goes through the same upload API, CLI (``import_file``) and job
machinery as the layers' own targets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImportTarget:
    """``inspect(path, params) -> dict`` raises ImportRejected at once (before the job);
    ``run(path, params, owner_id, progress) -> report`` is the job's work."""

    name: str
    suffixes: tuple[str, ...]
    description: str
    inspect: Callable[[Path, dict], dict]
    run: Callable[..., dict]


_TARGETS: dict[str, ImportTarget] = {}


def register_target(target: ImportTarget) -> ImportTarget:
    _TARGETS[target.name] = target
    return target


def extra_target(name: str | None) -> ImportTarget | None:
    return _TARGETS.get(name or "")


def extra_names() -> list[str]:
    return sorted(_TARGETS)
