"""Best roofs for PV: a roof behind a tall neighbour ranks below a free one; a free flat roof's
yield per kWp is pvlib's clear-sky annual GHI times the performance ratio."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pvlib
import pytest
from pyproj import Transformer
from shapely.geometry import box

from simulators.common.params import ParamError
from simulators.solar import rank_roofs, roof_pv
from simulators.solar.params import PvRoofParams
from simulators.solar.roof import PERFORMANCE_RATIO

UTM35 = "EPSG:32635"
X0, Y0 = 385000.0, 6672000.0  # Helsinki


@pytest.mark.slow
def test_shaded_roof_ranks_below_a_free_one_and_free_yield_matches_pvlib():
    b = gpd.GeoDataFrame(
        {"id": ["free", "shaded", "tower"], "height_m": [6.0, 6.0, 20.0]},
        geometry=[
            box(X0, Y0, X0 + 16, Y0 + 16),
            box(X0 + 60, Y0, X0 + 76, Y0 + 16),
            box(X0 + 56, Y0 - 12, X0 + 80, Y0 - 4),  # south of "shaded", 4 m away
        ],
        crs=UTM35,
    )
    pv = roof_pv(b, year=2026, resolution_m=2.0, step="60min", n_sectors=24, tile_m=1000)
    ranked = rank_roofs(pv, min_kwp=1.0).set_index("id")
    # the free roof and the tower's (free too) rank first; the one behind the tower last, or
    # unranked (rank 0) when no part of it keeps 80 % of the free irradiation
    assert sorted(ranked.loc[["free", "tower"], "rank"]) == [1, 2]
    shaded = ranked.loc["shaded"]
    assert shaded["rank"] in (0, 3)
    assert shaded["kwh_per_year"] < 0.8 * ranked.loc["free", "kwh_per_year"]
    # a free flat roof: kWh/kWp = annual plane irradiation x PR, the plane being horizontal:
    # pvlib's Ineichen clear-sky GHI summed over the year at the roof (hourly, mid-interval)
    lon, lat = Transformer.from_crs(UTM35, 4326, always_xy=True).transform(X0 + 8, Y0 + 8)
    times = pd.date_range("2026-01-01", "2027-01-01", freq="10min", inclusive="left", tz="UTC")
    sky = pvlib.location.Location(lat, lon).get_clearsky(times + pd.Timedelta("5min"))
    ghi_kwh_m2 = float(sky["ghi"].sum() / 6 / 1000.0)
    free = ranked.loc["free"]
    assert free["kwh_per_kwp"] == pytest.approx(ghi_kwh_m2 * PERFORMANCE_RATIO, rel=0.03)
    assert free["kwp"] == pytest.approx(12 * 12 * 0.7 * 0.2, rel=0.01)  # one-cell setback


def test_ranking_order_and_small_roofs_unranked():
    pv = pd.DataFrame({
        "id": ["a", "b", "c", "d"], "kwp": [10.0, 2.0, 0.5, 0.0],
        "kwh_per_year": [8000.0, 1900.0, 500.0, 0.0],
    })  # fmt: skip
    out = rank_roofs(pv, min_kwp=1.0)
    assert out["id"].tolist()[:2] == ["b", "a"]  # 950 kWh/kWp before 800
    assert out["rank"].tolist() == [1, 2, 0, 0]
    with pytest.raises(ParamError) as exc:
        PvRoofParams(top_n=0)
    assert exc.value.field == "top_n"
