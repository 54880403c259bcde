"""Error pages when DEBUG is off: JSON for the API, OGC and tiles, a plain page for the web.

Neither says more than the status: no settings, paths or tracebacks (those go to the log).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse

#: paths whose clients read JSON
JSON_PREFIXES = ("/api/", "/ogc/", "/tiles/")

MESSAGES = {
    400: "bad request",
    403: "not allowed",
    404: "not found",
    413: "the request is too large",
    500: "the server failed; the error is logged",
}


def wants_json(request) -> bool:
    return request.path.startswith(JSON_PREFIXES) or "application/json" in request.headers.get(
        "Accept", ""
    )


def error_response(request, status: int, message: str | None = None, field: str | None = None):
    message = message or MESSAGES.get(status, "error")
    if wants_json(request):
        body = {"error": message}
        if field:
            body["field"] = field
        return JsonResponse(body, status=status)
    return HttpResponse(
        f"{status}: {message}\n", status=status, content_type="text/plain; charset=utf-8"
    )


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        from django.conf import settings

        return error_response(
            request,
            413,
            f"the request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes",
            "body",
        )
    return error_response(request, 400)


def permission_denied(request, exception=None):
    return error_response(request, 403)


def page_not_found(request, exception=None):
    return error_response(request, 404)


def server_error(request):
    return error_response(request, 500)
