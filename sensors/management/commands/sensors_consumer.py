"""``manage.py sensors_consumer``: store what devices publish over MQTT (see
sensors.mqtt.consumer); runs until SIGTERM. ``bin/citytwin up`` starts it."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Consume device observations from the MQTT broker (QoS 1, acknowledged after commit)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-max", type=int, default=1000, help="messages per transaction")
        parser.add_argument(
            "--batch-wait-ms", type=float, default=50.0, help="how long a batch waits to fill (ms)"
        )
        parser.add_argument(
            "--no-receive", action="store_true", help="do not publish SensorThings receive topics"
        )
        parser.add_argument("--pidfile", help="write the process id here while running")

    def handle(self, *args, batch_max: int, batch_wait_ms: float, no_receive: bool, **opts):
        from sensors.mqtt.consumer import Consumer
        from sensors.mqtt.pidfile import pidfile

        consumer = Consumer(
            batch_max=batch_max,
            batch_wait_s=batch_wait_ms / 1000.0,
            publish_receive=not no_receive,
        )
        consumer.install_signal_handlers()
        with pidfile(opts.get("pidfile")):
            consumer.run()
