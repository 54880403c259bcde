"""``POST /api/assistant/`` and ``POST /api/assistant/confirm/`` (thin views; see service.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from layers.models import City

from . import service


def _city(value) -> City:
    if isinstance(value, bool) or not isinstance(value, int):
        raise service.AssistantRejected("city", "must be a city id")
    city = City.objects.filter(pk=value).first()
    if city is None:
        raise service.AssistantRejected("city", f"no city {value}", 404)
    return city


@extend_schema(
    request={
        "application/json": {
            "type": "object",
            "properties": {
                "city": {"type": "integer"},
                "scenario": {"type": "integer"},
                "text": {"type": "string"},
            },
            "required": ["city", "text"],
        }
    },  # fmt: skip
    responses={200: dict},
    description="What the twin understood of a text: validated edits with a preview, a run "
    "request, an answer with numbers, or a question with candidates; nothing is changed "
    "until POST /api/assistant/confirm/ with the confirm token.",
)
@api_view(["POST"])
@permission_classes([permissions.AllowAny])
def assistant(request):
    body = request.data if isinstance(request.data, dict) else {}
    city = _city(body.get("city"))
    scenario = None
    if body.get("scenario") is not None:
        from citytwin.scenarios.services import scenarios_visible_to

        scenario = (
            scenarios_visible_to(request.user).filter(pk=body["scenario"], city=city).first()
            if isinstance(body["scenario"], int)
            else None
        )
        if scenario is None:
            raise service.AssistantRejected(
                "scenario", f"no scenario {body['scenario']!r} in {city.name}", 404
            )
    return Response(service.understand(city, body.get("text"), request.user, scenario))


@extend_schema(
    request={
        "application/json": {
            "type": "object",
            "properties": {"confirm_token": {"type": "string"}, "scenario": {"type": "integer"}},
            "required": ["confirm_token"],
        }
    },  # fmt: skip
    responses={200: dict},
    description="Apply what the assistant proposed (new scenario, or appended to one you may "
    "edit) and start the run it asked for.",
)
@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
def confirm(request):
    body = request.data if isinstance(request.data, dict) else {}
    scenario = body.get("scenario")
    if scenario is not None and (isinstance(scenario, bool) or not isinstance(scenario, int)):
        raise service.AssistantRejected("scenario", "must be a scenario id")
    return Response(service.confirm(body.get("confirm_token"), request.user, scenario))
