"""Pipe criticality: every pipe closed once, people without service in each case.

One EPANET project (WNTR's toolkit binding) is opened per chunk of pipes in a temporary folder
of its own (parallel workers never share a file); each case sets one pipe closed, solves one
pressure-driven steady state and reads the junction pressures. Nodes cut off from every source
(the pipe was a bridge) count as without water whatever pressure EPANET prints for them.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import wntr
from wntr.epanet import toolkit
from wntr.epanet.util import EN

from .network import sources


@dataclass
class BreakResult:
    """One pipe out: ``people_without_water`` (at or under the minimum pressure, or cut off),
    ``people_below_required`` (under the required pressure, those without water included),
    ``nodes_without_water``; ``error``: EPANET's message when the case did not solve."""

    pipe: str
    people_without_water: float
    people_below_required: float
    nodes_without_water: int
    error: str | None = None


def _cut_off_by_bridge(wn) -> dict[str, list[str]]:
    """For each bridge pipe, the nodes it alone connects to a source."""
    G = nx.Graph()
    for name, link in wn.links():
        G.add_edge(link.start_node_name, link.end_node_name, name=name)
    sources_ = set(sources(wn))
    out: dict[str, list[str]] = {}
    for u, v in nx.bridges(G):
        name = G.edges[u, v]["name"]
        H = G.copy()
        H.remove_edge(u, v)
        side = nx.node_connected_component(H, u)
        if not side & sources_:
            out[name] = sorted(side)
        else:
            other = nx.node_connected_component(H, v)
            out[name] = sorted(other) if not other & sources_ else []
    return out


def sweep(
    wn: wntr.network.WaterNetworkModel,
    pipes: Sequence[str],
    people_by_node: dict[str, float],
    required_m: float,
    minimum_m: float = 0.0,
    progress: Callable[[float, str], None] | None = None,
) -> list[BreakResult]:
    """Close each of ``pipes`` in turn (one steady state each, pressure-driven demand).

    Parameters
    ----------
    wn : the network (not changed; its demands at the first pattern step are solved).
    people_by_node : residents + workers served at each junction (nodes not in it: 0 people,
        as the network file's own demands carry no people).
    required_m, minimum_m : pressures of full and of no delivery (m).
    """
    wn = wntr.network.from_dict(wntr.network.to_dict(wn))
    wn.options.time.duration = 0
    hyd = wn.options.hydraulic
    hyd.demand_model, hyd.required_pressure, hyd.minimum_pressure = "PDD", required_m, minimum_m
    bridges = _cut_off_by_bridge(wn)
    out: list[BreakResult] = []
    with tempfile.TemporaryDirectory(prefix="citytwin-water-sweep-") as folder:
        inp = Path(folder) / "net.inp"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wntr.network.write_inpfile(wn, str(inp), units="LPS")  # SI: pressures in m
        en = toolkit.ENepanet()
        en.ENopen(str(inp), str(Path(folder) / "net.rpt"), "")
        try:
            n_nodes = en.ENgetcount(EN.NODECOUNT)
            names = [en.ENgetnodeid(i) for i in range(1, n_nodes + 1)]
            people = np.array([people_by_node.get(n, 0.0) for n in names])
            index = {n: i for i, n in enumerate(names)}
            junction = np.array([en.ENgetnodetype(i) == EN.JUNCTION for i in range(1, n_nodes + 1)])
            en.ENopenH()
            for k, pipe in enumerate(pipes):
                link = en.ENgetlinkindex(pipe)
                status = en.ENgetlinkvalue(link, EN.INITSTATUS)
                en.ENsetlinkvalue(link, EN.INITSTATUS, 0)
                try:
                    en.ENinitH(0)
                    en.ENrunH()
                    pressure = np.array(
                        [en.ENgetnodevalue(i, EN.PRESSURE) for i in range(1, n_nodes + 1)]
                    )
                    error = None
                except Exception as exc:  # EPANET's error code and words
                    pressure, error = np.full(n_nodes, np.nan), str(exc)
                finally:
                    en.ENsetlinkvalue(link, EN.INITSTATUS, status)
                without = ~np.isfinite(pressure) | (pressure <= minimum_m)
                for node in bridges.get(pipe, ()):
                    without[index[node]] = True
                below = (without | (pressure < required_m)) & junction
                without &= junction
                out.append(
                    BreakResult(
                        pipe=pipe,
                        people_without_water=float(people[without].sum()),
                        people_below_required=float(people[below].sum()),
                        nodes_without_water=int(without.sum()),
                        error=error,
                    )
                )
                if progress is not None and (k + 1) % 50 == 0:
                    progress((k + 1) / len(pipes), f"{k + 1} of {len(pipes)} pipes")
            en.ENcloseH()
        finally:
            en.ENclose()
    return out
