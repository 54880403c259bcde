"""A.2 Filtering Extension: the query options $expand, $select, $orderby, $top, $skip,
$count, $filter with its operators and functions, their order, status codes and paging."""

from __future__ import annotations

import pytest


def values(r) -> list[dict]:
    assert r.status_code == 200, r.content
    return r.json()["value"]


def results(api, ds, **params) -> list:
    return [o["result"] for o in values(api.get(f"Datastreams({ds.pk})/Observations", **params))]


def test_status_code(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/status-code

    A request the service understands answers 200; an unknown resource 404."""
    assert anon.get("Things").status_code == 200
    assert anon.get(f"Things({sta.things[0].pk})").status_code == 200
    assert anon.get("Things(424242)").status_code == 404


@pytest.mark.parametrize(
    "params, field",
    [
        ({"$top": "-1"}, "$top"),
        ({"$top": "many"}, "$top"),
        ({"$skip": "x"}, "$skip"),
        ({"$count": "yes"}, "$count"),
        ({"$filter": "name eq"}, "$filter"),
        ({"$filter": "nosuch eq 1"}, "$filter"),
        ({"$filter": "nosuchfunction(name) eq 1"}, "$filter"),
        ({"$orderby": "nosuch desc"}, "$orderby"),
        ({"$select": "nosuch"}, "$select"),
        ({"$expand": "Nosuch"}, "$expand"),
        ({"$unknown": "1"}, "$unknown"),
    ],
)
def test_query_status_code(anon, sta, params, field):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/query-status-code

    A query option the service cannot answer is a 400 in JSON naming the option."""
    r = anon.get("Things", **params)
    assert r.status_code == 400, r.content
    assert r.json()["field"] == field


def test_order(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/order

    Options apply in the order $filter, $count, $orderby, $skip, $top, $expand, $select."""
    ds1 = sta.datastreams[0]
    r = anon.get(
        f"Datastreams({ds1.pk})/Observations",
        **{
            "$filter": "result ge 13",  # 13..21: 9 observations
            "$count": "true",
            "$orderby": "result desc",
            "$skip": "2",
            "$top": "3",
            "$expand": "Datastream($select=name)",
            "$select": "result,Datastream",
        },
    )
    body = r.json()
    assert body["@iot.count"] == 9  # counted after the filter, before skip/top
    assert [o["result"] for o in body["value"]] == [19.0, 18.0, 17.0]
    assert body["value"][0] == {"result": 19.0, "Datastream": {"name": "temperature"}}


def test_expand(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/expand

    Related entities inline, nested (path and parenthesised options), on collections and
    on a single entity; to-one relations as an object."""
    t1 = sta.things[0].pk
    thing = anon.get(
        f"Things({t1})",
        **{
            "$expand": "Datastreams($select=name;$expand=Observations($orderby=result desc;"
            "$top=2;$count=true)),Locations"
        },
    ).json()
    ds = thing["Datastreams"][0]
    assert ds["name"] == "temperature" and set(ds) == {
        "name",
        "Observations",
        "Observations@iot.count",
        "Observations@iot.nextLink",
    }
    assert [o["result"] for o in ds["Observations"]] == [21.0, 20.0]
    assert ds["Observations@iot.count"] == 12
    assert thing["Locations"][0]["name"] == "city hall"
    # path form: Datastreams/Sensor expands both levels
    things = values(anon.get("Things", **{"$expand": "Datastreams/Sensor", "$orderby": "id"}))
    assert things[0]["Datastreams"][0]["Sensor"]["name"] == "thermometer"
    obs = values(
        anon.get("Observations", **{"$expand": "Datastream,FeatureOfInterest", "$top": "1"})
    )
    assert obs[0]["Datastream"]["name"] in ("temperature", "counts")
    assert obs[0]["FeatureOfInterest"]["encodingType"] == "application/geo+json"


def test_select(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/select

    Only the selected properties (navigation properties give their navigationLink)."""
    things = values(anon.get("Things", **{"$select": "name,Datastreams", "$orderby": "name"}))
    assert [set(t) for t in things] == [{"name", "Datastreams@iot.navigationLink"}] * 2
    assert [t["name"] for t in things] == ["traffic counter", "weather station"]
    one = anon.get(f"Things({sta.things[0].pk})", **{"$select": "id,description"}).json()
    assert one == {"@iot.id": sta.things[0].pk, "description": "roof of the city hall"}


def test_orderby(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/orderby

    Ascending by default, desc, several keys, expressions and related properties."""
    ds1 = sta.datastreams[0]
    assert results(anon, ds1, **{"$orderby": "result", "$top": "3"}) == [10.0, 11.0, 12.0]
    assert results(anon, ds1, **{"$orderby": "phenomenonTime desc", "$top": "2"}) == [21.0, 20.0]
    # result mod 2 asc, then result desc: the even ones first, each group descending
    got = results(anon, ds1, **{"$orderby": "result mod 2, result desc", "$top": "3"})
    assert got == [20.0, 18.0, 16.0]
    things = values(anon.get("Things", **{"$orderby": "@iot.id desc", "$select": "id"}))
    assert [t["@iot.id"] for t in things] == sorted((t.pk for t in sta.things), reverse=True)
    obs = values(
        anon.get("Observations", **{"$orderby": "Datastream/name desc,result", "$top": "1"})
    )
    assert obs[0]["result"] == 10.0  # "temperature" sorts after "counts"


def test_top(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/top"""
    ds1 = sta.datastreams[0]
    assert len(results(anon, ds1, **{"$top": "5"})) == 5
    assert results(anon, ds1, **{"$top": "0"}) == []
    assert len(results(anon, ds1, **{"$top": "500"})) == 12


def test_skip(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/skip"""
    ds1 = sta.datastreams[0]
    assert results(anon, ds1, **{"$orderby": "result", "$skip": "10"}) == [20.0, 21.0]
    assert results(anon, ds1, **{"$skip": "12"}) == []


def test_count(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/count"""
    ds1 = sta.datastreams[0]
    body = anon.get(f"Datastreams({ds1.pk})/Observations", **{"$count": "true", "$top": "1"}).json()
    assert body["@iot.count"] == 12 and len(body["value"]) == 1
    assert "@iot.count" not in anon.get("Things", **{"$count": "false"}).json()
    assert "@iot.count" not in anon.get("Things").json()


def test_filter(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/filter

    On properties, on related entities (to-one and to-many paths), on JSON properties, on
    time and space."""
    names = lambda r: sorted(t["name"] for t in values(r))  # noqa: E731
    assert names(anon.get("Things", **{"$filter": "name eq 'weather station'"})) == [
        "weather station"
    ]
    assert names(anon.get("Things", **{"$filter": "properties/floors gt 2"})) == ["weather station"]
    assert names(anon.get("Things", **{"$filter": "properties/city eq 'Helsinki'"})) == [
        "weather station"
    ]
    # to-many: Things with any observation over 200 (the traffic counter's private 999 is not
    # visible to this anonymous request, and its public counts stop at 150)
    assert names(anon.get("Things", **{"$filter": "Datastreams/Observations/result gt 200"})) == []
    assert names(anon.get("Things", **{"$filter": "Datastreams/Observations/result gt 140"})) == [
        "traffic counter"
    ]
    obs = values(
        anon.get(
            "Observations",
            **{"$filter": "Datastream/Thing/name eq 'weather station' and result lt 12"},
        )
    )
    assert sorted(o["result"] for o in obs) == [10.0, 11.0]
    obs = values(
        anon.get(
            "Observations",
            **{"$filter": "phenomenonTime ge 2026-05-01T10:00:00Z and result lt 100"},
        )
    )
    assert sorted(o["result"] for o in obs) == [20.0, 21.0]
    locs = values(
        anon.get(
            "Locations",
            **{
                "$filter": "st_within(location, geography'POLYGON((24 60, 25 60, 25 61, 24 61, 24 60))')"
            },
        )
    )
    assert [loc["name"] for loc in locs] == ["city hall"]
    # an interval compared with an instant: the Datastreams whose phenomenonTime covers it
    ds = values(anon.get("Datastreams", **{"$filter": "phenomenonTime eq 2026-05-01T08:30:00Z"}))
    assert [d["name"] for d in ds] == ["temperature"]


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("result eq 15", [15.0]),
        ("result ne 10 and result lt 12", [11.0]),
        ("result gt 20", [21.0]),
        ("result ge 20", [20.0, 21.0]),
        ("result lt 11", [10.0]),
        ("result le 11", [10.0, 11.0]),
        ("result eq 10 or result eq 21", [10.0, 21.0]),
        ("not (result lt 21)", [21.0]),
        ("result add 1 eq 12", [11.0]),
        ("result sub 1 eq 12", [13.0]),
        ("result mul 2 eq 30", [15.0]),
        ("result div 2 eq 8", [16.0]),
        ("result mod 7 eq 0", [14.0, 21.0]),
        ("-result eq -19", [19.0]),
        ("(result add 2) mul 2 eq 30", [13.0]),
    ],
)
def test_built_in_filter_operations(anon, sta, expression, expected):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/built-in-filter-operations

    Comparison (eq ne gt ge lt le), logical (and or not), arithmetic (add sub mul div mod,
    negation) and grouping."""
    got = results(anon, sta.datastreams[0], **{"$filter": expression, "$orderby": "result"})
    assert got == expected


@pytest.mark.parametrize(
    "entity_set, expression, expected",
    [
        # string functions
        ("Things", "substringof('station', name)", ["weather station"]),
        ("Things", "contains(name, 'count')", ["traffic counter"]),
        ("Things", "endswith(name, 'counter')", ["traffic counter"]),
        ("Things", "startswith(name, 'weather')", ["weather station"]),
        ("Things", "length(name) eq 15", ["traffic counter", "weather station"]),
        ("Things", "indexof(name, 'station') eq 8", ["weather station"]),
        ("Things", "substring(name, 8) eq 'station'", ["weather station"]),
        ("Things", "substring(name, 0, 7) eq 'traffic'", ["traffic counter"]),
        ("Things", "tolower(name) eq 'weather station'", ["weather station"]),
        ("Things", "toupper(name) eq 'WEATHER STATION'", ["weather station"]),
        ("Things", "trim(concat(' ', name)) eq 'weather station'", ["weather station"]),
        (
            "Things",
            "concat(concat(name, '/'), description) eq 'traffic counter/Kotka harbour road'",
            ["traffic counter"],
        ),
        # date functions (on the phenomenonTime of observations of the temperature datastream)
        (
            "T",
            "year(phenomenonTime) eq 2026 and month(phenomenonTime) eq 5 and day(phenomenonTime) eq 1 and hour(phenomenonTime) eq 3",
            [13.0],
        ),
        (
            "T",
            "minute(resultTime) eq 1 and second(resultTime) eq 0 and hour(resultTime) eq 4",
            [14.0],
        ),
        ("T", "fractionalseconds(phenomenonTime) eq 0 and hour(phenomenonTime) eq 0", [10.0]),
        ("T", "date(phenomenonTime) eq 2026-05-01 and hour(phenomenonTime) lt 1", [10.0]),
        ("T", "time(phenomenonTime) eq 11:00:00", [21.0]),
        ("T", "totaloffsetminutes(phenomenonTime) eq 0 and result lt 11", [10.0]),
        (
            "T",
            "phenomenonTime lt now() and phenomenonTime gt mindatetime() and phenomenonTime lt maxdatetime() and result gt 20",
            [21.0],
        ),
        # math functions
        ("T", "round(result div 4) eq 5", [18.0, 19.0, 20.0, 21.0]),
        ("T", "floor(result div 4) eq 2", [10.0, 11.0]),
        ("T", "ceiling(result div 4) eq 3", [10.0, 11.0, 12.0]),
        # geospatial functions
        (
            "Locations",
            "geo.intersects(location, geography'POLYGON((26 60, 27 60, 27 61, 26 61, 26 60))')",
            ["harbour road"],
        ),
        (
            "Locations",
            "geo.distance(location, geography'POINT(24.952 60.168)') lt 1000",
            ["city hall"],
        ),
        (
            "Locations",
            "geo.length(geography'LINESTRING(24.9 60.1, 24.9 60.2)') gt 11000",
            ["city hall", "harbour road"],
        ),
        ("Locations", "st_equals(location, geography'POINT(26.945 60.466)')", ["harbour road"]),
        ("Locations", "st_disjoint(location, geography'POINT(26.945 60.466)')", ["city hall"]),
        (
            "Locations",
            "st_touches(geography'LINESTRING(24.952 60.168, 25 61)', location)",
            ["city hall"],
        ),
        (
            "Locations",
            "st_within(location, geography'POLYGON((24 60, 25 60, 25 61, 24 61, 24 60))')",
            ["city hall"],
        ),
        (
            "Locations",
            "st_overlaps(geography'POLYGON((24 60, 25 60, 25 61, 24 61, 24 60))', geography'POLYGON((24.5 60, 26 60, 26 61, 24.5 61, 24.5 60))') and name eq 'city hall'",
            ["city hall"],
        ),
        (
            "Locations",
            "st_crosses(geography'LINESTRING(24 60, 28 61)', geography'POLYGON((26 60, 27 60, 27 61, 26 61, 26 60))') and startswith(name, 'h')",
            ["harbour road"],
        ),
        (
            "Locations",
            "st_intersects(location, geography'POLYGON((24 60, 25 60, 25 61, 24 61, 24 60))')",
            ["city hall"],
        ),
        (
            "Locations",
            "st_contains(geography'POLYGON((26 60, 27 60, 27 61, 26 61, 26 60))', location)",
            ["harbour road"],
        ),
        (
            "Locations",
            "st_relate(location, geography'POLYGON((24 60, 25 60, 25 61, 24 61, 24 60))', 'T********')",
            ["city hall"],
        ),
    ],
)
def test_built_in_query_functions(anon, sta, entity_set, expression, expected):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/built-in-query-functions

    String, date, math and geospatial functions (18-088, Table 25)."""
    if entity_set == "T":
        got = results(anon, sta.datastreams[0], **{"$filter": expression, "$orderby": "result"})
    else:
        got = sorted(e["name"] for e in values(anon.get(entity_set, **{"$filter": expression})))
    assert got == expected


def test_pagination(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/request-data/pagination

    A page that is not the last gives @iot.nextLink; following the links returns every
    entity once, in order; the last page has none."""
    ds1 = sta.datastreams[0]
    r = anon.get(f"Datastreams({ds1.pk})/Observations", **{"$top": "5", "$orderby": "result"})
    seen, pages = [], 0
    body = r.json()
    while True:
        pages += 1
        seen.extend(o["result"] for o in body["value"])
        if "@iot.nextLink" not in body:
            break
        body = anon.get(body["@iot.nextLink"]).json()
    assert pages == 3
    assert seen == [10.0 + i for i in range(12)]
