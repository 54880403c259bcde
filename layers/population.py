"""Residents and jobs of a city's buildings: default rates, official totals, census, raster heights.

- :func:`reset_to_default_rates`: residents and workers from floor area and use with the
  documented rates of :mod:`layers.importers.building_rules`.
- :func:`calibrate_to_total`: a city total (residents, optionally jobs) spread over the
  buildings in proportion to their residential (non-residential) floor area, i.e. to the
  default-rate figures; the sum is the total exactly.
- :func:`calibrate_to_census`: dasymetric mapping of a census layer (polygons with a population
  attribute, optionally jobs): each polygon's figure goes to the buildings whose representative
  point is inside it, by floor area as above. Buildings outside every polygon keep the default
  rates; a polygon without any building is reported as unallocated.
- :func:`apply_height_raster`: heights from an imported nDSM/DSM (robust statistic per
  footprint), re-estimating the buildings still without a measured height.

Every function recomputes floor areas/people in one transaction and keeps the city's
``population_source`` / ``population_reference`` up to date (a calibration is re-applied after
the heights change).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Avg, Count, Q, Sum

from simulators.common.occupancy import STOREY_HEIGHT_M, residents_and_workers_arrays

from .importers import ImportRejected
from .importers.building_heights import estimate_heights, prior_heights, zonal_heights
from .models import Building, City, Layer, RasterLayer

MEASURED_HEIGHT_SOURCES = ("osm_height", "osm_levels", "raster", "imported")


def _buildings(city: City, srid: int | None = None) -> dict[str, np.ndarray]:
    srid = srid or int(city.local_epsg)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, use, floor_area_m2, footprint_area_m2, height_m, height_source, levels, "
            "building_type, ST_AsBinary(ST_Transform(footprint, %s)) "
            "FROM layers_building WHERE city_id = %s ORDER BY id",
            [srid, city.id],
        )
        rows = cursor.fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 9
    return {
        "id": np.asarray(cols[0], dtype=np.int64),
        "use": np.asarray(cols[1], dtype=object),
        "floor": np.asarray(cols[2], dtype=float),
        "footprint": np.asarray(cols[3], dtype=float),
        "height": np.asarray(cols[4], dtype=float),
        "height_source": np.asarray(cols[5], dtype=object),
        "levels": np.asarray(cols[6], dtype=object),
        "type": np.asarray(cols[7], dtype=object),
        "geom": shapely.from_wkb([bytes(g) for g in cols[8]]) if rows else np.array([]),
    }


def _update(ids: np.ndarray, **columns: np.ndarray) -> None:
    """One UPDATE of the given float/int/text columns for the buildings ``ids``."""
    if len(ids) == 0:
        return
    casts = {"height_source": "text", "levels": "int"}
    sets = ", ".join(f"{name} = v.{name}" for name in columns)
    unnest = ", ".join(
        f"unnest(%s::{casts.get(name, 'float8')}[]) AS {name}" for name in columns
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE layers_building AS b SET {sets} FROM "  # noqa: S608 - names are ours
            f"(SELECT unnest(%s::bigint[]) AS id, {unnest}) AS v WHERE b.id = v.id",
            [ids.tolist(), *[np.asarray(c).tolist() for c in columns.values()]],
        )


def default_people(data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Residents and workers of each building by the documented default rates."""
    return residents_and_workers_arrays(data["use"], data["floor"], data["footprint"])


def _scaled(weights: np.ndarray, total: float) -> np.ndarray:
    s = weights.sum()
    return weights * (total / s) if s > 0 else weights


@transaction.atomic
def reset_to_default_rates(city: City) -> dict:
    """Residents and workers from the default rates; the city's population source too."""
    data = _buildings(city)
    residents, workers = default_people(data)
    _update(data["id"], residents=residents, workers=workers)
    City.objects.filter(pk=city.pk).update(
        population_source="default_rates", population_reference={}
    )
    return {"residents": float(residents.sum()), "workers": float(workers.sum())}


def _check_total(value, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ImportRejected(field, f"must be a number, got {value!r}")
    if not 0 <= value <= 1e9:
        raise ImportRejected(field, f"must be between 0 and 1e9 persons, got {value!r}")
    return float(value)


@transaction.atomic
def calibrate_to_total(city: City, residents: float, jobs: float | None = None) -> dict:
    """Spread an official city total over the buildings by residential floor area.

    ``residents`` (and ``jobs``, when given) become the city's sums exactly; each building's
    share is its share of the default-rate figure, which is proportional to its residential
    (non-residential) floor area.
    """
    residents = _check_total(residents, "total")
    jobs = _check_total(jobs, "jobs")
    if residents is None:
        raise ImportRejected("total", "give the city's residents")
    data = _buildings(city)
    base_res, base_wrk = default_people(data)
    if residents > 0 and base_res.sum() <= 0:
        raise ImportRejected("total", "the city has no residential floor area to place people in")
    new_res = _scaled(base_res, residents)
    new_wrk = base_wrk if jobs is None else _scaled(base_wrk, jobs)
    _update(data["id"], residents=new_res, workers=new_wrk)
    reference = {"total": residents, **({"jobs": jobs} if jobs is not None else {})}
    City.objects.filter(pk=city.pk).update(
        population_source="city_total", population_reference=reference
    )
    return {
        "residents": float(new_res.sum()),
        "workers": float(new_wrk.sum()),
        "default_rate_residents": float(base_res.sum()),
    }


@transaction.atomic
def calibrate_to_census(
    city: City, layer: Layer, population_field: str, jobs_field: str | None = None
) -> dict:
    """Dasymetric mapping of a census polygon layer onto the buildings (see the module doc)."""
    for field, name in (("population_field", population_field), ("jobs_field", jobs_field)):
        if name is not None and name not in layer.attribute_schema:
            raise ImportRejected(field, f"the layer {layer.slug!r} has no attribute {name!r}")
    epsg = int(city.local_epsg)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_AsBinary(ST_Transform(geom, %s)), properties FROM layers_feature "
            "WHERE layer_id = %s AND GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON') "
            "ORDER BY fid",
            [epsg, layer.id],
        )
        zones = cursor.fetchall()
    if not zones:
        raise ImportRejected("census_layer", f"the layer {layer.slug!r} has no polygons")
    data = _buildings(city)
    base_res, base_wrk = default_people(data)
    new_res, new_wrk = base_res.copy(), base_wrk.copy()
    points = shapely.point_on_surface(data["geom"])
    polygons = shapely.from_wkb([bytes(z[0]) for z in zones])
    zone_of = np.full(len(points), -1)
    if len(points):
        pt, zone = shapely.STRtree(polygons).query(points, predicate="within")
        zone_of[pt] = zone  # a building in overlapping zones goes to the last one
    unallocated = {"residents": 0.0, "jobs": 0.0, "zones": 0}
    census_res = census_jobs = 0.0
    for z, (_, props) in enumerate(zones):
        props = json.loads(props) if isinstance(props, str) else props
        inside = zone_of == z
        for field, base, new, key in (
            (population_field, base_res, new_res, "residents"),
            (jobs_field, base_wrk, new_wrk, "jobs"),
        ):
            if field is None:
                continue
            value = _check_total(_number(props.get(field)), field)
            if value is None:
                continue
            if key == "residents":
                census_res += value
            else:
                census_jobs += value
            weights = base[inside]
            if weights.sum() <= 0:  # no residential (work) floor: by all floor area inside
                weights = data["floor"][inside]
            if weights.sum() <= 0:
                unallocated[key] += value
                unallocated["zones"] += 1
                continue
            new[inside] = _scaled(weights, value)
    _update(data["id"], residents=new_res, workers=new_wrk)
    reference = {
        "census_layer": layer.slug,
        "population_field": population_field,
        "jobs_field": jobs_field,
        "census_residents": census_res,
        "census_jobs": census_jobs if jobs_field else None,
        "unallocated": unallocated,
        "buildings_outside": int((zone_of < 0).sum()),
    }
    City.objects.filter(pk=city.pk).update(
        population_source="census", population_reference=reference
    )
    return {"residents": float(new_res.sum()), "workers": float(new_wrk.sum()), **reference}


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def set_population(city: City, request: dict, user=None) -> dict:
    """Apply a population request (see ``PopulationSerializer``) and return the new figures."""
    if request.get("default_rates"):
        return reset_to_default_rates(city)
    if request.get("census_layer"):
        layer = Layer.objects.filter(slug=request["census_layer"]).first()
        if layer is None or (
            layer.visibility != "public"
            and not (user is not None and (user.is_staff or layer.owner_id == user.id))
        ):
            raise ImportRejected("census_layer", f"no layer {request['census_layer']!r}", 404)
        return calibrate_to_census(
            city, layer, request["population_field"], request.get("jobs_field")
        )  # fmt: skip
    return calibrate_to_total(city, request["total"], request.get("jobs"))


def reapply_population(city: City) -> dict:
    """Residents/workers again after floor areas changed, keeping the city's calibration."""
    city.refresh_from_db()
    ref = city.population_reference or {}
    if city.population_source == "city_total":
        return calibrate_to_total(city, ref["total"], ref.get("jobs"))
    if city.population_source == "census":
        layer = Layer.objects.filter(slug=ref.get("census_layer")).first()
        if layer is not None:
            return calibrate_to_census(
                city, layer, ref["population_field"], ref.get("jobs_field")
            )  # fmt: skip
    return reset_to_default_rates(city)


@transaction.atomic
def apply_height_raster(
    city: City, raster: RasterLayer, statistic: str = "p90", kind: str = "ndsm"
) -> dict:
    """Heights from a height raster; buildings it misses are re-estimated from the new heights.

    Buildings whose height came from an OSM ``height`` tag keep it (a surveyed figure); all
    others with a valid raster statistic of 2 m or more take it (source ``raster``).
    """
    try:
        import rasterio

        with rasterio.open(Path(settings.MEDIA_ROOT) / raster.file_path) as src:
            srid = src.crs.to_epsg()
    except Exception as exc:  # noqa: BLE001 - any unreadable raster is the caller's input
        raise ImportRejected("raster", f"cannot read the raster {raster.slug!r}: {exc}") from exc
    if srid is None:
        raise ImportRejected("raster", f"the raster {raster.slug!r} has no EPSG CRS")
    data = _buildings(city, srid)
    try:
        measured = zonal_heights(
            data["geom"], str(Path(settings.MEDIA_ROOT) / raster.file_path), statistic, kind
        )
    except ValueError as exc:
        field = "statistic" if "statistic" in str(exc) else "kind"
        raise ImportRejected(field, str(exc)) from exc
    use_raster = np.isfinite(measured) & (measured >= 2.0) & (data["height_source"] != "osm_height")
    height = data["height"].copy()
    source = data["height_source"].copy()
    height[use_raster] = measured[use_raster]
    source[use_raster] = "raster"
    known = np.where(np.isin(source, MEASURED_HEIGHT_SOURCES), height, np.nan)
    local = _buildings(city)["geom"]
    rep = shapely.point_on_surface(local)
    xy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    estimate, model = estimate_heights(
        xy, prior_heights(data["type"], data["use"], data["footprint"]), known
    )
    redo = ~np.isin(source, MEASURED_HEIGHT_SOURCES)
    height[redo] = estimate[redo]
    tagged_levels = (source == "osm_levels") & np.array([lv is not None for lv in data["levels"]])
    levels = np.where(
        tagged_levels,
        np.array([lv if lv is not None else 0 for lv in data["levels"]], dtype=float),
        np.maximum(1, np.round(height / STOREY_HEIGHT_M)),
    ).astype(int)
    floor = data["footprint"] * np.maximum(levels, 1)
    _update(data["id"], height_m=height, height_source=source, levels=levels, floor_area_m2=floor)
    people = reapply_population(city)
    return {
        "raster": raster.slug,
        "statistic": statistic,
        "kind": kind,
        "buildings": int(len(height)),
        "from_raster": int(use_raster.sum()),
        "re_estimated": int(redo.sum()),
        "city_factor": model["city_factor"],
        **{k: people[k] for k in ("residents", "workers")},
    }


def quality(city: City) -> dict:
    """Where the city's inputs come from, and what to import to make them better."""
    heights = dict(
        Building.objects.filter(city=city)
        .values("height_source")
        .annotate(n=Count("id"))
        .values_list("height_source", "n")
    )
    uses = dict(
        Building.objects.filter(city=city)
        .values("use_source")
        .annotate(n=Count("id"))
        .values_list("use_source", "n")
    )
    n = sum(heights.values())
    totals = Building.objects.filter(city=city).aggregate(
        residents=Sum("residents"),
        workers=Sum("workers"),
        guessed_confidence=Avg("use_confidence", filter=~Q(use_source__in=["osm_tag", "imported"])),
    )
    share = lambda k, d: round(d.get(k, 0) / n, 4) if n else 0.0  # noqa: E731
    heights_share = {
        "tags": round(
            (heights.get("osm_height", 0) + heights.get("osm_levels", 0)) / n, 4
        ) if n else 0.0,
        "raster": share("raster", heights),
        "imported": share("imported", heights),
        "estimate": round(
            (heights.get("estimate", 0) + heights.get("type_default", 0)) / n, 4
        ) if n else 0.0,
    }  # fmt: skip
    guessed = 1.0 - share("osm_tag", uses) - share("imported", uses) if n else 0.0
    notes = []
    if heights_share["raster"] == 0 and heights_share["estimate"] > 0.5:
        notes.append(
            f"{heights_share['estimate']:.0%} of the heights are estimated: import a height "
            "raster (nDSM or DSM GeoTIFF) and apply it (POST /api/cities/<id>/heights/)"
        )
    if guessed > 0.5:
        notes.append(
            f"{guessed:.0%} of the building uses are guessed from POIs, land use, neighbours "
            "and size: import a building layer with a use attribute to replace them"
        )
    if city.population_source == "default_rates":
        notes.append(
            "residents and jobs come from floor area and default rates: give the official "
            "total or a census layer (POST /api/cities/<id>/population/)"
        )
    return {
        "city": city.id,
        "buildings": n,
        "height_sources": heights,
        "height_shares": heights_share,
        "use_sources": uses,
        "uses_guessed_share": round(guessed, 4),
        "guessed_use_mean_confidence": totals["guessed_confidence"],
        "population_source": city.population_source,
        "population_reference": city.population_reference,
        "residents": totals["residents"] or 0.0,
        "workers": totals["workers"] or 0.0,
        "notes": notes,
    }
