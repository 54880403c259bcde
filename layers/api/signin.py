"""Sign-in: API tokens for clients, a session cookie for the web map, failures throttled.

``POST /api/auth/token/`` answers ``{"token": ...}``. A request from the web map (one that
passes Django's CSRF check: the page's ``csrftoken`` cookie and ``X-CSRFToken`` header) also
starts a session: an HttpOnly cookie, so the page's scripts never hold a credential.
``GET /api/auth/session/`` says who is signed in; ``POST`` (CSRF-checked) gives the page its
token again after a reload (kept in the tab's memory, never in localStorage); ``DELETE`` signs out.

Failed sign-ins are counted per user name and per address in the cache (Redis: shared by all
web workers). Over ``signin_user`` or ``signin_address`` (DRF throttle rates, e.g. "10/hour")
the answer is 429 with Retry-After, even for the right password. The admin login is throttled
the same way.
"""

from __future__ import annotations

import functools
import hashlib

from django.contrib.auth import login, logout
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from rest_framework import permissions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle


class FailedSignIns(SimpleRateThrottle):
    """Counts failed sign-ins only (a success costs nothing); ``allow`` checks, ``record``
    counts one failure."""

    def __init__(self, scope: str, ident: str):
        self.scope = scope
        self.ident = hashlib.sha256(ident.encode()).hexdigest()[:32]
        super().__init__()

    def get_cache_key(self, request=None, view=None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}

    def allow(self) -> bool:
        self.key = self.get_cache_key()
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) < self.num_requests

    def record(self) -> None:
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


def _throttles(request, username: str) -> list[FailedSignIns]:
    address = request.META.get("REMOTE_ADDR", "")
    return [
        FailedSignIns("signin_user", username.strip().lower()),
        FailedSignIns("signin_address", address),
    ]


def _blocked(throttles: list[FailedSignIns]) -> int | None:
    """Seconds to wait when any throttle refuses, else None."""
    refused = [t for t in throttles if not t.allow()]
    if not refused:
        return None
    return max(int(t.wait() or 1) + 1 for t in refused)


def _too_many(wait_s: int) -> Response:
    response = Response(
        {
            "error": f"too many failed sign-ins for this user or address; try again in {wait_s} s",
            "field": "username",
        },
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(wait_s)
    return response


def _from_the_page(request) -> bool:
    """Whether the request passes Django's CSRF check (the web map's own requests do)."""
    if not request.COOKIES.get("csrftoken"):
        return False
    check = CsrfViewMiddleware(lambda r: None)
    check.process_request(request)
    return check.process_view(request, None, (), {}) is None


@api_view(["POST"])
@authentication_classes([])
@permission_classes([permissions.AllowAny])
def obtain_token(request):
    """An API token for a user name and password (``{"username": ..., "password": ...}``)."""
    username = str(request.data.get("username", ""))[:150]
    throttles = _throttles(request, username)
    wait_s = _blocked(throttles)
    if wait_s is not None:
        return _too_many(wait_s)
    serializer = AuthTokenSerializer(data=request.data, context={"request": request})
    if not serializer.is_valid():
        for throttle in throttles:
            throttle.record()
        serializer.is_valid(raise_exception=True)
    user = serializer.validated_data["user"]
    token, _ = Token.objects.get_or_create(user=user)
    body = {"token": token.key, "username": user.username, "session": False}
    if _from_the_page(request._request):
        login(request._request, user)
        body["session"] = True
    return Response(body)


@api_view(["GET", "POST", "DELETE"])
@authentication_classes([SessionAuthentication])
@permission_classes([permissions.AllowAny])
def session(request):
    """The page's session: who it belongs to (GET); the user's API token for the page's memory
    after a reload (POST, CSRF-checked like every session write); sign out (DELETE)."""
    if request.method == "DELETE":
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
    user = request.user
    body = {"username": user.username if user.is_authenticated else None}
    if request.method == "POST":
        body["token"] = (
            Token.objects.get_or_create(user=user)[0].key if user.is_authenticated else None
        )
    return Response(body)


def throttled_admin_login(view):
    """The admin's login view with the same failed sign-in limits."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        throttles = _throttles(request, request.POST.get("username", "")[:150])
        wait_s = _blocked(throttles)
        if wait_s is not None:
            response = HttpResponse(
                f"429: too many failed sign-ins; try again in {wait_s} s\n",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(wait_s)
            return response
        response = view(request, *args, **kwargs)
        if response.status_code == 200:  # the form again: the password was wrong
            for throttle in throttles:
                throttle.record()
        return response

    return wrapper


@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
def change_password(request):
    """Change one's own password: ``{"old_password": ..., "new_password": ...}``.

    The old API token stops working (a new one is answered) and the page's session stays
    signed in; other sessions of the user end (Django's session hash).
    """
    from django.contrib.auth import update_session_auth_hash

    from layers.accounts import AccountRejected
    from layers.accounts import change_password as change

    user = request.user
    throttles = _throttles(request, user.username)
    wait_s = _blocked(throttles)
    if wait_s is not None:
        return _too_many(wait_s)
    try:
        change(
            user,
            str(request.data.get("old_password", "")),
            str(request.data.get("new_password", "")),
        )
    except AccountRejected as exc:
        if exc.field == "old_password":
            for throttle in throttles:
                throttle.record()
        return Response(
            {"error": f"{exc.field}: {exc.message}", "field": exc.field},
            status=status.HTTP_400_BAD_REQUEST,
        )
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    if request._request.user.is_authenticated:
        update_session_auth_hash(request._request, user)
    return Response({"token": token.key, "username": user.username})
