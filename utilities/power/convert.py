"""pandapower nets <-> the twin's power tables, both ways, exactly.

``read_net(text)`` checks a pandapower JSON file (a net, of a format this pandapower reads);
``place_coordinates`` gives every bus a lon/lat point (the file's geodata, reprojected from a
given CRS, or a schematic/generated layout placed at the city); ``store_net`` writes a
:class:`~utilities.power.models.Grid` and its element rows in the caller's transaction;
``grid_to_net`` rebuilds the net: same tables, indices, columns, dtypes and values, so that
``pandapower.toolbox.nets_equal`` holds and a power flow gives the same results.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.topology as top
import pandas as pd
import pyproj
import shapely
from django.contrib.gis.geos import LineString, Point
from packaging.version import InvalidVersion, Version

from layers.importers import ImportRejected
from layers.models import City

from .models import ELEMENT_MODELS, Bus, Grid

#: the oldest pandapower JSON format read (pandapower 2.0 onwards convert on load)
MIN_FORMAT_VERSION = Version("2.0.0")
#: pandapower's own format version: newer files are refused (fields this version cannot know)
MAX_FORMAT_VERSION = Version(getattr(pp, "__format_version__", pp.__version__))
#: a schematic or generated layout is spread over a square this wide at the city (km)
DEFAULT_LAYOUT_KM = 6.0

COORDINATE_MODES = {
    "lonlat": "the file's geodata are lon/lat (EPSG:4326) or in the CRS given with crs",
    "schematic": "the file's geodata are a schematic drawing: scaled and placed at the city",
    "generate": "the file has no (usable) geodata: a layout of the topology placed at the city",
}

#: pandapower columns that are model fields (besides pp_index); bus references map to Bus rows
BUS_REFS = {"from_bus", "to_bus", "hv_bus", "lv_bus", "bus"}


def _model_columns(model) -> set[str]:
    names = {f.name for f in model._meta.get_fields() if getattr(f, "concrete", False)}
    return names - {"id", "grid", "city", "pp_index", "extra", "geom"}


_NAN = {"$nan": True}


def _json_value(value):
    """A cell as a JSON value; a float NaN becomes a marker so it comes back as NaN, not None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return _NAN if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def _from_json(value):
    return float("nan") if value == _NAN else value


# -- reading and checking a file -------------------------------------------------------------------


def read_net(text: str):
    """A pandapower net from JSON text; raises ImportRejected naming what is wrong."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ImportRejected("file", f"the file is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("_class") != "pandapowerNet":
        raise ImportRejected(
            "file",
            'the file is not a pandapower net (no "_class": "pandapowerNet"; write it with '
            "pandapower.to_json)",
        )
    body = doc.get("_object") or {}
    raw = str(body.get("format_version") or body.get("version") or "")
    try:
        version = Version(raw)
    except InvalidVersion:
        raise ImportRejected(
            "format_version", f"the net's format version {raw!r} is not a version number"
        ) from None
    if not MIN_FORMAT_VERSION <= version <= MAX_FORMAT_VERSION:
        raise ImportRejected(
            "format_version",
            f"the net is of pandapower format {version}; this twin reads formats "
            f"{MIN_FORMAT_VERSION} to {MAX_FORMAT_VERSION} (pandapower {pp.__version__})",
        )
    try:
        net = pp.from_json_string(text)
    except Exception as exc:  # pandapower raises many kinds on a damaged net
        raise ImportRejected("file", f"pandapower cannot read the net ({exc})") from None
    if len(net.bus) == 0:
        raise ImportRejected("file", "the net has no buses")
    return net, version


def _geo_points(net) -> pd.Series:
    """Bus coordinates (x, y) from the ``geo`` column (None where missing)."""
    if "geo" not in net.bus:
        return pd.Series([None] * len(net.bus), index=net.bus.index, dtype=object)

    def parse(value):
        if not isinstance(value, str) or not value:
            return None
        try:
            geom = shapely.from_geojson(value)
        except Exception:
            return None
        if geom.is_empty or geom.geom_type != "Point":
            return None
        return (geom.x, geom.y)

    return net.bus["geo"].map(parse)


@dataclass
class Placement:
    """How the bus coordinates became lon/lat: the mode and what was done, for the report."""

    mode: str
    note: str
    lonlat: dict[int, tuple[float, float]] = field(default_factory=dict)
    #: a function (x, y) arrays -> lon, lat for line geodata in the file's coordinates
    transform: object = None


def _city_centre(city: City) -> tuple[float, float]:
    from citytwin.scenarios.edits import city_bbox

    bbox = city_bbox(city)
    if bbox is None and city.boundary is not None:
        bbox = city.boundary.extent
    if bbox is None:
        raise ImportRejected(
            "coordinates",
            f"the city {city.name!r} has no extent to place a schematic grid at; give the "
            "grid in lon/lat",
        )
    return (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2


def _fit_at_city(city: City, xy: np.ndarray, layout_km: float):
    """An affine map of the points ``xy`` into a ``layout_km`` square at the city's centre."""
    lon0, lat0 = _city_centre(city)
    to_local = pyproj.Transformer.from_crs(4326, city.local_epsg, always_xy=True)
    to_lonlat = pyproj.Transformer.from_crs(city.local_epsg, 4326, always_xy=True)
    cx, cy = to_local.transform(lon0, lat0)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float(max(hi - lo)) or 1.0
    scale = layout_km * 1000.0 / span
    mid = (lo + hi) / 2

    def transform(x, y):
        return to_lonlat.transform(
            cx + (np.asarray(x) - mid[0]) * scale, cy + (np.asarray(y) - mid[1]) * scale
        )

    return transform


def place_coordinates(
    net, city: City, mode: str = "lonlat", crs: str | None = None, layout_km: float | None = None
) -> Placement:
    """Lon/lat of every bus, by ``mode`` (see :data:`COORDINATE_MODES`).

    Raises ImportRejected naming ``geodata`` when buses have no coordinates (mode lonlat or
    schematic) or the coordinates cannot be lon/lat, and ``coordinates`` for an unknown mode.
    """
    if mode not in COORDINATE_MODES:
        raise ImportRejected(
            "coordinates", f"must be one of {', '.join(COORDINATE_MODES)}, got {mode!r}"
        )
    layout_km = layout_km or DEFAULT_LAYOUT_KM
    points = _geo_points(net)
    if mode == "generate":
        graph = top.create_nxgraph(net, respect_switches=False, include_out_of_service=True)
        graph = nx.Graph(graph)
        graph.add_nodes_from(net.bus.index)
        layout = (
            nx.kamada_kawai_layout(graph) if len(graph) <= 2000 else nx.spring_layout(graph, seed=1)
        )
        xy = np.array([layout[b] for b in net.bus.index], dtype=float)
        transform = _fit_at_city(city, xy, layout_km)
        lon, lat = transform(xy[:, 0], xy[:, 1])
        return Placement(
            mode,
            f"no geodata used: a Kamada-Kawai layout of the topology, {layout_km:g} km wide, "
            f"placed at the centre of {city.name}",
            dict(zip(net.bus.index.tolist(), zip(lon.tolist(), lat.tolist()))),
            None,
        )
    missing = points.isna()
    if missing.any():
        shown = ", ".join(map(str, net.bus.index[missing][:10].tolist()))
        raise ImportRejected(
            "geodata",
            f"{int(missing.sum())} of {len(net.bus)} buses have no coordinates (bus.geo; "
            f"e.g. {shown}); give the grid with geodata, or import it with "
            "coordinates=generate to place a layout of its topology at the city",
        )
    xy = np.array(points.tolist(), dtype=float)
    if not np.isfinite(xy).all():
        raise ImportRejected("geodata", "bus coordinates must be finite numbers")
    if mode == "schematic":
        transform = _fit_at_city(city, xy, layout_km)
        note = (
            f"schematic geodata scaled to {layout_km:g} km and placed at the centre of {city.name}"
        )
    elif crs:
        to_lonlat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        transform = to_lonlat.transform
        note = f"geodata reprojected {crs} -> EPSG:4326"
    else:
        if (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
            raise ImportRejected(
                "geodata",
                "bus coordinates are not lon/lat degrees (EPSG:4326): give their CRS with crs, "
                "or import with coordinates=schematic",
            )
        transform = None
        note = "geodata in lon/lat (EPSG:4326) as given"
    if transform is None:
        lon, lat = xy[:, 0], xy[:, 1]
    else:
        lon, lat = transform(xy[:, 0], xy[:, 1])
    return Placement(
        mode,
        note,
        dict(zip(net.bus.index.tolist(), zip(np.asarray(lon).tolist(), np.asarray(lat).tolist()))),
        transform,
    )


# -- storing -----------------------------------------------------------------------------------


def _geojson(kind: str, coords) -> str:
    """pandapower's own geo string (json.dumps of coordinates then type)."""
    return json.dumps({"coordinates": coords, "type": kind})


def _line_geometry(row, placement: Placement, bus_xy: dict) -> tuple[list, str]:
    """The line's lon/lat coordinates: its own geodata (placed like the buses) if usable,
    else straight from bus to bus; and where they came from."""
    value = row.get("geo")
    if isinstance(value, str) and value and placement.mode != "generate":
        try:
            geom = shapely.from_geojson(value)
        except Exception:
            geom = None
        if geom is not None and geom.geom_type == "LineString" and len(geom.coords) >= 2:
            xy = np.asarray(geom.coords, dtype=float)[:, :2]
            if placement.transform is not None:
                lon, lat = placement.transform(xy[:, 0], xy[:, 1])
                xy = np.column_stack([lon, lat])
            if np.isfinite(xy).all() and (np.abs(xy[:, 0]) <= 180).all():
                return xy.tolist(), "geodata"
    a, b = bus_xy[int(row["from_bus"])], bus_xy[int(row["to_bus"])]
    return [list(a), list(b)], "straight"


def store_net(
    net,
    city: City,
    placement: Placement,
    *,
    name: str,
    owner_id: int | None = None,
    visibility: str = "public",
    source: str = Grid.Source.PANDAPOWER,
    source_file: str = "",
    format_version: str = "",
) -> tuple[Grid, dict]:
    """Write ``net`` as a Grid with its element rows (caller's transaction); returns the grid
    and counts per table."""
    tables = {}
    for table in ELEMENT_MODELS:
        frame = net[table]
        tables[table] = {
            "columns": [str(c) for c in frame.columns],
            "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
            "index_dtype": str(frame.index.dtype),
        }
    rest = copy.deepcopy(net)
    for table in ELEMENT_MODELS:
        rest[table] = rest[table].iloc[0:0]
    for key in list(rest.keys()):
        if key.startswith("res_") and isinstance(rest[key], pd.DataFrame):
            rest[key] = rest[key].iloc[0:0]
    grid = Grid.objects.create(
        city=city,
        name=name,
        owner_id=owner_id,
        visibility=visibility,
        source=source,
        source_file=source_file,
        f_hz=float(net.f_hz),
        sn_mva=float(net.sn_mva),
        pandapower_version=str(net.get("version", "")),
        format_version=format_version or str(net.get("format_version", "")),
        tables=tables,
        rest_json=pp.to_json(rest),
    )
    counts = {}
    bus_xy = placement.lonlat
    buses = {}
    rows = []
    for index, row in net.bus.iterrows():
        lon, lat = bus_xy[int(index)]
        obj = _element(Bus, grid, city, int(index), row)
        obj.geom = Point(lon, lat, srid=4326)
        _keep_geo(obj, row, _geojson("Point", [lon, lat]))
        rows.append(obj)
    Bus.objects.bulk_create(rows, batch_size=2000)
    buses = {b.pp_index: b for b in Bus.objects.filter(grid=grid)}
    counts["bus"] = len(buses)
    straight = 0
    for table, model in ELEMENT_MODELS.items():
        if table == "bus":
            continue
        rows = []
        for index, row in net[table].iterrows():
            obj = _element(model, grid, city, int(index), row, buses)
            if table == "line":
                coords, origin = _line_geometry(row, placement, bus_xy)
                straight += origin == "straight"
                obj.geom = LineString(coords, srid=4326)
                _keep_geo(obj, row, _geojson("LineString", coords))
            elif table == "trafo":
                obj.geom = buses[int(row["lv_bus"])].geom
            rows.append(obj)
        model.objects.bulk_create(rows, batch_size=2000)
        counts[table] = len(rows)
    counts["lines_drawn_straight"] = straight
    return grid, counts


def _element(model, grid: Grid, city: City, index: int, row: pd.Series, buses=None):
    fields = _model_columns(model)
    values, extra = {}, {}
    nan_fields = []
    for column, value in row.items():
        column = str(column)
        if column == "geo":
            continue
        if column in BUS_REFS and column in fields:
            values[column] = buses[int(value)]
        elif (
            column in fields
            and _is_text(model, column)
            and not (value is None or isinstance(value, str))
        ):
            extra[column] = _json_value(value)  # e.g. case118's zone 1.0: kept as it is
        elif column in fields:
            cell = _json_value(value)
            if cell == _NAN:
                nan_fields.append(column)
                cell = None
            values[column] = cell
        else:
            extra[column] = _json_value(value)
    if nan_fields:
        extra["$nan_fields"] = nan_fields
    return model(grid=grid, city=city, pp_index=index, extra=extra, **values)


def _is_text(model, column: str) -> bool:
    return model._meta.get_field(column).get_internal_type() == "CharField"


def _keep_geo(obj, row: pd.Series, regenerated: str) -> None:
    """Keep the file's own geo cell when it is not what the stored geometry writes back."""
    if "geo" not in row.index:
        obj.extra["$no_geo_column"] = True
        return
    original = row["geo"]
    if not (isinstance(original, str) and original == regenerated):
        obj.extra["geo"] = _json_value(original)


# -- rebuilding ----------------------------------------------------------------------------------


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == "bool":
        return series.astype(bool)
    if dtype == "object":
        return series.astype(object)
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


def grid_to_net(grid: Grid):
    """The pandapower net of ``grid`` as stored (edits are applied by the caller)."""
    net = pp.from_json_string(grid.rest_json)
    for table, model in ELEMENT_MODELS.items():
        spec = grid.tables.get(table)
        if spec is None:
            continue
        net[table] = _table(model, grid, spec)
    return net


def _table(model, grid: Grid, spec: dict, rows=None, bus_index=None) -> pd.DataFrame:
    fields = _model_columns(model)
    columns = spec["columns"]
    refs = [c for c in columns if c in BUS_REFS and c in fields]
    if rows is None:
        rows = model.objects.filter(grid=grid).order_by("pp_index")
    if bus_index is None:
        bus_index = (
            dict(Bus.objects.filter(grid=grid).values_list("id", "pp_index")) if refs else {}
        )
    records, index = [], []
    for obj in rows:
        nan_fields = set(obj.extra.get("$nan_fields", ()))
        record = {}
        for column in columns:
            if column in obj.extra and column not in ("$nan_fields",):
                record[column] = _from_json(obj.extra[column])
            elif column == "geo":
                if "geo" in obj.extra:
                    record[column] = _from_json(obj.extra["geo"])
                else:
                    coords = (
                        list(obj.geom.coords)
                        if model is Bus
                        else [list(c) for c in obj.geom.coords]
                    )
                    kind = "Point" if model is Bus else "LineString"
                    record[column] = _geojson(kind, list(coords))
            elif column in refs:
                record[column] = bus_index[getattr(obj, f"{column}_id")]
            elif column in fields:
                record[column] = float("nan") if column in nan_fields else getattr(obj, column)
            else:
                record[column] = _from_json(obj.extra.get(column))
        records.append(record)
        index.append(obj.pp_index)
    # object first: pandas 3 would infer its str dtype and turn None into NaN
    frame = pd.DataFrame(
        records, columns=columns, index=pd.Index(index, dtype="int64"), dtype=object
    )
    for column in columns:
        frame[column] = _cast(frame[column], spec["dtypes"][column])
    if spec.get("index_dtype") and spec["index_dtype"] != "int64":
        frame.index = frame.index.astype(spec["index_dtype"])
    return frame


def net_to_json(net) -> str:
    return pp.to_json(net)
