"""Helpers for tests and benchmarks: run the orchestration in-process, without a broker.

``recording_dispatcher()`` swaps the Celery dispatcher for one that records what would have
been published; ``run_recorded`` then plays those tasks in this process (start tasks and
evaluations, in publish order) until nothing is left, which exercises exactly the code the
Celery tasks run.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import dispatch, handlers


def database_url() -> str:
    """The ``DATABASE_URL`` of the test database, for server and worker processes a test
    starts (``nasweb.env`` reads ``sqlite:///<path>`` relative to the project folder)."""
    from django.conf import settings
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return "sqlite:///" + os.path.relpath(params["NAME"], settings.BASE_DIR)
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/" \
           f"{params['NAME']}"


@dataclass
class RecordingDispatcher:
    tasks: deque = field(default_factory=deque)  # ("evaluate", pk, task id) / ("start", ...)
    revoked: list[str] = field(default_factory=list)
    published: int = 0

    def evaluate(self, candidate_pk: int, task_id: str) -> None:
        self.tasks.append(("evaluate", candidate_pk, task_id))
        self.published += 1

    def start(self, search_id: int, task_id: str) -> None:
        self.tasks.append(("start", search_id, task_id))
        self.published += 1

    def finalise(self, candidate_pk: int, task_id: str) -> None:
        self.tasks.append(("finalise", candidate_pk, task_id))
        self.published += 1

    def revoke(self, task_ids: list[str]) -> None:
        self.revoked.extend(task_ids)


@contextmanager
def recording_dispatcher() -> Iterator[RecordingDispatcher]:
    recorder = RecordingDispatcher()
    previous = dispatch.set_dispatcher(recorder)
    try:
        yield recorder
    finally:
        dispatch.set_dispatcher(previous)


def run_recorded(recorder: RecordingDispatcher, max_tasks: int = 10_000,
                 before: Callable[[str, int], bool] | None = None) -> list[str]:
    """Run recorded tasks in order until none is left; ``before(kind, id)`` may return False to
    drop a task (a lost message). Returns each task's outcome."""
    from .worker import evaluate, finalise

    outcomes = []
    while recorder.tasks and len(outcomes) < max_tasks:
        kind, ident, task_id = recorder.tasks.popleft()
        if before is not None and not before(kind, ident):
            outcomes.append("dropped")
            continue
        if kind == "start":
            outcomes.append("started" if handlers.start_search(ident) else "skipped")
        elif kind == "finalise":
            outcomes.append(finalise(ident, worker="test:0"))
        else:
            outcomes.append(evaluate(ident, task_id, worker="test:0"))
    return outcomes
