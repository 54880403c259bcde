"""The twin's traffic runs default to the bush solver and fall back to BFW, with a warning,
when its per-origin storage would pass its cap (issue 15)."""

from __future__ import annotations

from citytwin.scenarios.capabilities.traffic import solver_for
from simulators.traffic.bush import MAX_BUSH_ENTRIES
from simulators.traffic.network import Demand
from simulators.traffic.params import TrafficParams


def test_default_is_bush_and_large_cities_fall_back_to_bfw():
    assert TrafficParams().algorithm == "bush"
    demand = Demand([0, 0, 1, 2], [1, 2, 2, 0], [10.0, 5.0, 3.0, 1.0])  # 3 origins
    assert solver_for("bush", 20_000, demand) == ("bush", [])
    fits = MAX_BUSH_ENTRIES // 3
    assert solver_for("bush", fits, demand) == ("bush", [])
    algorithm, warnings = solver_for("bush", fits + 1, demand)
    assert algorithm == "bfw"
    assert [w["code"] for w in warnings] == ["solver_fallback"]
    assert f"3 zones x {fits + 1} road links" in warnings[0]["message"]
    # a solver asked for by name is never swapped
    assert solver_for("bfw", fits + 1, demand) == ("bfw", [])
    assert solver_for("cfw", 20_000, demand) == ("cfw", [])
