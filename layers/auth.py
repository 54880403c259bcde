"""Who is asking, for the views that are not DRF views (tiles, event streams, OGC)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request


def request_user(request):
    """The user of a plain Django request, by API token (``Authorization: Token ...``) or by
    session cookie; an unknown or revoked token counts as anonymous (the request then sees
    public data only, never an error page that tells tokens apart)."""
    drf_request = Request(request, authenticators=[TokenAuthentication(), SessionAuthentication()])
    try:
        return drf_request.user
    except AuthenticationFailed:
        return AnonymousUser()
