"""Errors of the OGC API, answered as JSON with the OGC ``code``/``description`` pair.

The body also carries the project's ``error``/``field`` keys (see ``layers.api.errors``), so a
client of the REST API reads OGC errors the same way.
"""

from __future__ import annotations

from django.http import JsonResponse


class OgcError(Exception):
    """A request the API refuses; ``status`` is 400 unless said otherwise."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        status: int = 400,
        code: str = "InvalidParameterValue",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.code = code

    def response(self) -> JsonResponse:
        body = {"code": self.code, "description": self.message, "error": self.message}
        if self.field:
            body["field"] = self.field
        return JsonResponse(body, status=self.status)


class NotFound(OgcError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=404, code="NotFound")
