"""Backfill the hourly/daily aggregates and apply retention (what Celery beat does for the
last hours), e.g. ``manage.py sensors_aggregate --since 2026-01-01T00:00:00Z``."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from sensors.storage import apply_retention, refresh_aggregates


class Command(BaseCommand):
    help = "Recompute hourly/daily sensor aggregates from --since (UTC) and apply retention"

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="ISO 8601 date-time with time zone")

    def handle(self, *args, since: str, **options):
        start = parse_datetime(since)
        if start is None or start.tzinfo is None:
            raise CommandError(f"--since: {since!r} is not an ISO 8601 date-time with a time zone")
        now = datetime.now(UTC)
        deleted = apply_retention(now)
        written = refresh_aggregates(start, now)
        self.stdout.write(
            f"retention deleted {deleted} observations; wrote {written['hour']} hourly and "
            f"{written['day']} daily aggregates"
        )
