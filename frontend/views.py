"""The web map page and the static files it needs (gunicorn serves no static files itself)."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.utils.http import http_date
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

BUILD = "frontend/build"
#: the web map loads everything from this server: scripts only from our bundle (no inline
#: script, no eval), MapLibre's workers from blob: URLs, images and tiles from here. Inline
#: style attributes stay allowed (legend swatches); the page may not be framed.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
MISSING_BUILD = (
    "The web map is not built: run `bin/citytwin up` (or `cd frontend && npm ci && npm run build`)."
)


def _find(path: str) -> Path | None:
    """A static file: the apps' own first (a fresh build shows at once), else collected."""
    found = finders.find(path)
    if found:
        return Path(found)
    root = Path(settings.STATIC_ROOT).resolve()
    candidate = (root / path).resolve()
    if candidate.is_relative_to(root) and candidate.is_file():
        return candidate
    return None


@lru_cache(maxsize=8)
def _version(stamp: tuple) -> str:
    digest = hashlib.sha256()
    for path, _ in stamp:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:12]


def build_version() -> str | None:
    """A short hash of the built bundle; it changes with every build (cache busting)."""
    files = [_find(f"{BUILD}/app.js"), _find(f"{BUILD}/app.css")]
    if not all(files):
        return None
    return _version(tuple((str(f), f.stat().st_mtime_ns) for f in files))


@require_safe
@ensure_csrf_cookie
def index(request):
    version = build_version()
    if version is None:
        return HttpResponse(MISSING_BUILD, status=503, content_type="text/plain")
    response = render(request, "frontend/index.html", {"build_version": version})
    # the page names the bundle's version: it must be asked for again each time
    response["Cache-Control"] = "no-cache"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


# the pre-compressed siblings the build makes, best first
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def accepted_encodings(header: str) -> set[str]:
    """The codings an ``Accept-Encoding`` header allows (``q=0`` refuses one; ``*`` any)."""
    allowed: set[str] = set()
    refused: set[str] = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        (allowed if q > 0 else refused).add(name)
    if "*" in allowed:
        allowed |= {enc for enc, _ in ENCODINGS}
    return allowed - refused


@require_safe
def static(request, path: str):
    """Serve a static file with long caching when the URL is versioned (``?v=``) and with the
    pre-compressed ``.br``/``.gz`` sibling the build made when the browser accepts it."""
    if path.endswith(tuple(suffix for _, suffix in ENCODINGS)):
        # the compressed copies go out only as the encoding of their original
        raise Http404(path)
    found = _find(path)
    if found is None or not found.is_file():
        raise Http404(path)
    content_type, _ = mimetypes.guess_type(found.name)
    accepted = accepted_encodings(request.headers.get("Accept-Encoding", ""))
    encoding = None
    for enc, suffix in ENCODINGS:
        sibling = found.with_name(found.name + suffix)
        if enc in accepted and sibling.is_file():
            found, encoding = sibling, enc
            break
    stat = found.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = FileResponse(open(found, "rb"), content_type=content_type)
        del response["Content-Disposition"]
        response["Content-Length"] = str(stat.st_size)
        if encoding:
            response["Content-Encoding"] = encoding
    response["ETag"] = etag
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Vary"] = "Accept-Encoding"
    if "v" in request.GET:
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "public, max-age=0, must-revalidate"
    return response
