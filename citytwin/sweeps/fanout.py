"""Work fanned out over the Celery workers in chunks, the pattern of the water criticality sweep
(:mod:`utilities.water.tasks`) made general.

One job (status, progress) stands for the whole work; its items are cut into chunks, one
Celery task each, sent with ``acks_late`` (settings: prefetch 1, a broker visibility timeout
longer than the longest chunk), so a chunk whose worker died is delivered again. Each item's
result is written with ``ON CONFLICT DO NOTHING`` on a unique key, so a chunk done twice
writes once: a chunk first drops the items already stored, then computes the rest one by one,
stopping when the job is no longer running (cancelled). Whoever stores the last result marks
the job succeeded. The job's heartbeat is kept by whichever chunk runs; between chunks
(waiting for a redelivery) it is silent, so such jobs are not reaped on silence
(``JobKind(reap=False)``): a lost sweep is resumed by its user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from jobs.models import Job
from jobs.runner import Heartbeat

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in consecutive chunks of at most ``size``."""
    if size < 1:
        raise ValueError("size must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def run_chunk(
    job: Job,
    items: Iterable[T],
    stored: Callable[[list[T]], set],
    compute_and_store: Callable[[T], None],
    key: Callable[[T], object] = lambda item: item,
) -> int:
    """Compute the items of one chunk that have no stored result yet; returns how many.

    Parameters
    ----------
    job : the job of the whole work: nothing is done unless it is running.
    items : the chunk.
    stored : ``stored(items) -> keys`` of the items whose result is stored already.
    compute_and_store : computes one item and writes its result idempotently.
    key : an item's key, as ``stored`` returns them.
    """
    items = list(items)
    if job.status_in_db() != Job.Status.RUNNING:
        return 0
    done = stored(items)
    todo = [item for item in items if key(item) not in done]
    heartbeat = Heartbeat(job)  # the item may be long: the job shows a sign of life
    heartbeat.start()
    count = 0
    try:
        for item in todo:
            if job.status_in_db() != Job.Status.RUNNING:  # cancelled: stop between items
                break
            compute_and_store(item)
            count += 1
    finally:
        heartbeat.stop()
    return count
