from django.apps import AppConfig


class SensorsConfig(AppConfig):
    name = "sensors"
    label = "sensors"
    verbose_name = "Sensors (OGC SensorThings API v1.1 entities, observations, aggregates)"
