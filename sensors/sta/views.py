"""The SensorThings API v1.1 at ``/sta/v1.1/``: one plain Django view (SensorThings has its
own JSON shapes, paths and errors), a ``handle`` function shared with batch requests."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import FieldError
from django.db import DatabaseError, DataError, IntegrityError, ProgrammingError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import APIException

from layers.auth import request_user

from . import write
from .entities import ENTITY_TYPES
from .errors import StaError, bad_request
from .odata import Options, parse_options
from .read import Context, collection_json, entity_json, resolve, self_link

log = logging.getLogger(__name__)

VERSION_PATH = "v1.1"
REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
#: the service root's conformance list; another app adds its classes in its
#: AppConfig.ready() (the MQTT extension appends its two URIs and its endpoints below)
CONFORMANCE = [
    REQ + "datamodel",
    REQ + "resource-path/resource-path-to-entities",
    REQ + "request-data",
    REQ + "create-update-delete",
    REQ + "batch-request/batch-request",
]


#: more keys of serverSettings (e.g. the MQTT extension's {REQ + "...": {"endpoints": [...]}})
SERVER_SETTINGS: dict[str, Any] = {}


class Answer:
    def __init__(self, status: int, body: Any = None, headers: dict | None = None, raw=None):
        self.status, self.body, self.headers, self.raw = status, body, headers or {}, raw


def service_root(ctx: Context) -> dict:
    return {
        "value": [{"name": name, "url": f"{ctx.base}/{name}"} for name in ENTITY_TYPES],
        "serverSettings": {"conformance": CONFORMANCE, **SERVER_SETTINGS},
    }


def _read(ctx: Context, path: str, params: dict[str, str]) -> Answer:
    target = resolve(ctx, path)
    entity = target.entity
    url = f"{ctx.base}/{path.strip('/')}"
    if target.kind == "collection":
        opts = parse_options(params, entity)
        return Answer(
            200, collection_json(ctx, entity, target.queryset, opts, url, params, target.ref)
        )
    if target.kind == "entity":
        if target.ref:
            return Answer(200, {"@iot.selfLink": self_link(ctx, entity, target.obj)})
        opts = parse_options(
            {k: v for k, v in params.items() if k in ("$select", "$expand")}, entity
        )
        return Answer(200, entity_json(ctx, entity, target.obj, opts))
    prop = target.prop
    value = target.obj.pk if prop.name == "@iot.id" else prop.to_json(target.obj)
    for key in target.json_keys:
        if not isinstance(value, dict) or key not in value:
            raise StaError(404, f"{prop.name}/{'/'.join(target.json_keys)} not found")
        value = value[key]
    if target.value:
        text = value if isinstance(value, str) else json.dumps(value)
        return Answer(200, raw=HttpResponse(text, content_type="text/plain; charset=utf-8"))
    name = target.json_keys[-1] if target.json_keys else prop.name
    return Answer(200, {name: value})


def _write(ctx: Context, method: str, path: str, body: Any) -> Answer:
    write.require_writer(ctx)
    target = resolve(ctx, path)
    entity = target.entity
    if method == "POST":
        if target.kind != "collection" or target.ref:
            raise StaError(405, "POST creates in a collection (e.g. Things or Things(1)/Locations)")
        obj = write.create(ctx, entity, body, parent=target.parent)
        created = type(obj).objects.get(pk=obj.pk)
        link = self_link(ctx, entity, created)
        return Answer(201, entity_json(ctx, entity, created, Options()), {"Location": link})
    if target.kind != "entity" or target.ref:
        raise StaError(405, f"{method} applies to one entity (e.g. Things(1))")
    if method in ("PATCH", "PUT"):
        obj = write.update(ctx, entity, target.obj, body, put=method == "PUT")
        fresh = type(obj).objects.get(pk=obj.pk)
        return Answer(200, entity_json(ctx, entity, fresh, Options()))
    if method == "DELETE":
        write.delete(ctx, entity, target.obj)
        return Answer(200, None)
    raise StaError(405, f"method {method} not allowed")


def handle(ctx: Context, method: str, path: str, params: dict[str, str], body: Any) -> Answer:
    """One request (also one request of a batch): an Answer, errors as 4xx JSON."""
    try:
        with transaction.atomic():
            if method == "GET":
                if not path.strip("/"):
                    return Answer(200, service_root(ctx))
                return _read(ctx, path, params)
            if method in ("POST", "PATCH", "PUT", "DELETE"):
                return _write(ctx, method, path, body)
            raise StaError(405, f"method {method} not allowed")
    except StaError as exc:
        return Answer(exc.status, exc.body())
    except IntegrityError as exc:
        field = "phenomenonTime" if "idempotency_key" in str(exc) else None
        body = {"error": "conflicts with an existing entity: " + str(exc).splitlines()[0]}
        return Answer(409, {**body, "code": 409, "field": field})
    except (DataError, ProgrammingError, FieldError) as exc:
        # a type clash PostgreSQL finds in a valid expression (e.g. a string compared with a date)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Answer(
            400, {"error": f"the query cannot run: {first}", "code": 400, "field": "$filter"}
        )
    except DatabaseError:
        log.exception("SensorThings request failed")
        return Answer(503, {"error": "the database failed; try again", "code": 503})


def _body(request: HttpRequest) -> Any:
    if request.method not in ("POST", "PATCH", "PUT"):
        return None
    try:
        return json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"body: not JSON ({exc})", "body") from None


def _respond(answer: Answer) -> HttpResponse:
    if answer.raw is not None:
        return answer.raw
    if answer.body is None:
        response = HttpResponse(status=answer.status)
    else:
        response = JsonResponse(
            answer.body, status=answer.status, json_dumps_params={"default": str}
        )
    for key, value in answer.headers.items():
        response[key] = value
    return response


@csrf_exempt
def sta_view(request: HttpRequest, path: str = "") -> HttpResponse:
    try:
        user = request_user(request)
    except APIException as exc:  # a page session writing without its CSRF token
        body = {"error": str(exc.detail), "code": 403, "field": "X-CSRFToken"}
        return _respond(Answer(403, body))
    ctx = Context(user=user, base=request.build_absolute_uri(f"/sta/{VERSION_PATH}"))
    params = {k: request.GET.get(k) for k in request.GET}
    try:
        body = _body(request)
    except StaError as exc:
        return _respond(Answer(exc.status, exc.body()))
    if path.strip("/") == "$batch":
        from .batch import run_batch

        if request.method != "POST":
            return _respond(Answer(405, {"error": "POST a batch", "code": 405}))
        return _respond(run_batch(ctx, body))
    return _respond(handle(ctx, request.method, path, params, body))
