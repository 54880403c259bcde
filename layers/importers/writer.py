"""Fast bulk writes of the twin's tables with PostgreSQL COPY.

Callers hand over GeoDataFrames in EPSG:4326 with the model's columns; geometries travel as
hex EWKB. The caller owns the transaction (imports are atomic).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import shapely
from django.db import connection
from psycopg.types.json import Jsonb


def ewkb_hex(geoms: Sequence[shapely.Geometry] | np.ndarray, srid: int = 4326) -> np.ndarray:
    """Hex EWKB strings (with SRID) of an array of shapely geometries."""
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), srid)
    return shapely.to_wkb(arr, hex=True, include_srid=True)


def _clean(value):
    if value is None:
        return None
    if isinstance(value, dict):
        return Jsonb(value)
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, list | tuple | np.ndarray):
        return [int(v) for v in value]
    return value


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY rows into ``table``; returns the number of rows written."""
    count = 0
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([_clean(v) for v in row])
            count += 1
    return count


def copy_frame(table: str, frame: pd.DataFrame, columns: Sequence[str]) -> int:
    """COPY the given columns of a (Geo)DataFrame; geometry columns must be hex EWKB already."""
    values = frame[list(columns)].astype(object).to_numpy()
    return copy_rows(table, columns, (tuple(r) for r in values))
