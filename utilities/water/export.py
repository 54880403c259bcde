"""A stored water network back to WNTR (records, model) and to an EPANET ``.inp`` file.

The typed columns win over the stored records (they are what the twin edits); coordinates go
back to the file's CRS (``WaterNetwork.source_crs``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj

from simulators.water.network import build, write_inp

from .models import WaterLink, WaterNetwork, WaterNode

NODE_FIELDS = {
    "junction": {"elevation_m": "elevation"},
    "tank": {
        "elevation_m": "elevation",
        "init_level_m": "init_level",
        "min_level_m": "min_level",
        "max_level_m": "max_level",
        "tank_diameter_m": "diameter",
    },
    "reservoir": {"base_head_m": "base_head", "head_pattern": "head_pattern_name"},
}
LINK_FIELDS = {
    "pipe": {
        "length_m": "length",
        "diameter_m": "diameter",
        "roughness": "roughness",
        "minor_loss": "minor_loss",
        "initial_status": "initial_status",
        "check_valve": "check_valve",
    },
    "pump": {
        "initial_status": "initial_status",
        "pump_curve": "pump_curve_name",
        "power_w": "power",
    },
    "valve": {
        "diameter_m": "diameter",
        "minor_loss": "minor_loss",
        "initial_status": "initial_status",
        "initial_setting": "initial_setting",
    },
}


def _to_source(network: WaterNetwork) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(4326, network.source_crs, always_xy=True)


def network_records(network: WaterNetwork) -> dict:
    """WNTR's dictionary form of the stored network (SI), ready for ``wntr.network.from_dict``."""
    back = _to_source(network)
    nodes = []
    rows = list(network.nodes.order_by("id"))
    lon = np.array([n.geom.x for n in rows])
    lat = np.array([n.geom.y for n in rows])
    x, y = back.transform(lon, lat) if rows else ([], [])
    for node, nx_, ny_ in zip(rows, x, y, strict=True):
        rec = dict(node.record)
        for column, key in NODE_FIELDS[node.kind].items():
            rec[key] = getattr(node, column)
        if node.kind == "junction":
            _set_demand(rec, node.base_demand_m3s)
        rec["coordinates"] = (float(nx_), float(ny_))
        nodes.append(rec)
    links = []
    for link in network.links.order_by("id"):
        rec = dict(link.record)
        for column, key in LINK_FIELDS[link.kind].items():
            rec[key] = getattr(link, column)
        inner = link.geom.coords[1:-1]
        if inner:
            vx, vy = back.transform([c[0] for c in inner], [c[1] for c in inner])
            rec["vertices"] = [(float(a), float(b)) for a, b in zip(vx, vy, strict=True)]
        else:
            rec["vertices"] = []
        links.append(rec)
    return {
        **network.extra,
        "name": network.name,
        "options": network.options,
        "curves": [
            {"name": c.name, "curve_type": c.curve_type, "points": [tuple(p) for p in c.points]}
            for c in network.curves.order_by("id")
        ],
        "patterns": [
            {"name": p.name, "multipliers": list(p.multipliers)}
            for p in network.patterns.order_by("id")
        ],
        "nodes": nodes,
        "links": links,
        "sources": network.sources,
        "controls": network.controls,
    }


def _set_demand(rec: dict, total_m3s: float | None) -> None:
    """Scale the junction's demand categories to the stored total (an edited base demand)."""
    demands = rec.get("demand_timeseries_list") or []
    current = sum(d["base_val"] for d in demands)
    if total_m3s is None or not demands or abs(current - total_m3s) <= 1e-15:
        return
    if current == 0:
        demands[0] = {**demands[0], "base_val": total_m3s}
    else:
        factor = total_m3s / current
        rec["demand_timeseries_list"] = [{**d, "base_val": d["base_val"] * factor} for d in demands]


def water_model(network: WaterNetwork):
    """The stored network as a WNTR WaterNetworkModel."""
    return build(network_records(network))


def export_inp(network: WaterNetwork, path: str | Path) -> Path:
    """Write the stored network as an EPANET ``.inp`` in the file's flow units."""
    wn = water_model(network)
    write_inp(wn, path, units=network.flow_units)
    return Path(path)


__all__ = ["network_records", "water_model", "export_inp", "WaterLink", "WaterNode"]
