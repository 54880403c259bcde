"""Questions answered from whitelisted queries (never free SQL): counts and sums in an area,
a run's key figures, the most congested roads, the buildings losing most sun, when 90% are
out, which shelters fill, the difference between two runs. Each answer has numbers with
units and cites the scenario and run it comes from; only runs of scenarios the asking user
may see (:func:`citytwin.scenarios.services.scenarios_visible_to`) are read."""

from __future__ import annotations

import re
import uuid

from django.db.models import Count, Sum

from layers.models import Building

from . import quantities as q
from .intents import POINT_KINDS, Clause, NotUnderstood, _zone

#: question kinds: (kind, trigger regex on the folded clause), tried in order
KINDS = (
    ("compare", r"\b(difference|differ|compare\w*|comparison|versus|vs)\b"),
    (
        "evacuated_90",
        r"\b(90|ninety)\s?(%|percent\b|per cent\b)|\bt90\b|\bwhen (is|are) (everyone|everybody|all)\b",
    ),
    ("shelters", r"\bshelters?\b.{0,40}\b(fill|full|overflow|capacity|used|crowded)\w*"),
    (
        "sun_loss",
        r"\b(lose|loses|losing|lost|less)\b.{0,30}\b(sun|sunlight|light|daylight)\b|\bshadow\w*\b.{0,30}\bbuildings?\b|\bbuildings?\b.{0,40}\b(shade|shadow)\w*",
    ),
    (
        "congested",
        r"\b(most congested|congested|busiest|bottlenecks?|jams?|worst roads?|worst streets?|queues?)\b",
    ),
    (
        "count",
        r"\b(how many|number of|count|total|sum of|population)\b|"
        r"\bhow much\b.{0,20}\b(people|residents|jobs)\b",
    ),
    ("kpis", r"\b(kpis?|key figures|results?|summary|how did|outcome)\b"),
)
MEASURES = {
    "buildings": (r"\bbuildings?\b", None, "buildings"),
    "residents": (
        r"\b(residents|people|inhabitants|population|live|living)\b",
        "residents",
        "residents",
    ),
    "jobs": (r"\b(jobs|workers|employees|workplaces|work)\b", "workers", "jobs"),
    "floor_area": (r"\bfloor (area|space)\b", "floor_area_m2", "m2 of floor area"),
}
RUN_ID = re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b")


def detect(c: Clause, alone: bool = False) -> dict | None:
    """The question a clause asks (``{"kind": ...}`` plus its details), or None. ``alone``:
    the clause holds no command, so a question's words suffice ("number of jobs in Kluuvi")."""
    if not alone and not c.has(
        r"\?|\b(how|what|which|when|where|who|show|list|tell|give|count|compare|is|are)\b"
    ):
        return None
    for kind, pattern in KINDS:
        if c.has(pattern):
            out = {"kind": kind}
            ids = RUN_ID.findall(c.raw.lower())  # the folded text has no dashes
            if ids:
                out["runs"] = ids
            if kind == "count":
                out["measure"] = next(
                    (m for m, (p, _, _) in MEASURES.items() if c.has(p)), "buildings"
                )
            if kind == "sun_loss":
                m = re.search(
                    rf"\b(?:more than|over|at least|>)\s+({q.NUMBER})\s?(?:hours?|h)\b", c.text
                )
                out["min_loss_h"] = q.number(m.group(1)) if m else 0.0
            if kind in ("congested", "sun_loss", "shelters"):
                m = re.search(rf"\b(?:top|the)\s+({q.NUMBER})\b", c.text)
                out["limit"] = int(q.number(m.group(1))) if m else 5
            return out
    return None


def _runs(user, scenario, simulator: str | None, ids: list[str]):
    from citytwin.scenarios.models import Run
    from citytwin.scenarios.services import scenarios_visible_to

    visible = Run.objects.filter(scenario__in=scenarios_visible_to(user)).select_related(
        "scenario", "job"
    )
    if ids:
        found = []
        for raw in ids:
            run = visible.filter(pk=uuid.UUID(raw)).first()
            if run is None:
                raise NotUnderstood(f"no run {raw} that you may see")
            found.append(run)
        return found
    rows = visible.filter(job__status="succeeded")
    if simulator:
        rows = rows.filter(simulator=simulator)
    if scenario is not None:
        rows = rows.filter(scenario=scenario)
    run = rows.order_by("-job__created_at").first()
    if run is None:
        where = f" of scenario {scenario.pk}" if scenario is not None else ""
        raise NotUnderstood(
            f"there is no finished {simulator or ''} run{where} to answer from yet; run one first".replace(
                "  ", " "
            )
        )
    return [run]


def _cite(run) -> str:
    return f"(scenario {run.scenario_id} '{run.scenario.name}', {run.simulator} run {run.pk})"


def _count(c: Clause, question: dict, user, scenario) -> str:
    rows = Building.objects.filter(city=c.city)
    where = f"in {c.city.name}"
    if c.places(POINT_KINDS):
        import json

        from django.contrib.gis.geos import GEOSGeometry

        polygon, where = _zone(c)
        rows = rows.filter(footprint__intersects=GEOSGeometry(json.dumps(polygon), srid=4326))
    measure = question["measure"]
    _, field_name, unit = MEASURES[measure]
    if field_name is None:
        value = rows.aggregate(n=Count("id"))["n"]
        return f"{value:,} buildings {where} (the twin's base data of {c.city.name})"
    value = rows.aggregate(s=Sum(field_name))["s"] or 0.0
    return f"{value:,.0f} {unit} {where} (the twin's base data of {c.city.name}, {rows.count():,} buildings)"


def _kpis(run) -> str:
    from citytwin.scenarios import capabilities

    spec = capabilities.get(run.simulator)
    parts = []
    for k in spec.kpis:
        v = run.kpis.get(k.key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            unit = "" if k.unit in ("1", "") else f" {k.unit}"
            parts.append(f"{k.label}: {v:,.4g}{unit}")
    return "; ".join(parts[:8])


def answer(c: Clause, question: dict, user, scenario, simulator: str | None) -> str:
    """The answer in words with numbers and units; NotUnderstood when it cannot be given."""
    from citytwin.scenarios.models import BuildingResult, EdgeResult, RunSeries

    kind = question["kind"]
    ids = question.get("runs", [])
    if kind == "count":
        return _count(c, question, user, scenario)
    if kind == "compare":
        if len(ids) == 2:
            a, b = _runs(user, None, None, ids)
        else:
            (a,) = _runs(user, scenario, simulator, ids[:1])
            from citytwin.scenarios.models import Run
            from citytwin.scenarios.services import baseline_of, scenarios_visible_to

            b = (Run.objects.filter(scenario=baseline_of(c.city), simulator=a.simulator, job__status="succeeded",
                                    scenario__in=scenarios_visible_to(user))
                 .exclude(pk=a.pk).order_by("-job__created_at").first())  # fmt: skip
            if b is None:
                raise NotUnderstood(
                    f"no finished {a.simulator} run of the baseline to compare with"
                )
        from citytwin.scenarios import capabilities, results

        results.check_comparable(a, b)
        deltas = results.kpi_deltas(a, b)
        spec = capabilities.get(a.simulator)
        parts = []
        for k in spec.kpis:
            d = deltas.get(k.key)
            if d and d["delta"] is not None:
                unit = "" if k.unit in ("1", "") else f" {k.unit}"
                parts.append(
                    f"{k.label}: {d['run']:,.4g} vs {d['base']:,.4g}{unit} ({d['delta']:+,.4g}{unit})"
                )
        return (
            f"Run {a.pk} against run {b.pk} (scenarios {a.scenario_id} and {b.scenario_id}): "
            + "; ".join(parts[:8])
        )
    sim = {"congested": simulator or "traffic", "sun_loss": "solar", "evacuated_90": "evacuation",
           "shelters": "evacuation"}.get(kind, simulator)  # fmt: skip
    (run,) = _runs(user, scenario, sim, ids[:1])
    if kind == "kpis":
        return f"{run.simulator} run {run.pk} of scenario {run.scenario_id}: {_kpis(run)}"
    if kind == "congested":
        field_name = "vc_ratio" if run.simulator == "traffic" else "max_queue_veh"
        rows = (EdgeResult.objects.filter(run=run, **{f"{field_name}__isnull": False})
                .select_related("edge").order_by(f"-{field_name}")[: question["limit"] * 3])  # fmt: skip
        seen, parts = set(), []
        for r in rows:
            name = (r.edge.name if r.edge else "") or "an unnamed road"
            if name in seen:
                continue
            seen.add(name)
            value = getattr(r, field_name)
            parts.append(f"{name} (volume/capacity {value:.2f})" if field_name == "vc_ratio"
                         else f"{name} (queue of {value:,.0f} vehicles)")  # fmt: skip
            if len(parts) == question["limit"]:
                break
        return (
            f"Most congested {_cite(run)}: " + ", ".join(parts)
            if parts
            else f"No loaded roads {_cite(run)}"
        )
    if kind == "evacuated_90":
        t90 = run.kpis.get("t90_s")
        t100 = run.kpis.get("t100_s")
        if t90 is None:
            return f"90% were not out within the horizon {_cite(run)}"
        return (f"90% of the {run.kpis.get('evacuees', 0):,.0f} evacuees are out after {t90 / 60:,.1f} min"
                f" (everyone after {t100 / 60:,.1f} min) {_cite(run)}" if t100 else
                f"90% are out after {t90 / 60:,.1f} min {_cite(run)}")  # fmt: skip
    if kind == "shelters":
        rows = [s for s in RunSeries.objects.filter(run=run, name__startswith="shelter:")]
        filled = []
        for s in rows:
            peak = max(s.values) if s.values else 0.0
            share = peak / s.capacity if s.capacity else 0.0
            filled.append((share, s.name.split(":", 1)[1], peak, s.capacity))
        filled.sort(reverse=True)
        if not filled:
            return f"The run used no shelters {_cite(run)}"
        parts = [
            f"{n} {p:,.0f} of {cap:,.0f} places ({100 * sh:.0f}%)"
            for sh, n, p, cap in filled[: question["limit"]]
        ]
        return f"Shelters {_cite(run)}: " + "; ".join(parts)
    if kind == "sun_loss":
        from citytwin.scenarios.models import Run
        from citytwin.scenarios.services import baseline_of

        base = (Run.objects.filter(scenario=baseline_of(c.city), simulator="solar", job__status="succeeded",
                                   params__date=run.params.get("date")).exclude(pk=run.pk)
                .order_by("-job__created_at").first())  # fmt: skip
        if base is None:
            raise NotUnderstood(
                "no finished solar run of the baseline on the same date to compare with"
            )
        before = dict(
            BuildingResult.objects.filter(run=base, building__isnull=False).values_list(
                "building_id", "sun_hours"
            )
        )
        losses = []
        for bid, name, hours in BuildingResult.objects.filter(
            run=run, building__isnull=False
        ).values_list("building_id", "building__name", "sun_hours"):
            if bid in before and hours is not None and before[bid] is not None:
                loss = before[bid] - hours
                if loss > question["min_loss_h"] and loss > 0:
                    losses.append((loss, name or f"building {bid}"))
        losses.sort(reverse=True)
        top = ", ".join(f"{n} ({h:.1f} h less)" for h, n in losses[: question["limit"]])
        return (
            f"{len(losses)} buildings lose more than {question['min_loss_h']:g} h of sun on "
            f"{run.params.get('date')} {_cite(run)} against baseline run {base.pk}"
            + (f": {top}" if top else "")
        )
    raise NotUnderstood(f"I cannot answer questions of kind {kind}")
