"""``NOTIFY sensors_observations`` after every statement that inserts Observations (delivered on
commit, one per transaction: PostgreSQL folds equal notifications), so the receive publisher
(``sensors.mqtt.receive``) publishes what any path stored, also older observations that do not
move a Datastream's latest value (the ``sensors`` channel only tells about those)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION sensors_observations_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('sensors_observations', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS sensors_observations_notify ON sensors_observation;
CREATE TRIGGER sensors_observations_notify AFTER INSERT ON sensors_observation
    FOR EACH STATEMENT EXECUTE FUNCTION sensors_observations_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS sensors_observations_notify ON sensors_observation;
DROP FUNCTION IF EXISTS sensors_observations_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("sensors_mqtt", "0001_initial"), ("sensors", "0002_notify")]
    operations = [migrations.RunSQL(CREATE, DROP)]
