"""JSON errors that name the field and the problem."""

from __future__ import annotations

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
