"""Occupancy recording for replays: consistent with arrivals and link storage."""

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from simulators.evacuation import EvacuationParams, run_evacuation


def _corridor() -> nx.MultiDiGraph:
    G = nx.MultiDiGraph(crs="EPSG:32635")
    for i in range(6):
        G.add_node(i, x=i * 200.0, y=0.0)
    for i in range(5):
        for u, v in ((i, i + 1), (i + 1, i)):
            G.add_edge(u, v, length=200.0, lanes=1, highway="residential")
    return G


def test_occupancy_replay_matches_arrivals_and_storage():
    population = gpd.GeoDataFrame(
        {"residents": [400.0]}, geometry=[shapely.Point(50, 0)], crs=32635
    )
    zone = shapely.box(-10, -10, 450, 10)
    params = EvacuationParams(record_occupancy=True, mobilisation="none", sample_interval_s=30)
    result = run_evacuation(_corridor(), population, [zone], params=params)
    occupancy = result.car_occupancy_veh
    assert occupancy.shape[1] == len(result.car_link_keys) == 10
    times = 30.0 * (np.arange(occupancy.shape[0]) + 1)
    on_road = occupancy.sum(axis=1)
    departed_not_arrived = np.array(
        [np.sum(result.vehicle_arrivals_s > t) for t in times]
    )  # every car departs at 0 here, so cars not yet arrived are on a link or queued at home
    assert np.all(on_road <= departed_not_arrived)
    assert on_road.max() > 0
    # after the last arrival nobody is left on the road
    assert np.all(on_road[times > result.t100_s + 30] == 0)
    # a 200 m single-lane link never holds more than its jam storage (about 200 m / 7 m)
    assert occupancy.max() <= 200 / 7 + 1
    # without the option nothing is kept
    plain = run_evacuation(_corridor(), population, [zone], params=EvacuationParams())
    assert plain.car_occupancy_veh.size == 0
