from django.apps import AppConfig


class SensorsMqttConfig(AppConfig):
    name = "sensors.mqtt"
    label = "sensors_mqtt"
    verbose_name = "Sensors over MQTT (broker logins, consumer, receive topics)"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (keeps the broker's ACL in step with Datastreams)
