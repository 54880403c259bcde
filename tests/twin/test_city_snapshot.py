"""The test fixtures' city snapshot (tests/twin/conftest.py) gives what an import gives.

``committed_city`` puts a demo city back after a transactional test's flush by copying the rows
the session's import wrote instead of importing the PBF again; here the copy is compared, table
by table and row by row, with a fresh import of the same file.
"""

from __future__ import annotations

import pytest
from django.db import connection

from layers.importers.osm import demo_pbf, import_osm
from layers.models import Building, City
from tests.twin.conftest import _SNAPSHOT, SNAPSHOT_SCHEMA, _restore_city, time_columns

pytestmark = pytest.mark.django_db(transaction=True)

#: differ between two imports of one file by design: the row ids and the import's report (which
#: holds the seconds it took); the times of the import are checked apart
VARYING = {"id", "import_report"}


def _references(table: str) -> dict[str, str]:
    """Columns of ``table`` holding another row's id, with the table of that row."""
    from django.apps import apps

    (model,) = [m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table]
    return {
        f.column: f.related_model._meta.db_table
        for f in model._meta.concrete_fields
        if f.is_relation
    }


def _rows(table: str, columns: list[str], city_id: int, imported: set[str]) -> list[tuple]:
    """The city's rows of ``table`` in insertion order, as text: every column but the varying
    ones; a reference to another row of the city as that row's rank in its table (ids differ
    between two imports, the rows they point to must not)."""
    references = _references(table)
    skip = VARYING | time_columns(table) | ({"name"} if table == "layers_city" else set())
    select = []
    for c in columns:
        if c in skip or references.get(c) == "layers_city":
            continue  # the WHERE below holds the city reference
        if references.get(c) in imported:
            other = references[c]
            select.append(
                f'(SELECT count(*) FROM "{other}" o WHERE o.city_id = %(city)s AND o.id <= t."{c}")'
            )
        else:
            select.append(f't."{c}"::text')
    where = "id" if table == "layers_city" else "city_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {", ".join(select)} FROM "{table}" t WHERE t.{where} = %(city)s ORDER BY t.id',
            {"city": city_id},
        )
        return cursor.fetchall()


def test_a_restored_city_has_the_rows_of_a_fresh_import():
    City.objects.filter(name__in=["Kotka", "Kotka imported"]).delete()
    restored = _restore_city("Kotka")
    report = import_osm(demo_pbf("kotka"), "Kotka imported")
    imported = City.objects.get(pk=report["city_id"])
    assert restored is not None and restored.name == "Kotka"
    old_id = _SNAPSHOT["Kotka"][0]
    assert restored.pk != old_id  # a new city, as an import makes
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT imported_at, created_at FROM {SNAPSHOT_SCHEMA}.layers_city WHERE id = %s",
            [old_id],
        )
        imported_at, created_at = cursor.fetchone()
    # the restore's time, as an import's: no cache keyed by it serves an earlier test's state
    assert restored.imported_at > imported_at and restored.created_at > created_at
    tables = _SNAPSHOT["Kotka"][1]
    assert {"layers_city", "layers_building", "layers_roadedge"} <= {t[0] for t in tables}
    names = {t[0] for t in tables}
    compared = 0
    for table, columns, _ in tables:
        restored_rows = _rows(table, columns, restored.pk, names)
        imported_rows = _rows(table, columns, imported.pk, names)
        assert restored_rows == imported_rows, table
        compared += len(restored_rows)
    assert Building.objects.filter(city=restored).count() > 100
    assert compared > 1000
