"""HTML views of the JSON documents (the HTML conformance class): one plain template."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.template.loader import render_to_string


def render(
    base: str,
    title: str,
    document: dict,
    description: str = "",
    columns: list[str] | None = None,
    rows: list[list] | None = None,
    rows_title: str = "",
    row_links: bool = False,
) -> HttpResponse:
    """A page with the document's links, an optional table and the JSON itself.

    With ``row_links`` the first cell of each row is an ``(text, href)`` pair.
    """
    context = {
        "base": base,
        "title": title,
        "description": description or document.get("description", ""),
        "links": document.get("links", []),
        "columns": columns or [],
        "rows": rows or [],
        "rows_title": rows_title,
        "row_links": row_links,
        "document": json.dumps(
            {k: v for k, v in document.items() if k not in ("links", "features")},
            indent=2,
            ensure_ascii=False,
        ),
    }
    return HttpResponse(
        render_to_string("ogc/page.html", context), content_type="text/html; charset=utf-8"
    )
