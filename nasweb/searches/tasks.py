"""Celery tasks: evaluate or finalise one candidate, start a search, reap lost work.

Thin wrappers over ``worker`` and ``handlers``. Every task is idempotent: a redelivered or
duplicated message finds its candidate claimed or done and returns. Tasks acknowledge late and
are rejected (re-queued) when the worker process dies, so a killed worker's message is run
again; the reaper re-queues candidates whose worker stopped beating (docs/web.md).

Importing this module never imports TensorFlow (the Celery parent process imports it before
forking its pool); the evaluator is imported inside ``worker.evaluate``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from . import handlers
from .dispatch import EVALUATE_TASK, FINALISE_TASK, START_TASK

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True,
             name=EVALUATE_TASK)
def evaluate_candidate(self: Any, candidate_pk: int) -> str:
    from .worker import evaluate, worker_name

    return evaluate(candidate_pk, self.request.id or "", worker_name(self.request.hostname),
                    hard_stop=True)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True,
             name=FINALISE_TASK)
def finalise_candidate(self: Any, candidate_pk: int) -> str:
    from .worker import finalise, worker_name

    return finalise(candidate_pk, worker_name(self.request.hostname))


@shared_task(acks_late=True, reject_on_worker_lost=True,
             name=START_TASK)
def start_search(search_id: int) -> bool:
    return handlers.start_search(search_id)


@shared_task(name="nasweb.searches.tasks.reap")
def reap() -> dict[str, int]:
    return handlers.reap()


@worker_ready.connect
def reap_at_worker_start(sender: Any = None, **kwargs: Any) -> None:
    """A starting worker repairs what a dead one left (the reap runs in a pool child)."""
    try:
        reap.delay()
    except Exception:  # noqa: BLE001 - beat runs it later anyway
        log.warning("could not publish the start-up reap", exc_info=True)
