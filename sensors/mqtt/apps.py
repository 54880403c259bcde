from django.apps import AppConfig


class SensorsMqttConfig(AppConfig):
    name = "sensors.mqtt"
    label = "sensors_mqtt"
    verbose_name = "Sensors over MQTT (broker logins, consumer, receive topics)"

    def ready(self) -> None:
        from . import entity_events, signals  # noqa: F401  (signals: the broker's ACL)

        entity_events.connect()
