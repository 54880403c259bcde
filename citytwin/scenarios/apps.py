from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "citytwin.scenarios"
    label = "scenarios"
    verbose_name = "Scenarios and runs"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the run job kind with jobs.runner)
        from .ogc import register_result_collections

        register_result_collections()
