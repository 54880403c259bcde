"""``Run.warnings``: a run that succeeded on empty or implausible inputs says so (CONTRACT.md).

Each entry is ``{"code": ..., "message": "words with numbers and units"}``; the runs API and the
web map show them.
"""

from __future__ import annotations


def warning(code: str, message: str) -> dict:
    """One entry of ``Run.warnings`` (see CONTRACT.md): a code and words with numbers."""
    return {"code": code, "message": message}


def traffic_warnings(kpis: dict) -> list[dict]:
    """Warnings of a traffic run whose demand is empty or mostly unassignable."""
    out = []
    if kpis["trips"] <= 0:
        out.append(
            warning(
                "no_trips",
                "the buildings and the edge of the road network give 0 car trips in the peak "
                "hour: every volume is 0 veh/h (are there buildings with residents or jobs?)",
            )
        )
    elif kpis["unassignable_trips"] > 0.1 * kpis["trips"]:
        out.append(
            warning(
                "unassignable_trips",
                f"{kpis['unassignable_trips']:.0f} of {kpis['trips']:.0f} veh/h have no road "
                "path between their zones and are not on the map",
            )
        )
    return out


def evacuation_warnings(kpis: dict, params: dict, buildings_in_zone: int) -> list[dict]:
    """Warnings of an evacuation with nobody to evacuate (those about people with no route or a
    reached horizon cap come from the engine's result: ``capabilities.evacuation``)."""
    out = []
    hour = params.get("time_of_day_h")
    when = "with every resident at home" if hour is None else f"at {hour:g} h"
    if kpis.get("evacuees", 0) <= 0:
        out.append(
            warning(
                "no_evacuees",
                f"nobody is in the hazard zone {when}: {buildings_in_zone} buildings inside "
                "with 0 persons present, so the clearance times are 0 s",
            )
        )
    return out
