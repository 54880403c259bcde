"""Rendered vector tiles kept in the shared cache (Redis), keyed by the data they were made from.

A key holds the state of what the tile shows: the city's ``imported_at`` (every import into a
city sets it, in the import's transaction), the cities' count and newest import for tiles over
all cities, the layer's id and creation time for an imported layer. An import therefore
changes the key of every tile it can change, and a stale tile is never served again; old
entries expire by themselves (:data:`TILE_TTL_S`). Keys come from committed rows, so a tile
rendered while an import commits is filed under the key it was rendered for.

The cache is an optimisation only: when Redis does not answer, tiles are rendered as before.
"""

from __future__ import annotations

import logging

from django.core.cache import caches
from django.db import connection

log = logging.getLogger(__name__)

#: seconds a rendered tile stays in the cache (a changed key makes it unreachable at once)
TILE_TTL_S = 24 * 3600
#: tiles of higher zooms are cheap to render (few features each) and not cached
MAX_CACHED_ZOOM = 15
#: version of what an entry holds and of the tile SQL; a change leaves old entries unread
FORMAT = 2
#: larger bodies are not cached (a tile of a layer without thinning can be big)
MAX_CACHED_BYTES = 2_000_000


def data_version(layer: str, city_id: int | None, layer_row=None) -> str | None:
    """Text that changes whenever the data under a tile of ``layer`` changes; None: no caching.

    ``layer_row`` is the imported :class:`layers.models.Layer` for a layer slug.
    """
    if layer_row is not None:
        return f"layer{layer_row.pk}@{layer_row.created_at.isoformat()}"
    with connection.cursor() as cursor:  # plain SQL: this runs on every cached tile
        if city_id is not None:
            cursor.execute("SELECT imported_at FROM layers_city WHERE id = %s", [city_id])
            row = cursor.fetchone()
            if row is None:
                return None
            return f"city{city_id}@{row[0].isoformat() if row[0] else '-'}"
        cursor.execute("SELECT count(*), max(id), max(imported_at) FROM layers_city")
        count, top, newest = cursor.fetchone()
    return f"cities{count}.{top}@{newest.isoformat() if newest else '-'}"


def tile_key(layer: str, z: int, x: int, y: int, version: str, variant: str = "") -> str:
    """Cache key of one tile (``variant``: anything else the body depends on)."""
    return f"mvt{FORMAT}:{layer}:{version}:{variant}:{z}/{x}/{y}"


def _cache():
    return caches["tiles"]


def get(key: str):
    """What :func:`put` kept under ``key``, or None (also when the cache does not answer)."""
    try:
        return _cache().get(key)
    except Exception as exc:  # noqa: BLE001 - any cache failure means "render it"
        log.warning("tile cache unavailable: %s", exc)
        return None


def put(key: str, entry: tuple[str, bytes, bool]) -> None:
    """Keep a rendered tile ``(etag, body, gzipped)`` (small enough) for :data:`TILE_TTL_S` s."""
    if len(entry[1]) > MAX_CACHED_BYTES:
        return
    try:
        _cache().set(key, entry, TILE_TTL_S)
    except Exception as exc:  # noqa: BLE001
        log.warning("tile cache unavailable: %s", exc)
