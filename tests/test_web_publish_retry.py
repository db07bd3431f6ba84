"""A publish that fails while the broker is down is retried with backoff, not after the 300 s
queued lease (issue 12: a 20 s Redis outage cost 303 s)."""

from __future__ import annotations

import threading
import time

from nasweb.searches import dispatch


class FlakyBroker:
    """Refuses every publish until ``up`` is set, then records it."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.published: list[tuple[int, str, float]] = []
        self.refused = 0

    def evaluate(self, candidate_pk: int, task_id: str) -> None:
        if not self.up.is_set():
            self.refused += 1
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")
        self.published.append((candidate_pk, task_id, time.monotonic()))

    def start(self, search_id: int, task_id: str) -> None:  # pragma: no cover - unused
        self.evaluate(search_id, task_id)

    def revoke(self, task_ids: list[str]) -> None:  # pragma: no cover - unused
        pass


def test_a_failed_publish_goes_out_soon_after_the_broker_returns():
    broker = FlakyBroker()
    previous = dispatch.set_dispatcher(broker)
    try:
        dispatch._guarded("publish evaluation", dispatch._dispatcher.evaluate, 7, "t7")
        time.sleep(3)  # the outage
        assert broker.published == [] and broker.refused >= 3
        back = time.monotonic()
        broker.up.set()
        deadline = back + 10
        while not broker.published and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        dispatch.set_dispatcher(previous)
    assert [(pk, task) for pk, task, _ in broker.published] == [(7, "t7")]
    assert broker.published[0][2] - back < 5.5  # within one backoff step, not the lease
