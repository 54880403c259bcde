"""Mode choice: a two-zone case against the closed-form logit, with and without congestion."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from simulators.traffic import Network
from simulators.transit.mode_choice import logit_shares, mode_choice
from simulators.transit.params import ModeChoiceParams

T0_MIN, LENGTH_M, CAPACITY = 10.0, 8000.0, 1000.0
PERSONS = 3000.0
TRANSIT_S, WALK_M = 1500.0, 4000.0


def two_zones(alpha: float) -> Network:
    return Network(
        tail=[0, 1], head=[1, 0], free_flow_time=[T0_MIN, T0_MIN], capacity=[CAPACITY] * 2,
        alpha=[alpha] * 2, beta=[4.0] * 2, length=[LENGTH_M] * 2, toll=None, lanes=None,
        open=None, n_nodes=2, n_zones=2, first_thru_node=2,
    )  # fmt: skip


def closed_form(car_min: float, p: ModeChoiceParams) -> np.ndarray:
    """The logit shares written out by hand for one zone pair."""
    running_min = LENGTH_M / 1000 * p.car_cost_eur_km / p.value_of_time_eur_h * 60
    fare_min = p.fare_eur / p.value_of_time_eur_h * 60
    v_car = p.beta_time_per_min * (car_min + running_min + p.car_terminal_time_min)
    v_pt = p.asc_transit + p.beta_time_per_min * (TRANSIT_S / 60 + fare_min)
    v_walk = p.asc_walk + p.beta_time_per_min * p.walk_weight_mode * WALK_M / 1.33 / 60
    e = np.exp([v_car, v_pt, v_walk])
    return e / e.sum()


def _run(network, p):
    trips = np.array([[0.0, PERSONS], [0.0, 0.0]])
    return mode_choice(
        network, [0, 1], trips, np.full((2, 2), TRANSIT_S), np.full((2, 2), WALK_M), p,
        gap=1e-10, assignment_max_iter=50,
    )  # fmt: skip


def test_uncongested_two_zones_equal_the_closed_form_logit():
    p = ModeChoiceParams()
    result = _run(two_zones(alpha=0.0), p)
    expected = closed_form(T0_MIN, p)
    got = result.person_trips[:, 0, 1] / PERSONS
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert result.converged
    assert result.person_trips.sum() == pytest.approx(PERSONS)
    # the car trips on the road are the car persons over the occupancy
    assert result.car.volume[0] == pytest.approx(PERSONS * expected[0] / p.car_occupancy)


@pytest.mark.parametrize("averaging,tolerance", [("sra", 1e-4), ("msa", 2e-3)])
def test_congested_two_zones_reach_the_logit_fixed_point(averaging, tolerance):
    p = ModeChoiceParams(share_tolerance=tolerance, max_iter=500, averaging=averaging)
    result = _run(two_zones(alpha=0.15), p)

    def residual(share):  # car share -> congested car time -> logit car share
        v = PERSONS * share / p.car_occupancy
        car_min = T0_MIN * (1 + 0.15 * (v / CAPACITY) ** 4)
        return closed_form(car_min, p)[0] - share

    fixed = brentq(residual, 1e-9, 1 - 1e-9, xtol=1e-14)
    got = result.person_trips[:, 0, 1] / PERSONS
    assert result.converged
    assert got[0] == pytest.approx(fixed, abs=2 * tolerance)
    # congestion lowers the car share below the free-flow logit
    assert got[0] < closed_form(T0_MIN, p)[0] - 0.01
    assert result.history["share_gap"][-1] < tolerance
    assert result.history["relative_gap"][-1] < 1e-6


def test_logit_is_stable_and_handles_missing_modes():
    v = np.array([[1000.0, 0.0, -np.inf], [1001.0, -np.inf, -np.inf], [-np.inf] * 3])
    s = logit_shares(v)
    assert s[:, 0] == pytest.approx([1 / (1 + math.e), math.e / (1 + math.e), 0.0])
    assert s[:, 1] == pytest.approx([1.0, 0.0, 0.0])
    assert s[:, 2] == pytest.approx([1.0, 0.0, 0.0])  # no mode: left to car
