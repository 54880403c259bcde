"""``job_changed``: sent after every write of a job's state or progress (see jobs.models.Job).

Arguments: ``job_id`` (UUID), ``status`` (the status after the write) and ``using`` (the
database alias written through: ``progress`` for progress and heartbeats, ``default`` for the
state changes, some of them inside the job's own transaction). No receiver is connected here;
a notifier (PostgreSQL NOTIFY, Redis pub/sub) for live event streams connects one.
"""

from django.dispatch import Signal

job_changed = Signal()
