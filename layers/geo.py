"""Small geometry helpers shared by importers, API and tiles."""

from __future__ import annotations

import hashlib
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
