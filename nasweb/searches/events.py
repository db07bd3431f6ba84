"""Search events: small JSON payloads, their channel-layer group, and the broadcast after commit.

Every change is stored as a ``SearchEvent`` row first (see ``session``); the row's id is the
cursor. Only after the transaction commits (``transaction.on_commit``) is the event sent to the
search's group, so a browser never sees a change that was rolled back. A broadcast that fails
(e.g. Redis is down) is logged and dropped: the row is there, and a client catches up by
reconnecting with its last cursor.

Payloads stay small (well under 64 KB): candidate summaries carry scalar metrics only;
architectures and memory timelines are fetched over HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from search_engine.search import CandidateRecord

from .models import METRIC_COLUMNS, Search, SearchEvent

log = logging.getLogger(__name__)

GROUP_MESSAGE_TYPE = "search.event"  # handled by SearchEventsConsumer.search_event
MAX_ERROR_CHARS = 500
#: how far a candidate was trained (``search_engine.search.fidelity``) and from which
#: parent's weights (``search_engine.train.inherit``), for the table
FIDELITY_METRICS = ("epochs", "epochs_trained", "stopped_early", "finalised", "profile",
                    "inheritance")


def group_name(search_id: int) -> str:
    return f"search-{int(search_id)}"


def candidate_summary(record: CandidateRecord) -> dict[str, Any]:
    """What a candidate event carries: identity, state, flags, objectives, scalar metrics."""
    data: dict[str, Any] = {
        "index": record.id, "state": record.state, "sparsity": record.sparsity,
        "parent": record.parent, "morphism": record.morphism, "pareto": record.pareto,
        "feasible": record.feasible, "attempts": record.attempts,
        "objectives": dict(record.objectives),
        "metrics": {k: record.metrics[k] for k in (*METRIC_COLUMNS, *FIDELITY_METRICS)
                    if k in record.metrics},
    }
    if "finalise_requested_at" in record.timings:  # handlers.FINALISE_REQUESTED
        data["finalising"] = True
    if record.error_message:
        data["error_message"] = record.error_message[:MAX_ERROR_CHARS]
    return data


def search_progress(search: Search) -> dict[str, Any]:
    """What a ``search.state`` event carries."""
    return {
        "state": search.state, "evaluated": search.evaluated, "rounds": search.rounds,
        "running": search.running, "queued": search.queued, "rejected": search.rejected,
        "best_error": search.best_error, "hypervolume": search.hypervolume,
        "error_message": search.error_message[:MAX_ERROR_CHARS],
    }


async def _send_all(messages: list[dict[str, Any]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for message in messages:
        await layer.group_send(group_name(message["search"]),
                               {"type": GROUP_MESSAGE_TYPE, "event": message})


def send_now(events: Iterable[SearchEvent]) -> None:
    """Send events to their groups (call only after their rows are committed)."""
    messages = [event.as_message() for event in events]
    if not messages:
        return
    try:
        async_to_sync(_send_all)(messages)
    except Exception:  # noqa: BLE001 - clients catch up from the stored rows
        log.warning("could not broadcast %d search event(s); clients will catch up",
                    len(messages), exc_info=True)


def broadcast_on_commit(events: list[SearchEvent]) -> None:
    """Send the events once the current transaction commits (never if it rolls back)."""
    if events:
        frozen = list(events)
        transaction.on_commit(lambda: send_now(frozen), robust=True)
