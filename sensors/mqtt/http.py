"""HTTP ingest for devices without MQTT: ``POST /api/sensors/ingest/``.

The device signs in with its MQTT login (HTTP Basic: login and password, the same hash the
broker checks). The body is what the batch topic takes: dataArray blocks, or one Observation
naming its ``Datastream``. The same checks and the same store as the MQTT consumer
(``sensors.mqtt.ingest``): 201 ``{"stored", "duplicates"}``, or a 4xx ``{"error", "field"}``
with the message kept as a dead letter (source ``http``); nothing of a refused body is stored.
"""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import broker
from .ingest import Ingestor, Message
from .models import MqttLogin

_ingestor = Ingestor()


def _device(request) -> MqttLogin | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, password = base64.b64decode(token.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login = MqttLogin.objects.filter(
        username=username, kind=MqttLogin.Kind.DEVICE, is_active=True
    ).first()
    if login is None or not broker.check_password(password, login.password_hash):
        return None
    return login


def _error(status: int, message: str, field: str) -> JsonResponse:
    return JsonResponse({"error": message, "field": field}, status=status)


@csrf_exempt  # devices sign in with Basic credentials on every request, never with a cookie
@require_POST
def ingest(request):
    login = _device(request)
    if login is None:
        response = _error(401, "a device login (HTTP Basic) is required", "Authorization")
        response["WWW-Authenticate"] = 'Basic realm="citytwin sensors"'
        return response
    length = request.META.get("CONTENT_LENGTH")
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length and str(length).isdigit() and int(length) > limit:
        return _error(413, f"the request body is {int(length):,} bytes, over {limit:,}", "body")
    message = Message(
        source="http", topic=request.path, payload=request.body, device_thing_id=login.thing_id
    )
    _ingestor.process_all([message])
    if message.rejected is not None:
        status = 403 if "unauthorised" in message.rejected.reason else 400
        return _error(status, message.rejected.reason, message.rejected.field)
    return JsonResponse({"stored": message.stored, "duplicates": message.duplicates}, status=201)
