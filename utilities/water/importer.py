"""Import an EPANET ``.inp`` file into a city's water network tables (target ``water``).

Through the layers' import API, CLI and jobs (:mod:`layers.importers.targets`): ``inspect``
runs in the request (a 4xx at once), ``run_import`` in the job, in one transaction.

Coordinates: the CRS the user gives (``crs``), else longitude/latitude when every node lies in
[-180, 180] x [-90, 90], else a 400 on ``crs``. An isolation valve layer (``valve_layer``:
``none`` or ``strategic``, WNTR's N-1 placement: a valve at every end of a pipe but one per
node) is optional; the twin's pipe-break isolation needs one.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyproj
from django.contrib.gis.geos import LineString, Point
from django.db import transaction
from django.utils.text import slugify

from jobs.progress import ProgressCallback, null_progress
from layers.importers import ImportRejected
from layers.importers.targets import ImportTarget
from simulators.water.network import InpRejected, check_inp_text, read_inp, records

from .models import (
    IsolationValve,
    WaterCurve,
    WaterLink,
    WaterNetwork,
    WaterNode,
    WaterPattern,
)

VALVE_LAYERS = ("none", "strategic", "all")
NODE_KINDS = {"Junction": "junction", "Reservoir": "reservoir", "Tank": "tank"}
LINK_KINDS = {"Pipe": "pipe", "Pump": "pump", "Valve": "valve"}


def _city(params: dict):
    from layers.importers.files import _city as find_city

    city = find_city(params)
    if city is None:
        raise ImportRejected("city", "a water network belongs to a city: give its name")
    return city


def valve_pairs(value) -> list[tuple[str, str]] | None:
    """``valve_layer`` given as a JSON list of ``[link, node]`` pairs, else None."""
    if isinstance(value, str) and value.strip().startswith("["):
        import json

        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ImportRejected("valve_layer", f"not valid JSON ({exc})") from exc
    if isinstance(value, list):
        if not all(isinstance(p, list) and len(p) == 2 for p in value):
            raise ImportRejected("valve_layer", "must be a list of [link, node] pairs")
        return [(str(a), str(b)) for a, b in value]
    return None


def _check_params(params: dict) -> None:
    layer = params.get("valve_layer", "none")
    if valve_pairs(layer) is None and layer not in VALVE_LAYERS:
        raise ImportRejected(
            "valve_layer",
            f"must be one of {', '.join(VALVE_LAYERS)} or a JSON list of [link, node] pairs",
        )
    if params.get("visibility", "public") not in ("public", "private"):
        raise ImportRejected("visibility", "must be public or private")


def _text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def inspect(path: Path, params: dict) -> dict:
    """Cheap checks in the request: city, options, sections, units, coordinates present."""
    _city(params)
    _check_params(params)
    try:
        found = check_inp_text(_text(path))
    except InpRejected as exc:
        raise ImportRejected(exc.field, exc.message) from exc
    x0, y0, x1, y1 = found["bounds"]
    transformer(params.get("crs"), np.array([[x0, y0], [x1, y1]]))  # a 400 on crs now
    return {"kind": "epanet", **found}


def transformer(crs: str | None, xy: np.ndarray) -> tuple[pyproj.Transformer, str]:
    """The file CRS -> lon/lat transformer (given, or lon/lat detected); 400 on ``crs``."""
    if crs:
        try:
            source = pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError as exc:
            raise ImportRejected("crs", f"unknown CRS {crs!r}") from exc
        return pyproj.Transformer.from_crs(source, 4326, always_xy=True), source.to_string()
    x, y = xy[:, 0], xy[:, 1]
    if len(xy) and (np.abs(x) <= 180).all() and (np.abs(y) <= 90).all():
        return pyproj.Transformer.from_crs(4326, 4326, always_xy=True), "EPSG:4326"
    raise ImportRejected(
        "crs",
        f"the node coordinates (x {x.min():.6g} .. {x.max():.6g}, y {y.min():.6g} .. "
        f"{y.max():.6g}) are not longitude/latitude; give the file's CRS with the crs "
        "parameter (e.g. EPSG:3067, or a PROJ string for a local grid)",
    )


def _float(value) -> float | None:
    return None if value is None else float(value)


def node_columns(rec: dict) -> dict:
    """Typed columns of a node from WNTR's record (SI)."""
    kind = NODE_KINDS[rec["node_type"]]
    out = {"kind": kind, "elevation_m": _float(rec.get("elevation"))}
    if kind == "junction":
        demands = rec.get("demand_timeseries_list") or []
        out["base_demand_m3s"] = float(sum(d["base_val"] for d in demands))
        out["demand_pattern"] = demands[0]["pattern_name"] if demands else None
    elif kind == "reservoir":
        out["elevation_m"] = None
        out["base_head_m"] = _float(rec.get("base_head"))
        out["head_pattern"] = rec.get("head_pattern_name")
    else:
        out.update(
            init_level_m=_float(rec.get("init_level")),
            min_level_m=_float(rec.get("min_level")),
            max_level_m=_float(rec.get("max_level")),
            tank_diameter_m=_float(rec.get("diameter")),
        )
    return out


def link_columns(rec: dict) -> dict:
    kind = LINK_KINDS[rec["link_type"]]
    out = {"kind": kind, "initial_status": rec.get("initial_status")}
    if kind == "pipe":
        out.update(
            length_m=_float(rec.get("length")),
            diameter_m=_float(rec.get("diameter")),
            roughness=_float(rec.get("roughness")),
            minor_loss=_float(rec.get("minor_loss")),
            check_valve=bool(rec.get("check_valve")),
        )
    elif kind == "pump":
        out.update(
            pump_type=rec.get("pump_type"),
            pump_curve=rec.get("pump_curve_name"),
            power_w=_float(rec.get("power")),
            initial_setting=_float(rec.get("base_speed")),
        )
    else:
        out.update(
            diameter_m=_float(rec.get("diameter")),
            minor_loss=_float(rec.get("minor_loss")),
            valve_type=rec.get("valve_type"),
            initial_setting=_float(rec.get("initial_setting")),
        )
    return out


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "water-network"
    slug, n = base, 2
    while WaterNetwork.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def run_import(
    path: Path,
    params: dict,
    owner_id: int | None = None,
    progress: ProgressCallback = null_progress,
) -> dict:
    """Read, check and store the network (one transaction); returns the report."""
    started = time.perf_counter()
    city = _city(params)
    _check_params(params)
    progress(0.05, "reading the EPANET file with WNTR")
    try:
        wn = read_inp(path)
    except InpRejected as exc:
        raise ImportRejected(exc.field, exc.message) from exc
    data = records(wn)
    xy = np.array([n["coordinates"] for n in data["nodes"]], dtype=float)
    to_lonlat, source_crs = transformer(params.get("crs"), xy)
    lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1])
    lonlat = np.column_stack([lon, lat])
    if not np.isfinite(lonlat).all() or (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        raise ImportRejected(
            "crs", f"the coordinates do not fall on the earth in {source_crs}: is it the right CRS?"
        )
    progress(0.3, "writing the network")
    name = params.get("name") or Path(params.get("file_name") or path.name).stem
    with transaction.atomic():
        network = _write(city, name, path, params, owner_id, data, source_crs, lonlat, to_lonlat)
        valves = _valves(network, wn, params.get("valve_layer", "none"))
    progress(1.0, "done")
    counts = wn.describe(level=1)
    return {
        "file": params.get("file_name") or path.name,
        "target": "water",
        "network": network.slug,
        "network_id": network.pk,
        "city": city.name,
        "read": counts["Nodes"]["Junctions"]
        + counts["Nodes"]["Tanks"]
        + counts["Nodes"]["Reservoirs"],
        "imported": network.nodes.count() + network.links.count(),
        "elements": counts,
        "isolation_valves": valves,
        "flow_units": network.flow_units,
        "headloss": network.headloss,
        "crs_detected": source_crs,
        "reprojection": f"{source_crs} -> EPSG:4326",
        "rejected": [],
        "seconds": round(time.perf_counter() - started, 3),
    }


def _write(city, name, path, params, owner_id, data, source_crs, lonlat, to_lonlat) -> WaterNetwork:
    options = data["options"]
    wn_units = options["hydraulic"].get("inpfile_units") or _units(path)
    network = WaterNetwork.objects.create(
        city=city,
        name=name,
        slug=_unique_slug(name),
        owner_id=owner_id,
        visibility=params.get("visibility", "public"),
        source_file=params.get("file_name") or path.name,
        source_crs=source_crs,
        flow_units=wn_units,
        headloss=options["hydraulic"]["headloss"],
        duration_s=float(options["time"]["duration"]),
        hydraulic_timestep_s=float(options["time"]["hydraulic_timestep"]),
        pattern_timestep_s=float(options["time"]["pattern_timestep"]),
        demand_model=options["hydraulic"]["demand_model"],
        options=options,
        controls=data["controls"],
        sources=data["sources"],
        extra={k: data[k] for k in ("version", "comment", "references") if k in data},
    )
    WaterPattern.objects.bulk_create(
        WaterPattern(
            network=network, name=p["name"], multipliers=[float(m) for m in p["multipliers"]]
        )
        for p in data["patterns"]
    )
    WaterCurve.objects.bulk_create(
        WaterCurve(
            network=network,
            name=c["name"],
            curve_type=c.get("curve_type"),
            points=[list(map(float, pt)) for pt in c["points"]],
        )
        for c in data["curves"]
    )
    nodes = WaterNode.objects.bulk_create(
        (
            WaterNode(
                network=network,
                city=city,
                name=rec["name"],
                geom=Point(float(x), float(y), srid=4326),
                record={k: v for k, v in rec.items() if k != "coordinates"},
                **node_columns(rec),
            )
            for rec, (x, y) in zip(data["nodes"], lonlat, strict=True)
        ),
        batch_size=5000,
    )
    by_name = {n.name: n for n in nodes}
    links = []
    for rec in data["links"]:
        start, end = by_name[rec["start_node_name"]], by_name[rec["end_node_name"]]
        coords = [start.geom.coords]
        if rec.get("vertices"):
            vx, vy = np.array(rec["vertices"], dtype=float).T
            coords += list(zip(*to_lonlat.transform(vx, vy), strict=True))
        coords.append(end.geom.coords)
        if len(coords) == 2 and coords[0] == coords[1]:
            coords[1] = (coords[1][0] + 1e-9, coords[1][1])  # a link between co-located nodes
        links.append(
            WaterLink(
                network=network,
                city=city,
                name=rec["name"],
                start=start,
                end=end,
                geom=LineString(coords, srid=4326),
                record={k: v for k, v in rec.items() if k != "vertices"},
                **link_columns(rec),
            )
        )
    WaterLink.objects.bulk_create(links, batch_size=5000)
    return network


def _units(path: Path) -> str:
    return check_inp_text(_text(path))["units"]


def _valves(network: WaterNetwork, wn, layer) -> int:
    """The isolation valve layer: WNTR's strategic N-1 placement (seeded: the same file gives
    the same valves), ``all`` (both ends of every pipe), or the pairs the user gave."""
    import wntr

    pairs = valve_pairs(layer)
    source = "imported"
    if pairs is None and layer == "strategic":
        frame = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=0)
        pairs, source = [(str(r.link), str(r.node)) for r in frame.itertuples()], "strategic"
    elif pairs is None and layer == "all":
        pairs, source = [], "all"
        for name, pipe in wn.pipes():
            pairs += [(name, pipe.start_node_name), (name, pipe.end_node_name)]
    if not pairs:
        return 0
    nodes = dict(network.nodes.values_list("name", "id"))
    links = dict(network.links.values_list("name", "id"))
    for link, node in pairs:
        if link not in links or node not in nodes:
            raise ImportRejected("valve_layer", f"no link {link!r} or node {node!r} in the file")
        if node not in (wn.get_link(link).start_node_name, wn.get_link(link).end_node_name):
            raise ImportRejected("valve_layer", f"node {node!r} is not an end of link {link!r}")
    IsolationValve.objects.bulk_create(
        IsolationValve(network=network, link_id=links[a], node_id=nodes[b], source=source)
        for a, b in pairs
    )
    return len(pairs)


TARGET = ImportTarget(
    name="water",
    suffixes=(".inp",),
    description="EPANET network (.inp) into a city's water networks",
    inspect=inspect,
    run=run_import,
)
