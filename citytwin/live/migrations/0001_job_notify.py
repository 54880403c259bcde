"""A trigger on jobs_job: every change of a job's status, progress, stage or error sends
``NOTIFY citytwin_jobs, '<job id>'``. The event streams wait on it instead of polling."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION citytwin_job_notify() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.progress_percent IS DISTINCT FROM OLD.progress_percent
       OR NEW.stage IS DISTINCT FROM OLD.stage
       OR NEW.error IS DISTINCT FROM OLD.error THEN
        PERFORM pg_notify('citytwin_jobs', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS citytwin_job_notify ON jobs_job;
CREATE TRIGGER citytwin_job_notify AFTER INSERT OR UPDATE ON jobs_job
    FOR EACH ROW EXECUTE FUNCTION citytwin_job_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS citytwin_job_notify ON jobs_job;
DROP FUNCTION IF EXISTS citytwin_job_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("jobs", "0002_job_heartbeat_at_job_worker")]
    operations = [migrations.RunSQL(CREATE, DROP)]
