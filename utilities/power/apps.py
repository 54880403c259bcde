from django.apps import AppConfig


class PowerConfig(AppConfig):
    name = "utilities.power"
    label = "power"
    verbose_name = "Power networks"

    def ready(self) -> None:
        from . import importer, ogc, sweep  # noqa: F401  (import target, collections, task)

        ogc.register_collections()
