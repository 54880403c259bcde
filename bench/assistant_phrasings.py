"""The assistant's offline parser against 200 hand-written phrasings over the demo city.

Reads ``bench/assistant/phrasings.jsonl`` (written by ``bench/assistant/make_corpus.py``: a
planner's phrasings, paraphrases, typos, Finnish inflection, Swedish and local names, with
the expected edits, runs or questions written by hand), asks ``service.understand`` each one
on Helsinki (``demo_pbf("helsinki")``, imported into the database of ``DATABASE_URL`` when
missing) and prints the exact-match rate per category and the p50/p95 time per request (the
first request, which builds the place index, is timed apart). With ``--write-doc`` the table
goes into docs/assistant.md between its markers.

    .venv/bin/python bench/assistant_phrasings.py [--write-doc] [--show-misses]

A row may name its city (``"city"``: Helsinki, Kotka or Andorra; Helsinki when absent), imported
when missing (Andorra from ``$CITYTWIN_DATA/osm/andorra-latest.osm.pbf``).

``--corpus bench/assistant/heldout.jsonl`` reads the blind held-out set instead (written from
the edit and simulator schemas and the database only, before its author ran the parser); with
``--write-doc`` its table goes between the held-out markers of docs/assistant.md.
``--corpus bench/assistant/blind2.jsonl`` is the second blind set (bench/assistant/README.md).
A row may name its city (``"city": "Kotka"`` or ``"Andorra"``; default Helsinki): each city is
imported when missing (Kotka ``demo_pbf("kotka")``, Andorra
``$CITYTWIN_DATA/osm/andorra-latest.osm.pbf``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
CORPUS = REPO_ROOT / "bench" / "assistant" / "phrasings.jsonl"
HELDOUT = REPO_ROOT / "bench" / "assistant" / "heldout.jsonl"
DOC = REPO_ROOT / "docs" / "assistant.md"
#: a geometry is where it was meant when its centre lies this close to the place's (m)
NEAR_M = 60.0


def _city_files() -> dict:
    """The cities a corpus row may name (``"city"``) and their OSM files."""
    from layers.importers.osm import demo_pbf

    data = Path(os.environ.get("CITYTWIN_DATA", REPO_ROOT.parent / "shared" / "data"))
    return {
        "Helsinki": lambda: demo_pbf("helsinki"),
        "Kotka": lambda: demo_pbf("kotka"),
        "Andorra": lambda: data / "osm" / "andorra-latest.osm.pbf",
    }


def _setup(name: str = "Helsinki"):
    """The city ``name`` in the database (imported from its OSM file when missing)."""
    import django

    django.setup()
    from layers.importers.osm import import_osm
    from layers.models import City

    city = City.objects.filter(name=name).first()
    if city is None:
        files = _city_files()
        if name not in files:
            raise SystemExit(f"corpus names city {name!r}; the bench knows {sorted(files)}")
        import_osm(files[name](), name)
        city = City.objects.get(name=name)
    return city


def _distance_m(a, b) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    dy = (a[1] - b[1]) * 110_540
    return math.hypot(dx, dy)


def _place_point(city, spec: str):
    """lon/lat of a place spec: a name, ``corner:A|B``, ``north:<name>``."""
    from citytwin.assistant import spatial
    from layers import gazetteer

    names = gazetteer.for_city(city)

    def named(name):
        hits = [p for p in names.places if p.name == name and not p.canonical]
        assert hits, f"corpus names {name!r}, which the twin does not have"
        return hits[0]

    if spec.startswith("corner:"):
        a, b = spec[7:].split("|")
        return spatial.corner(city, named(a), named(b)), None
    for side in ("north", "south", "east", "west"):
        if spec.startswith(side + ":"):
            return spatial.centre(named(spec[len(side) + 1 :])), side
    return spatial.centre(named(spec)), None


def _centroid(geojson):
    import shapely

    c = shapely.from_geojson(json.dumps(geojson)).centroid
    return c.x, c.y


def _match_edit(city, want: dict, got: dict) -> bool:
    import shapely

    from layers.models import Building, RoadEdge

    if want["type"] != got.get("type"):
        return False
    ids_of = lambda street: sorted(  # noqa: E731
        RoadEdge.objects.filter(city=city, name=street).values_list("id", flat=True)
    )
    skip = {"type", "edges_of", "part_of", "buildings_named", "near", "radius_m", "zone_near"}
    for key, value in want.items():
        if key in skip:
            continue
        if isinstance(value, float | int) and not isinstance(value, bool):
            if not isinstance(got.get(key), float | int) or abs(got[key] - value) > 1e-6 * max(
                1, abs(value)
            ):
                return False
        elif got.get(key) != value:
            return False
    if "street" in want:  # the name must also stand for that street's edges when applied
        from layers import gazetteer

        place = gazetteer.for_city(city).street(got.get("street") or "")
        if place is None or sorted(place.ids) != ids_of(want["street"]):
            return False
    if "edges_of" in want:
        if set(got.get("edge_ids") or []) != set(ids_of(want["edges_of"])):
            return False
    if "part_of" in want:
        mine = set(got.get("edge_ids") or [])
        if not mine or not mine < set(ids_of(want["part_of"])):
            return False
    if "buildings_named" in want:
        names = set(
            Building.objects.filter(pk__in=got.get("building_ids") or []).values_list(
                "name", flat=True
            )
        )
        if names != {want["buildings_named"]}:
            return False
        if (
            len(got["building_ids"])
            != Building.objects.filter(city=city, name=want["buildings_named"]).count()
        ):
            return False
    if "near" in want:
        geometry = got.get("footprint") or got.get("point") or got.get("polygon")
        (point, side) = _place_point(city, want["near"])
        if geometry is None or point is None:
            return False
        centre = _centroid(geometry)
        if side is None and _distance_m(centre, point) > NEAR_M:
            return False
        if side is not None:  # the zone lies on that side of the place
            dx, dy = centre[0] - point[0], centre[1] - point[1]
            ok = {"north": dy > 0, "south": dy < 0, "east": dx > 0, "west": dx < 0}[side]
            if not ok:
                return False
        if "radius_m" in want:
            from citytwin.scenarios import inputs

            area = inputs.local_geometry(city, geometry).area
            if abs(math.sqrt(area / math.pi) - want["radius_m"]) > 0.02 * want["radius_m"]:
                return False
    if "zone_near" in want:
        if "zone" not in got:
            return False
        point, _ = _place_point(city, want["zone_near"])
        if not shapely.from_geojson(json.dumps(got["zone"])).contains(shapely.Point(point)):
            return False
    return True


def _match_run(want: dict, got: dict | None) -> bool:
    if got is None or got["simulator"] != want["simulator"]:
        return False
    for key, value in want["params"].items():
        if key == "date":  # "21 March": month and day, any year
            from citytwin.assistant import quantities

            expected = quantities.date_iso(value.lower(), 2000)
            if got["params"].get("date", "")[4:] != expected.iso[4:]:
                return False
        elif got["params"].get(key) != value:
            return False
    return True


def matches(city, expect: dict, body: dict, status: int) -> bool:
    """Does the assistant's answer hold exactly what the corpus expects?"""
    if expect.get("nothing"):
        return status >= 400 or (not body.get("edits") and body.get("run") is None
                                 and body.get("clarify") is None and (body.get("answer") or "").startswith("Nothing changed"))  # fmt: skip
    if status >= 400:
        return False
    if expect.get("clarify"):
        return body["clarify"] is not None and not body["edits"]
    if "question" in expect:
        return f"question: {expect['question'].replace('_', ' ')}" in body["understood"]
    want_edits = expect.get("edits", [])
    got_edits = body["edits"]
    if len(want_edits) != len(got_edits):
        return False
    if not all(_match_edit(city, w, g) for w, g in zip(want_edits, got_edits)):
        return False
    if "run" in expect:
        return _match_run(expect["run"], body["run"])
    return body["run"] is None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-doc", action="store_true")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="JSONL phrasings to read")
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    rows = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    cities = {name: _setup(name) for name in dict.fromkeys(r.get("city", "Helsinki") for r in rows)}
    from citytwin.assistant import service

    t0 = time.perf_counter()
    city = cities.get("Helsinki") or next(iter(cities.values()))
    service.understand(city, "close Mannerheimintie")  # builds the gazetteer and place index
    first_s = time.perf_counter() - t0
    for other in cities.values():  # the other cities' indexes too, before timing
        service.understand(other, "run traffic")
    hits, totals, times = defaultdict(int), defaultdict(int), []
    misses = []
    by_city = defaultdict(lambda: [0, 0])
    for row in rows:
        city = cities[row.get("city", "Helsinki")]
        started = time.perf_counter()
        try:
            body, status = service.understand(city, row["text"]), 200
        except service.AssistantRejected as exc:
            body, status = {}, exc.status
        times.append(time.perf_counter() - started)
        ok = matches(city, row["expect"], body, status)
        totals[row["category"]] += 1
        hits[row["category"]] += ok
        by_city[row.get("city", "Helsinki")][0] += 1
        by_city[row.get("city", "Helsinki")][1] += ok
        if not ok:
            misses.append((row, body))
    times.sort()
    p = lambda f: times[min(len(times) - 1, int(f * len(times)))]  # noqa: E731
    lines = [
        "| category | phrasings | exact matches | rate |",
        "|---|---:|---:|---:|",
    ]
    for category in totals:
        lines.append(
            f"| {category} | {totals[category]} | {hits[category]} | {100 * hits[category] / totals[category]:.0f}% |"
        )
    n, h = sum(totals.values()), sum(hits.values())
    lines.append(f"| **all** | {n} | {h} | {100 * h / n:.0f}% |")
    if len(by_city) > 1:
        for name, (total, hit) in by_city.items():
            lines.append(f"| city: {name} | {total} | {hit} | {100 * hit / total:.0f}% |")
    lines.append("")
    lines.append(
        f"Time per request: p50 {1000 * p(0.5):.0f} ms, p95 {1000 * p(0.95):.0f} ms, max "
        f"{1000 * times[-1]:.0f} ms ({n} requests, in process, after the first request on each "
        f"city, which builds its place index: {1000 * first_s:.0f} ms for {len(cities)})."
    )
    table = "\n".join(lines)
    print(table)
    if args.show_misses:
        for row, body in misses:
            shown = {k: body.get(k) for k in ("understood", "edits", "run", "answer", "clarify")}
            print(
                "\nMISS",
                row["category"],
                repr(row["text"]),
                "\n  want",
                row["expect"],
                "\n  got ",
                json.dumps(shown, ensure_ascii=False)[:500],
            )
    if args.write_doc:
        text = DOC.read_text()
        marker = {CORPUS: "assistant_phrasings", HELDOUT: "assistant_heldout"}.get(
            corpus, f"assistant_{corpus.stem}"
        )
        start, end = f"<!-- bench:{marker} -->", f"<!-- /bench:{marker} -->"
        if start not in text:
            sys.exit(f"{DOC} has no {start} ... {end} markers for this corpus")
        head, rest = text.split(start)
        _, tail = rest.split(end)
        DOC.write_text(f"{head}{start}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    main()
