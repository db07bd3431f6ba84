"""Real Celery workers (``celery -A nasweb worker --pool=prefork``) in their own processes.

1. Integration: a small real search on digits through the API, evaluated by a worker with the
   real train-and-export evaluator; events arrive over the websocket (real Redis channel layer)
   and the C header downloads.
2. Faults (fake evaluator, a private redis-server so the shared one is untouched): the worker
   is SIGKILLed mid-evaluation and another started; separately Redis is restarted (all queued
   messages lost). Each time the search finishes with every candidate evaluated exactly once
   (the fake evaluator logs each finished evaluation).

The test database is a file (SQLite, see conftest) or PostgreSQL, so the workers see it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from nasweb.asgi import application
from nasweb.searches import handlers
from nasweb.searches.models import Candidate, Project, Search, SearchEvent
from nasweb.searches.testing import database_url, recording_dispatcher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
TERMINAL = ("finished", "failed", "cancelled")


# -- harness ---------------------------------------------------------------------------------


def worker_env(web_env, redis_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nasweb.settings",
               DATABASE_URL=database_url(), REDIS_URL=redis_url,
               UNAS_CELERY_QUEUE=web_env.queue, UNAS_CHANNEL_PREFIX=web_env.prefix,
               UNAS_WORK_DIR=str(web_env.tmp / "work"), MEDIA_ROOT=str(web_env.tmp / "media"),
               UNAS_EVALUATOR="tests.fake_evaluator:evaluate", PYTHONPATH=str(ROOT))
    env.pop("CELERY_BROKER_URL", None)
    env.update(extra)
    return env


class Worker:
    """A Celery worker in its own process group (so that SIGKILL takes its children too)."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 1,
                 beat: bool = False) -> None:
        name = f"w{os.getpid()}-{time.monotonic_ns()}@%h"
        command = [sys.executable, "-m", "celery", "-A", "nasweb", "worker", "--pool=prefork",
                   f"--concurrency={concurrency}", "-Q", env["UNAS_CELERY_QUEUE"], "-n", name,
                   "--loglevel=INFO", "--without-gossip", "--without-mingle"]
        if beat:
            command += ["-B", "--schedule", str(log.with_suffix(".beat"))]
        self.log = log
        self.handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.handle,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def reaped(self, what: str) -> bool:
        """Whether a reap in this worker's log did ``what`` (requeued, republished) at least
        once."""
        return re.search(rf"'{what}': [1-9]", self.log.read_text(errors="replace")) is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not on the PATH")
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        for _ in range(100):
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def restart(self) -> None:
        """Kill and start again: everything it held (queued task messages) is lost."""
        self.process.kill()
        self.process.wait(timeout=10)
        self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str, worker: Worker | None = None,
             every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    detail = f"\n--- worker log ---\n{worker.tail()}" if worker else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")


def search_state(pk: int) -> str:
    return Search.objects.values_list("state", flat=True).get(pk=pk)


def publish_start(redis_url: str, queue: str, search: Search) -> None:
    """Publish the start task with a Celery client of that broker (as the web server does)."""
    from celery import Celery

    client = Celery(broker=redis_url, set_as_current=False)  # keep nasweb the current app
    client.send_task("nasweb.searches.tasks.start_search", args=[search.pk], queue=queue,
                     task_id=search.start_task_id)
    client.close()


def new_search(owner, **fields) -> Search:
    project = Project.objects.create(owner=owner, name=f"p{time.monotonic_ns()}")
    values = dict(name="s", dataset="digits", input_shape=[8, 8, 1], num_classes=10,
                  sram_bytes=6000, flash_bytes=24000, bound_sram_bytes=6000.0,
                  bound_flash_bytes=24000.0, rounds=8, population=4, sample=2, seed=11,
                  sparsity_min=0.05, sparsity_max=0.8, in_flight_target=2)
    values.update(fields)
    with recording_dispatcher():  # the start is published explicitly, to the right broker
        return handlers.create_search(project, **values)


def check_exactly_once(search: Search, log: Path) -> None:
    rows = list(Candidate.objects.filter(search=search).order_by("index"))
    assert [c.index for c in rows] == list(range(search.rounds))
    assert all(c.state == "done" for c in rows), [(c.index, c.state) for c in rows]
    finished = [int(line) for line in log.read_text().split()]
    assert sorted(finished) == list(range(search.rounds)), finished  # once each, no repeats
    events = list(SearchEvent.objects.filter(search=search).order_by("id"))
    assert [e.prev for e in events[1:]] == [e.id for e in events[:-1]]
    done = [e.data["index"] for e in events if e.kind == "candidate.finished"]
    assert sorted(done) == list(range(search.rounds))


# -- 1. integration: the real evaluator ------------------------------------------------------


def test_a_real_search_through_the_api_with_a_celery_worker(web_env, web_client, web_user):
    from nasweb.celery import app
    from search_engine.search.local_runner import DEFAULT_EVALUATOR

    env = worker_env(web_env, django_settings.REDIS_URL, UNAS_EVALUATOR=DEFAULT_EVALUATOR,
                     UNAS_HEARTBEAT_SECONDS="2")
    worker = Worker(env, web_env.tmp / "worker.log", concurrency=1)
    try:
        app.conf.broker_url = django_settings.REDIS_URL
        project = web_client.post("/api/projects/", {"name": "digits"}, format="json").json()
        created = web_client.post("/api/searches/", {
            "project": project["id"], "name": "tiny", "sram_bytes": 64 * 1024,
            "flash_bytes": 256 * 1024, "rounds": 2, "population": 2, "sample": 1,
            "profile": "quick", "data_limit": 300, "in_flight_target": 1, "seed": 1},
            format="json")
        assert created.status_code == 201, created.content
        pk = created.json()["id"]
        client = Client()
        client.force_login(web_user)
        cookie = client.cookies["sessionid"].value

        async def watch():
            ws = WebsocketCommunicator(application, f"/ws/searches/{pk}/?after=0", headers=[
                (b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())])
            assert (await ws.connect(timeout=10))[0]
            events = []
            deadline = time.monotonic() + float(os.environ.get("UNAS_IT_TIMEOUT", "400"))
            while time.monotonic() < deadline:
                message = await ws.receive_json_from(timeout=deadline - time.monotonic())
                events.append(message)
                if message["type"] == "search.state" and message["data"]["state"] in TERMINAL:
                    break
            await ws.disconnect()
            return events

        try:
            events = asyncio.run(watch())
        except Exception as exc:
            raise AssertionError(f"{exc!r}\n--- worker log ---\n{worker.tail()}") from exc
    finally:
        worker.stop()
    search = Search.objects.get(pk=pk)
    assert search.state == "finished", (search.error_message, worker.tail())
    kinds = [e["type"] for e in events]
    assert kinds.count("candidate.started") >= 2, kinds
    assert kinds.count("candidate.finished") + kinds.count("candidate.failed") == 2, kinds
    finished = [e for e in events if e["type"] == "candidate.finished"]
    assert finished, ([e["data"].get("error_message") for e in events
                       if e["type"] == "candidate.failed"], worker.tail())
    index = finished[0]["data"]["index"]
    candidate = Candidate.objects.get(search=search, index=index)
    assert 0.0 <= candidate.val_accuracy <= 1.0 and candidate.tflm_arena_bytes > 0
    assert candidate.timeline and candidate.tflite_bytes > 0
    header = web_client.get(f"/api/searches/{pk}/candidates/{index}/files/header/")
    assert header.status_code == 200 and header["Content-Type"].startswith("text/x-c")
    assert b"alignas(16)" in header.content
    assert header["Content-Disposition"].endswith(f'-c{index}.h"')
    tflite = web_client.get(f"/api/searches/{pk}/candidates/{index}/files/tflite/")
    assert tflite.content[4:8] == b"TFL3" and len(tflite.content) == candidate.tflite_bytes


# -- 2. faults -------------------------------------------------------------------------------


@pytest.fixture
def fault_setup(web_env, web_user):
    redis = PrivateRedis(web_env.tmp)
    log = web_env.tmp / "evaluations.log"
    env = worker_env(web_env, redis.url, UNAS_FAKE_SECONDS="1.5", UNAS_FAKE_LOG=str(log),
                     UNAS_HEARTBEAT_SECONDS="0.5", UNAS_LEASE_SECONDS="3",
                     UNAS_QUEUED_LEASE_SECONDS="3", UNAS_REAPER_INTERVAL="1")
    yield redis, env, log, web_user
    redis.stop()


def test_a_killed_worker_loses_nothing_and_repeats_nothing(web_env, fault_setup):
    redis, env, log, user = fault_setup
    search = new_search(user)
    first = Worker(env, web_env.tmp / "first.log", concurrency=2, beat=True)
    second = None
    try:
        publish_start(redis.url, env["UNAS_CELERY_QUEUE"], search)
        wait_for(lambda: Candidate.objects.filter(search=search, state="done").count() >= 2,
                 90, "two evaluations", first)

        def mid_evaluation():
            rows = Candidate.objects.filter(search=search, state="running")
            return [c for c in rows if 0.2 < time.time() - c.timings.get("started_at", 0) < 1.0]

        running = wait_for(mid_evaluation, 30, "a candidate half-way", first, every=0.02)
        first.kill()
        killed = {c.index for c in running}
        assert all(c.state == "running" for c in Candidate.objects.filter(
            search=search, index__in=killed))
        second = Worker(env, web_env.tmp / "second.log", concurrency=2, beat=True)
        wait_for(lambda: search_state(search.pk) in TERMINAL, 120, "the search to end", second)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    search.refresh_from_db()
    assert search.state == "finished", search.error_message
    check_exactly_once(search, log)
    for candidate in Candidate.objects.filter(search=search, index__in=killed):
        assert candidate.attempts == 2  # started twice, evaluated once
    assert second.reaped("requeued")


def test_a_restarted_redis_loses_nothing_and_repeats_nothing(web_env, fault_setup):
    redis, env, log, user = fault_setup
    search = new_search(user, in_flight_target=3)
    worker = Worker(env, web_env.tmp / "worker.log", concurrency=2, beat=True)
    try:
        publish_start(redis.url, env["UNAS_CELERY_QUEUE"], search)
        wait_for(lambda: Candidate.objects.filter(search=search, state="done").count() >= 2,
                 90, "two evaluations", worker)
        wait_for(lambda: Candidate.objects.filter(search=search, state="queued").exists(),
                 30, "a queued candidate (its message will be lost)", worker, every=0.02)
        redis.restart()
        wait_for(lambda: search_state(search.pk) in TERMINAL, 150, "the search to end", worker)
    finally:
        worker.stop()
    search.refresh_from_db()
    assert search.state == "finished", search.error_message
    check_exactly_once(search, log)
    assert worker.reaped("republished")  # the lost messages were published again


def test_cancel_stops_running_candidates_promptly(web_env, web_client):
    """Cancelling revokes the running tasks with terminate: the worker child evaluating a
    candidate (here: a 60 s fake evaluation) is ended at once, and nothing is recorded."""
    from nasweb.celery import app

    log = web_env.tmp / "evaluations.log"
    env = worker_env(web_env, django_settings.REDIS_URL, UNAS_FAKE_SECONDS="60",
                     UNAS_FAKE_LOG=str(log), UNAS_HEARTBEAT_SECONDS="0.5")
    worker = Worker(env, web_env.tmp / "worker.log", concurrency=2)
    try:
        app.conf.broker_url = django_settings.REDIS_URL
        project = web_client.post("/api/projects/", {"name": "c"}, format="json").json()
        pk = web_client.post("/api/searches/", {
            "project": project["id"], "name": "long", "sram_bytes": 6000,
            "flash_bytes": 24000, "rounds": 6, "population": 3, "sample": 1},
            format="json").json()["id"]
        wait_for(lambda: Candidate.objects.filter(search_id=pk, state="running").count() == 2,
                 60, "two running candidates", worker)
        started = time.monotonic()
        cancelled = web_client.post(f"/api/searches/{pk}/cancel/")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        wait_for(lambda: worker.log.read_text(errors="replace").count("Terminating") >= 2,
                 10, "the running tasks to be terminated", worker)
        stopped_after = time.monotonic() - started
        time.sleep(1.0)  # nothing may be recorded after the cancel
    finally:
        worker.stop()
    assert stopped_after < 10
    states = set(Candidate.objects.filter(search_id=pk).values_list("state", flat=True))
    assert states == {"cancelled"}
    assert not log.exists() or log.read_text() == ""  # no evaluation finished
