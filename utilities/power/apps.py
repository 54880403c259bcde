from django.apps import AppConfig


class PowerConfig(AppConfig):
    name = "utilities.power"
    label = "power"
    verbose_name = "Power networks"

    def ready(self) -> None:
        from . import importer, ogc  # noqa: F401  (registers the import target, collections)

        ogc.register_collections()
