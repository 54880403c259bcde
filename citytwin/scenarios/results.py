"""Reading run results: GeoJSON, vector-tile sources, KPI deltas and difference layers.

The SQL builds GeoJSON and tiles in PostGIS (no per-row Python), so a city-sized result is
served in one query. Differences join the two runs' rows on the base edge/building id; an added
road or building appears once, with the other side missing (NULL).
"""

from __future__ import annotations

from django.db import connection

from .models import Run

EDGE_FIELDS = (
    "edge_id, highway, closed, volume_veh_h, capacity_veh_h, vc_ratio, speed_kph, "
    "congested_time_s, delay_s, max_queue_veh, queue_duration_s"
)
BUILDING_FIELDS = (
    "building_id, added, height_m, sun_hours, pv_kwh_year, residents, evacuees, evacuation_time_s, "
    "transit_people_reachable, transit_jobs_reachable"
)
#: per-edge and per-building quantities compared between two runs
EDGE_DELTAS = ("volume_veh_h", "vc_ratio", "speed_kph", "delay_s", "max_queue_veh")
BUILDING_DELTAS = (
    "sun_hours", "pv_kwh_year", "evacuation_time_s", "transit_people_reachable",
    "transit_jobs_reachable",
)  # fmt: skip


class CompareRejected(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def api_error(self) -> tuple[dict, int]:
        return {"error": self.message, "field": "base"}, 400


def source_sql(
    kind: str, run: Run, base: Run | None = None, with_series: bool = False
) -> tuple[str, dict]:
    """A ``SELECT`` of one result layer (``edges`` or ``buildings``) with ``geom`` + attributes.

    With ``base``, the difference layer: ``delta_<field> = run - base`` per row. With
    ``with_series``, edges also carry their ``occupancy_veh`` series and their street's ``name``
    (GeoJSON only: vector tiles hold no arrays; the page lists bottlenecks by street name).
    """
    table, key, fields, deltas = (
        ("scenarios_edgeresult", "edge_id", EDGE_FIELDS, EDGE_DELTAS)
        if kind == "edges"
        else ("scenarios_buildingresult", "building_id", BUILDING_FIELDS, BUILDING_DELTAS)
    )
    if base is None:
        if with_series and kind == "edges":
            fields += (
                ", occupancy_veh, (SELECT r.name FROM layers_roadedge r"
                f" WHERE r.id = {table}.edge_id) AS name"
            )
        return (
            f"(SELECT id, geom, {fields} FROM {table} WHERE run_id = %(run)s)",
            {"run": run.pk},
        )
    # missing on one side counts as 0 for flows and queues, but stays NULL for times and sun
    zero_fill = {"volume_veh_h", "max_queue_veh", "pv_kwh_year"}
    delta_sql = ", ".join(
        (
            f"COALESCE(a.{f}, 0) - COALESCE(b.{f}, 0) AS delta_{f}"
            if f in zero_fill
            else f"a.{f} - b.{f} AS delta_{f}"
        )
        + f", a.{f} AS run_{f}, b.{f} AS base_{f}"
        for f in deltas
    )
    extra = ", COALESCE(a.closed, false) AS closed" if kind == "edges" else ""
    extra += ", (b.id IS NULL) AS only_in_run, (a.id IS NULL) AS only_in_base"
    sql = f"""(
        SELECT COALESCE(a.id, -b.id) AS id, COALESCE(a.geom, b.geom) AS geom,
               COALESCE(a.{key}, b.{key}) AS {key}, {delta_sql}{extra}
        FROM (SELECT * FROM {table} WHERE run_id = %(run)s) a
        FULL JOIN (SELECT * FROM {table} WHERE run_id = %(base)s) b ON a.{key} = b.{key}
    )"""
    return sql, {"run": run.pk, "base": base.pk}


def geojson(kind: str, run: Run, base: Run | None = None, bbox=None) -> str:
    """A FeatureCollection (text) of a result layer or difference layer, optional lon/lat bbox."""
    source, params = source_sql(kind, run, base, with_series=True)
    where = ""
    if bbox is not None:
        where = "WHERE t.geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326)"
        params.update(dict(zip(("x0", "y0", "x1", "y1"), bbox, strict=True)))
    sql = f"""
        SELECT json_build_object('type', 'FeatureCollection', 'features',
               COALESCE(json_agg(json_build_object(
                   'type', 'Feature', 'id', t.id,
                   'geometry', ST_AsGeoJSON(t.geom, 7)::json,
                   'properties', to_jsonb(t) - 'geom' - 'id') ORDER BY t.id), '[]'::json))::text
        FROM {source} t {where}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def check_comparable(run: Run, base: Run) -> None:
    if run.simulator != base.simulator:
        raise CompareRejected(f"cannot compare a {run.simulator} run with a {base.simulator} run")
    if run.scenario.city_id != base.scenario.city_id:
        raise CompareRejected("the two runs are of different cities")
    for r in (run, base):
        if r.job.status != "succeeded":
            raise CompareRejected(f"run {r.pk} has no results ({r.job.status})")


def kpi_deltas(run: Run, base: Run) -> dict:
    """``{kpi: {"run": x, "base": y, "delta": x - y}}`` for every numeric KPI of both runs."""
    out = {}
    for name in sorted(set(run.kpis) | set(base.kpis)):
        a, b = run.kpis.get(name), base.kpis.get(name)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        out[name] = {"run": a, "base": b, "delta": (a - b) if numeric else None}
    return out
