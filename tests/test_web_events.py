"""The search websocket, through the real ASGI stack (origin check, session auth) and the real
Redis channel layer: owner only, stored events after a cursor, then live ones after their
commit, with gaps filled from the database and duplicates dropped."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from nasweb.asgi import application
from nasweb.searches import handlers
from nasweb.searches.events import send_now
from nasweb.searches.models import Project, Search, SearchEvent
from nasweb.searches.testing import recording_dispatcher

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 5


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def make_search(owner):
    project = Project.objects.create(owner=owner, name="p")
    with recording_dispatcher():
        return handlers.create_search(
            project, name="s", dataset="digits", input_shape=[8, 8, 1], num_classes=10,
            sram_bytes=6000, flash_bytes=24000, bound_sram_bytes=6000.0,
            bound_flash_bytes=24000.0, rounds=4, population=2, sample=1, sparsity_min=0.1,
            sparsity_max=0.5)


@pytest.fixture
def owner(fast_passwords):
    return get_user_model().objects.create_user("ada", password="x")


def communicator(search_id, cookie=None, query="", origin="http://testserver"):
    headers = [(b"origin", origin.encode())] if origin else []
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    path = f"/ws/searches/{search_id}/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_all(ws, count):
    return [await ws.receive_json_from(timeout=TIMEOUT) for _ in range(count)]


def stored(search):
    return [e.as_message() for e in SearchEvent.objects.filter(search=search).order_by("id")]


def test_only_the_owner_may_connect(web_env, owner):
    search = make_search(owner)
    eve = get_user_model().objects.create_user("eve", password="x")

    async def attempt(**kwargs):
        ws = communicator(search.pk, **kwargs)
        connected, _ = await ws.connect(timeout=TIMEOUT)
        await ws.disconnect()
        return connected

    assert not asyncio.run(attempt())  # anonymous
    assert not asyncio.run(attempt(cookie=session_cookie(eve)))  # someone else's search
    assert not asyncio.run(attempt(cookie=session_cookie(owner), origin="http://evil.example"))
    assert not asyncio.run(attempt(cookie=session_cookie(owner), origin=""))
    assert asyncio.run(attempt(cookie=session_cookie(owner)))
    ws_missing = communicator(search.pk + 1000, cookie=session_cookie(owner))
    assert not asyncio.run(ws_missing.connect(timeout=TIMEOUT))[0]


def test_replay_then_live_events_after_commit(web_env, owner):
    search = make_search(owner)
    cookie = session_cookie(owner)
    history = stored(search)

    async def scenario():
        ws = communicator(search.pk, cookie, query="after=0")
        assert (await ws.connect(timeout=TIMEOUT))[0]
        replayed = await receive_all(ws, len(history))
        assert await ws.receive_nothing(0.2)
        # a change committed now arrives live, once
        await database_sync_to_async(handlers.pause_search)(search)
        live = await ws.receive_json_from(timeout=TIMEOUT)
        assert await ws.receive_nothing(0.3)
        await ws.disconnect()
        return replayed, live

    replayed, live = asyncio.run(scenario())
    assert json.loads(json.dumps(history)) == replayed
    assert live["type"] == "search.state" and live["data"]["state"] == "paused"
    assert live["prev"] == history[-1]["id"]
    assert live == json.loads(json.dumps(stored(search)[-1]))
    assert len(json.dumps(live)) < 64 * 1024


def test_gaps_are_filled_and_duplicates_dropped(web_env, owner):
    search = make_search(owner)
    cookie = session_cookie(owner)

    def silent_events(count):
        """Rows committed whose broadcast was lost (e.g. Redis hiccup); then one that is sent."""
        row = Search.objects.get(pk=search.pk)
        events = []
        for i in range(count):
            event = SearchEvent.objects.create(search=row, prev=row.last_event_id,
                                               kind="search.state", data={"i": i})
            row.last_event_id = event.id
            events.append(event)
        row.save()
        return events

    async def scenario():
        ws = communicator(search.pk, cookie)  # no cursor: hello, then live
        assert (await ws.connect(timeout=TIMEOUT))[0]
        hello = await ws.receive_json_from(timeout=TIMEOUT)
        events = await database_sync_to_async(silent_events)(4)
        await database_sync_to_async(send_now)([events[-1]])  # only the last is broadcast
        got = await receive_all(ws, 4)
        await database_sync_to_async(send_now)([events[-1], events[2]])  # duplicates
        assert await ws.receive_nothing(0.3)
        # resuming from an older cursor replays exactly what followed it
        await ws.send_json_to({"type": "resume", "after": events[1].id})
        resumed = await receive_all(ws, 2)
        assert await ws.receive_nothing(0.2)
        await ws.send_json_to({"type": "resume", "after": "soon"})
        error = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.send_to(text_data="not json")
        error2 = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return hello, events, got, resumed, error, error2

    hello, events, got, resumed, error, error2 = asyncio.run(scenario())
    assert hello["type"] == "hello" and hello["cursor"] == events[0].prev
    assert [e["id"] for e in got] == [e.id for e in events]
    assert [e["data"]["i"] for e in got] == [0, 1, 2, 3]
    assert [e["id"] for e in resumed] == [events[2].id, events[3].id]
    assert error["type"] == "error" and "after" in error["detail"]
    assert error2["type"] == "error"


def test_a_bad_cursor_in_the_url_closes(web_env, owner):
    search = make_search(owner)
    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(search.pk, cookie, query="after=-1")
        connected, _ = await ws.connect(timeout=TIMEOUT)
        message = await ws.receive_json_from(timeout=TIMEOUT)
        closed = await ws.receive_output(timeout=TIMEOUT)
        return connected, message, closed

    connected, message, closed = asyncio.run(scenario())
    assert connected and message["type"] == "error"
    assert closed["type"] == "websocket.close" and closed["code"] == 4400


def test_a_running_search_streams_its_candidates(web_env, owner):
    """Events from the Celery task bodies reach the socket in commit order."""
    from nasweb.searches.testing import run_recorded

    project = Project.objects.create(owner=owner, name="q")
    cookie = session_cookie(owner)

    def run_search():
        with recording_dispatcher() as recorder:
            search = handlers.create_search(
                project, name="s", dataset="digits", input_shape=[8, 8, 1], num_classes=10,
                sram_bytes=6000, flash_bytes=24000, bound_sram_bytes=6000.0,
                bound_flash_bytes=24000.0, rounds=4, population=2, sample=1,
                sparsity_min=0.1, sparsity_max=0.5)
            return search, recorder

    search, recorder = run_search()

    async def scenario():
        ws = communicator(search.pk, cookie, query="after=0")
        assert (await ws.connect(timeout=TIMEOUT))[0]
        with recording_dispatcher() as again:
            again.tasks.extend(recorder.tasks)
            await database_sync_to_async(run_recorded)(again)
        total = await database_sync_to_async(SearchEvent.objects.filter(search=search).count)()
        received = await receive_all(ws, total)
        assert await ws.receive_nothing(0.3)
        await ws.disconnect()
        return received

    received = asyncio.run(scenario())
    ids = [e["id"] for e in received]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [e["prev"] for e in received[1:]] == ids[:-1]
    kinds = [e["type"] for e in received]
    assert kinds.count("candidate.finished") == 4 and kinds.count("candidate.started") == 4
    assert received[-1]["type"] == "search.state"
    assert received[-1]["data"]["state"] == "finished"
    finished = [e for e in received if e["type"] == "candidate.finished"]
    assert all("val_accuracy" in e["data"]["metrics"] for e in finished)
    assert max(len(json.dumps(e)) for e in received) < 64 * 1024


def test_an_idle_socket_stays_alive(web_env, owner):
    """channels_redis polls with a 5 s BZPOPMIN; the Redis client must not time out first
    (redis-py 8's default 5 s read timeout killed idle consumers)."""
    search = make_search(owner)
    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(search.pk, cookie)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(timeout=TIMEOUT)  # hello
        await asyncio.sleep(6.5)
        assert not ws.future.done(), ws.future.exception()
        await database_sync_to_async(handlers.pause_search)(search)
        event = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return event

    assert asyncio.run(scenario())["data"]["state"] == "paused"


def test_a_channel_layer_outage_closes_cleanly_for_a_retry(web_env, owner, settings, caplog):
    """Issue 12: during a Redis outage the handshake answered HTTP 500 with a traceback. Now
    the socket is closed with 1013 (try again later), which the page retries."""
    from nasweb.searches.consumers import CLOSE_TRY_AGAIN

    search = make_search(owner)
    with socket.socket() as probe:  # a port where nothing listens: Redis is "down"
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{dead}/0",
                              "socket_connect_timeout": 1}], "prefix": web_env.prefix}}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()

    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(search.pk, cookie=cookie)
        connected, _ = await ws.connect(timeout=TIMEOUT)
        closed = await ws.receive_output(timeout=TIMEOUT)
        await ws.wait(timeout=TIMEOUT)
        return connected, closed

    try:
        connected, closed = asyncio.run(scenario())
    finally:
        channel_layers.backends.clear()
    assert connected and closed == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN}
    assert "channel layer unavailable" in caplog.text
