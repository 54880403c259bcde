"""``NOTIFY sensors, '{"datastream": id, "phenomenon_time": ..., "result": ...}'`` whenever a
Datastream's latest value moves (``sensors.ingest.store_observations`` moves it once per batch),
so the live streams push new values to the map without polling. A result too large for a
NOTIFY payload (8000 bytes) is left out; the listener reads it from the datastream."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION sensors_latest_notify() RETURNS trigger AS $$
DECLARE
    payload text;
BEGIN
    IF NEW.latest_phenomenon_time IS DISTINCT FROM OLD.latest_phenomenon_time
       OR NEW.latest_value IS DISTINCT FROM OLD.latest_value THEN
        payload := json_build_object(
            'datastream', NEW.id,
            'phenomenon_time', NEW.latest_phenomenon_time,
            'result', NEW.latest_value)::text;
        IF octet_length(payload) > 7900 THEN
            payload := json_build_object(
                'datastream', NEW.id, 'phenomenon_time', NEW.latest_phenomenon_time)::text;
        END IF;
        PERFORM pg_notify('sensors', payload);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS sensors_latest_notify ON sensors_datastream;
CREATE TRIGGER sensors_latest_notify AFTER UPDATE ON sensors_datastream
    FOR EACH ROW EXECUTE FUNCTION sensors_latest_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS sensors_latest_notify ON sensors_datastream;
DROP FUNCTION IF EXISTS sensors_latest_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("sensors", "0001_initial")]
    operations = [migrations.RunSQL(CREATE, DROP)]
