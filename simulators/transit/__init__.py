"""Frequency-based public-transport engine for CityTwin (pure; no Django).

See ``docs/transit.md`` (section "Model").
"""

from .network import MODES, SupplyError, TransitLine, TransitStop, TransitSupply

__all__ = ["MODES", "SupplyError", "TransitLine", "TransitStop", "TransitSupply"]
