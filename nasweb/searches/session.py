"""One engine event as one database transaction, with the search row locked.

``locked_search(search_id)`` opens ``transaction.atomic()``, locks the ``Search`` row
(``select_for_update``; SQLite serialises writers anyway, with ``transaction_mode=IMMEDIATE``)
and yields a ``SearchSession``: the row, the engine (``search_engine.search.Search``, loaded
from the Django store on first use) and ``emit`` for events. On the way out, before the commit,
the session writes what the engine changed, adds a ``pareto.changed`` and a ``search.state``
event where the front or the progress moved, stamps every changed candidate with the last event
id (its ``seq``), and schedules the broadcast for after the commit.

Because every writer of a search's events holds its row lock, the event ids of one search grow
in commit order, which makes ``?after=<id>`` reads and websocket resumes gap-free.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from search_engine.search import Search as Engine
from search_engine.search import SearchConfig

from .engine import precheck_for, search_space
from .events import broadcast_on_commit, candidate_summary, search_progress
from .models import Candidate, Search, SearchEvent
from .store import DjangoSearchStore


class SearchSession:
    """A locked search row, its engine and the events of this transaction."""

    def __init__(self, search: Search) -> None:
        self.search = search
        self.store = DjangoSearchStore(search)
        self.events: list[SearchEvent] = []
        self._engine: Engine | None = None
        self._progress_before = search_progress(search)

    # -- the engine -------------------------------------------------------------------------

    @property
    def has_engine_state(self) -> bool:
        return self.search.engine_state is not None or self._engine is not None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            state = self.store.load()
            if state is None:
                raise RuntimeError(f"search {self.search.pk} has no engine state yet")
            space = search_space(self.search)
            self._engine = Engine(state, space, self.store, precheck_for(self.search, space))
        return self._engine

    def create_engine(self, config: SearchConfig) -> Engine:
        space = search_space(self.search)
        self._engine = Engine.create(config, space, self.store, precheck_for(self.search, space))
        return self._engine

    def sync(self) -> None:
        """Write the engine's pending changes so that row queries see them (same transaction)."""
        if self._engine is not None:
            self.store.flush()

    def candidate_pk(self, index: int) -> int:
        return self.store.pk(index)

    # -- events -----------------------------------------------------------------------------

    def emit(self, kind: str, data: dict[str, Any]) -> SearchEvent:
        event = SearchEvent.objects.create(search=self.search, prev=self.search.last_event_id,
                                           kind=kind, data=data)
        self.search.last_event_id = event.id
        self.events.append(event)
        return event

    def candidate_event(self, kind: str, index: int) -> SearchEvent:
        return self.emit(kind, candidate_summary(self.engine.state.by_id(index)))

    # -- closing ----------------------------------------------------------------------------

    def _update_progress(self) -> None:
        engine = self._engine
        if engine is None:
            return
        search = self.search
        state = engine.state
        search.evaluated = engine.evaluated
        search.running = state.count("running")
        search.queued = state.count("queued")
        search.rejected = state.rejected
        search.best_error = engine.best_error(feasible_only=True)
        search.hypervolume = engine.current_hypervolume

    def close(self) -> None:
        """Write everything, add the derived events, stamp cursors (inside the transaction)."""
        if self._engine is not None:
            self.store.flush()
        flushed = self.store.take() if self._engine is not None else None
        if flushed is not None and flushed.pareto_moved:
            front = [c.id for c in self._engine.state.candidates if c.pareto]
            self.emit("pareto.changed", {"front": front})
        self._update_progress()
        progress = search_progress(self.search)
        if progress != self._progress_before:
            self.emit("search.state", progress)
        changed = [] if flushed is None else flushed.created + flushed.changed
        if changed and not self.events:
            self.emit("candidates.changed", {"indices": changed})
        if changed:
            Candidate.objects.filter(search=self.search, index__in=changed).update(
                seq=self.search.last_event_id)
        self.search.save()
        broadcast_on_commit(self.events)


@contextmanager
def locked_search(search_id: int) -> Iterator[SearchSession | None]:
    """A ``SearchSession`` inside a transaction holding the row lock; ``None`` if it is gone."""
    with transaction.atomic():
        search = Search.objects.select_for_update().filter(pk=search_id).first()
        if search is None:
            yield None
            return
        session = SearchSession(search)
        yield session
        session.close()
