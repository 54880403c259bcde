"""What a device sends, read and checked before anything is stored (MQTT and HTTP alike).

Two payload shapes:

- one SensorThings Observation (the MQTT extension's create topic
  ``v1.1/Datastreams(<id>)/Observations``): ``{"phenomenonTime": ..., "result": ...,
  "resultTime"?, "resultQuality"?, "validTime"?, "parameters"?, "FeatureOfInterest"?:
  {"@iot.id": n}, "sequence"?}``; over HTTP with ``"Datastream": {"@iot.id": n}`` too;
- batches in the SensorThings dataArray form (the compact topic ``citytwin/ingest/<login>``,
  ``POST /api/sensors/ingest/``): a list of ``{"Datastream": {"@iot.id": n}, "components":
  ["phenomenonTime", "result", ...], "dataArray": [[...], ...]}``.

``sequence`` (an integer, CityTwin's extension) is part of the idempotency key: a device that
sends several values for one instant numbers them. ``unit`` (a symbol, optional, per
observation or per dataArray block) is checked against the Datastream's unit.

A message is taken whole or not at all: the first bad row rejects it with the reason in words
and the field at fault (:class:`MessageRejected`), and it goes to the dead-letter table.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sensors.ingest import ObservationRejected, parse_time, parse_time_or_interval

#: the create topic of the MQTT extension
CREATE_TOPIC_RE = re.compile(r"^v1\.1/Datastreams\((\d+)\)/Observations$")
#: components a dataArray may name (SensorThings v1.1 §11.2 plus ``sequence``)
COMPONENTS = {
    "phenomenonTime": "phenomenon_time",
    "result": "result",
    "resultTime": "result_time",
    "resultQuality": "result_quality",
    "validTime": "valid_time",
    "parameters": "parameters",
    "FeatureOfInterest/id": "feature_of_interest",
    "sequence": "sequence",
}
STA_FIELDS = {
    "phenomenonTime": "phenomenon_time",
    "result": "result",
    "resultTime": "result_time",
    "resultQuality": "result_quality",
    "validTime": "valid_time",
    "parameters": "parameters",
    "sequence": "sequence",
}
#: most observations one message may carry
MAX_ROWS = 10_000


def max_future() -> timedelta:
    """How far ahead of the server's clock a phenomenon time may be
    (``CITYTWIN_SENSORS_MAX_FUTURE_S``, default 300 s: devices' clocks drift)."""
    return timedelta(seconds=float(os.environ.get("CITYTWIN_SENSORS_MAX_FUTURE_S", "300")))


class MessageRejected(ValueError):
    """Why a message cannot be stored (``reason`` in words) and the field at fault."""

    def __init__(self, reason: str, field: str = "", datastream_id: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.datastream_id = datastream_id


@dataclass(frozen=True)
class DatastreamInfo:
    """What the checks need to know of a Datastream."""

    id: int
    thing_id: int
    observation_type: str
    unit_symbol: str | None


def load_json(payload: bytes | str) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MessageRejected(f"not JSON: {exc}", "payload") from None


def _ref_id(value: Any, field: str) -> int:
    """An ``{"@iot.id": n}`` reference (or a bare integer)."""
    ref = value.get("@iot.id") if isinstance(value, dict) else value
    if isinstance(ref, str) and ref.isdigit():
        ref = int(ref)
    if isinstance(ref, bool) or not isinstance(ref, int):
        raise MessageRejected(f'{field}: expected {{"@iot.id": <integer>}}', field)
    return ref


def _sta_row(obj: Any) -> dict:
    if not isinstance(obj, dict):
        raise MessageRejected("expected a JSON object (one Observation)", "payload")
    unknown = set(obj) - set(STA_FIELDS) - {"FeatureOfInterest", "Datastream", "unit", "@iot.id"}
    if unknown:
        field = sorted(unknown)[0]
        raise MessageRejected(f"{field}: not a property of an Observation", field)
    row = {STA_FIELDS[k]: v for k, v in obj.items() if k in STA_FIELDS}
    if "FeatureOfInterest" in obj:
        foi = obj["FeatureOfInterest"]
        if isinstance(foi, dict) and set(foi) != {"@iot.id"}:
            raise MessageRejected(
                'FeatureOfInterest: give a reference {"@iot.id": n} (create features through '
                "the SensorThings API)",
                "FeatureOfInterest",
            )
        row["feature_of_interest"] = _ref_id(foi, "FeatureOfInterest")
    if "unit" in obj:
        row["unit"] = obj["unit"]
    return row


def sta_observation(obj: Any, datastream_id: int) -> dict[int, list[dict]]:
    """The rows of one SensorThings Observation posted to a Datastream's create topic."""
    if isinstance(obj, dict) and "Datastream" in obj:
        named = _ref_id(obj["Datastream"], "Datastream")
        if named != datastream_id:
            raise MessageRejected(
                f"Datastream: the payload names {named}, the topic {datastream_id}", "Datastream"
            )
    return {datastream_id: [_sta_row(obj)]}


def _data_array_block(block: Any, index: int) -> tuple[int, list[dict]]:
    if not isinstance(block, dict):
        raise MessageRejected(f"[{index}]: expected a dataArray object", "dataArray")
    if "Datastream" not in block:
        raise MessageRejected("Datastream: required", "Datastream")
    ds_id = _ref_id(block["Datastream"], "Datastream")
    components = block.get("components")
    if not isinstance(components, list) or not components:
        raise MessageRejected("components: expected a list of property names", "components")
    bad = [c for c in components if c not in COMPONENTS]
    if bad:
        raise MessageRejected(f"components: {bad[0]!r} is not a known component", "components")
    for need in ("phenomenonTime", "result"):
        if need not in components:
            raise MessageRejected(f"components: {need} is required", "components")
    data = block.get("dataArray")
    if not isinstance(data, list):
        raise MessageRejected("dataArray: expected a list of rows", "dataArray")
    unit = block.get("unit")
    rows = []
    for values in data:
        if not isinstance(values, list) or len(values) != len(components):
            raise MessageRejected(
                f"dataArray: each row needs {len(components)} values ({', '.join(components)})",
                "dataArray",
            )
        row = {COMPONENTS[c]: v for c, v in zip(components, values)}
        if unit is not None:
            row["unit"] = unit
        rows.append(row)
    return ds_id, rows


def batch(obj: Any) -> dict[int, list[dict]]:
    """The rows per Datastream of a batch: dataArray blocks (a list or one) or one Observation
    naming its ``Datastream``."""
    if isinstance(obj, dict) and "dataArray" not in obj:
        if "Datastream" not in obj:
            raise MessageRejected("Datastream: required", "Datastream")
        return sta_observation(obj, _ref_id(obj["Datastream"], "Datastream"))
    blocks = obj if isinstance(obj, list) else [obj]
    if not blocks:
        raise MessageRejected("the batch is empty", "dataArray")
    out: dict[int, list[dict]] = {}
    for i, block in enumerate(blocks):
        ds_id, rows = _data_array_block(block, i)
        out.setdefault(ds_id, []).extend(rows)
    if sum(len(r) for r in out.values()) > MAX_ROWS:
        raise MessageRejected(f"dataArray: at most {MAX_ROWS} observations a message", "dataArray")
    return out


def _check_result(info: DatastreamInfo, result: Any) -> None:
    from sensors.models import OBSERVATION_TYPES

    kind = OBSERVATION_TYPES.get(info.observation_type, "any")
    if kind == "measurement":
        ok = isinstance(result, int | float) and not isinstance(result, bool)
        ok = ok and math.isfinite(result)
        want = "a finite number"
    elif kind == "count":
        ok = isinstance(result, int) and not isinstance(result, bool)
        want = "an integer count"
    elif kind == "truth":
        ok = isinstance(result, bool)
        want = "true or false"
    elif kind == "category":
        ok = isinstance(result, str)
        want = "a category (string)"
    else:
        ok, want = True, ""
    if not ok:
        raise MessageRejected(
            f"result: wrong type: Datastream {info.id} takes {want} ({kind}), got {result!r}"[:300],
            "result",
            info.id,
        )


def check_rows(info: DatastreamInfo, rows: list[dict], now: datetime) -> list[dict]:
    """Check each row against its Datastream; return the rows ready for ``store_observations``
    (times parsed, ``unit`` removed)."""
    horizon = now + max_future()
    out = []
    for row in rows:
        try:
            if row.get("phenomenon_time") is None:
                raise MessageRejected("phenomenonTime: required", "phenomenonTime", info.id)
            if "result" not in row:
                raise MessageRejected("result: required", "result", info.id)
            start, end = parse_time_or_interval(row["phenomenon_time"], "phenomenonTime")
            if (end or start) > horizon:
                raise MessageRejected(
                    f"phenomenonTime: time far in the future ({(end or start).isoformat()} is "
                    f"more than {max_future().total_seconds():.0f} s ahead of the server)",
                    "phenomenonTime",
                    info.id,
                )
            if row.get("result_time") is not None:
                parse_time(row["result_time"], "resultTime")
        except ObservationRejected as exc:
            raise MessageRejected(exc.message, exc.field, info.id) from None
        unit = row.pop("unit", None)
        if unit is not None and unit != info.unit_symbol:
            raise MessageRejected(
                f"unit: wrong unit {unit!r}: Datastream {info.id} is in {info.unit_symbol!r}",
                "unit",
                info.id,
            )
        _check_result(info, row["result"])
        seq = row.get("sequence")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
            raise MessageRejected("sequence: expected an integer", "sequence", info.id)
        params = row.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise MessageRejected("parameters: expected a JSON object", "parameters", info.id)
        out.append({**row, "phenomenon_time": start, "phenomenon_time_end": end})
    return out
