"""Writing a run's results: rows tied to the run, rasters as COG files in the run's folder."""

from __future__ import annotations

import math

import numpy as np
import shapely
from django.conf import settings
from rasterio.shutil import copy as rio_copy

from layers.geo import to_geos, to_multipolygon, wkb_to_geos
from simulators.solar.dsm import write_raster

from ..models import EdgeResult, Run, run_files_dir


def multipolygon(geom: shapely.Geometry):
    """A lon/lat shapely (multi)polygon as a GEOS MultiPolygon (EPSG:4326)."""
    return to_multipolygon(to_geos(geom))


def finite(value) -> float | None:
    """``value`` as a float, or None when it is not finite (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


def edge_result(run: Run, data: dict, **values) -> EdgeResult:
    """A result row for a road-graph edge (``data``: its attributes from inputs.road_graph)."""
    return EdgeResult(
        run=run,
        edge_id=data["edge_id"],
        geom=wkb_to_geos(data["geometry_wkb"]),
        highway=data["highway"],
        **values,
    )


def write_cog(run: Run, name: str, array: np.ndarray, transform, crs, nodata=None) -> str:
    """Write a raster result as a Cloud-Optimized GeoTIFF; returns its MEDIA_ROOT path."""
    folder = run_files_dir(run.pk)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tif"
    write_raster(tmp, array, transform, crs, nodata=nodata)
    dest = folder / f"{name}.tif"
    rio_copy(str(tmp), str(dest), driver="COG", compress="DEFLATE", overview_resampling="average")
    tmp.unlink()
    return str(dest.relative_to(settings.MEDIA_ROOT))
