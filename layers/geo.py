"""Small geometry helpers shared by importers, API and tiles."""

from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path

import shapely
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone containing (lon, lat) in degrees."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    # Norway/Svalbard exceptions of the UTM grid
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32
    return (32600 if lat >= 0 else 32700) + zone


@functools.cache
def _time_zone_finder():
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def time_zone_at(lon: float, lat: float) -> str:
    """IANA time zone name at (lon, lat) in degrees (EPSG:4326); ``"UTC"`` where none is known.

    Offline (timezonefinder's shipped polygons), so imports never need the internet.
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return "UTC"
    return _time_zone_finder().timezone_at(lng=float(lon), lat=float(lat)) or "UTC"


def wkb_to_geos(wkb: bytes, srid: int = 4326) -> GEOSGeometry:
    """WKB -> GEOS geometry with an SRID."""
    return GEOSGeometry(memoryview(wkb), srid=srid)


def to_geos(geom: shapely.Geometry, srid: int = 4326) -> GEOSGeometry:
    """Shapely geometry -> GEOS geometry with an SRID (via WKB, lossless)."""
    return wkb_to_geos(shapely.to_wkb(geom, include_srid=False), srid)


def to_multipolygon(geom: GEOSGeometry) -> MultiPolygon:
    if isinstance(geom, Polygon):
        return MultiPolygon(geom, srid=geom.srid)
    return geom


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BBoxError(ValueError):
    """A malformed ``bbox`` parameter; the message says what is wrong, in words."""


def bbox_numbers(raw: str, allow_heights: bool = False) -> tuple[float, float, float, float]:
    """The four finite numbers of ``minx,miny,maxx,maxy`` (with ``allow_heights``, also the
    six of ``minx,miny,minz,maxx,maxy,maxz``, heights dropped), in the order given.

    The one parser of bbox numbers in the service (API lists, run results, OGC): ``nan`` and
    ``inf`` are refused here, before any query sees them.
    """
    counts = "4 or 6" if allow_heights else "4"
    try:
        numbers = [float(part) for part in str(raw).split(",")]
    except ValueError:
        raise BBoxError(f"bbox must be {counts} comma-separated numbers, not {raw!r}") from None
    if allow_heights and len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise BBoxError(f"bbox must be {counts} comma-separated numbers, not {raw!r}")
    if not all(math.isfinite(n) for n in numbers):
        raise BBoxError(f"bbox {raw!r}: every number must be finite (no nan or inf)")
    return numbers[0], numbers[1], numbers[2], numbers[3]


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """A lon/lat box ``minx,miny,maxx,maxy`` in degrees (EPSG:4326): finite, min <= max, within
    [-180, 180] x [-90, 90]; raises ``BBoxError``."""
    west, south, east, north = bbox_numbers(raw)
    if west > east or south > north:
        raise BBoxError(f"bbox {raw!r}: minx,miny,maxx,maxy with min <= max on both axes")
    if west < -180 or east > 180 or south < -90 or north > 90:
        raise BBoxError(
            f"bbox {raw!r} is outside longitude [-180, 180] / latitude [-90, 90] (degrees)"
        )
    return west, south, east, north
