"""Engine inputs kept in a worker process between runs, under the checksum of what they are
made from: the variants of a sweep share their base's roads, buildings, shelters and trip
matrix, so a worker builds them once and applies only each variant's own edits.

A value is found again only under the same key, and the key is a digest of everything the
value depends on (the city's data version, the edits and parameters that shape it): an equal
key is an equal input, so a run from the cache gives the same result as one built afresh
(``tests/sweeps/test_reuse.py``). Each cache holds a few entries: a worker takes the chunks of
one sweep after another.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from . import input_checksum

log = logging.getLogger(__name__)

T = TypeVar("T")


class WorkerCache:
    """At most ``size`` values of one kind, the most recently used kept.

    Attributes
    ----------
    name : words for the log (``"evacuation base inputs"``).
    builds : how many values this process built (a sweep's worker builds its base's once).
    hits : how many times a value was found.
    """

    def __init__(self, name: str, size: int = 1):
        self.name, self.size = name, size
        self.builds = self.hits = 0
        self._items: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str, build: Callable[[], T]) -> T:
        """The value under ``key``, built with ``build()`` the first time."""
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]
        value = build()
        self.builds += 1
        log.info("%s built for %s (%d built in this process)", self.name, key[:12], self.builds)
        self._items[key] = value
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()


def inputs_key(city, **parts) -> str:
    """SHA-256 of the city's data version and ``parts`` (edits, parameters: JSON values)."""
    from ..services import city_data_version

    return input_checksum({"city": city_data_version(city), **parts})
