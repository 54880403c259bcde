"""``manage.py sensors_broker``: write the Mosquitto broker's configuration, password file and
ACL from the twin (``bin/citytwin`` runs it before starting the broker); ``--reload`` also
makes a running broker re-read them."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Write the MQTT broker's mosquitto.conf, password file and ACL (from the database)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--reload", action="store_true", help="SIGHUP a running broker")

    def handle(self, *args, reload: bool, **opts):
        from sensors.mqtt import broker

        paths = broker.write_broker_files()
        told = broker.sync_broker(paths) if reload else False
        self.stdout.write(f"{paths.conf}" + (" (broker reloaded)" if told else ""))
