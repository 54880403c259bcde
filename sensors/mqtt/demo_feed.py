"""A demo feed: plausible live sensor data for a demo city, published over MQTT like devices.

``manage.py sensors_demo_feed --city Helsinki`` (``bin/citytwin up`` starts it) makes, once,

- traffic counters on the city's main roads (the longest trunk/primary/secondary edges; each
  Thing and Datastream linked to its road edge), vehicles per hour;
- energy meters in a few of the largest buildings (linked to the building), electric power kW;
- an air-quality station for an area around the centre (NO2 and PM2.5, µg/m³, the area kept
  on the Thing and Datastreams),

each Thing with a device login of its own, then publishes their values on the devices' batch
topics (``citytwin/ingest/<login>``, QoS 1) every ``interval_s`` seconds, after a backfill of
the last hours at 5-minute steps. Values follow a daily profile on the city's local clock
(morning and evening peaks on weekdays, a flatter weekend) plus noise: :func:`traffic_veh_h`,
:func:`power_kw`, :func:`no2_ug_m3`, :func:`pm25_ug_m3` are pure functions of the local hour.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from . import broker, logins

log = logging.getLogger(__name__)

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
MAIN_ROADS = ("motorway", "trunk", "primary", "secondary")


# -- profiles (pure functions of the local time) ----------------------------------------------
def _bump(h: float, centre: float, width: float) -> float:
    return math.exp(-(((h - centre) / width) ** 2))


def traffic_share(hour: float, weekday: bool) -> float:
    """Flow as a share of capacity at local ``hour`` (0-24): night low, peaks at 8 and 16:30."""
    if weekday:
        share = 0.06 + 0.55 * _bump(hour, 8.0, 1.4) + 0.6 * _bump(hour, 16.5, 1.9)
        share += 0.3 * _bump(hour, 12.5, 3.0)
    else:
        share = 0.05 + 0.4 * _bump(hour, 14.0, 4.0)
    return min(share, 0.95)


def traffic_veh_h(hour: float, weekday: bool, capacity_veh_h: float, rng: random.Random) -> float:
    """Vehicles per hour on a road of ``capacity_veh_h`` (8 % noise, never negative)."""
    return round(max(0.0, capacity_veh_h * traffic_share(hour, weekday) * rng.gauss(1, 0.08)), 1)


def power_kw(hour: float, weekday: bool, peak_kw: float, rng: random.Random) -> float:
    """Electric power of a building: a base load of 30 % and office hours on weekdays."""
    day = _bump(hour, 13.0, 4.0) if weekday else 0.3 * _bump(hour, 14.0, 5.0)
    return round(max(0.0, peak_kw * (0.3 + 0.7 * day) * rng.gauss(1, 0.05)), 2)


def no2_ug_m3(hour: float, weekday: bool, rng: random.Random) -> float:
    """NO2 follows the traffic (background 8 µg/m³)."""
    return round(max(0.0, 8 + 45 * traffic_share(hour, weekday) * rng.gauss(1, 0.12)), 1)


def pm25_ug_m3(hour: float, weekday: bool, rng: random.Random) -> float:
    return round(max(0.0, 3 + 7 * traffic_share(hour, weekday) * rng.gauss(1, 0.15)), 1)


# -- the demo things --------------------------------------------------------------------------
@dataclass
class Stream:
    datastream_id: int
    kind: str  # traffic, power, no2, pm25
    scale: float  # capacity (veh/h) or peak (kW)


@dataclass
class Device:
    login: str
    password: str
    streams: list[Stream]


def city_zone(city) -> ZoneInfo:
    """The city's time zone (its ``time_zone`` when it has one, else from its centre)."""
    name = getattr(city, "time_zone", "") or ""
    if not name:
        from timezonefinder import TimezoneFinder

        from layers.models import RoadNode

        node = RoadNode.objects.filter(city=city).only("geom").first()
        if node is not None:
            name = TimezoneFinder().timezone_at(lng=node.geom.x, lat=node.geom.y) or ""
    return ZoneInfo(name or "UTC")


def _location(thing, name: str, point) -> None:
    from sensors.models import Location

    loc = Location.objects.create(
        name=name,
        description=f"where {thing.name} stands",
        location=json.loads(point.geojson),
        geom=point,
    )
    thing.locations.add(loc)


def _shared(name: str, definition: str, description: str):
    from sensors.models import ObservedProperty

    prop, _ = ObservedProperty.objects.get_or_create(
        name=name, definition=definition, defaults={"description": description}
    )
    return prop


def _sensor(name: str, description: str):
    from sensors.models import Sensor

    sensor, _ = Sensor.objects.get_or_create(
        name=name,
        defaults={
            "description": description,
            "encoding_type": "text/html",
            "metadata": "https://github.com/citytwin (demo feed)",
        },
    )
    return sensor


@transaction.atomic
def ensure_demo_things(city, counters: int = 8, meters: int = 3) -> list[tuple[int, list[Stream]]]:
    """The demo Things of ``city`` (made on the first call): [(thing id, streams)]."""
    from django.contrib.gis.geos import Point

    from layers.models import Building, RoadEdge
    from sensors.models import Datastream, Thing

    existing = list(Thing.objects.filter(city=city, properties__demo_feed=True).order_by("pk"))
    if existing:
        out = []
        for thing in existing:
            streams = [
                Stream(ds.pk, ds.properties["demo_kind"], ds.properties["demo_scale"])
                for ds in thing.datastreams.order_by("pk")
            ]
            out.append((thing.pk, streams))
        return out

    flow = _shared("vehicle flow", "http://www.opengis.net/def/property/OGC/0/TrafficFlow",
                   "vehicles passing per hour")  # fmt: skip
    power = _shared("electric power", "http://qudt.org/vocab/quantitykind/ActivePower",
                    "active power drawn by the building")  # fmt: skip
    no2 = _shared("NO2 concentration", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/8",
                  "nitrogen dioxide in the air")  # fmt: skip
    pm25 = _shared("PM2.5 concentration", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/6001",
                   "particulate matter under 2.5 µm")  # fmt: skip
    loop = _sensor("inductive loop counter", "counts vehicles over a loop in the road")
    meter = _sensor("smart electricity meter", "the building's main meter")
    aq = _sensor("air quality monitor", "electrochemical NO2 and optical PM2.5 sensor")
    veh_h = {
        "name": "vehicles per hour",
        "symbol": "veh/h",
        "definition": "http://qudt.org/vocab/unit/PER-HR",
    }
    kw = {"name": "kilowatt", "symbol": "kW", "definition": "http://qudt.org/vocab/unit/KiloW"}
    ugm3 = {"name": "microgram per cubic metre", "symbol": "µg/m³",
            "definition": "http://qudt.org/vocab/unit/MicroGM-PER-M3"}  # fmt: skip

    def datastream(thing, name, unit, sensor, prop, kind, scale, **link):
        return Datastream.objects.create(
            name=name, description=f"{name} (demo feed)", observation_type=MEASUREMENT,
            unit_of_measurement=unit, thing=thing, sensor=sensor, observed_property=prop,
            properties={"demo_kind": kind, "demo_scale": scale}, **link,
        )  # fmt: skip

    out = []
    edges = list(
        RoadEdge.objects.filter(city=city, highway__in=MAIN_ROADS)
        .exclude(name="")
        .order_by("-length_m")[: counters * 4]
    )
    seen_names: set[str] = set()
    for edge in edges:
        if edge.name in seen_names or len(seen_names) >= counters:
            continue
        seen_names.add(edge.name)
        thing = Thing.objects.create(
            name=f"traffic counter {edge.name}",
            description=f"vehicle counter on {edge.name} ({edge.highway})",
            properties={"demo_feed": True}, city=city, road_edge=edge,
        )  # fmt: skip
        _location(thing, f"{edge.name} kerb", edge.geom.interpolate_normalized(0.5))
        ds = datastream(thing, f"vehicle flow {edge.name}", veh_h, loop, flow, "traffic",
                        edge.capacity_veh_h, road_edge=edge)  # fmt: skip
        out.append((thing.pk, [Stream(ds.pk, "traffic", edge.capacity_veh_h)]))
    for b in (
        Building.objects.filter(city=city).exclude(use="residential").order_by("-height_m")[:meters]
    ):
        # about 30 W per m² of floor at the peak (offices, shops), plus 10 kW of plant
        floor_m2 = b.footprint.transform(city.local_epsg, clone=True).area * max(b.height_m / 3, 1)
        peak = round(10 + 0.03 * floor_m2, 1)
        thing = Thing.objects.create(
            name=f"energy meter building {b.pk}", description=f"main meter of building {b.pk} ({b.use})",
            properties={"demo_feed": True}, city=city, building=b,
        )  # fmt: skip
        _location(thing, f"building {b.pk}", b.footprint.point_on_surface)
        ds = datastream(thing, f"electric power building {b.pk}", kw, meter, power, "power",
                        peak, building=b)  # fmt: skip
        out.append((thing.pk, [Stream(ds.pk, "power", peak)]))
    centre = edges[0].geom.centroid if edges else Point(0, 0, srid=4326)
    area = centre.buffer(0.01)  # about 1 km around the busiest road's middle
    thing = Thing.objects.create(
        name="air quality station centre", description="air quality in the city centre",
        properties={"demo_feed": True}, city=city, area=area,
    )  # fmt: skip
    _location(thing, "centre", centre)
    streams = []
    for name, prop, kind in (("NO2 centre", no2, "no2"), ("PM2.5 centre", pm25, "pm25")):
        ds = datastream(thing, name, ugm3, aq, prop, kind, 1.0, area=area)
        streams.append(Stream(ds.pk, kind, 1.0))
    out.append((thing.pk, streams))
    return out


def devices_for(things: list[tuple[int, list[Stream]]]) -> list[Device]:
    """A device login per demo Thing, with a fresh password on every start."""
    from .models import MqttLogin

    out = []
    for thing_id, streams in things:
        name = f"demo-{thing_id}"
        if MqttLogin.objects.filter(username=name).exists():
            _, pw = logins.reset_password(name)
        else:
            _, pw = logins.add_device(thing_id, name)
        out.append(Device(name, pw, streams))
    return out


def value(stream: Stream, when_local: datetime, rng: random.Random) -> float:
    hour = when_local.hour + when_local.minute / 60 + when_local.second / 3600
    weekday = when_local.weekday() < 5
    if stream.kind == "traffic":
        return traffic_veh_h(hour, weekday, stream.scale, rng)
    if stream.kind == "power":
        return power_kw(hour, weekday, stream.scale, rng)
    if stream.kind == "no2":
        return no2_ug_m3(hour, weekday, rng)
    return pm25_ug_m3(hour, weekday, rng)


def batch_payload(device: Device, times: list[datetime], zone: ZoneInfo, rng) -> str:
    """One dataArray message with the device's values at ``times`` (aware, UTC)."""
    blocks = []
    for s in device.streams:
        rows = [
            [t.isoformat().replace("+00:00", "Z"), value(s, t.astimezone(zone), rng)] for t in times
        ]
        blocks.append(
            {"Datastream": {"@iot.id": s.datastream_id},
             "components": ["phenomenonTime", "result"], "dataArray": rows}
        )  # fmt: skip
    return json.dumps(blocks)


def run(city, interval_s: float, backfill_hours: float, stop: threading.Event, seed=None) -> None:
    """Publish until ``stop`` is set."""
    import paho.mqtt.client as mqtt

    zone = city_zone(city)
    devices = devices_for(ensure_demo_things(city))
    time.sleep(1.0)  # the broker re-reads its logins (SIGHUP after the commit)
    rng = random.Random(seed)
    clients = []
    for d in devices:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=d.login, protocol=mqtt.MQTTv5)
        c.username_pw_set(d.login, d.password)
        c.reconnect_delay_set(0.5, 5)
        up = threading.Event()
        c.on_connect = lambda cl, u, f, rc, p, up=up: up.set() if not rc.is_failure else None
        c.connect_async(broker.mqtt_host(), broker.mqtt_port(), keepalive=60)
        c.loop_start()
        clients.append(c)
        if not up.wait(30):
            log.warning("demo device %s could not sign in to the broker yet", d.login)
    log.info("demo feed for %s (%s): %d devices", city.name, zone.key, len(devices))
    try:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        step = timedelta(minutes=5)
        start = now - timedelta(hours=backfill_hours)
        start = start - timedelta(minutes=start.minute % 5)
        times = []
        t = start
        while t <= now:
            times.append(t)
            t += step
        for d, c in zip(devices, clients):
            for lo in range(0, len(times), 1000):
                c.publish(
                    f"citytwin/ingest/{d.login}",
                    batch_payload(d, times[lo : lo + 1000], zone, rng),
                    1,
                )
        while not stop.wait(interval_s):
            t = datetime.now(UTC).replace(microsecond=0)
            for d, c in zip(devices, clients):
                c.publish(f"citytwin/ingest/{d.login}", batch_payload(d, [t], zone, rng), 1)
    finally:
        for c in clients:
            c.disconnect()
            c.loop_stop()
