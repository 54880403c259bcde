from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "citytwin.live"
    label = "live"
    verbose_name = "Live events (server-sent events fed by PostgreSQL LISTEN/NOTIFY)"
