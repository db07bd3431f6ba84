"""Sending work to Celery: evaluation, start and finalise tasks (after commit), and revoking tasks.

Tasks are only published once the transaction that created their work commits
(``transaction.on_commit``), so a worker never looks for a row that is not there yet. A publish
that fails (broker down) is logged and retried from a background thread with backoff (0.5 s up
to 5 s between tries), so it goes out within seconds of the broker's return; the candidate stays
``queued`` meanwhile, and the reaper's queued lease remains the last resort (this process
died). ``Dispatcher`` is swapped for a recording one in tests (``set_dispatcher``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Protocol

from django.db import transaction

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    def evaluate(self, candidate_pk: int, task_id: str) -> None: ...

    def start(self, search_id: int, task_id: str) -> None: ...

    def revoke(self, task_ids: list[str]) -> None: ...

    def finalise(self, candidate_pk: int, task_id: str) -> None: ...


#: Task names (``tasks.py`` registers them): publishing by name keeps this module a leaf, free
#: of an import of the task bodies (which import the handlers, which import this module).
EVALUATE_TASK = "nasweb.searches.tasks.evaluate_candidate"
START_TASK = "nasweb.searches.tasks.start_search"
FINALISE_TASK = "nasweb.searches.tasks.finalise_candidate"


def _send(name: str, argument: int, task_id: str) -> None:
    from nasweb.celery import app

    # the queue is read at publish time (tests switch queues)
    app.send_task(name, args=[argument], task_id=task_id, queue=app.conf.task_default_queue)


class CeleryDispatcher:
    """Publishes to the Celery broker, on the configured queue (``UNAS_CELERY_QUEUE``)."""

    def evaluate(self, candidate_pk: int, task_id: str) -> None:
        _send(EVALUATE_TASK, candidate_pk, task_id)

    def start(self, search_id: int, task_id: str) -> None:
        _send(START_TASK, search_id, task_id)

    def finalise(self, candidate_pk: int, task_id: str) -> None:
        _send(FINALISE_TASK, candidate_pk, task_id)

    def revoke(self, task_ids: list[str]) -> None:
        from nasweb.celery import app

        # terminate: the worker child running it gets SIGTERM at once (prefork pool)
        app.control.revoke(task_ids, terminate=True, signal="SIGTERM")


_dispatcher: Dispatcher = CeleryDispatcher()


def set_dispatcher(dispatcher: Dispatcher) -> Dispatcher:
    """Replace the dispatcher (tests); returns the previous one."""
    global _dispatcher
    previous, _dispatcher = _dispatcher, dispatcher
    return previous


def new_task_id() -> str:
    return uuid.uuid4().hex


#: Seconds between publish retries while the broker is down (then the last one repeats).
RETRY_BACKOFF = (0.5, 1.0, 2.0, 3.0, 5.0)
#: Give up retrying in this process after this long; the reaper's queued lease takes over.
RETRY_FOR_SECONDS = 600.0


def _retry(what: str, call: object, args: tuple[object, ...]) -> None:
    """Publish again with backoff until the broker answers (a daemon thread per failed
    publish); a duplicate message is harmless (the claim refuses it)."""
    deadline = time.monotonic() + RETRY_FOR_SECONDS
    attempt = 0
    while time.monotonic() < deadline:
        time.sleep(RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF) - 1)])
        attempt += 1
        try:
            call(*args)  # type: ignore[operator]
        except Exception:  # noqa: BLE001 - still down: back off and try again
            continue
        log.info("%s %s: published after %d retries", what, args, attempt)
        return
    log.warning("%s %s: broker still down; the reaper will publish it", what, args)


def _guarded(what: str, call: object, *args: object) -> None:
    try:
        call(*args)  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - retried below; the reaper is the last resort
        log.warning("could not %s %s; retrying until the broker answers", what, args,
                    exc_info=True)
        if what != "revoke":
            threading.Thread(target=_retry, args=(what, call, args), daemon=True,
                             name=f"unas-republish-{args[0]}").start()


def evaluate_on_commit(candidate_pk: int, task_id: str) -> None:
    transaction.on_commit(lambda: _guarded("publish evaluation", _dispatcher.evaluate,
                                           candidate_pk, task_id))


def start_on_commit(search_id: int, task_id: str) -> None:
    transaction.on_commit(lambda: _guarded("publish start", _dispatcher.start,
                                           search_id, task_id))


def finalise_on_commit(candidate_pk: int, task_id: str) -> None:
    transaction.on_commit(lambda: _guarded("publish finalisation", _dispatcher.finalise,
                                           candidate_pk, task_id))


def revoke_on_commit(task_ids: Iterable[str]) -> None:
    ids = [t for t in task_ids if t]
    if ids:
        transaction.on_commit(lambda: _guarded("revoke", _dispatcher.revoke, ids))
