"""Who may read and change sensor data.

Reading: public datastreams (and their observations) are anyone's; a private one only its
owner's and staff's, on every path (SensorThings lists, by id, $expand, navigation, $filter
across relations, the latest-value API). Things, Locations, Sensors, ObservedProperties and
FeaturesOfInterest are shared descriptions, readable by anyone.

Writing needs a signed-in user: anyone signed in may create; an entity may be changed or
deleted by staff or by its owner, and a delete that would cascade onto datastreams owned by
someone else (deleting a Thing or a Sensor deletes its Datastreams) is refused.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Datastream, Observation, Visibility


def datastream_filter(user, prefix: str = "") -> Q:
    """Q over Datastream (or a relation to it, ``prefix="datastream__"``) for readable ones."""
    if user is not None and user.is_authenticated and user.is_staff:
        return Q()
    q = Q(**{f"{prefix}visibility": Visibility.PUBLIC})
    if user is not None and user.is_authenticated:
        q |= Q(**{f"{prefix}owner": user})
    return q


def visible_datastreams(user) -> QuerySet[Datastream]:
    return Datastream.objects.filter(datastream_filter(user))


def visible_observations(user) -> QuerySet[Observation]:
    return Observation.objects.filter(datastream_filter(user, "datastream__"))


def can_write(user) -> bool:
    return user is not None and user.is_authenticated


def can_change(user, obj) -> bool:
    """Whether ``user`` may update or delete ``obj`` (any SensorThings entity)."""
    if not can_write(user):
        return False
    if user.is_staff:
        return True
    if isinstance(obj, Observation):
        return obj.datastream.owner_id == user.pk
    return getattr(obj, "owner_id", None) == user.pk


def can_delete(user, obj) -> bool:
    """``can_change`` and no datastream of someone else would go with it."""
    if not can_change(user, obj):
        return False
    if user.is_staff or isinstance(obj, Observation | Datastream):
        return True
    dependent = _dependent_datastreams(obj)
    return dependent is None or not dependent.exclude(owner=user).exists()


def _dependent_datastreams(obj) -> QuerySet[Datastream] | None:
    from .models import FeatureOfInterest, ObservedProperty, Sensor, Thing

    if isinstance(obj, Thing):
        return Datastream.objects.filter(thing=obj)
    if isinstance(obj, Sensor):
        return Datastream.objects.filter(sensor=obj)
    if isinstance(obj, ObservedProperty):
        return Datastream.objects.filter(observed_property=obj)
    if isinstance(obj, FeatureOfInterest):
        return Datastream.objects.filter(observations__feature_of_interest=obj).distinct()
    return None
