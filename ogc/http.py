"""Request plumbing shared by the views: the caller, the base URL, the format, responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from .errors import OgcError


def base_url(request: HttpRequest) -> str:
    """``http://host/ogc`` (no trailing slash), as the client reached it."""
    return request.build_absolute_uri(reverse("ogc:landing")).rstrip("/")


def wants_html(request: HttpRequest) -> bool:
    """``?f=html``, or a browser's Accept header that puts HTML before JSON."""
    f = request.GET.get("f")
    if f is not None:
        if f in ("json", "geojson", "application/json", "application/geo+json"):
            return False
        if f in ("html", "text/html"):
            return True
        raise OgcError(f"f must be json or html, not {f!r}", field="f")
    accept = request.headers.get("Accept", "")
    html_at = accept.find("text/html")
    if html_at < 0:
        return False
    json_at = [accept.find(t) for t in ("application/json", "application/geo+json", "json")]
    json_at = [i for i in json_at if i >= 0]
    return not json_at or html_at < min(json_at)


def json_response(document: dict | str, media_type: str = "application/json", **headers):
    """A JSON response; a ``str`` document is sent as it is (pre-built GeoJSON)."""
    body = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    response = HttpResponse(body.encode(), content_type=media_type)
    response["Access-Control-Allow-Origin"] = "*"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
