"""Calibration of the traffic model to link counts (pure: no Django).

- :mod:`.fit`: the GEH statistic and a fit report (share of links with GEH < 5, RMSE).
- :mod:`.shares`: link-OD shares of a user equilibrium from its origin-based flows.
- :mod:`.odme`: origin-destination matrix estimation (Spiess 1990, bilevel gradient).

See docs/sensors.md, "Calibration and forecasts".
"""

from .fit import GEH_LIMIT, GEH_SHARE_TARGET, FitReport, fit_report, geh
from .odme import OdmeParams, OdmeResult, estimate_demand

__all__ = [
    "GEH_LIMIT",
    "GEH_SHARE_TARGET",
    "FitReport",
    "OdmeParams",
    "OdmeResult",
    "estimate_demand",
    "fit_report",
    "geh",
]
