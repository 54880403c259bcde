"""Digests of the rows a simulator reads, for the run's input checksum.

A run is reused when its input checksum matches an earlier one (``services.start_run``), so
the checksum must change whenever a table the engine reads changes: a network re-imported,
a row edited in place, service points linked again. Counts and newest ids miss an edit in
place; an md5 over the rows themselves (PostgreSQL's text form of each row, in id order) does
not, and costs milliseconds for networks of a few thousand elements.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def rows_digest(tables: Sequence[tuple[str, str]], params: dict) -> list[list]:
    """``[table, rows, md5]`` for each ``(table, where)``.

    Parameters
    ----------
    tables : pairs of a table name and an SQL condition on its rows (aliased ``t``), written
        in code (never from a request), with ``%(name)s`` placeholders filled from ``params``.
    params : values of the placeholders.

    Returns
    -------
    list of [table, number of rows, md5 hex of the rows' text in id order]
    """
    out = []
    with connection.cursor() as cursor:
        for table, where in tables:
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
                f"FROM {table} t WHERE {where}",
                params,
            )
            count, digest = cursor.fetchone()
            out.append([table, count, digest])
    return out
