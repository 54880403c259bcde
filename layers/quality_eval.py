"""Check the derived inputs of an OSM extract against what it does tag (no database needed).

:func:`evaluate_extract` reads an extract as the importer does and reports: the untagged-use
vote against held-out tagged uses, the height estimate against held-out known heights, and
the residents and workers by the default rates. Used by the tests and by
``bench/credible_inputs.py`` (which prints the figures quoted in docs/credible_inputs.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import shapely

from .geo import utm_epsg
from .importers.building_heights import holdout_error
from .importers.building_use import holdout_accuracy
from .importers.osm import AREA_FILTER, POI_FILTER, prepare_buildings, use_context

#: Andorra's residents at 31 December 2022, Departament d'Estadística del Govern d'Andorra
#: (published January 2023; reported e.g. by forum.ad, "La població del país, el 2023, era de
#: 85.101 persones", which gives 81,588 for 2022). The extract is from 2023-05-02.
ANDORRA_OFFICIAL_RESIDENTS = 81_588


def andorra_pbf() -> Path:
    """The Andorra extract under ``$CITYTWIN_DATA/osm`` (default ../shared/data)."""
    root = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    return Path(os.environ.get("CITYTWIN_DATA", root)) / "osm" / "andorra-latest.osm.pbf"


def evaluate_extract(path: str | Path, folds: int = 5, seed: int = 0) -> dict:
    """Hold-out checks and default-rate population of one extract (see the module docstring)."""
    from pyrosm import OSM

    osm = OSM(str(path))
    raw = osm.get_buildings()
    areas = osm.get_data_by_custom_criteria(
        custom_filter=AREA_FILTER, filter_type="keep", keep_nodes=False,
        keep_ways=True, keep_relations=True,
    )  # fmt: skip
    pois = osm.get_pois(custom_filter=POI_FILTER)
    minx, miny, maxx, maxy = raw.total_bounds
    local_crs = f"EPSG:{utm_epsg((minx + maxx) / 2, (miny + maxy) / 2)}"
    context = use_context(areas, pois, local_crs)
    frame, report = prepare_buildings(raw, local_crs, context)
    local = frame.to_crs(local_crs).geometry.to_numpy()
    tagged = np.where(frame["use_source"] == "osm_tag", frame["use"], None)
    use = holdout_accuracy(local, tagged, *context.landuse, *context.pois, folds=folds, seed=seed)
    rep = shapely.point_on_surface(local)
    xy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    known = np.where(
        frame["height_source"].isin(["osm_height", "osm_levels"]), frame["height_m"], np.nan
    )
    height = holdout_error(
        xy, frame["building_type"].to_numpy(), frame["use"].to_numpy(),
        frame["footprint_area_m2"].to_numpy(), known.astype(float), folds=folds, seed=seed,
    )  # fmt: skip
    return {
        "buildings": len(frame),
        "use": use,
        "height": height,
        "use_sources": report["use_sources"],
        "height_sources": report["height_sources"],
        "use_confidence_min": float(frame["use_confidence"].min()),
        "residents": float(frame["residents"].sum()),
        "workers": float(frame["workers"].sum()),
        "untagged_share": float((frame["use_source"] != "osm_tag").mean()),
    }
