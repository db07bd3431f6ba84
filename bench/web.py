"""Web API throughput on a big search, and event latency from commit to websocket receipt.

    .venv/bin/python bench/web.py [--candidates 5000] [--requests 100] [--events 300]
                                  [--database-url postgres://postgres@127.0.0.1:5432/unas_bench]

1. A search with ``--candidates`` candidate rows (realistic architectures and metrics) is
   written to a fresh database (a temporary SQLite file unless ``--database-url`` names an
   existing one, whose tables are then created/migrated and the rows added). The candidate list
   is requested ``--requests`` times per query through the whole Django stack in-process
   (token auth, DRF, ORM): default page, big page, filters, ordering by a column and by a
   metric key in the JSON, and ``?after=`` incremental reads. Prints requests/s, median and p95
   latency, and response size.
2. ``--events`` events are committed one after another (each in its own locked-search
   transaction, as the Celery tasks do) while a websocket client, connected through the ASGI
   stack and the real Redis channel layer (``REDIS_URL``), receives them. Prints the latency
   from the commit to the receipt: median, p95, max.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(database_url: str | None) -> str:
    if database_url is None:
        folder = Path(tempfile.mkdtemp(prefix="unas-bench-web-"))
        database_url = "sqlite:///" + os.path.relpath(folder / "bench.sqlite3", ROOT)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nasweb.settings")
    os.environ["UNAS_CHANNEL_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}"
    os.environ["DJANGO_DEBUG"] = "0"  # no query log; production-like
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return database_url


def populate(n: int) -> tuple[object, str, object]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from nasweb.searches import handlers
    from nasweb.searches.models import Candidate, Project, Search
    from nasweb.searches.testing import recording_dispatcher
    from search_engine.search.setup import JsonSpace

    user = get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:8]}")
    token = Token.objects.create(user=user).key
    project = Project.objects.create(owner=user, name="bench")
    with recording_dispatcher():
        search = handlers.create_search(
            project, name="bench", dataset="digits", input_shape=[8, 8, 1], num_classes=10,
            sram_bytes=64 * 1024, flash_bytes=256 * 1024, bound_sram_bytes=65536.0,
            bound_flash_bytes=262144.0, rounds=n, population=100, sample=25,
            sparsity_min=0.05, sparsity_max=0.8)
    space = JsonSpace((8, 8, 1), 10)
    rng = random.Random(0)
    architectures = [space.sample(rng) for _ in range(50)]
    rows = []
    for i in range(n):
        arena = rng.randint(2_000, 90_000)
        flash = rng.randint(5_000, 300_000)
        accuracy = rng.uniform(0.5, 0.99)
        macs = rng.randint(10_000, 5_000_000)
        metrics = {"val_accuracy": accuracy, "test_accuracy": accuracy - 0.01,
                   "test_accuracy_int8": accuracy - 0.02, "params": flash // 2,
                   "model_size_bytes": flash - 1500, "tflite_bytes": flash, "macs": macs,
                   "peak_memory_bytes": arena - 1500, "tflm_arena_bytes": arena,
                   "n_ops": rng.randint(5, 40), "op_order": [f"op{k}" for k in range(12)],
                   "evaluation_seconds": rng.uniform(5, 60)}
        objectives = {"error": 1 - accuracy, "sram_bytes": float(arena),
                      "flash_bytes": float(flash), "macs": float(macs)}
        rows.append(Candidate(
            search=search, index=i, state="done", architecture=architectures[i % 50],
            sparsity=rng.uniform(0.05, 0.8), metrics=metrics, objectives=objectives,
            precheck={"estimated_sram_bytes": arena - 300}, timings={"proposed_at": i},
            pareto=rng.random() < 0.02, feasible=arena <= 65536 and flash <= 262144,
            attempts=1, error=1 - accuracy, sram_bytes=arena, flash_bytes=flash,
            val_accuracy=accuracy, test_accuracy=accuracy - 0.01, params=flash // 2,
            model_size_bytes=flash - 1500, tflite_bytes=flash, macs=macs,
            peak_memory_bytes=arena - 1500, tflm_arena_bytes=arena,
            predicted_sram_bytes=arena - 300, seq=1 + i // 10,
            timeline=[{"step": k, "bytes": arena // (k + 1)} for k in range(20)]))
    Candidate.objects.bulk_create(rows, batch_size=500)
    Search.objects.filter(pk=search.pk).update(last_event_id=1 + (n - 1) // 10, evaluated=n)
    return search, token, user


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench_api(search: object, token: str, requests: int) -> None:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    base = f"/api/searches/{search.pk}/candidates/"
    last = 1 + (search.rounds - 1) // 10
    queries = [
        ("default page (100)", ""),
        ("page_size=1000", "?page_size=1000"),
        ("pareto only", "?pareto=true"),
        ("feasible, by -val_accuracy", "?feasible=true&ordering=-val_accuracy"),
        ("ordering=-tflm_arena_bytes", "?ordering=-tflm_arena_bytes"),
        ("ordering=n_ops (JSON key)", "?ordering=n_ops"),
        ("after=<recent cursor>", f"?after={last - 5}"),
        ("after=0&limit=500", "?after=0&limit=500"),
        ("state=done&page=40", "?state=done&page=40"),
    ]
    print(f"\ncandidate list, {search.rounds} candidates, {requests} requests per query "
          "(in-process Django stack, one thread)")
    print(f"{'query':32s} {'req/s':>8s} {'median ms':>10s} {'p95 ms':>8s} {'rows':>6s} "
          f"{'KB':>7s}")
    for label, query in queries:
        response = client.get(base + query)
        assert response.status_code == 200, (query, response.content[:300])
        rows = len(response.json()["results"])
        size = len(response.content) / 1024
        latencies = []
        started = time.perf_counter()
        for _ in range(requests):
            t0 = time.perf_counter()
            client.get(base + query)
            latencies.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - started
        print(f"{label:32s} {requests / total:8.1f} {statistics.median(latencies):10.2f} "
              f"{percentile(latencies, 0.95):8.2f} {rows:6d} {size:7.1f}")


def bench_events(user: object, count: int) -> None:
    from channels.testing import WebsocketCommunicator
    from django.db import transaction
    from django.test import Client

    from nasweb.asgi import application
    from nasweb.searches import handlers
    from nasweb.searches.models import Project
    from nasweb.searches.session import locked_search
    from nasweb.searches.testing import recording_dispatcher

    project = Project.objects.create(owner=user, name=f"events-{uuid.uuid4().hex[:6]}")
    with recording_dispatcher():
        search = handlers.create_search(
            project, name="events", dataset="digits", input_shape=[8, 8, 1], num_classes=10,
            sram_bytes=6000, flash_bytes=24000, bound_sram_bytes=6000.0,
            bound_flash_bytes=24000.0, rounds=10, population=5, sample=2, sparsity_min=0.1,
            sparsity_max=0.5)
    browser = Client()
    browser.force_login(user)
    cookie = browser.cookies["sessionid"].value
    committed: dict[int, float] = {}
    payload = {"index": 0, "state": "done", "metrics": {"val_accuracy": 0.97,
                                                         "tflm_arena_bytes": 4321}}

    def emit_all(ready: threading.Event) -> None:
        ready.wait()
        for _ in range(count):
            with locked_search(search.pk) as session:
                event = session.emit("candidate.finished", payload)
                transaction.on_commit(
                    lambda event_id=event.id: committed.__setitem__(event_id,
                                                                    time.perf_counter()))
            time.sleep(0.005)
        from django.db import connection

        connection.close()

    async def receive_all() -> dict[int, float]:
        ws = WebsocketCommunicator(application, f"/ws/searches/{search.pk}/", headers=[
            (b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())])
        connected, _ = await ws.connect(timeout=10)
        assert connected
        await ws.receive_json_from(timeout=10)  # hello
        ready = threading.Event()
        emitter = threading.Thread(target=emit_all, args=(ready,))
        emitter.start()
        ready.set()
        received: dict[int, float] = {}
        while len(received) < count:
            message = await ws.receive_json_from(timeout=30)
            received[message["id"]] = time.perf_counter()
        await ws.disconnect()
        await asyncio.to_thread(emitter.join)
        return received

    received = asyncio.run(receive_all())
    latencies = [(received[i] - committed[i]) * 1000 for i in received if i in committed]
    print(f"\nevent latency, commit -> websocket receipt, {len(latencies)} events through the "
          "Redis channel layer")
    print(f"median {statistics.median(latencies):.2f} ms, p95 "
          f"{percentile(latencies, 0.95):.2f} ms, max {max(latencies):.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--database-url", default=None,
                        help="an existing database (default: a temporary SQLite file)")
    args = parser.parse_args()
    url = configure(args.database_url)
    print(f"database: {url.split('@')[-1]}")
    started = time.perf_counter()
    search, token, user = populate(args.candidates)
    print(f"wrote {args.candidates} candidates in {time.perf_counter() - started:.1f} s")
    bench_api(search, token, args.requests)
    bench_events(user, args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
