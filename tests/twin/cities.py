"""Small synthetic cities the twin tests build (no fixture: plain helpers)."""

from __future__ import annotations

from django.core.management import call_command

from layers.models import City, RoadEdge


def tiny_city(name: str, links: int = 40, seed: int = 1, bridge: bool = False) -> City:
    """A synthetic city of ``links`` road links; with ``bridge``, the links crossing the middle
    of it are removed but one street (both directions): two halves joined by one bridge."""
    call_command("load_synthetic_city", name, "--links", str(links), "--seed", str(seed))
    city = City.objects.get(name=name)
    if bridge:
        edges = list(RoadEdge.objects.filter(city=city).select_related("u", "v"))
        xs = sorted({round(e.u.geom.x, 7) for e in edges})
        cut = (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
        crossing = [e for e in edges if (e.u.geom.x < cut) != (e.v.geom.x < cut)]
        pairs = {(e.u_id, e.v_id): e for e in crossing}
        keep = min(
            (e for e in crossing if (e.v_id, e.u_id) in pairs),
            key=lambda e: (e.geom.centroid.y, e.pk),
        )
        kept = {keep.pk, pairs[(keep.v_id, keep.u_id)].pk}
        RoadEdge.objects.filter(pk__in=[e.pk for e in crossing if e.pk not in kept]).delete()
        city.bridge_ids = sorted(kept)
    return city
