"""Outages on a WNTR model (in place): breaks, closures, isolation segments, demand changes.

Times are seconds from the start of the run. A change that starts later than 0 s is a time
control added to the model, so EPANET applies it at that step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
import wntr
from wntr.network.controls import Control, ControlAction, SimTimeCondition

GRAVITY_MS2 = 9.80665
#: discharge coefficient of a break opening (sharp-edged orifice; WNTR's leak default)
BREAK_DISCHARGE_COEFF = 0.75


@dataclass
class Outage:
    """What the outages did: links closed (and from when), leak nodes, notes for the user."""

    closed: dict[str, float] = field(default_factory=dict)  # link name -> closed from (s)
    leak_nodes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def closed_at(self, t_s: float) -> set[str]:
        return {name for name, start in self.closed.items() if start <= t_s}


def _close(wn: wntr.network.WaterNetworkModel, link_name: str, start_s: float, out: Outage) -> None:
    """Close a link from ``start_s`` and drop the file's controls that would open it again."""
    link = wn.get_link(link_name)
    _drop_controls_on(wn, link_name)
    if start_s <= 0:
        link.initial_status = wntr.network.LinkStatus.Closed
    else:
        action = ControlAction(link, "status", wntr.network.LinkStatus.Closed)
        condition = SimTimeCondition(wn, "=", int(start_s))
        wn.add_control(f"twin_close_{link_name}", Control(condition, action))
    out.closed[link_name] = min(start_s, out.closed.get(link_name, math.inf))


def _drop_controls_on(wn: wntr.network.WaterNetworkModel, link_name: str) -> None:
    for name in list(wn.control_name_list):
        if name.startswith("twin_close_"):
            continue
        control = wn.get_control(name)
        for action in control.actions():
            target, _ = action.target()
            if getattr(target, "name", None) == link_name:
                wn.remove_control(name)
                break


def close_links(wn, link_names, start_s: float, out: Outage) -> None:
    """Valve or pipe closure: the links carry no flow from ``start_s``."""
    for name in link_names:
        _close(wn, name, start_s, out)


def pump_out(wn, pump_name: str, start_s: float, out: Outage) -> None:
    """A pump out of service (off, and its controls removed)."""
    _close(wn, pump_name, start_s, out)


def tank_out(wn, tank_name: str, start_s: float, out: Outage) -> None:
    """A tank out of service: every link to it closed."""
    for link_name in wn.get_links_for_node(tank_name):
        _close(wn, link_name, start_s, out)


def isolation_valves(
    wn: wntr.network.WaterNetworkModel, valve_layer: pd.DataFrame, pipe_name: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """The isolation valves to close for a break on ``pipe_name``, and the links they cut off.

    ``valve_layer`` has columns ``link`` and ``node``: a valve on ``link`` next to ``node``
    (WNTR's valve layer). The segment of the pipe (:func:`wntr.metrics.valve_segments`) is what
    the valves around it isolate; every valve on its border is closed.

    Returns
    -------
    valves : ``(link, node)`` pairs on the border of the segment.
    links : every link of the segment (they carry no water once the valves are shut).
    """
    G = wn.to_graph()
    node_segments, link_segments, _ = wntr.metrics.valve_segments(G, valve_layer)
    segment = link_segments[pipe_name]
    seg_links = set(link_segments.index[link_segments == segment])
    seg_nodes = set(node_segments.index[node_segments == segment])
    valves = [
        (str(row.link), str(row.node))
        for row in valve_layer.itertuples()
        # a valve sits between its link and its node: on the border when one side is inside
        if (row.link in seg_links) != (row.node in seg_nodes)
    ]
    return valves, sorted(seg_links)


def break_pipe(
    wn: wntr.network.WaterNetworkModel,
    pipe_name: str,
    leak_diameter_m: float,
    out: Outage,
    valve_layer: pd.DataFrame | None = None,
    isolate_after_s: float | None = None,
) -> list[tuple[str, str]]:
    """A break halfway along ``pipe_name``: an orifice of ``leak_diameter_m``, then isolation.

    The leak is an EPANET emitter at a junction added mid-pipe, with the orifice law WNTR uses
    for leaks: ``Q = Cd A sqrt(2 g p)`` (m3/s, p in m), i.e. emitter coefficient
    ``Cd A sqrt(2 g)`` with exponent 0.5. With a valve layer and ``isolate_after_s``, the
    valves around the pipe's segment close at that time (the segment's links, both halves of
    the broken pipe among them, carry nothing after it). Returns the valves closed.
    """
    pipe = wn.get_link(pipe_name)
    if leak_diameter_m > pipe.diameter:
        raise ValueError(
            f"leak diameter {leak_diameter_m} m exceeds the pipe's diameter {pipe.diameter:.3f} m"
        )
    segment_links: list[str] = []
    valves: list[tuple[str, str]] = []
    if valve_layer is not None and isolate_after_s is not None and len(valve_layer):
        valves, segment_links = isolation_valves(wn, valve_layer, pipe_name)
    leak_node, second_half = f"{pipe_name}__break", f"{pipe_name}__B"
    wntr.morph.split_pipe(wn, pipe_name, second_half, leak_node, return_copy=False)
    area = math.pi * leak_diameter_m**2 / 4.0
    wn.get_node(leak_node).emitter_coefficient = (
        BREAK_DISCHARGE_COEFF * area * math.sqrt(2 * GRAVITY_MS2)
    )
    if abs(wn.options.hydraulic.emitter_exponent - 0.5) > 1e-9:
        out.notes.append(
            f"the file's emitter exponent {wn.options.hydraulic.emitter_exponent:g} was set to "
            "0.5 (the orifice law of a break)"
        )
        wn.options.hydraulic.emitter_exponent = 0.5
    out.leak_nodes.append(leak_node)
    if segment_links:
        closing = [second_half if name == pipe_name else name for name in segment_links]
        closing = sorted(set(closing) | {pipe_name, second_half})
        close_links(wn, closing, isolate_after_s, out)
    return valves


def scale_demand(wn, factor: float, junctions: list[str] | None = None) -> None:
    """Multiply the base demands (every category) of ``junctions`` (None: all) by ``factor``."""
    names = junctions if junctions is not None else wn.junction_name_list
    for name in names:
        for demand in wn.get_node(name).demand_timeseries_list:
            demand.base_value = demand.base_value * factor
