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


class BridgeCuts:
    """Which nodes lose every path to a source when one pipe closes (a bridge of the network).

    Linear time once (``networkx.bridges``, the 2-edge-connected components and the tree of
    bridges between them, with DFS entry/exit times); each question is then one vectorised
    range test, not a graph search per pipe. Parallel pipes between two nodes are no bridge.
    """

    def __init__(self, wn):
        G = nx.MultiGraph()
        G.add_nodes_from(wn.node_name_list)
        for name, link in wn.links():
            G.add_edge(link.start_node_name, link.end_node_name, name=name)
        simple = nx.Graph(G)
        bridges = [(u, v) for u, v in nx.bridges(simple) if G.number_of_edges(u, v) == 1]
        self.nodes = np.array(list(G.nodes))
        index = {n: i for i, n in enumerate(self.nodes)}
        cut = simple.copy()
        cut.remove_edges_from(bridges)
        comp = np.empty(len(self.nodes), dtype=np.int64)
        for c, members in enumerate(nx.connected_components(cut)):
            comp[[index[n] for n in members]] = c
        self.comp = comp
        n_comp = int(comp.max()) + 1 if len(comp) else 0
        has_source = np.zeros(n_comp, dtype=np.int64)
        for source in sources(wn):
            has_source[comp[index[source]]] += 1
        tree = nx.Graph()
        tree.add_nodes_from(range(n_comp))
        self.pipe_of: dict[str, tuple[int, int]] = {}
        for u, v in bridges:
            a, b = int(comp[index[u]]), int(comp[index[v]])
            tree.add_edge(a, b)
            name = next(iter(G.get_edge_data(u, v).values()))["name"]
            self.pipe_of[name] = (a, b)
        self.tin = np.zeros(n_comp, dtype=np.int64)
        self.tout = np.zeros(n_comp, dtype=np.int64)
        self.parent = np.full(n_comp, -1, dtype=np.int64)
        self.tree_id = np.zeros(n_comp, dtype=np.int64)
        clock = 0
        for t, members in enumerate(nx.connected_components(tree)):
            root = next((c for c in members if has_source[c]), next(iter(members)))
            stack = [(root, iter(tree[root]))]
            self.tin[root], self.tree_id[root] = clock, t
            clock += 1
            while stack:
                c, children = stack[-1]
                child = next(children, None)
                if child is None:
                    self.tout[c] = clock - 1
                    stack.pop()
                elif child != self.parent[c]:
                    self.parent[child], self.tree_id[child] = c, t
                    self.tin[child] = clock
                    clock += 1
                    stack.append((child, iter(tree[child])))
        self.sources_by_comp = has_source
        self.tree_sources = np.bincount(self.tree_id, weights=has_source, minlength=1)

    def cut_off(self, pipe: str) -> np.ndarray:
        """Names of the nodes with no source once ``pipe`` is closed (empty: not a bridge)."""
        if pipe not in self.pipe_of:
            return self.nodes[:0]
        a, b = self.pipe_of[pipe]
        child = b if self.parent[b] == a else a
        in_sub = (self.tin >= self.tin[child]) & (self.tin <= self.tout[child])
        in_tree = self.tree_id == self.tree_id[child]
        sub_sources = self.sources_by_comp[in_sub].sum()
        if sub_sources == 0:
            comps = in_sub
        elif self.tree_sources[self.tree_id[child]] - sub_sources == 0:
            comps = in_tree & ~in_sub
        else:
            return self.nodes[:0]
        return self.nodes[comps[self.comp]]


#: a pipe with a check valve cannot be closed through the toolkit (EPANET error 207): it is taken
#: out by shrinking it to this diameter (mm, the SI unit of EPANET diameters), which lets through
#: a negligible flow (H-W headloss grows with D^-4.87)
CV_CLOSED_DIAMETER_MM = 0.01


def _closed_case(en, link: int, n_nodes: int) -> tuple[np.ndarray, str | None]:
    """Pressures (m) with ``link`` closed, the link restored after; EPANET's error if any."""
    status = en.ENgetlinkvalue(link, EN.INITSTATUS)
    diameter = None
    try:
        try:
            en.ENsetlinkvalue(link, EN.INITSTATUS, 0)
        except Exception as exc:  # error 207: a check-valve pipe
            if "207" not in str(exc):
                raise
            diameter = en.ENgetlinkvalue(link, EN.DIAMETER)
            en.ENsetlinkvalue(link, EN.DIAMETER, CV_CLOSED_DIAMETER_MM)
        en.ENinitH(0)
        en.ENrunH()
        pressure = np.array([en.ENgetnodevalue(i, EN.PRESSURE) for i in range(1, n_nodes + 1)])
        return pressure, None
    except Exception as exc:  # EPANET's error code and words
        return np.full(n_nodes, np.nan), str(exc)
    finally:
        if diameter is None:
            en.ENsetlinkvalue(link, EN.INITSTATUS, status)
        else:
            en.ENsetlinkvalue(link, EN.DIAMETER, diameter)


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
    bridges = BridgeCuts(wn)
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
                pressure, error = _closed_case(en, link, n_nodes)
                without = ~np.isfinite(pressure) | (pressure <= minimum_m)
                for node in bridges.cut_off(pipe):
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
