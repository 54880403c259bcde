"""A coarse power grid from the city's OSM power lines and substations (when no utility grid
was imported).

What OSM has is a drawing, not an engineering model, so the grid built here is coarse and its
report says so:

- every ``power=substation`` node of the city is a bus (at the voltage of its ``voltage`` tag:
  the lowest of a list, the level that feeds the city; default 20 kV);
- every ``power=line``/``cable``/``minor_line`` way is a line between the buses nearest its two
  ends (within ``SNAP_M``; ends beyond it become junction buses, ends closer than
  ``MERGE_M`` to each other one bus), at the voltage of its tag;
- line parameters per voltage class from pandapower's standard types (:data:`LINE_TYPES`,
  overhead above 30 kV, cable below), lengths from the geometry in the city's UTM zone;
- the buses of the highest voltage are fed by external grids (the rest of the country);
  where two buses of different voltage are joined, a transformer of
  :data:`TRAFO_TYPES` is placed instead of a line;
- each substation bus below the highest voltage carries a load, which the buildings linked to
  it fill with their demand (``utilities.power.service``).
"""

from __future__ import annotations

import re

import numpy as np
import pandapower as pp
from django.db import transaction

from layers.models import City, UtilityLink, UtilityNode
from simulators.power.build import create_ext_grids

from . import service
from .convert import Placement, store_net
from .models import Grid, Load, ServicePoint

SNAP_M = 300.0
MERGE_M = 30.0
DEFAULT_KV = 20.0
#: pandapower standard line types by voltage class (kV upper bound -> std_type)
LINE_TYPES = (
    (1.0, "NAYY 4x150 SE"),
    (30.0, "NA2XS2Y 1x185 RM/25 12/20 kV"),
    (150.0, "149-AL1/24-ST1A 110.0"),
    (1000.0, "490-AL1/64-ST1A 380.0"),
)
#: transformer standard types by (higher kV bound) -> std_type
TRAFO_TYPES = (
    (1.0, "0.63 MVA 20/0.4 kV"),
    (30.0, "0.63 MVA 20/0.4 kV"),
    (150.0, "40 MVA 110/20 kV"),
    (1000.0, "160 MVA 380/110 kV"),
)


def voltage_kv(tag: str | None) -> float | None:
    """The lowest voltage of an OSM ``voltage`` tag (volts, ``;``-separated), in kV."""
    values = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", str(tag or ""))]
    values = [v for v in values if v >= 100]  # volts
    return min(values) / 1000.0 if values else None


def _std(table, kv: float) -> str:
    return next(name for bound, name in table if kv <= bound)


def build_osm_grid(
    city: City, owner_id=None, tolerance_m: float = service.DEFAULT_TOLERANCE_M
) -> dict:
    """Build, store and link the coarse grid of ``city``; returns the report (one transaction).
    Raises ValueError when the city has no OSM power lines."""
    import pyproj

    to_local = pyproj.Transformer.from_crs(4326, city.local_epsg, always_xy=True)
    subs = list(UtilityNode.objects.filter(city=city, network="power", kind="substation"))
    links = list(
        UtilityLink.objects.filter(
            city=city, network="power", kind__in=("line", "cable", "minor_line")
        )
    )
    if not links:
        raise ValueError(f"{city.name} has no OSM power lines to build a grid from")
    net = pp.create_empty_network(name=f"{city.name} (coarse, from OSM)")
    bus_xy: list[tuple[float, float]] = []
    bus_kv: list[float] = []
    bus_names: list[str] = []
    bus_zone: list[str] = []
    lonlat: dict[int, tuple[float, float]] = {}
    line_rows, trafo_rows = [], []

    def add_bus(lon, lat, kv, name, kind):
        x, y = to_local.transform(lon, lat)
        idx = len(bus_xy)
        bus_xy.append((x, y))
        bus_kv.append(kv)
        bus_names.append(name)
        bus_zone.append(kind)
        lonlat[idx] = (lon, lat)
        return idx

    sub_buses = []
    for s in subs:
        kv = voltage_kv(s.tags.get("voltage")) or DEFAULT_KV
        sub_buses.append(
            add_bus(*s.geom.coords, kv, s.name or f"substation {s.osm_id}", "substation")
        )
    untagged = 0

    def end_bus(lon, lat, kv):
        x, y = to_local.transform(lon, lat)
        if bus_xy:
            d = np.hypot(*(np.asarray(bus_xy) - (x, y)).T)
            subs_d = np.where(np.isin(np.arange(len(bus_xy)), sub_buses), d, np.inf)
            if subs_d.min() <= SNAP_M:
                return int(np.argmin(subs_d))
            if d.min() <= MERGE_M:
                return int(np.argmin(d))
        return add_bus(lon, lat, kv, "junction", "junction")

    for link in links:
        kv = voltage_kv(link.voltage)
        if kv is None:
            kv, untagged = DEFAULT_KV, untagged + 1
        coords = link.geom.coords
        a, b = end_bus(*coords[0], kv), end_bus(*coords[-1], kv)
        if a == b:
            continue
        ka, kb = bus_kv[a], bus_kv[b]
        if abs(ka - kb) > 1e-6:  # a line into a substation of another voltage: its transformer
            hv, lv = (a, b) if ka > kb else (b, a)
            trafo_rows.append((hv, lv, _std(TRAFO_TYPES, max(ka, kb)), f"T {link.osm_id}"))
            continue
        line_rows.append(
            (a, b, max(link.length_m, 1.0) / 1000.0, _std(LINE_TYPES, kv),
             f"{link.kind} {link.osm_id or link.pk}", [list(c) for c in coords])
        )  # fmt: skip
    # junctions no line kept (both ends of a line in one place) are dropped; indices compacted
    used = set(sub_buses) | {r[0] for r in line_rows} | {r[1] for r in line_rows}
    used |= {r[0] for r in trafo_rows} | {r[1] for r in trafo_rows}
    keep = [b for b in range(len(bus_kv)) if b in used]
    new = {b: i for i, b in enumerate(keep)}
    bus_kv = [bus_kv[b] for b in keep]
    bus_names = [bus_names[b] for b in keep]
    bus_zone = [bus_zone[b] for b in keep]
    lonlat = {new[b]: lonlat[b] for b in keep}
    sub_buses = [new[b] for b in sub_buses]
    line_rows = [(new[r[0]], new[r[1]], *r[2:]) for r in line_rows]
    trafo_rows = [(new[r[0]], new[r[1]], *r[2:]) for r in trafo_rows]
    # pandapower's plural creators (its single-element ones fail on pandas 3: build.py)
    pp.create_buses(
        net, len(bus_kv), vn_kv=bus_kv, name=bus_names, type="b", zone=bus_zone,
        geodata=[lonlat[i] for i in range(len(bus_kv))],
    )  # fmt: skip
    for std in sorted({r[3] for r in line_rows}):
        rows = [r for r in line_rows if r[3] == std]
        pp.create_lines(
            net, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], std_type=std,
            name=[r[4] for r in rows], geodata=[r[5] for r in rows],
        )  # fmt: skip
    for std in sorted({r[2] for r in trafo_rows}):
        rows = [r for r in trafo_rows if r[2] == std]
        pp.create_transformers(
            net, [r[0] for r in rows], [r[1] for r in rows], std_type=std, name=[r[3] for r in rows]
        )
    # the highest-voltage substations are fed from the rest of the country (all buses of the
    # highest voltage when the city has no substation)
    top_kv = max(bus_kv[b] for b in sub_buses) if sub_buses else max(bus_kv)
    feeds = [b for b, kv in enumerate(bus_kv) if kv == top_kv and (b in sub_buses or not sub_buses)]
    create_ext_grids(net, feeds, name="rest of the grid")
    served = [b for b in sub_buses if bus_kv[b] < top_kv]
    if not served:  # one voltage level only: every substation serves buildings
        served = list(sub_buses or range(len(bus_kv)))
    pp.create_loads(
        net, served, p_mw=[0.0] * len(served), q_mvar=[0.0] * len(served),
        name=[f"load at {bus_names[b]}" for b in served],
    )  # fmt: skip
    with transaction.atomic():
        grid, counts = store_net(
            net,
            city,
            Placement("lonlat", "OSM geometry (lon/lat)", lonlat),
            name=net.name,
            owner_id=owner_id,
            source=Grid.Source.OSM,
            source_file="OSM power=line/cable/minor_line and power=substation",
        )
        links_report = service.link_buildings(grid, tolerance_m)
        # each load: the demand of the buildings it serves (kW -> MW, power factor 0.95)
        for load in Load.objects.filter(grid=grid):
            kw = sum(
                ServicePoint.objects.filter(grid=grid, bus_id=load.bus_id).values_list(
                    "demand_kw", flat=True
                )
            )
            load.p_mw = kw / 1000.0
            load.q_mvar = load.p_mw * float(np.tan(np.arccos(0.95)))
            load.save(update_fields=["p_mw", "q_mvar"])
        report = {
            "target": "osm_coarse",
            "grid": grid.pk,
            "coarse_topology": (
                f"built from {len(links)} OSM power lines and {len(subs)} substations: not a "
                "utility's model. Substations are buses at the lowest voltage of their tag, "
                f"line ends snap to a substation within {SNAP_M:g} m, line parameters are "
                "pandapower standard types by voltage class, external grids feed the "
                f"{top_kv:g} kV buses, loads are the linked buildings' demand"
            ),
            "lines_without_voltage_tag": untagged,
            "line_types": {f"<= {b:g} kV": t for b, t in LINE_TYPES},
            "imported": counts,
            "service_points": links_report,
        }
        grid.import_report = report
        grid.save(update_fields=["import_report"])
    return report
