"""``job_changed``: sent after every change of a job's state or progress (not heartbeats).

Arguments: ``job_id`` (UUID), ``status`` (the status after the write) and ``using`` (the
database alias written through: ``progress`` for progress reports, ``default`` for the
state changes, some of them inside the job's own transaction). No receiver is connected here;
a notifier for live event streams connects one. A PostgreSQL ``NOTIFY`` sent on the ``using``
connection is delivered when that write commits (at once for ``progress``, with the job's
results for ``succeed``); a Redis publish should wait for the commit (``transaction.on_commit``
with ``using``).
"""

from django.dispatch import Signal

job_changed = Signal()
