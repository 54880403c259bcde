"""File downloads of a collection: GeoPackage, GeoJSON, FlatGeobuf and CSV (with WKT).

The features are selected like ``/items`` (same filters, same CRS parameter) and written by
GDAL through pyogrio into a temporary file, which is sent and removed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyogrio
from django.db.models import QuerySet
from django.http import HttpResponse

from .crs import Crs
from .features import export_frame
from .params import EXPORT_FORMATS
from .registry import Collection


def write(collection: Collection, queryset: QuerySet, out: Crs, fmt: str, folder: Path) -> Path:
    """Write the features to ``folder/<collection>.<suffix>`` and return the path.

    Parameters
    ----------
    collection, queryset
        The collection and its selected rows (:func:`ogc.features.select`).
    out
        The CRS of the file.
    fmt
        A key of :data:`ogc.params.EXPORT_FORMATS`.
    folder
        An existing folder the caller removes.
    """
    driver, suffix, _media_type = EXPORT_FORMATS[fmt]
    frame = export_frame(collection, queryset, out)
    path = folder / f"{collection.id}.{suffix}"
    options = {}
    if fmt == "csv":
        options["layer_options"] = {"GEOMETRY": "AS_WKT"}
    pyogrio.write_dataframe(frame, path, driver=driver, layer=collection.id, **options)
    return path


def response(collection: Collection, queryset: QuerySet, out: Crs, fmt: str) -> HttpResponse:
    """The file as an attachment."""
    _driver, suffix, media_type = EXPORT_FORMATS[fmt]
    with tempfile.TemporaryDirectory(prefix="ogc-export-") as folder:
        path = write(collection, queryset, out, fmt, Path(folder))
        data = path.read_bytes()
    found = HttpResponse(data, content_type=media_type)
    found["Content-Disposition"] = f'attachment; filename="{collection.id}.{suffix}"'
    found["Content-Crs"] = out.content_crs
    return found
