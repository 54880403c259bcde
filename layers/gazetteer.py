"""The gazetteer: the twin's own names (streets, named buildings, facilities, areas, addresses)
found by a few letters, tolerant of case, diacritics and small typos.

One index per city, built from the base tables on first use and kept in the process until the
city's data changes (``City.imported_at``). It serves the web map's search box and the
"close a street by name" edit, and is meant as the assistant's place resolver.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.gis.db.models import Extent
from django.db.models import Count, F

from .models import AreaFeature, Building, City, Facility, RoadEdge

#: kinds of places, in the order a tie is broken (a street before a building of the same name)
KINDS = ("street", "area", "facility", "building", "address")
#: a query longer than this is not a place name
MAX_QUERY_CHARS = 120


def normalise(text: str) -> str:
    """Lower case, no diacritics, single spaces: "Mannerheimintie" == "mannerhéimintie"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().replace("-", " ").split())


@dataclass
class Place:
    """One named thing: ``bbox`` (lon/lat min/max), ``ids`` of the twin's rows it stands for."""

    kind: str
    name: str
    bbox: tuple[float, float, float, float]
    ids: list[int] = field(default_factory=list)
    detail: str = ""

    def as_json(self) -> dict:
        x0, y0, x1, y1 = self.bbox
        return {
            "kind": self.kind,
            "name": self.name,
            "label": f"{self.name} ({self.detail})" if self.detail else self.name,
            "bbox": [x0, y0, x1, y1],
            "center": [(x0 + x1) / 2, (y0 + y1) / 2],
            "count": len(self.ids),
        }


class Gazetteer:
    """The places of one city with their normalised names."""

    def __init__(self, places: list[Place]):
        self.places = places
        self.keys = [normalise(p.name) for p in places]
        self.by_key: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(self.keys):
            self.by_key[key].append(i)

    def search(
        self, query: str, limit: int = 10, kinds: tuple[str, ...] | None = None
    ) -> list[Place]:
        """Best places for ``query``: exact names, then names starting with it, then containing
        it, then close spellings (rapidfuzz WRatio >= 80)."""
        from rapidfuzz import fuzz, process

        kinds = kinds or KINDS
        q = normalise(query)
        if not q:
            return []
        scored: dict[int, float] = {}
        for i, key in enumerate(self.keys):
            if self.places[i].kind not in kinds:
                continue
            if key == q:
                scored[i] = 300.0
            elif key.startswith(q) or any(word.startswith(q) for word in key.split()):
                scored[i] = 200.0 - len(key) / 100
            elif q in key:
                scored[i] = 150.0 - len(key) / 100
        if len(scored) < limit:
            choices = {
                i: key
                for i, key in enumerate(self.keys)
                if i not in scored and self.places[i].kind in kinds
            }
            for _, score, i in process.extract(
                q, choices, scorer=fuzz.WRatio, limit=limit, score_cutoff=80
            ):
                scored[i] = score
        rank = {kind: n for n, kind in enumerate(KINDS)}
        best = sorted(scored, key=lambda i: (-scored[i], rank[self.places[i].kind], self.keys[i]))
        return [self.places[i] for i in best[:limit]]

    def street(self, name: str) -> Place | None:
        """The street of exactly this name (case and diacritics aside), or None."""
        for i in self.by_key.get(normalise(name), []):
            if self.places[i].kind == "street":
                return self.places[i]
        return None


def _bbox(extent) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in extent)  # type: ignore[return-value]


def build(city: City) -> Gazetteer:
    """Read the city's names from its base tables (a few SQL aggregates)."""
    places: list[Place] = []
    streets = (
        RoadEdge.objects.filter(city=city)
        .exclude(name="")
        .values("name")
        .annotate(extent=Extent("geom"), n=Count("id"))
    )
    edge_ids: dict[str, list[int]] = defaultdict(list)
    for name, pk in RoadEdge.objects.filter(city=city).exclude(name="").values_list("name", "id"):
        edge_ids[name].append(pk)
    for row in streets:
        # a street whose OSM name lists several ("A;B") is found under each
        for part in {p.strip() for p in row["name"].split(";") if p.strip()}:
            places.append(
                Place("street", part, _bbox(row["extent"]), edge_ids[row["name"]],
                      f"street, {row['n']} road segments")
            )  # fmt: skip
    for model, kind, geom in (
        (AreaFeature, "area", "geom"),
        (Facility, "facility", "geom"),
        (Building, "building", "footprint"),
    ):
        rows = (
            model.objects.filter(city=city)
            .exclude(name="")
            .values("name")
            .annotate(extent=Extent(geom), n=Count("id"), any_id=F("id"))
        )
        for row in rows:
            places.append(Place(kind, row["name"], _bbox(row["extent"]), [row["any_id"]], kind))
    addresses = (
        Building.objects.filter(city=city, tags__has_key="addr:street")
        .values("tags__addr:street", "tags__addr:housenumber")
        .annotate(extent=Extent("footprint"))
    )
    for row in addresses:
        street, number = row["tags__addr:street"], row["tags__addr:housenumber"]
        if not street:
            continue
        name = f"{street} {number}" if number else str(street)
        places.append(Place("address", name, _bbox(row["extent"]), [], "address"))
    return Gazetteer(places)


_cache: dict[int, tuple[object, Gazetteer]] = {}
_lock = threading.Lock()


def for_city(city: City) -> Gazetteer:
    """The city's gazetteer, rebuilt when its data changed since (``imported_at``)."""
    with _lock:
        cached = _cache.get(city.pk)
        if cached is not None and cached[0] == city.imported_at:
            return cached[1]
    gazetteer = build(city)
    with _lock:
        _cache[city.pk] = (city.imported_at, gazetteer)
    return gazetteer
