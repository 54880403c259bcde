"""JSON errors that name the field and the problem."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import APIException
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..importers import ImportRejected


def exception_handler(exc, context):
    if isinstance(exc, ImportRejected):
        return Response({"error": exc.message, "field": exc.field}, status=exc.status)
    # other input errors of the service (e.g. a scenario edit) carry their own JSON body
    api_error = getattr(exc, "api_error", None)
    if callable(api_error):
        body, status = api_error()
        return Response(body, status=status)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" not in response.data:
        detail = response.data.get("detail")
        if detail is not None:
            response.data = {"error": str(detail), "details": response.data}
        else:  # field errors: name the first field and its first problem
            field, problems = next(iter(response.data.items()))
            problem = problems[0] if isinstance(problems, list) and problems else problems
            response.data = {
                "error": f"{field}: {problem}",
                "field": field,
                "details": response.data,
            }
    return response


class BodyTooLarge(APIException):
    status_code = 413
    default_code = "body_too_large"

    def api_error(self) -> tuple[dict, int]:
        return {"error": str(self.detail), "field": "body"}, self.status_code


class LimitedJSONParser(JSONParser):
    """JSON bodies up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (DRF reads the request stream,
    past Django's own check): a larger body is a 413 in JSON before a byte is parsed."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if limit is not None and length and str(length).isdigit() and int(length) > limit:
            raise BodyTooLarge(f"the request body is {int(length):,} bytes, over {limit:,}")
        return super().parse(stream, media_type, parser_context)
