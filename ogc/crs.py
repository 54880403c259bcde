"""Coordinate reference systems by reference (OGC API - Features - Part 2).

The twin stores every geometry in EPSG:4326 with longitude first (PostGIS order), which is
OGC:CRS84. A CRS is named by its URI; ``EPSG:4326`` has latitude first, so geometries and
boxes in that CRS have their axes swapped on the way out and on the way in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import OgcError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
#: the storage CRS of every table of the twin
STORAGE_SRID = 4326

_EPSG_PATTERNS = (
    re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)$"),
    re.compile(r"^\[?EPSG:(\d+)\]?$", re.IGNORECASE),
    re.compile(r"^urn:ogc:def:crs:EPSG::(\d+)$", re.IGNORECASE),
)
_CRS84_NAMES = {
    CRS84,
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "[OGC:CRS84]",
    "OGC:CRS84",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
}


@dataclass(frozen=True)
class Crs:
    """A CRS the API serves: its URI, PostGIS SRID and whether its first axis is latitude."""

    uri: str
    srid: int
    lat_first: bool = False

    @property
    def content_crs(self) -> str:
        """The value of the ``Content-Crs`` response header."""
        return f"<{self.uri}>"


def epsg(code: int) -> Crs:
    """The CRS ``EPSG:code``; only geographic EPSG:4326 has latitude first among ours."""
    return Crs(EPSG_URI.format(code=code), code, lat_first=code == 4326)


def supported(local_epsgs: list[int] | tuple[int, ...] = ()) -> list[Crs]:
    """CRS84 first (the default), then EPSG:4326, EPSG:3857 and the cities' UTM zones."""
    found = [Crs(CRS84, STORAGE_SRID), epsg(4326), epsg(3857)]
    for code in sorted(set(local_epsgs)):
        if code not in (4326, 3857):
            found.append(epsg(code))
    return found


def parse(value: str, allowed: list[Crs], param: str) -> Crs:
    """The CRS named by ``value`` if the collection serves it; 400 otherwise.

    Parameters
    ----------
    value
        A CRS URI, or the short forms ``EPSG:n`` / ``[EPSG:n]`` / ``OGC:CRS84`` QGIS and GDAL
        sometimes send.
    allowed
        The CRSs of the collection (:func:`supported`).
    param
        The query parameter, named in the error message.
    """
    value = value.strip()
    if value in _CRS84_NAMES:
        return allowed[0]
    for pattern in _EPSG_PATTERNS:
        match = pattern.match(value)
        if match:
            code = int(match.group(1))
            for crs in allowed:
                if crs.srid == code and crs.uri != CRS84:
                    return crs
            break
    raise OgcError(
        f"{param}: unknown or unsupported CRS {value!r}; this collection serves "
        + ", ".join(c.uri for c in allowed),
        field=param,
    )
