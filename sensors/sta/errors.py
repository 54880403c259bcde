"""SensorThings errors: a 4xx JSON answer naming the field, never a 500."""

from __future__ import annotations


class StaError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict:
        body = {"error": self.message, "code": self.status}
        if self.field:
            body["field"] = self.field
        return body


def bad_request(message: str, field: str | None = None) -> StaError:
    return StaError(400, message, field)


def not_found(message: str) -> StaError:
    return StaError(404, message)
