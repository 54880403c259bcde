"""Import vector files (GeoJSON, GeoPackage, zipped Shapefile, FlatGeobuf, CSV) and rasters.

Two phases:

``inspect_upload(path, params)``
    cheap checks done before a job is queued, so the client gets a 4xx at once: size, a zip's
    safety (path traversal, zip bomb), readability, CRS present, geometry type allowed for the
    target, GeoTIFF georeferencing.
``run_import(path, params, progress)``
    the import itself (on the Celery worker), in one transaction, returning the report:
    features read, imported, repaired, rejected (row numbers and reasons), CRS detected and the
    reprojection done.

Targets: ``layer`` (a new generic layer), ``buildings``, ``roads``, ``utilities`` (with a
``mapping`` from the twin's field names to the file's attribute names), ``raster`` for GeoTIFF,
``osm`` for a PBF (the OSM importer).
"""

from __future__ import annotations

import codecs
import math
import re
import shutil
import stat
import time
import uuid
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import rasterio
import shapely
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from rasterio.shutil import copy as rio_copy
from rasterio.warp import transform_bounds

from jobs.progress import ProgressCallback, null_progress
from simulators.common.occupancy import floor_area_m2, residents_and_workers
from simulators.common.road_defaults import highway_class, link_defaults

from ..geo import to_geos
from ..models import City, Feature, Layer, RasterLayer, UtilityLink, UtilityNode
from . import ImportRejected
from .building_rules import building_use
from .citydata import write_buildings, write_road_network
from .osm import import_osm
from .targets import extra_names, extra_target

VECTOR_SUFFIXES = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".fgb": "FlatGeobuf",
    ".csv": "CSV",
    ".zip": "ESRI Shapefile",
    ".shp": "ESRI Shapefile",
}
RASTER_SUFFIXES = {".tif", ".tiff"}
OSM_SUFFIXES = {".pbf"}
TARGETS = {"layer", "buildings", "roads", "utilities", "raster", "osm"}
TARGET_GEOMETRIES = {
    "buildings": {"Polygon", "MultiPolygon"},
    "roads": {"LineString", "MultiLineString"},
    "utilities": {"LineString", "MultiLineString", "Point", "MultiPoint"},
}
CSV_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")
CSV_LON_COLUMNS = ("lon", "lng", "longitude", "x")
CSV_LAT_COLUMNS = ("lat", "latitude", "y")


def file_kind(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return "raster"
    if suffix in OSM_SUFFIXES:
        return "osm"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    raise ImportRejected(
        "file",
        f"unsupported file type {suffix or '(none)'}: use GeoJSON, GeoPackage, zipped "
        "Shapefile, FlatGeobuf, CSV, GeoTIFF or OSM PBF",
    )


SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx"}


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRejected("file", "not a valid zip archive") from exc


def check_zip(path: Path) -> str:
    """Check a zip from its directory alone (nothing unpacked) and return the .shp member.

    Rejects absolute paths and ``..`` (path traversal), symlinks, more than 1,000 members, a
    declared uncompressed total over ``MAX_UNZIPPED_BYTES`` and members whose compression ratio
    exceeds ``MAX_ZIP_RATIO`` (zip bombs), and zips without exactly one shapefile.
    """
    with _open_zip(path) as archive:
        members = archive.infolist()
    if len(members) > 1000:
        raise ImportRejected("file", "zip has more than 1,000 members")
    total = 0
    for info in members:
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or info.filename.startswith(("/", "\\")):
            raise ImportRejected(
                "file", f"zip member {info.filename!r} escapes the archive (path traversal)"
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportRejected("file", f"zip member {info.filename!r} is a symbolic link")
        total += info.file_size
        if (
            info.compress_size
            and info.file_size / max(info.compress_size, 1) > settings.MAX_ZIP_RATIO
            and info.file_size > 1 << 20
        ):
            raise ImportRejected(
                "file",
                f"zip member {info.filename!r} has a compression ratio over "
                f"{settings.MAX_ZIP_RATIO:.0f} (zip bomb?)",
            )
    if total > settings.MAX_UNZIPPED_BYTES:
        raise ImportRejected(
            "file",
            f"zip expands to {total:,} bytes, over the limit of {settings.MAX_UNZIPPED_BYTES:,}",
        )
    shps = [m.filename for m in members if m.filename.lower().endswith(".shp") and not m.is_dir()]
    if not shps:
        raise ImportRejected("file", "the zip holds no .shp file")
    if len(shps) > 1:
        raise ImportRejected("file", f"the zip holds {len(shps)} shapefiles; upload one per zip")
    return shps[0]


def safe_unzip(path: Path, dest: Path) -> Path:
    """Unpack the shapefile of a checked zip (``check_zip``) and return its .shp (in the job).

    Only the shapefile's own parts are written; sizes are enforced again while writing (headers
    can lie) and a damaged member (bad CRC) is a rejection naming the file.
    """
    shp = check_zip(path)
    stem = PurePosixPath(shp).with_suffix("").as_posix()
    dest.mkdir(parents=True, exist_ok=True)
    written = 0
    with _open_zip(path) as archive:
        for info in archive.infolist():
            member = PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir() or member.with_suffix("").as_posix() != stem:
                continue
            if member.suffix.lower() not in SHAPEFILE_PARTS:
                continue
            target = dest / (Path(member.name).stem + member.suffix.lower())
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > settings.MAX_UNZIPPED_BYTES:
                            raise ImportRejected(
                                "file", "zip expands beyond the size limit (zip bomb?)"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise ImportRejected(
                    "file",
                    f"the zip is damaged: member {member.name!r} does not unpack "
                    f"({describe(exc)}); make the zip again",
                ) from exc
    return dest / (Path(PurePosixPath(shp).name).stem + ".shp")


def _vector_path(path: Path, workdir: Path) -> Path:
    return safe_unzip(path, workdir / "unzipped") if path.suffix.lower() == ".zip" else path


def _inspect_path(path: Path) -> str:
    """What GDAL reads in the request: a zipped shapefile through /vsizip/, never unpacked."""
    if path.suffix.lower() == ".zip":
        return f"/vsizip/{path}/{check_zip(path)}"
    return str(path)


def describe(exc: BaseException, limit: int = 200) -> str:
    """An exception as words for a user: its first line, with no server path, cut at a word.

    Paths (an upload folder, the media root) say nothing to the user and tell an attacker
    about the server; they become the file's name.
    """
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    text = re.sub(r"(/vsizip/)?/[^\s'\":,)]*/([^/\s'\":,)]+)", r"\2", text)
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + " ..."
    return text


def _check_utf8(path: Path, chunk_bytes: int = 1 << 20) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += chunk[: exc.start].count(b"\n")
                raise ImportRejected(
                    "file",
                    f"the CSV is not UTF-8 text (line {line}); save it as UTF-8 and upload again",
                ) from exc
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ImportRejected("file", "the CSV is not UTF-8 text (its last line)") from exc


def _csv_geometry_options(path: Path) -> dict:
    _check_utf8(path)
    try:
        header = pd.read_csv(path, nrows=0).columns
    except pd.errors.EmptyDataError as exc:
        raise ImportRejected(
            "file", "the CSV has no header row (it is empty or only blank lines)"
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise ImportRejected("file", f"the CSV cannot be read ({describe(exc)})") from exc
    lower = {c.lower(): c for c in header}
    for name in CSV_WKT_COLUMNS:
        if name in lower:
            return {"GEOM_POSSIBLE_NAMES": lower[name], "KEEP_GEOM_COLUMNS": "NO"}
    lon = next((lower[c] for c in CSV_LON_COLUMNS if c in lower), None)
    lat = next((lower[c] for c in CSV_LAT_COLUMNS if c in lower), None)
    if lon and lat:
        return {"X_POSSIBLE_NAMES": lon, "Y_POSSIBLE_NAMES": lat, "KEEP_GEOM_COLUMNS": "NO"}
    raise ImportRejected("file", "CSV needs a WKT column (wkt/geometry) or lon/lat columns")


def read_vector(path: Path, params: dict) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame with its source CRS (or a clear rejection)."""
    options = {}
    if path.suffix.lower() == ".csv":
        options = _csv_geometry_options(path)
    try:
        frame = pyogrio.read_dataframe(path, **options)
    except ImportRejected:
        raise
    except Exception as exc:
        raise ImportRejected("file", f"cannot read the file ({describe(exc)})") from exc
    if path.suffix.lower() == ".csv" and frame.crs is None:
        crs = params.get("crs") or "EPSG:4326"  # lon/lat or WKT text in CSV is WGS 84 unless told
        frame = frame.set_crs(crs)
    return frame


def _check_raster_size(width: int, height: int) -> None:
    pixels = int(width) * int(height)
    if pixels > settings.MAX_RASTER_PIXELS:
        raise ImportRejected(
            "file",
            f"the raster has {width:,} x {height:,} = {pixels:,} pixels, over the limit of "
            f"{settings.MAX_RASTER_PIXELS:,} pixels (CITYTWIN_MAX_RASTER_MPIX)",
            status=413,
        )


def _inspect_raster(path: Path) -> dict:
    try:
        with rasterio.open(path) as ds:
            if ds.driver != "GTiff":
                raise ImportRejected(
                    "file", f"the file is {ds.driver}, not a GeoTIFF as its extension says"
                )
            _check_raster_size(ds.width, ds.height)
            if ds.crs is None or ds.transform.is_identity:
                raise ImportRejected(
                    "file", "the GeoTIFF has no georeferencing (no CRS or geotransform)"
                )
            return {
                "kind": "raster",
                "crs": ds.crs.to_string(),
                "width": ds.width,
                "height": ds.height,
            }
    except ImportRejected:
        raise
    except Exception as exc:
        raise ImportRejected("file", f"not a readable GeoTIFF ({describe(exc)})") from exc


def _lonlat_problem(bounds, crs, given_crs: str | None) -> ImportRejected | None:
    """Why bounds read as lon/lat cannot be lon/lat (projected metres without a CRS, or
    out-of-range degrees), or None."""
    if bounds is None or given_crs:
        return None
    west, south, east, north = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        return None  # empty or unknown extent: the rows are checked one by one in the job
    if crs is not None and not pyproj.CRS.from_user_input(crs).is_geographic:
        return None
    if -180 <= west <= east <= 180 and -90 <= south <= north <= 90:
        return None
    if max(abs(west), abs(east), abs(south), abs(north)) > 1000:
        return ImportRejected(
            "crs",
            f"the coordinates look projected (x {west:.0f} .. {east:.0f}, y {south:.0f} .. "
            f"{north:.0f}), not longitude/latitude, and the file names no other CRS; give the "
            "file's CRS with the crs parameter (e.g. EPSG:3067)",
        )
    return ImportRejected(
        "file",
        f"longitude must be within [-180, 180] and latitude within [-90, 90] degrees; the file "
        f"spans x {west:g} .. {east:g}, y {south:g} .. {north:g}",
    )


def _check_mapping(params: dict, fields) -> None:
    names = {str(f) for f in fields}
    for field, column in (params.get("mapping") or {}).items():
        if column not in names:
            raise ImportRejected(
                f"mapping.{field}",
                f"the file has no attribute {column!r} (it has {sorted(names)})",
            )


def all_targets() -> list[str]:
    """The layers' own targets and those other apps registered (layers.importers.targets)."""
    return sorted(TARGETS | set(extra_names()))


def _extra(path: Path, params: dict):
    """The registered target of another app, with the file's type checked against it."""
    extra = extra_target(params.get("target"))
    if extra is not None and path.suffix.lower() not in extra.suffixes:
        raise ImportRejected(
            "file",
            f"a {extra.name} import takes {', '.join(extra.suffixes)} files, not "
            f"{path.suffix or '(none)'}",
        )
    return extra


def inspect_upload(path: Path, params: dict) -> dict:
    """Cheap checks before queueing; returns what was found (kind, driver, crs, count)."""
    target = params.get("target", "layer")
    if target not in all_targets():
        raise ImportRejected("target", f"unknown target {target!r}; choose one of {all_targets()}")
    extra = _extra(path, params)
    if extra is not None:
        if path.stat().st_size == 0:
            raise ImportRejected("file", "the file is empty")
        return extra.inspect(path, params)
    size = path.stat().st_size
    if size == 0:
        raise ImportRejected("file", "the file is empty")
    if size > settings.MAX_UPLOAD_BYTES:
        raise ImportRejected(
            "file",
            f"the file is {size} bytes, over the limit of {settings.MAX_UPLOAD_BYTES}",
            status=413,
        )
    kind = file_kind(path.name)
    if kind == "osm":
        if not params.get("city"):
            raise ImportRejected("city", "an OSM import needs a city name")
        return {"kind": "osm"}
    if params.get("city"):
        _city(params)  # an unknown city is a 400 now, not a failed job later
    if kind == "raster":
        return _inspect_raster(path)
    if target in ("buildings", "roads", "utilities") and not params.get("city"):
        raise ImportRejected("city", f"importing into {target} needs a city")
    source = _inspect_path(path)
    suffix = path.suffix.lower()
    options = {}
    if suffix == ".csv":
        options = _csv_geometry_options(path)
    expected = VECTOR_SUFFIXES[suffix]
    try:
        info = pyogrio.read_info(source, force_total_bounds=True, **options)
    except Exception as exc:
        detail = describe(exc).split("; It might help")[0]
        raise ImportRejected(
            "file",
            f"cannot read the file: it is not {expected} as its extension {suffix} says, or it "
            f"is damaged ({detail})",
        ) from exc
    driver = str(info.get("driver") or "")
    if driver != expected and not (expected == "GeoJSON" and driver.startswith("GeoJSON")):
        raise ImportRejected(
            "file", f"the file is {driver}, not {expected} as its extension {suffix} says"
        )
    if info.get("features", 0) == 0:
        raise ImportRejected("file", "the file has no features")
    crs = info.get("crs") or (None if suffix != ".csv" else "EPSG:4326")
    if not crs and not params.get("crs"):
        raise ImportRejected(
            "crs", "the file declares no CRS; give one with the crs parameter (e.g. EPSG:3067)"
        )
    problem = _lonlat_problem(info.get("total_bounds"), crs, params.get("crs"))
    if problem is not None:
        raise problem
    geometry_type = str(info.get("geometry_type") or "").replace(" Z", "").replace(" M", "")
    allowed = TARGET_GEOMETRIES.get(target)
    if allowed and geometry_type not in allowed and geometry_type != "Unknown":
        raise ImportRejected(
            "file",
            f"geometry type {geometry_type} cannot go into {target} (needs {sorted(allowed)})",
        )
    _check_mapping(params, info.get("fields", []))
    return {
        "kind": "vector",
        "driver": driver,
        "crs": info.get("crs"),
        "features": info.get("features"),
        "geometry_type": geometry_type,
    }


def _json_value(value):
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, int | float | str | bool) else str(value)


def _finite_bounds(frame: gpd.GeoDataFrame):
    coords = shapely.get_coordinates(frame.geometry.to_numpy())
    coords = coords[np.isfinite(coords).all(axis=1)]
    if not len(coords):
        return None
    return (*coords.min(axis=0), *coords.max(axis=0))


def _coordinate_problem(geom) -> str | None:
    """Why a geometry's lon/lat coordinates cannot be stored, or None."""
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        return "coordinates must be finite numbers (found NaN or infinity)"
    if (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
        return "coordinates outside longitude [-180, 180] / latitude [-90, 90] degrees"
    return None


def _clean_geometries(
    frame: gpd.GeoDataFrame, allowed: set[str] | None, report: dict
) -> gpd.GeoDataFrame:
    """Repair invalid geometries, reject empty/unusable ones; records row numbers (1-based)."""
    geoms = frame.geometry.to_numpy()
    keep = np.ones(len(frame), dtype=bool)
    out = list(geoms)
    for i, geom in enumerate(geoms):
        row = i + 1
        if geom is None or geom.is_empty:
            keep[i] = False
            report["rejected"].append({"row": row, "reason": "missing or empty geometry"})
            continue
        problem = _coordinate_problem(geom)
        if problem is not None:
            keep[i] = False
            report["rejected"].append({"row": row, "reason": problem})
            continue
        if not geom.is_valid:
            fixed = shapely.make_valid(geom)
            if allowed:
                parts = [p for p in getattr(fixed, "geoms", [fixed]) if p.geom_type in allowed]
                fixed = shapely.union_all(parts) if parts else None
            if fixed is None or fixed.is_empty:
                keep[i] = False
                report["rejected"].append(
                    {
                        "row": row,
                        "reason": f"invalid geometry ({shapely.is_valid_reason(geom)}) that cannot be repaired",
                    }
                )
                continue
            out[i] = fixed
            report["repaired"] += 1
        if allowed and out[i].geom_type not in allowed:
            keep[i] = False
            report["rejected"].append(
                {"row": row, "reason": f"geometry type {out[i].geom_type} not allowed here"}
            )
    frame = frame.set_geometry(gpd.GeoSeries(out, index=frame.index, crs=frame.crs))
    frame["_row"] = np.arange(1, len(frame) + 1)
    return frame.loc[keep]


def run_import(
    path: Path,
    params: dict,
    owner_id: int | None = None,
    progress: ProgressCallback = null_progress,
) -> dict:
    """Run an import (the Celery task calls this); one transaction; returns the report."""
    started = time.perf_counter()
    target = params.get("target", "layer")
    extra = _extra(path, params)
    if extra is not None:
        return extra.run(path, params, owner_id, progress)
    kind = file_kind(path.name)
    if kind == "osm":
        return import_osm(
            path, params["city"], replace=bool(params.get("replace")), progress=progress
        )
    if kind == "raster":
        return import_raster(path, params, owner_id, progress)
    progress(0.05, "reading file")
    frame = read_vector(_vector_path(path, path.parent), params)
    report: dict = {
        "file": path.name,
        "target": target,
        "read": len(frame),
        "imported": 0,
        "repaired": 0,
        "rejected": [],
    }
    given = params.get("crs")
    if frame.crs is None:
        if not given:
            raise ImportRejected("crs", "the file declares no CRS; give one with the crs parameter")
        frame = frame.set_crs(given)
    elif given and _lonlat_problem(_finite_bounds(frame), frame.crs, None) is not None:
        # GeoJSON is lon/lat by definition, so GDAL says EPSG:4326 even for a file written in
        # metres: the CRS the user gives wins when the coordinates cannot be degrees
        report["crs_given_for_projected_coordinates"] = given
        frame = frame.set_crs(given, allow_override=True)
    elif given:
        report["crs_override_ignored"] = given
    report["crs_detected"] = frame.crs.to_string()
    if frame.crs.to_epsg() != 4326:
        report["reprojection"] = f"{frame.crs.to_string()} -> EPSG:4326"
        frame = frame.to_crs("EPSG:4326")
    else:
        report["reprojection"] = "none (already EPSG:4326)"
    progress(0.3, "checking geometries")
    frame = _clean_geometries(frame, TARGET_GEOMETRIES.get(target), report)
    progress(0.5, f"writing to {target}")
    with transaction.atomic():
        if target == "layer":
            report.update(_write_layer(frame, path, params, owner_id, report))
        elif target == "buildings":
            report.update(_write_buildings(frame, params, report))
        elif target == "roads":
            report.update(_write_roads(frame, params, report))
        elif target == "utilities":
            report.update(_write_utilities(frame, params, report))
        touched = _city(params) if target != "layer" else None
        if touched is not None:
            # the city's tiles are cached under its import time (layers.tiles.cache)
            City.objects.filter(pk=touched.pk).update(imported_at=timezone.now())
    report["seconds"] = round(time.perf_counter() - started, 3)
    progress(1.0, "done")
    return report


def _attribute_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (frame.geometry.name, "_row")]


def _schema(frame: pd.DataFrame) -> dict:
    types = {}
    for column in _attribute_columns(frame):
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            types[column] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            types[column] = "integer"
        elif pd.api.types.is_float_dtype(dtype):
            types[column] = "number"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            types[column] = "datetime"
        else:
            types[column] = "string"
    return types


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "layer"
    slug, n = base, 2
    while (
        Layer.objects.filter(slug=slug).exists() or RasterLayer.objects.filter(slug=slug).exists()
    ):
        slug, n = f"{base}-{n}", n + 1
    return slug


def _city(params: dict) -> City | None:
    name = params.get("city")
    if not name:
        return None
    city = (
        City.objects.filter(name=name).first()
        or City.objects.filter(pk=name if str(name).isdigit() else -1).first()
    )
    if city is None:
        raise ImportRejected("city", f"no city named {name!r}")
    return city


def _write_layer(
    frame: gpd.GeoDataFrame, path: Path, params: dict, owner_id: int | None, report: dict
) -> dict:
    name = params.get("name") or Path(path.name).stem
    visibility = params.get("visibility", "public")
    if visibility not in ("public", "private"):
        raise ImportRejected("visibility", "must be public or private")
    columns = _attribute_columns(frame)
    geometry_types = sorted(set(frame.geometry.geom_type))
    bounds = frame.total_bounds if len(frame) else None
    layer = Layer.objects.create(
        city=_city(params),
        name=name,
        slug=_unique_slug(name),
        owner_id=owner_id,
        visibility=visibility,
        description=params.get("description", ""),
        geometry_type=",".join(geometry_types),
        attribute_schema=_schema(frame),
        source_file=path.name,
        source_crs=report["crs_detected"],
        feature_count=len(frame),
        extent=to_geos(shapely.box(*bounds))
        if bounds is not None and np.isfinite(bounds).all()
        else None,
    )
    records = frame[columns].to_dict("records")
    Feature.objects.bulk_create(
        (
            Feature(
                layer=layer,
                fid=int(row_no),
                geom=to_geos(geom),
                properties={k: _json_value(v) for k, v in rec.items()},
            )
            for row_no, geom, rec in zip(frame["_row"], frame.geometry, records)
        ),
        batch_size=2000,
    )
    return {"imported": len(frame), "layer": layer.slug, "layer_id": layer.id}


def _mapped(frame: pd.DataFrame, mapping: dict, field: str) -> pd.Series | None:
    column = mapping.get(field)
    if column is None:
        return None
    if column not in frame.columns:
        raise ImportRejected(
            f"mapping.{field}",
            f"the file has no attribute {column!r} (it has {sorted(_attribute_columns(frame))})",
        )
    return frame[column]


def _write_buildings(frame: gpd.GeoDataFrame, params: dict, report: dict) -> dict:
    city = _city(params)
    mapping = params.get("mapping") or {}
    height = _mapped(frame, mapping, "height_m")
    if height is None:
        raise ImportRejected("mapping.height_m", "say which attribute holds the height in metres")
    heights = pd.to_numeric(height, errors="coerce")
    bad = heights.isna() | (heights <= 0) | (heights > 1000)
    for row_no, value in zip(frame.loc[bad, "_row"], height[bad]):
        report["rejected"].append(
            {"row": int(row_no), "reason": f"height {value!r} is not a number in (0, 1000] m"}
        )
    frame, heights = frame.loc[~bad], heights[~bad]
    uses_raw = _mapped(frame, mapping, "use")
    levels_raw = _mapped(frame, mapping, "levels")
    ids = _mapped(frame, mapping, "external_id")
    local = frame.to_crs(epsg=city.local_epsg)
    area = local.geometry.area.to_numpy()
    use_classes = {"residential", "commercial", "industrial", "public", "other"}
    uses = [
        "other"
        if raw is None
        else (str(raw) if str(raw) in use_classes else building_use(str(raw)))
        for raw in (uses_raw if uses_raw is not None else [None] * len(frame))
    ]
    levels = (
        pd.to_numeric(levels_raw, errors="coerce")
        if levels_raw is not None
        else pd.Series([np.nan] * len(frame), index=frame.index)
    )
    floor = [
        floor_area_m2(a, h, None if pd.isna(lv) else lv) for a, h, lv in zip(area, heights, levels)
    ]
    pop = [residents_and_workers(u, f, a) for u, f, a in zip(uses, floor, area, strict=True)]
    out = gpd.GeoDataFrame(
        {
            "height_m": heights.to_numpy(float),
            "height_source": "imported",
            "levels": [
                lv if not pd.isna(lv) else max(1, round(h / 3)) for lv, h in zip(levels, heights)
            ],
            "use": uses,
            "building_type": "",
            "name": "",
            "footprint_area_m2": area,
            "floor_area_m2": floor,
            "residents": [p[0] for p in pop],
            "workers": [p[1] for p in pop],
            "external_id": ids.astype(str).to_numpy()
            if ids is not None
            else [f"row/{r}" for r in frame["_row"]],
            "osm_id": None,
            "tags": [{} for _ in range(len(frame))],
        },
        geometry=frame.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    write_buildings(city.id, out)
    return {"imported": len(out), "city": city.name}


def _write_roads(frame: gpd.GeoDataFrame, params: dict, report: dict) -> dict:
    """Road lines -> directed edges; nodes where line ends meet (coordinates rounded to ~1 cm)."""
    city = _city(params)
    mapping = params.get("mapping") or {}
    highway = _mapped(frame, mapping, "highway")
    lanes = _mapped(frame, mapping, "lanes")
    maxspeed = _mapped(frame, mapping, "maxspeed")
    oneway = _mapped(frame, mapping, "oneway")
    lines = []
    for i, geom in enumerate(frame.geometry):
        parts = list(geom.geoms) if geom.geom_type == "MultiLineString" else [geom]
        lines.extend((i, p) for p in parts)
    ends = np.array(
        [[ln.coords[0][0], ln.coords[0][1], ln.coords[-1][0], ln.coords[-1][1]] for _, ln in lines]
    )
    keyed = np.round(ends * 1e7).astype(np.int64)
    start_keys = [tuple(k) for k in keyed[:, :2]]
    end_keys = [tuple(k) for k in keyed[:, 2:]]
    # negative synthetic ids keep them apart from OSM ids of the same city
    node_key_to_id: dict[tuple, int] = {}
    next_id = -(city.road_nodes.count() + 1)
    for key in start_keys + end_keys:
        if key not in node_key_to_id:
            node_key_to_id[key] = next_id
            next_id -= 1
    node_ids = np.array(list(node_key_to_id.values()), dtype=np.int64)
    coords = np.array(list(node_key_to_id.keys()), dtype=float) / 1e7
    nodes = gpd.GeoDataFrame({"osm_id": node_ids}, geometry=shapely.points(coords), crs="EPSG:4326")
    rows = []
    local_len = (
        gpd.GeoSeries([ln for _, ln in lines], crs="EPSG:4326")
        .to_crs(epsg=city.local_epsg)
        .length.to_numpy()
    )
    seen: dict[tuple, int] = {}
    for j, (i, line) in enumerate(lines):
        ow_raw = oneway.iloc[i] if oneway is not None else None
        is_oneway = str(ow_raw).lower() in ("yes", "true", "1", "-1")
        reverse = str(ow_raw) == "-1"
        speed, n_lanes, capacity = link_defaults(
            highway.iloc[i] if highway is not None else None,
            maxspeed.iloc[i] if maxspeed is not None else None,
            lanes.iloc[i] if lanes is not None else None,
            is_oneway,
        )
        u, v = node_key_to_id[start_keys[j]], node_key_to_id[end_keys[j]]
        directions = [(v, u, shapely.reverse(line))] if reverse else [(u, v, line)]
        if not is_oneway:
            directions.append((v, u, shapely.reverse(line)))
        for a, b, g in directions:
            key = seen.get((a, b), -1) + 1
            seen[(a, b)] = key
            rows.append(
                {
                    "u_osm": a,
                    "v_osm": b,
                    "key": key,
                    "geometry": g,
                    "highway": highway_class(highway.iloc[i] if highway is not None else "road"),
                    "name": "",
                    "lanes": n_lanes,
                    "speed_kph": speed,
                    "capacity_veh_h": capacity,
                    "oneway": is_oneway,
                    "length_m": float(local_len[j]),
                    "osm_ids": [],
                    "speed_source": "imported" if maxspeed is not None else "default",
                    "lanes_source": "imported" if lanes is not None else "default",
                }
            )
    edges = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    written = write_road_network(city.id, nodes, edges)
    return {
        "imported": len(frame),
        "road_nodes": written["nodes"],
        "road_edges": written["edges"],
        "city": city.name,
    }


def _write_utilities(frame: gpd.GeoDataFrame, params: dict, report: dict) -> dict:
    city = _city(params)
    mapping = params.get("mapping") or {}
    network = _mapped(frame, mapping, "network")
    kind = _mapped(frame, mapping, "kind")
    default_network = params.get("network", "power")
    local_geoms = frame.to_crs(epsg=city.local_epsg).geometry.to_numpy()
    nodes, links = [], []
    for i, geom in enumerate(frame.geometry):
        net = str(network.iloc[i]) if network is not None else default_network
        knd = (
            str(kind.iloc[i])
            if kind is not None
            else ("line" if "Line" in geom.geom_type else "node")
        )
        if "Point" in geom.geom_type:
            for p in getattr(geom, "geoms", [geom]):
                nodes.append(UtilityNode(city=city, network=net, kind=knd, geom=to_geos(p)))
        else:
            # one link per part of a multi-line, each with its own length
            local_parts = getattr(local_geoms[i], "geoms", [local_geoms[i]])
            for p, local_part in zip(getattr(geom, "geoms", [geom]), local_parts):
                links.append(
                    UtilityLink(
                        city=city,
                        network=net,
                        kind=knd,
                        geom=to_geos(p),
                        length_m=float(local_part.length),
                    )
                )
    UtilityNode.objects.bulk_create(nodes, batch_size=2000)
    UtilityLink.objects.bulk_create(links, batch_size=2000)
    return {
        "imported": len(frame),
        "utility_nodes": len(nodes),
        "utility_links": len(links),
        "city": city.name,
    }


def _band_statistics(ds, band: int = 1) -> dict:
    """Min, max and mean of a band's valid pixels, read block by block (memory: one block)."""
    low, high, total, count = math.inf, -math.inf, 0.0, 0
    for _, window in ds.block_windows(band):
        block = ds.read(band, window=window, masked=True)
        valid = block.compressed()
        if valid.size:
            valid = valid[np.isfinite(valid)] if valid.dtype.kind == "f" else valid
        if valid.size:
            low, high = min(low, float(valid.min())), max(high, float(valid.max()))
            total += float(valid.sum(dtype="float64"))
            count += int(valid.size)
    return {"min": low, "max": high, "mean": total / count} if count else {}


def import_raster(
    path: Path, params: dict, owner_id: int | None, progress: ProgressCallback = null_progress
) -> dict:
    """Store a GeoTIFF as a Cloud-Optimized GeoTIFF under MEDIA_ROOT/rasters with its metadata."""
    started = time.perf_counter()
    progress(0.05, "reading raster")
    with rasterio.open(path) as ds:
        if ds.crs is None or ds.transform.is_identity:
            raise ImportRejected(
                "file", "the GeoTIFF has no georeferencing (no CRS or geotransform)"
            )
        _check_raster_size(ds.width, ds.height)
        crs = ds.crs.to_string()
        west, south, east, north = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
        stats = _band_statistics(ds)
        meta = {
            "width": ds.width,
            "height": ds.height,
            "band_count": ds.count,
            "dtype": ds.dtypes[0],
            "nodata": ds.nodata,
            "resolution": [abs(ds.res[0]), abs(ds.res[1])],
        }
    name = params.get("name") or Path(path.name).stem
    slug = _unique_slug(name)
    rel = Path("rasters") / f"{slug}.tif"
    dest = Path(settings.MEDIA_ROOT) / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    progress(0.4, "writing Cloud-Optimized GeoTIFF")
    # written under a hidden name and moved into place when the row commits (in a job, with
    # the job's transaction), so a failed or cancelled import leaves no raster behind
    partial = dest.with_name(f".{slug}.{uuid.uuid4().hex}.partial.tif")
    try:
        rio_copy(
            str(path), str(partial), driver="COG", compress="DEFLATE", overview_resampling="average"
        )
        with transaction.atomic():
            layer = RasterLayer.objects.create(
                city=_city(params),
                name=name,
                slug=slug,
                owner_id=owner_id,
                visibility=params.get("visibility", "public"),
                file_path=str(rel),
                crs=crs,
                extent=to_geos(shapely.box(west, south, east, north)),
                statistics=stats,
                **meta,
            )
            transaction.on_commit(lambda: partial.replace(dest))
        progress(1.0, "done")  # a cancel noticed here still removes the partial file
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return {
        "file": path.name,
        "target": "raster",
        "raster": layer.slug,
        "raster_id": layer.id,
        "crs_detected": crs,
        "reprojection": "none (stored in its own CRS as COG)",
        "read": 1,
        "imported": 1,
        "repaired": 0,
        "rejected": [],
        "seconds": round(time.perf_counter() - started, 3),
    }


def cleanup(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
