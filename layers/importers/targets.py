"""Import targets registered by other apps (GTFS feeds, OSM transit lines, ...).

The built-in targets (layer, buildings, roads, utilities, raster, osm) live in ``files.py``; an
app adds its own with :func:`register_target` (in its ``AppConfig.ready``), and the import API
(``POST /api/imports/``), the ``import_file`` command and the import job then accept it: the
same upload checks, job, progress, cancel and 4xx errors as every other import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobs.progress import ProgressCallback


@dataclass(frozen=True)
class ImportTarget:
    """One import target.

    Parameters
    ----------
    name
        The ``target`` value of the API and ``--target`` of the command.
    label
        What it imports, in words.
    suffixes
        File suffixes it accepts (lower case, with the dot).
    inspect
        ``(path, params) -> dict``: the cheap checks done in the request (raise
        ``ImportRejected`` for a 4xx); returns what was found.
    run
        ``(path, params, owner_id, progress) -> report``: the import, in one transaction.
    check_allowed
        ``(user, params) -> None``: raise ``ImportRejected`` (403) when the user may not.
    """

    name: str
    label: str
    suffixes: tuple[str, ...]
    inspect: Callable[[Path, dict], dict]
    run: Callable[[Path, dict, int | None, ProgressCallback], dict]
    check_allowed: Callable[[object, dict], None] | None = None


_TARGETS: dict[str, ImportTarget] = {}


def register_target(target: ImportTarget) -> ImportTarget:
    _TARGETS[target.name] = target
    return target


def registered_target(name: str | None) -> ImportTarget | None:
    return _TARGETS.get(name or "")


def registered_names() -> set[str]:
    return set(_TARGETS)
