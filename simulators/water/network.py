"""EPANET networks through WNTR: read and check an ``.inp``, plain records, pressure-driven runs.

The records are WNTR's own dictionary form (:func:`wntr.network.to_dict`, SI units: m, m3/s,
s), so that nothing of a network is lost between a file, the twin's tables and a run: what the
twin keeps in typed columns (elevations, diameters, roughness, ...) is put back over the record
when a network is rebuilt (:func:`build`).
"""

from __future__ import annotations

import copy
import math
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import wntr

#: the flow units an EPANET 2.2 file may name in [OPTIONS] UNITS
FLOW_UNITS = ("CFS", "GPM", "MGD", "IMGD", "AFD", "LPS", "LPM", "MLD", "CMH", "CMD")
#: sections without which a file is not a network (one of each group)
REQUIRED_SECTIONS = (("JUNCTIONS",), ("RESERVOIRS", "TANKS"), ("PIPES",))
NODE_SECTIONS = ("JUNCTIONS", "RESERVOIRS", "TANKS")


class InpRejected(ValueError):
    """An ``.inp`` file cannot be imported; ``field`` names what is wrong, ``message`` why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _sections(text: str) -> dict[str, list[str]]:
    """Data lines (comments and blanks removed) per section name (upper case)."""
    out: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"\[\s*([A-Za-z_]+)\s*\]", line)
        if match:
            current = match.group(1).upper()
            out.setdefault(current, [])
        elif current is not None:
            out[current].append(line)
    return out


def check_inp_text(text: str) -> dict:
    """Cheap checks of an ``.inp`` text before WNTR reads it; raises :class:`InpRejected`.

    Returns ``{"units": ..., "nodes": n, "links": n, "coordinates": n}``.
    """
    sections = _sections(text)
    if not sections:
        raise InpRejected("file", "not an EPANET .inp file: it has no [SECTION] headers")
    for group in REQUIRED_SECTIONS:
        if not any(name in sections for name in group):
            names = " or ".join(f"[{n}]" for n in group)
            raise InpRejected("file", f"the file has no {names} section")
    units = "GPM"  # EPANET's default when [OPTIONS] names none
    for line in sections.get("OPTIONS", []):
        words = line.split()
        if words[0].upper() == "UNITS":
            if len(words) < 2 or words[1].upper() not in FLOW_UNITS:
                found = words[1] if len(words) > 1 else "(nothing)"
                raise InpRejected(
                    "file",
                    f"unknown flow units {found!r} in [OPTIONS] UNITS; EPANET knows "
                    f"{', '.join(FLOW_UNITS)}",
                )
            units = words[1].upper()
    nodes = [line.split()[0] for s in NODE_SECTIONS for line in sections.get(s, [])]
    if not nodes:
        raise InpRejected("file", "the file has no nodes (junctions, reservoirs or tanks)")
    located = {line.split()[0] for line in sections.get("COORDINATES", [])}
    missing = [n for n in nodes if n not in located]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise InpRejected(
            "file",
            f"{len(missing)} of {len(nodes)} nodes have no coordinates in [COORDINATES] "
            f"({shown}); the twin places every node on the map",
        )
    links = sum(len(sections.get(s, [])) for s in ("PIPES", "PUMPS", "VALVES"))
    xy = []
    for line in sections.get("COORDINATES", []):
        words = line.split()
        try:
            xy.append((float(words[1]), float(words[2])))
        except (IndexError, ValueError):
            raise InpRejected("file", f"[COORDINATES] line {line!r} is not: node x y") from None
    x, y = np.array(xy).T
    return {
        "units": units,
        "nodes": len(nodes),
        "links": links,
        "coordinates": len(located),
        "bounds": [float(x.min()), float(y.min()), float(x.max()), float(y.max())],
    }


def read_inp(path: str | Path) -> wntr.network.WaterNetworkModel:
    """Read and check an EPANET ``.inp`` file (any EPANET 2.2 flow units) with WNTR.

    Raises
    ------
    InpRejected : a missing section, unknown units, nodes without coordinates, or a line WNTR
        cannot read (its message names the line).
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # EPANET files from Windows tools
    check_inp_text(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wn = wntr.network.WaterNetworkModel(str(path))
    except Exception as exc:  # WNTR's errors name the line and the problem
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InpRejected("file", f"WNTR cannot read the file: {message}") from exc
    if not wn.reservoir_name_list and not wn.tank_name_list:
        raise InpRejected("file", "the network has no source of water (no reservoir or tank)")
    return wn


def records(wn: wntr.network.WaterNetworkModel) -> dict:
    """The network as plain records (SI units; WNTR's dictionary form, JSON-ready)."""
    d = wntr.network.to_dict(wn)
    return _plain(d)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def build(network: dict) -> wntr.network.WaterNetworkModel:
    """A WNTR model from plain records (the inverse of :func:`records`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return wntr.network.from_dict(copy.deepcopy(network))


def write_inp(
    wn: wntr.network.WaterNetworkModel, path: str | Path, units: str | None = None
) -> None:
    """Write ``wn`` as an EPANET ``.inp`` in its file's flow units (or ``units``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wntr.network.write_inpfile(wn, str(path), units=units or wn.options.hydraulic.inpfile_units)


@dataclass
class Hydraulics:
    """Results of a run: time (s) x element tables, SI units.

    pressure_m, head_m, demand_m3s : per node; flow_m3s, velocity_ms, status : per link
    (status 0 closed, 1 open); timestep_s : the reporting step.
    """

    pressure_m: pd.DataFrame
    head_m: pd.DataFrame
    demand_m3s: pd.DataFrame
    flow_m3s: pd.DataFrame
    velocity_ms: pd.DataFrame
    status: pd.DataFrame
    timestep_s: float


def apply_params(wn: wntr.network.WaterNetworkModel, params) -> None:
    """Set the period, step and pressure-driven settings of :class:`~.params.WaterParams`."""
    if params.use_file_settings:
        return
    step = int(round(params.timestep_min * 60))
    wn.options.time.duration = int(round(params.duration_h * 3600))
    wn.options.time.hydraulic_timestep = step
    wn.options.time.report_timestep = step
    wn.options.time.pattern_timestep = wn.options.time.pattern_timestep or step
    hyd = wn.options.hydraulic
    hyd.demand_model = params.demand_model
    hyd.required_pressure = params.required_pressure_m
    hyd.minimum_pressure = params.minimum_pressure_m
    hyd.pressure_exponent = params.pressure_exponent


def simulate(wn: wntr.network.WaterNetworkModel, workdir: str | Path | None = None) -> Hydraulics:
    """Run EPANET (WNTR's EpanetSimulator) on ``wn`` as it is set up.

    Every run writes its ``.inp``/``.rpt``/``.bin`` under a folder of its own (``workdir`` or
    a new temporary one): parallel runs in one folder overwrite each other's files.
    """
    with tempfile.TemporaryDirectory(prefix="citytwin-water-", dir=workdir) as folder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sim = wntr.sim.EpanetSimulator(wn)
            result = sim.run_sim(file_prefix=str(Path(folder) / "run"))
    node, link = result.node, result.link
    times = node["pressure"].index
    step = float(times[1] - times[0]) if len(times) > 1 else float(wn.options.time.report_timestep)
    return Hydraulics(
        pressure_m=node["pressure"],
        head_m=node["head"],
        demand_m3s=node["demand"],
        flow_m3s=link["flowrate"],
        velocity_ms=link["velocity"],
        status=link["status"],
        timestep_s=step,
    )


def sources(wn: wntr.network.WaterNetworkModel) -> list[str]:
    return list(wn.reservoir_name_list) + list(wn.tank_name_list)


def disconnected_nodes(wn: wntr.network.WaterNetworkModel, closed_links: set[str]) -> set[str]:
    """Nodes with no path to a reservoir or tank once ``closed_links`` are shut (any direction).

    EPANET reports a pressure for such nodes, but no water reaches them: the twin counts them
    as without water whatever pressure EPANET prints.
    """
    import networkx as nx

    G = nx.Graph()
    G.add_nodes_from(wn.node_name_list)
    for name, link in wn.links():
        if name not in closed_links:
            G.add_edge(link.start_node_name, link.end_node_name)
    reached: set[str] = set()
    for source in sources(wn):
        if source not in reached:
            reached |= nx.node_connected_component(G, source)
    return set(wn.node_name_list) - reached


def finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
