"""``manage.py sensors_demo_feed --city Helsinki``: demo Things for the city and plausible live
data over MQTT (sensors.mqtt.demo_feed); runs until SIGTERM. ``bin/citytwin up`` starts it."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Publish plausible live sensor data for a demo city over MQTT (like devices)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--city", default="Helsinki", help="the city's name")
        parser.add_argument("--interval-s", type=float, default=10.0, help="seconds between values")
        parser.add_argument(
            "--backfill-hours", type=float, default=24.0, help="hours of history sent at start"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed (noise)")
        parser.add_argument("--pidfile", help="write the process id here while running")

    def handle(self, *args, city: str, interval_s: float, backfill_hours: float, seed, **opts):
        from layers.models import City
        from sensors.mqtt import demo_feed
        from sensors.mqtt.pidfile import pidfile

        if interval_s <= 0:
            raise CommandError("--interval-s: must be above 0")
        the_city = City.objects.filter(name=city).first()
        if the_city is None:
            raise CommandError(f"--city: no city {city!r} (import it first)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        with pidfile(opts.get("pidfile")):
            demo_feed.run(the_city, interval_s, backfill_hours, stop, seed)
