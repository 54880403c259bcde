"""Building nets element by element on pandas 3.

pandapower 3.5.6's single-element ``create_*`` functions (``create_bus``, ``create_ext_grid``,
``create_transformer``, ...) fail on pandas 3 ("Invalid value 'True' for dtype 'float64'":
they enlarge a table row by row with ``.at``); the plural ones (``create_buses``,
``create_lines``, ``create_transformers``, ``create_loads``) concatenate and work. This module
adds the one element without a plural creator, the external grid, the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def create_ext_grids(
    net, buses: Sequence[int], vm_pu: float = 1.0, va_degree: float = 0.0, name: str | None = None
) -> list[int]:
    """External grids (slack) at ``buses``; returns their indices."""
    table = net.ext_grid
    start = int(table.index.max()) + 1 if len(table) else 0
    index = list(range(start, start + len(buses)))
    rows = pd.DataFrame(
        {
            "name": [name] * len(buses),
            "bus": list(buses),
            "vm_pu": float(vm_pu),
            "va_degree": float(va_degree),
            "slack_weight": 1.0,
            "in_service": True,
            "controllable": False,
        },
        index=index,
    )
    rows = rows.reindex(columns=table.columns)
    for column, dtype in table.dtypes.items():
        try:
            rows[column] = rows[column].astype(dtype)
        except (TypeError, ValueError):
            pass
    net.ext_grid = pd.concat([table, rows]) if len(table) else rows
    return index
