"""Best roofs for PV: buildings ranked by annual yield per installed kWp (pure).

Yield per kWp (kWh/kWp/year, the "specific yield") tells how well a roof uses each module: the
shading of neighbours and the roof's own tilt and aspect lower it. Roofs whose usable area holds
less than ``min_kwp`` are not ranked (too small to be worth a system).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["rank_roofs"]


def rank_roofs(pv: pd.DataFrame, min_kwp: float = 1.0) -> pd.DataFrame:
    """Rank roofs by specific yield.

    Parameters
    ----------
    pv : :func:`simulators.solar.roof_pv` output (``id``, ``kwp``, ``kwh_per_year``, ...).
    min_kwp : smallest system worth ranking (kWp).

    Returns
    -------
    The rows of ``pv`` with ``kwh_per_kwp`` (kWh/kWp/year; NaN without a usable roof) and
    ``rank`` (1 = best; 0 for roofs under ``min_kwp``), best first, unranked last. Ties keep the
    larger yield first.
    """
    out = pv.copy()
    kwp = out["kwp"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["kwh_per_kwp"] = np.where(kwp > 0, out["kwh_per_year"].to_numpy(float) / kwp, np.nan)
    ranked = kwp >= min_kwp
    out["ranked"] = ranked
    out = out.sort_values(
        ["ranked", "kwh_per_kwp", "kwh_per_year"], ascending=[False, False, False], kind="stable"
    )
    out["rank"] = np.where(out["ranked"], np.cumsum(out["ranked"].to_numpy()), 0)
    return out.drop(columns="ranked").reset_index(drop=True)
