from django.apps import AppConfig


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = "City layers"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the import job kind with jobs.runner)
