"""The websocket of one search: ``/ws/searches/<id>/`` streams its events, gap-free.

Only the search's owner (session authentication) is accepted; anyone else is refused.

Protocol (JSON text frames):
- the client may pass ``?after=<cursor>`` or send ``{"type": "resume", "after": <cursor>}``;
  it then receives every stored event after that cursor, in order, and live events after them;
- without either, it receives ``{"type": "hello", "cursor": <latest id>, ...}`` and live events
  after that cursor (fetch the current state over HTTP first);
- each event: ``{"id", "prev", "search", "type", "created", "data"}`` (see ``events``).

No gaps, no duplicates: the consumer joins the group before reading the stored events, skips
live events it has already sent, and when a live event's ``prev`` (the id of the search's
previous event) is not the last id it sent, it first sends the missing ones from the database.
The event ids of one search grow in commit order (see ``session``), so this is exact.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .events import group_name
from .models import Search, SearchEvent

REPLAY_BATCH = 500
MAX_CURSOR = 2**63 - 1
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_REQUEST = 4400
#: RFC 6455 "Try Again Later": the channel layer (Redis) is unreachable; the page retries.
CLOSE_TRY_AGAIN = 1013
log = logging.getLogger(__name__)


def _layer_down(exc: BaseException) -> bool:
    """A channel-layer outage (Redis down or unreachable), as opposed to a bug."""
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - channels_redis needs redis
        return isinstance(exc, OSError | TimeoutError)
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError | TimeoutError)


@database_sync_to_async
def _search_if_owner(user: Any, search_id: int) -> dict[str, Any] | None:
    row = (Search.objects.filter(pk=search_id, project__owner=user)
           .values("pk", "state", "last_event_id").first())
    return row


@database_sync_to_async
def _events_between(search_id: int, after: int, upto: int | None, limit: int
                    ) -> list[dict[str, Any]]:
    rows = SearchEvent.objects.filter(search_id=search_id, id__gt=after)
    if upto is not None:
        rows = rows.filter(id__lte=upto)
    return [event.as_message() for event in rows.order_by("id")[:limit]]


def _cursor(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        return None
    return number if 0 <= number <= MAX_CURSOR else None


class SearchEventsConsumer(AsyncJsonWebsocketConsumer):
    search_id: int
    group: str
    last: int | None = None  # id of the last event sent; None until the client has a cursor
    accepted = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the consumer; a channel-layer outage (at the handshake or later) closes the
        socket with 1013 (try again later) instead of a traceback and an HTTP 500."""
        try:
            await super().__call__(scope, receive, send)
        except Exception as exc:
            if not _layer_down(exc):
                raise
            log.warning("websocket for search %s: channel layer unavailable (%s); closing "
                        "with %d", scope.get("url_route", {}).get("kwargs", {}).get("search_id"),
                        type(exc).__name__, CLOSE_TRY_AGAIN)
            try:
                if not self.accepted:  # a refused handshake would look like a 403
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
            except Exception:  # noqa: BLE001 - the client went away meanwhile
                pass

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def connect(self) -> None:
        user = self.scope.get("user")
        try:
            self.search_id = int(self.scope["url_route"]["kwargs"]["search_id"])
        except (KeyError, ValueError):
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        search = await _search_if_owner(user, self.search_id)
        if search is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = group_name(self.search_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if "after" in query:
            after = _cursor(query["after"][-1])
            if after is None:
                await self.send_json({"type": "error", "detail": "after: expected a cursor "
                                                                 "(a non-negative integer)"})
                await self.close(code=CLOSE_BAD_REQUEST)
                return
            await self._replay_from(after)
        else:
            search = await _search_if_owner(user, self.search_id)  # after joining the group
            self.last = search["last_event_id"] if search else 0
            await self.send_json({"type": "hello", "search": self.search_id,
                                  "cursor": self.last, "state": search and search["state"]})

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "resume":
            after = _cursor(content.get("after"))
            if after is not None:
                await self._replay_from(after)
                return
            await self.send_json({"type": "error", "detail": "after: expected a cursor "
                                                             "(a non-negative integer)"})
            return
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "cursor": self.last})
            return
        await self.send_json({"type": "error",
                              "detail": 'expected {"type": "resume", "after": <cursor>}'})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None,
                      **kwargs: Any) -> None:
        if text_data is None or len(text_data) > 4096:
            await self.send_json({"type": "error", "detail": "send small JSON text messages"})
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.send_json({"type": "error", "detail": "not JSON"})
            return
        await self.receive_json(content)

    async def _replay_from(self, after: int, upto: int | None = None) -> None:
        self.last = after
        await self._send_stored(upto)

    async def _send_stored(self, upto: int | None) -> None:
        while True:
            batch = await _events_between(self.search_id, self.last, upto, REPLAY_BATCH)
            for message in batch:
                await self.send_json(message)
                self.last = message["id"]
            if len(batch) < REPLAY_BATCH:
                return

    async def search_event(self, message: dict[str, Any]) -> None:
        """A live event from the group (sent after its commit)."""
        event = message["event"]
        if self.last is None or event["id"] <= self.last:
            return  # no cursor yet, or already sent
        if event["prev"] == self.last:
            await self.send_json(event)
            self.last = event["id"]
            return
        await self._send_stored(event["id"])  # fill the gap from the database, in order
