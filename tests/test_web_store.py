"""The Django-backed engine store against the engine's own in-memory store.

Two engines take the same random sequence of events (propose, start, complete, fail, requeue),
one saving to ``MemoryStore`` (the reference), one to ``DjangoSearchStore``; after every event
a fresh store loaded from the database must give exactly the reference state (memory
timelines excepted: those live in their own column, checked separately).
"""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from nasweb.searches.models import Candidate, Project, Search
from nasweb.searches.store import DjangoSearchStore
from search_engine.search import HardLimits, MemoryStore, SearchConfig, SoftBounds
from search_engine.search import Search as Engine

pytestmark = pytest.mark.django_db


class ToySpace:
    """Architectures are small dicts; mutation nudges one number."""

    def sample(self, rng):
        return {"width": rng.randint(1, 64), "depth": rng.randint(1, 5)}

    def mutate(self, architecture, rng):
        key = rng.choice(["width", "depth"])
        return dict(architecture, **{key: architecture[key] + rng.choice([-1, 1])}), f"nudge_{key}"


def metrics_for(architecture, rng):
    return {"val_accuracy": rng.uniform(0.5, 0.99), "macs": architecture["width"] * 1000,
            "peak_memory_bytes": 100 * architecture["width"], "model_size_bytes": 900,
            "tflm_arena_bytes": 150 * architecture["width"], "tflite_bytes": 2000,
            "op_order": ["conv", "fc"], "timeline": [[1, 2, 3]] * architecture["depth"]}


def strip_timelines(state_json):
    for candidate in state_json["candidates"]:
        candidate["metrics"].pop("timeline", None)
        candidate["artifacts"] = {}
    return state_json


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_django_store_matches_the_memory_store(seed, monkeypatch):
    monkeypatch.setattr("search_engine.search.engine.time", SimpleNamespace(time=lambda: 1234.5))
    user = get_user_model().objects.create_user(f"u{seed}")
    project = Project.objects.create(owner=user, name="p")
    row = Search.objects.create(project=project, name="s", dataset="digits",
                                input_shape=[8, 8, 1], num_classes=10, sram_bytes=10_000,
                                flash_bytes=10_000, sparsity_min=0.1, sparsity_max=0.5)
    config = SearchConfig(limits=HardLimits(10_000, 10_000),
                          bounds=SoftBounds(error=0.5, sram_bytes=8000.0), rounds=25,
                          population=6, sample=3, seed=seed, sparsity_range=(0.1, 0.5))
    reference = Engine.create(config, ToySpace(), MemoryStore())
    store = DjangoSearchStore(row)
    engine = Engine.create(config, ToySpace(), store)
    rng = random.Random(seed)
    for _step in range(80):
        choice = rng.random()
        running = [c.id for c in reference.in_flight() if c.state == "running"]
        queued = [c.id for c in reference.queued()]
        events = []
        if choice < 0.3 and reference.budget_left > 0:
            events.append(("propose",))
        elif choice < 0.55 and queued:
            events.append(("start", rng.choice(queued)))
        elif choice < 0.85 and running:
            cid = rng.choice(running)
            events.append(("complete", cid, metrics_for(reference.state.by_id(cid).architecture,
                                                        rng)))
        elif choice < 0.95 and running:
            events.append(("fail", rng.choice(running), f"boom {rng.random()}"))
        elif running:
            events.append(("requeue",))
        with transaction.atomic():
            for event in events:
                for target in (reference, engine):
                    if event[0] == "propose":
                        target.propose()
                    elif event[0] == "start":
                        target.start(event[1])
                    elif event[0] == "complete":
                        target.complete(event[1], event[2], {"tflite": "/tmp/x"})
                    elif event[0] == "fail":
                        target.fail(event[1], event[2])
                    else:
                        target.requeue_in_flight()
            store.flush()
            row.save()
        fresh = DjangoSearchStore(Search.objects.get(pk=row.pk)).load()
        expected = strip_timelines(json.loads(json.dumps(reference.state.to_json())))
        assert strip_timelines(fresh.to_json()) == expected
    # the timelines went to their column; the metrics column has none
    done = Candidate.objects.filter(search=row, state="done")
    assert done.exists()
    for candidate in done:
        assert "timeline" not in candidate.metrics
        assert candidate.timeline == [[1, 2, 3]] * candidate.architecture["depth"]
        assert candidate.tflm_arena_bytes == 150 * candidate.architecture["width"]
    assert store.take().created  # everything written since the start is reported
