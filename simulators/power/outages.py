"""Outages on a pandapower net: lines, transformers, substations (a bus and all on it)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def substation_elements(net, bus: int) -> dict[str, list[int]]:
    """Everything a substation outage at ``bus`` takes out: the bus, the lines and
    transformers ending there, the loads, generators and external grids on it, and the buses
    joined to it by closed bus-bus switches (the same substation's bars).

    Returns
    -------
    ``{"bus": [...], "line": [...], "trafo": [...], "load": [...], "sgen": [...],
    "gen": [...], "ext_grid": [...]}`` (pandapower indices).
    """
    buses = {int(bus)}
    sw = net.switch
    if len(sw):
        bb = sw[(sw.et == "b") & sw.closed]
        changed = True
        while changed:  # bars coupled by closed switches belong to the same substation
            changed = False
            for a, b in zip(bb.bus.to_numpy(), bb.element.to_numpy()):
                if (a in buses) != (b in buses):
                    buses.update((int(a), int(b)))
                    changed = True
    ids = np.array(sorted(buses))
    out = {"bus": ids.tolist()}
    line = net.line
    out["line"] = line.index[line.from_bus.isin(ids) | line.to_bus.isin(ids)].tolist()
    trafo = net.trafo
    out["trafo"] = trafo.index[trafo.hv_bus.isin(ids) | trafo.lv_bus.isin(ids)].tolist()
    for table in ("load", "sgen", "gen", "ext_grid"):
        frame = net[table] if table in net else None
        out[table] = frame.index[frame.bus.isin(ids)].tolist() if frame is not None else []
    return out


def apply_outages(
    net,
    lines: Iterable[int] = (),
    trafos: Iterable[int] = (),
    substations: Iterable[int] = (),
) -> dict[str, list[int]]:
    """Take elements out of service, in place; returns what went out per table."""
    out: dict[str, set[int]] = {"line": set(lines), "trafo": set(trafos)}
    for bus in substations:
        for table, idx in substation_elements(net, bus).items():
            out.setdefault(table, set()).update(idx)
    for table, idx in out.items():
        if idx:
            net[table].loc[sorted(idx), "in_service"] = False
    return {table: sorted(idx) for table, idx in out.items()}


def scale_loads(net, factor: float, loads: Iterable[int] | None = None) -> None:
    """Multiply the loads' ``scaling`` (all, or ``loads``) by ``factor``, in place."""
    index = net.load.index if loads is None else list(loads)
    net.load.loc[index, "scaling"] = net.load.loc[index, "scaling"] * float(factor)
