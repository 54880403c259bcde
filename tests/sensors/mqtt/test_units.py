"""Pure parts of the ingest: the password hash against mosquitto_passwd (external truth), the
payload checks, and the demo feed's daily profile on the city's local clock."""

from __future__ import annotations

import random
import subprocess
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sensors.mqtt import broker, demo_feed
from sensors.mqtt import messages as msgs


def test_password_hash_matches_mosquitto_passwd(tmp_path):
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "dev1", "s3cret pass"], check=True)
    stored = path.read_text().strip().split(":", 1)[1]
    assert broker.check_password("s3cret pass", stored)
    assert not broker.check_password("s3cret pasS", stored)
    ours = broker.hash_password("s3cret pass")
    assert ours.startswith("$7$101$") and broker.check_password("s3cret pass", ours)


def test_data_array_rows_and_shape_errors():
    groups = msgs.batch(
        [{"Datastream": {"@iot.id": 4}, "components": ["result", "phenomenonTime", "sequence"],
          "dataArray": [[1.5, "2026-01-01T00:00:00Z", 3]], "unit": "kW"}]
    )  # fmt: skip
    assert groups == {
        4: [{"result": 1.5, "phenomenon_time": "2026-01-01T00:00:00Z", "sequence": 3, "unit": "kW"}]
    }
    with pytest.raises(msgs.MessageRejected) as exc:
        msgs.batch([{"Datastream": {"@iot.id": 4}, "components": ["result"], "dataArray": []}])
    assert exc.value.field == "components" and "phenomenonTime is required" in exc.value.reason
    with pytest.raises(msgs.MessageRejected) as exc:
        msgs.sta_observation({"phenomenonTime": "x", "result": 1, "colour": "red"}, 4)
    assert exc.value.field == "colour"


def test_traffic_profile_peaks_on_weekday_mornings_and_evenings():
    share = demo_feed.traffic_share
    assert share(8.0, True) > 5 * share(3.0, True)
    assert share(16.5, True) > share(12.5, True) > share(22.0, True)
    assert share(8.0, False) < share(8.0, True)  # no commute at weekends


def test_demo_values_follow_the_city_clock():
    """06:00 UTC is 08:00 in Helsinki in winter (the morning peak), 01:00 UTC is 03:00."""
    device = demo_feed.Device("d", "p", [demo_feed.Stream(1, "traffic", 1800.0)])
    zone = ZoneInfo("Europe/Helsinki")
    times = [datetime(2026, 1, 14, 6, tzinfo=UTC), datetime(2026, 1, 14, 1, tzinfo=UTC)]
    payload = msgs.load_json(demo_feed.batch_payload(device, times, zone, random.Random(1)))
    (peak_t, peak), (night_t, night) = payload[0]["dataArray"]
    assert peak_t == "2026-01-14T06:00:00Z" and night_t == "2026-01-14T01:00:00Z"
    assert peak > 4 * night
    assert 0.4 * 1800 < peak < 0.95 * 1800
