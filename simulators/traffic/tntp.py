"""Readers and writer for the TNTP benchmark formats (Transportation Networks for Research).

See https://github.com/bstabler/TransportationNetworks. Nodes are renumbered
0-based in file order of their TNTP number (``node_ids`` keeps the numbers);
zones are TNTP nodes ``1..<NUMBER OF ZONES>``; ``<FIRST THRU NODE>`` is honoured.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .network import Demand, Network

__all__ = [
    "read_net",
    "read_trips",
    "read_flow",
    "write_flow",
    "write_net",
    "write_trips",
    "zones_first",
]

_META = re.compile(r"<([^>]+)>\s*(.*)")


def _split_metadata(text: str) -> tuple[dict[str, str], list[str]]:
    meta: dict[str, str] = {}
    lines = text.splitlines()
    body_start = 0
    for i, line in enumerate(lines):
        match = _META.match(line.strip())
        if match:
            key = match.group(1).strip().upper()
            if key == "END OF METADATA":
                body_start = i + 1
                break
            meta[key] = match.group(2).strip()
    return meta, lines[body_start:]


def read_net(path: str | Path, toll_weight: float = 0.0, distance_weight: float = 0.0) -> Network:
    """Read a ``*_net.tntp`` file.

    Units are the file's own (TNTP: free-flow time usually in minutes); the
    weights turn toll and length into time units for the generalized cost.
    """
    meta, body = _split_metadata(Path(path).read_text())
    rows = []
    for line in body:
        line = line.strip()
        if not line or line.startswith("~"):
            continue
        fields = line.rstrip(";").replace(";", " ").split()
        if len(fields) >= 7:
            rows.append([float(f) for f in fields[:10]] + [0.0] * (10 - min(len(fields), 10)))
    data = np.array(rows, dtype=np.float64)
    n_nodes = int(meta.get("NUMBER OF NODES", 0)) or int(data[:, :2].max())
    n_nodes = max(n_nodes, int(data[:, :2].max()))
    n_zones = int(meta.get("NUMBER OF ZONES", 0))
    first_thru = int(meta.get("FIRST THRU NODE", 1))
    return Network(
        tail=data[:, 0].astype(np.int64) - 1,
        head=data[:, 1].astype(np.int64) - 1,
        capacity=data[:, 2],
        length=data[:, 3],
        free_flow_time=data[:, 4],
        alpha=data[:, 5],
        beta=data[:, 6],
        toll=data[:, 8],
        lanes=None,
        open=None,
        n_nodes=n_nodes,
        n_zones=n_zones,
        first_thru_node=first_thru - 1,
        toll_weight=toll_weight,
        distance_weight=distance_weight,
        node_ids=np.arange(1, n_nodes + 1),
        time_unit_h=1.0 / 60.0,
        length_unit_km=1.0,
    )


def read_trips(path: str | Path) -> Demand:
    """Read a ``*_trips.tntp`` file into a sparse :class:`Demand` (0-based zone nodes)."""
    _, body = _split_metadata(Path(path).read_text())
    origins, destinations, flows = [], [], []
    origin = None
    entry = re.compile(r"(\d+)\s*:\s*([-+0-9.eE]+)")
    for line in body:
        line = line.strip()
        if not line or line.startswith("~"):
            continue
        if line.lower().startswith("origin"):
            origin = int(line.split()[1]) - 1
            continue
        for dest, flow in entry.findall(line):
            value = float(flow)
            if value > 0 and origin is not None:
                origins.append(origin)
                destinations.append(int(dest) - 1)
                flows.append(value)
    return Demand(np.array(origins), np.array(destinations), np.array(flows))


def read_flow(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read a best-known flow file: (from, to) TNTP node numbers, volume, cost."""
    rows = []
    for line in Path(path).read_text().splitlines()[1:]:
        fields = line.replace(";", " ").split()
        if len(fields) >= 3:
            rows.append([float(f) for f in fields[:4]])
    data = np.array(rows)
    return data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), data[:, 2], data[:, 3]


def flows_in_network_order(network: Network, path: str | Path) -> np.ndarray:
    """Best-known volumes of a flow file, matched to the network's links on (From, To)."""
    frm, to, volume, _ = read_flow(path)
    lookup = {(int(a), int(b)): float(v) for a, b, v in zip(frm, to, volume)}
    ids = network.node_ids
    return np.array(
        [lookup[(int(ids[u]), int(ids[v]))] for u, v in zip(network.tail, network.head)]
    )


def write_flow(path: str | Path, network: Network, volume: np.ndarray, cost: np.ndarray) -> None:
    """Write link flows like the TNTP best-known flow files, one row per link in net order."""
    ids = network.node_ids
    with open(path, "w") as out:
        out.write("From \tTo \tVolume \tCost \n")
        for u, v, x, c in zip(network.tail, network.head, volume, cost):
            out.write(f"{ids[u]} \t{ids[v]} \t{float(x)!r} \t{float(c)!r} \n")


def zones_first(network: Network, demand: Demand) -> tuple[Network, Demand]:
    """The same problem with its zone nodes renumbered ``0..n_zones-1`` (TNTP's convention).

    For networks whose zones may be passed through (``first_thru_node == 0``, the twin's
    OSM networks): zones are the nodes that start or end a trip, in ascending index
    order, then every other node in index order. ``node_ids`` follow their nodes.
    """
    if network.first_thru_node != 0:
        raise ValueError("zones_first needs a network whose zones may be passed through")
    zones = np.unique(np.concatenate([demand.origin, demand.destination]))
    is_zone = np.zeros(network.n_nodes, dtype=bool)
    is_zone[zones] = True
    order = np.concatenate([zones, np.flatnonzero(~is_zone)])
    new_of_old = np.empty(network.n_nodes, dtype=np.int64)
    new_of_old[order] = np.arange(network.n_nodes)
    ids = np.asarray(network.node_ids)[order]
    renumbered = network.copy_with(
        tail=new_of_old[network.tail],
        head=new_of_old[network.head],
        n_zones=len(zones),
        node_ids=ids,
    )
    return renumbered, Demand(
        new_of_old[demand.origin], new_of_old[demand.destination], demand.flow
    )


def write_net(path: str | Path, network: Network) -> None:
    """Write a ``*_net.tntp`` file (nodes numbered 1..n in network order, every link open).

    Floats are written with ``repr`` so that reading the file back gives the same arrays.
    """
    if not network.open.all():
        raise ValueError("write_net writes open links only; drop the closed ones first")
    with open(path, "w") as out:
        out.write(
            f"<NUMBER OF ZONES> {network.n_zones}\n<NUMBER OF NODES> {network.n_nodes}\n"
            f"<FIRST THRU NODE> {network.first_thru_node + 1}\n"
            f"<NUMBER OF LINKS> {network.n_links}\n<END OF METADATA>\n\n"
            "~\tinit_node\tterm_node\tcapacity\tlength\tfree_flow_time\tb\tpower\tspeed"
            "\ttoll\tlink_type\t;\n"
        )
        rows = zip(
            (network.tail + 1).tolist(), (network.head + 1).tolist(), network.capacity.tolist(),
            network.length.tolist(), network.free_flow_time.tolist(), network.alpha.tolist(),
            network.beta.tolist(), network.toll.tolist(),
        )  # fmt: skip
        out.writelines(
            f"\t{a}\t{b}\t{c!r}\t{length!r}\t{t!r}\t{al!r}\t{be!r}\t0\t{toll!r}\t1\t;\n"
            for a, b, c, length, t, al, be, toll in rows
        )


def write_trips(path: str | Path, demand: Demand, n_zones: int) -> None:
    """Write a ``*_trips.tntp`` file; origins and destinations must be zone nodes < n_zones."""
    if len(demand.flow) and max(demand.origin.max(), demand.destination.max()) >= n_zones:
        raise ValueError("demand uses nodes beyond the zones; renumber with zones_first")
    order = np.lexsort((demand.destination, demand.origin))
    with open(path, "w") as out:
        out.write(
            f"<NUMBER OF ZONES> {n_zones}\n<TOTAL OD FLOW> {demand.total!r}\n<END OF METADATA>\n\n"
        )
        current = -1
        for i in order:
            o = int(demand.origin[i])
            if o != current:
                out.write(f"\nOrigin {o + 1}\n")
                current = o
            out.write(f"{int(demand.destination[i]) + 1} : {float(demand.flow[i])!r};\n")
