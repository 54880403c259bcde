"""Who may write a city's shared base data (see ``CityRole``)."""

from __future__ import annotations

from .importers import ImportRejected
from .importers.targets import extra_target
from .models import City, CityRole

#: import targets that write a city's shared base data
BASE_DATA_TARGETS = ("buildings", "roads", "utilities", "osm")


def is_editor(user, city: City | None) -> bool:
    """Whether the user may write the city's base data (staff may write every city's)."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    return (
        city is not None
        and CityRole.objects.filter(user=user, city=city, role=CityRole.Role.EDITOR).exists()
    )


def grant(user, city: City, role: str = CityRole.Role.EDITOR) -> CityRole:
    found, _ = CityRole.objects.get_or_create(user=user, city=city, role=role)
    return found


def revoke(user, city: City, role: str = CityRole.Role.EDITOR) -> int:
    return CityRole.objects.filter(user=user, city=city, role=role).delete()[0]


def check_import_allowed(user, params: dict) -> None:
    """Raise ImportRejected (403) when the import would write base data the user may not.

    Layers and rasters (personal or public) stay anyone's; buildings, roads, utilities and OSM
    need an editor of the city; an OSM import that creates a new city needs staff.
    """
    target = params.get("target", "layer")
    other = extra_target(target)
    if other is not None:
        if other.check_allowed is not None:
            other.check_allowed(user, params)
        return
    if target not in BASE_DATA_TARGETS:
        return
    name = params.get("city")
    city = City.objects.filter(name=name).first() if name else None
    if city is None and target == "osm":
        if user.is_staff:
            return
        raise ImportRejected(
            "city", f"only staff may create a new city ({name!r} does not exist)", status=403
        )
    if city is None:
        return  # no such city: inspect_upload answers 400 naming the city
    if not is_editor(user, city):
        raise ImportRejected(
            "target",
            f"importing into {target} changes the base data of {city.name}: ask a staff member "
            f"to make you an editor of {city.name}",
            status=403,
        )
