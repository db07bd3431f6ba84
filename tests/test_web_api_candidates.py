"""Candidates over the API: list, filters, ordering by any metric, ``?after=`` incremental
reads, detail, memory timeline, Pareto front, artifact downloads; others' are 404.

One small search is run in-process (Celery task bodies, fake evaluator) per module; reads are
checked against plain Python over the same rows.
"""

from __future__ import annotations

import pytest
from django.db import connections
from rest_framework.test import APIClient

from nasweb.searches.models import Artifact, Candidate, Search
from nasweb.searches.testing import recording_dispatcher, run_recorded

pytestmark = pytest.mark.django_db(transaction=True)


def timeline_evaluate(architecture, sparsity, context, *, candidate_id):
    from pathlib import Path

    from tests.fake_evaluator import evaluate

    metrics, files = evaluate(architecture, sparsity, context, candidate_id=candidate_id)
    header = Path(context.out_dir) / "model.h"
    header.write_text(f"// candidate {candidate_id}\n"
                      "alignas(16) const unsigned char m[] = {1};\n")
    timeline = [{"step": i, "op": f"op{i}", "bytes": 100 * (i + 1)} for i in range(3)]
    return dict(metrics, timeline=timeline, op_order=["a", "b", "c"]), dict(files, header=header)


@pytest.fixture
def searched(web_client, web_env, settings):
    settings.UNAS_EVALUATOR = "tests.test_web_api_candidates:timeline_evaluate"
    project = web_client.post("/api/projects/", {"name": "p"}, format="json").json()["id"]
    with recording_dispatcher() as recorder:
        created = web_client.post("/api/searches/", {
            "project": project, "name": "My search!", "sram_bytes": 6000,
            "flash_bytes": 24000, "rounds": 10, "population": 4, "sample": 2, "seed": 5},
            format="json")
        assert created.status_code == 201, created.content
        run_recorded(recorder)
    search = Search.objects.get(pk=created.json()["id"])
    assert search.state == "finished"
    return search


def test_list_filter_and_order(web_client, searched):
    base = f"/api/searches/{searched.pk}/candidates/"
    body = web_client.get(base).json()
    assert body["count"] == 10 and [c["index"] for c in body["results"]] == list(range(10))
    assert body["cursor"] == searched.last_event_id and body["more"] is False
    first = body["results"][0]
    assert first["state"] == "done" and "architecture" not in first
    assert first["val_accuracy"] == first["metrics"]["val_accuracy"]
    rows = list(Candidate.objects.filter(search=searched))
    # ordering by a column, descending, nulls last, index breaks ties
    ordered = web_client.get(base + "?ordering=-val_accuracy").json()["results"]
    expected = sorted(rows, key=lambda c: (-c.val_accuracy, c.index))
    assert [c["index"] for c in ordered] == [c.index for c in expected]
    two_keys = web_client.get(base + "?ordering=pareto,-tflm_arena_bytes").json()["results"]
    expected = sorted(rows, key=lambda c: (c.pareto, -c.tflm_arena_bytes, c.index))
    assert [c["index"] for c in two_keys] == [c.index for c in expected]
    # ordering by any metric key (not a column): n_ops lives only in the metrics JSON
    by_ops = web_client.get(base + "?ordering=n_ops").json()["results"]
    expected = sorted(rows, key=lambda c: (c.metrics["n_ops"], c.index))
    assert [c["index"] for c in by_ops] == [c.index for c in expected]
    pareto = web_client.get(base + "?pareto=true").json()
    assert {c["index"] for c in pareto["results"]} == {c.index for c in rows if c.pareto}
    feasible = web_client.get(base + "?feasible=1&state=done,failed").json()
    assert {c["index"] for c in feasible["results"]} == {c.index for c in rows if c.feasible}
    assert web_client.get(base + "?state=queued").json()["count"] == 0
    page = web_client.get(base + "?page_size=3&page=2").json()
    assert [c["index"] for c in page["results"]] == [3, 4, 5] and page["next"]


@pytest.mark.parametrize("query, field", [
    ("ordering=val_accuracy;drop", "ordering"),
    ("ordering=__class__", "ordering"),
    ("ordering=" + ",".join(["index"] * 6), "ordering"),
    ("state=finished", "state"),
    ("pareto=maybe", "pareto"),
    ("feasible=2", "feasible"),
    ("after=-3", "after"),
    ("after=abc", "after"),
    ("limit=0", "limit"),
    ("after=" + "9" * 30, "after"),
])
def test_bad_queries_are_field_errors(web_client, searched, query, field):
    response = web_client.get(f"/api/searches/{searched.pk}/candidates/?{query}")
    assert response.status_code == 400 and field in response.json(), response.content


def test_after_cursor_reads_only_changes(web_client, searched):
    base = f"/api/searches/{searched.pk}/candidates/"
    everything = web_client.get(base + "?after=0").json()
    assert everything["count"] == 10 and not everything["more"]
    cursor = everything["cursor"]
    assert cursor == searched.last_event_id
    assert web_client.get(base + f"?after={cursor}").json()["count"] == 0
    # a change: one candidate moves (as a commit by a worker would stamp it)
    Candidate.objects.filter(search=searched, index=4).update(seq=cursor + 100)
    Search.objects.filter(pk=searched.pk).update(last_event_id=cursor + 100)
    changed = web_client.get(base + f"?after={cursor}").json()
    assert [c["index"] for c in changed["results"]] == [4]
    assert changed["cursor"] == cursor + 100
    # paging by cursor never splits the rows that one event changed
    seqs = sorted(set(Candidate.objects.filter(search=searched).values_list("seq", flat=True)))
    seen, after, rounds = [], 0, 0
    while True:
        page = web_client.get(base + f"?after={after}&limit=2").json()
        seen += [c["index"] for c in page["results"]]
        after = page["cursor"]
        rounds += 1
        if not page["more"]:
            break
    assert sorted(seen) == list(range(10)) and len(seen) == 10
    assert rounds <= len(seqs)


def test_detail_timeline_pareto_and_downloads(web_client, searched):
    base = f"/api/searches/{searched.pk}/candidates/"
    detail = web_client.get(base + "3/").json()
    assert detail["architecture"]["blocks"] is not None
    assert detail["precheck"]["estimated_sram_bytes"] == detail["predicted_sram_bytes"]
    assert {a["kind"] for a in detail["artifacts"]} == {"tflite", "header"}
    assert "timeline" not in detail["metrics"]
    timeline = web_client.get(base + "3/timeline/").json()
    assert timeline["timeline"][2] == {"step": 2, "op": "op2", "bytes": 300}
    assert timeline["op_order"] == ["a", "b", "c"]
    pareto = web_client.get(f"/api/searches/{searched.pk}/pareto/").json()
    front = {c["index"] for c in pareto["front"]}
    assert front == set(Candidate.objects.filter(search=searched, pareto=True)
                        .values_list("index", flat=True)) and front
    assert pareto["history"][-1] == [10, pareto["hypervolume"]]
    tflite = web_client.get(base + "3/files/tflite/")
    assert tflite.status_code == 200 and tflite.content == b"fake"
    assert tflite["Content-Type"] == "application/octet-stream"
    assert tflite["Content-Disposition"] == (
        f'attachment; filename="my-search-s{searched.pk}-c3.tflite"')
    header = web_client.get(base + "3/files/header/", HTTP_ACCEPT="application/json")
    assert header.status_code == 200 and header["Content-Type"].startswith("text/x-c")
    assert header.content.startswith(b"// candidate 3\nalignas(16)")
    assert header["Content-Disposition"].endswith('-c3.h"')
    stored = Artifact.objects.get(candidate__search=searched, candidate__index=3, kind="header")
    assert stored.size == len(header.content)
    assert web_client.get(base + "3/files/keras/").status_code == 404
    assert web_client.get(base + "99/").status_code == 404
    assert web_client.get(base + "99/files/tflite/").status_code == 404


def test_the_usage_example_is_the_headers_own(web_client, searched):
    """The candidate page shows the example from the header the user downloads (it showed a
    hand-written one with Invoke commented out); a header without one, or no header, is 404."""
    from frontend.testing import sine_model
    from search_engine.export.header import extract_usage_example, render_c_header

    base = f"/api/searches/{searched.pk}/candidates/"
    missing = web_client.get(base + "3/usage-example/")  # the fixture's header has none
    assert missing.status_code == 404 and "no usage example" in missing.json()["detail"]
    text = render_c_header(sine_model(), name="sine", arena_bytes=3000, class_names=["x"])
    Artifact.objects.filter(candidate__search=searched, candidate__index=3,
                            kind="header").update(content=text.encode("ascii"))
    answer = web_client.get(base + "3/usage-example/").json()
    assert answer == {"index": 3, "example": extract_usage_example(text),
                      "header_name": "sine.h"}
    assert "sine_interpreter->Invoke()" in answer["example"]
    Artifact.objects.filter(candidate__search=searched, candidate__index=3,
                            kind="header").delete()
    assert web_client.get(base + "3/usage-example/").status_code == 404
    assert web_client.get(base + "99/usage-example/").status_code == 404


def test_other_users_candidates_are_not_found(searched, other_client):
    base = f"/api/searches/{searched.pk}/candidates/"
    for path in (base, base + "3/", base + "3/timeline/", base + "3/files/tflite/",
                 base + "3/files/header/", base + "3/usage-example/",
                 f"/api/searches/{searched.pk}/pareto/"):
        assert other_client.get(path).status_code == 404, path
    assert APIClient().get(base + "3/files/tflite/").status_code in (401, 403)


def test_no_connection_is_left_open(searched):
    # the heartbeat threads closed their connections
    assert all(c.connection is None or not c.in_atomic_block for c in connections.all())
