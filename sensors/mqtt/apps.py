from django.apps import AppConfig

#: the SensorThings MQTT extension's conformance classes (OGC 18-088 §14)
MQTT_CREATE = "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation"
MQTT_RECEIVE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"
)


class SensorsMqttConfig(AppConfig):
    name = "sensors.mqtt"
    label = "sensors_mqtt"
    verbose_name = "Sensors over MQTT (broker logins, consumer, receive topics)"

    def ready(self) -> None:
        from . import entity_events, signals  # noqa: F401  (signals: the broker's ACL)

        entity_events.connect()
        _announce_in_service_root()


def _announce_in_service_root() -> None:
    """The service root lists the MQTT classes and the broker's address (serverSettings)."""
    import os

    from sensors.sta import views

    from .broker import mqtt_port

    endpoint = os.environ.get("CITYTWIN_MQTT_PUBLIC_URL") or f"mqtt://127.0.0.1:{mqtt_port()}"
    for uri in (MQTT_CREATE, MQTT_RECEIVE):
        if uri not in views.CONFORMANCE:
            views.CONFORMANCE.append(uri)
        views.SERVER_SETTINGS[uri] = {"endpoints": [endpoint]}
