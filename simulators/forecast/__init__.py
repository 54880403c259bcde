"""Short-term forecasts of sensor series with prediction bands and anomaly flags (pure).

- :mod:`.smoothing`: robust seasonal exponential smoothing on local-time slots (compiled,
  with a plain-Python reference).
- :mod:`.model`: :func:`forecast_series` (profile + smoothing + band + anomalies).

See docs/sensors.md, "Calibration and forecasts".
"""

from .model import ForecastParams, ForecastResult, forecast_series, local_slots

__all__ = ["ForecastParams", "ForecastResult", "forecast_series", "local_slots"]
