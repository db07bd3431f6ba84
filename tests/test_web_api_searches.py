"""Searches: create with defaults, field-level refusals, life-cycle actions, edits, events,
and other users' searches are 404. (Nothing is evaluated here: no commit publishes tasks.)"""

from __future__ import annotations

import json

import pytest

from nasweb.searches.models import Search, SearchEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(web_client):
    return web_client.post("/api/projects/", {"name": "p", "dataset": "digits"},
                           format="json").json()["id"]


def create(client, project_id, **fields):
    body = {"project": project_id, "name": "s", "sram_bytes": 6000, "flash_bytes": 24000}
    body.update(fields)
    return client.post("/api/searches/", json.dumps(body), content_type="application/json")


def test_create_with_defaults(web_client, project):
    response = create(web_client, project)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "queued" and body["dataset"] == "digits"
    assert body["input_shape"] == [8, 8, 1] and body["num_classes"] == 10
    assert (body["population"], body["sample"], body["rounds"]) == (20, 5, 60)
    assert body["limits"] == {"sram_bytes": 6000, "flash_bytes": 24000, "macs": None}
    # soft bounds default to the hard limits; the pruning range to the profile's (Table 4)
    assert body["bounds"] == {"error": None, "sram_bytes": 6000.0, "flash_bytes": 24000.0,
                              "macs": None}
    assert (body["sparsity_min"], body["sparsity_max"]) == (0.05, 0.8)
    assert body["progress"]["evaluated"] == 0 and body["in_flight_target"] == 2
    assert body["inheritance"] is False
    search = Search.objects.get(pk=body["id"])
    assert search.engine_state["config"]["inheritance"] is False
    assert search.engine_state["config"]["limits"]["sram_bytes"] == 6000
    # without a target the engine still minimises error, over its whole range
    assert search.engine_state["config"]["bounds"]["error"] == 1.0
    assert body["last_event_id"] == SearchEvent.objects.get(search=search).id


def test_create_with_everything(web_client, project):
    response = create(web_client, project, macs=500_000, bound_error=0.2, bound_macs=1e5,
                      strategy="random", population=10, sample=10, rounds=30,
                      time_budget_seconds=600, profile="paper", sparsity_min=0.1,
                      sparsity_max=0.2, seed=7, in_flight_target=4, data_limit=300,
                      dataset="mnist", description="d", inheritance=True)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["inheritance"] is True
    assert Search.objects.get(pk=body["id"]).engine_state["config"]["inheritance"] is True
    assert body["dataset"] == "mnist" and body["input_shape"] == [28, 28, 1]
    assert body["bounds"]["macs"] == 1e5 and body["macs"] == 500_000
    assert Search.objects.get(pk=body["id"]).engine_state["config"]["bounds"]["error"] == 0.2
    assert body["strategy"] == "random" and body["data_limit"] == 300


@pytest.mark.parametrize("fields, field", [
    ({"sram_bytes": None}, "sram_bytes"),
    ({"sram_bytes": 0}, "sram_bytes"),
    ({"sram_bytes": -5}, "sram_bytes"),
    ({"sram_bytes": "64XB"}, "sram_bytes"),
    ({"sram_bytes": "64 K B"}, "sram_bytes"),
    ({"sram_bytes": True}, "sram_bytes"),
    ({"sram_bytes": [64]}, "sram_bytes"),
    ({"sram_bytes": "1.5B"}, "sram_bytes"),
    ({"sram_bytes": "2000 MiB" * 10}, "sram_bytes"),
    ({"sram_bytes": 100}, "sram_bytes"),
    ({"flash_bytes": "100 B"}, "flash_bytes"),
    ({"flash_bytes": 2**70}, "flash_bytes"),
    ({"macs": 0}, "macs"),
    ({"bound_error": 1.5}, "bound_error"),
    ({"bound_error": 0}, "bound_error"),
    ({"bound_sram_bytes": -1}, "bound_sram_bytes"),
    ({"bound_macs": "NaN"}, "bound_macs"),
    ({"bound_macs": "Infinity"}, "bound_macs"),
    ({"population": 3, "sample": 5}, "sample"),
    ({"rounds": 0}, "rounds"),
    ({"strategy": "annealing"}, "strategy"),
    ({"profile": "slowest"}, "profile"),
    ({"sparsity_min": 0.5, "sparsity_max": 0.2}, "sparsity_max"),
    ({"sparsity_max": 1.0}, "sparsity_max"),
    ({"seed": -1}, "seed"),
    ({"inheritance": "maybe"}, "inheritance"),
    ({"inheritance": [True]}, "inheritance"),
    ({"in_flight_target": 0}, "in_flight_target"),
    ({"in_flight_target": 1000}, "in_flight_target"),
    ({"time_budget_seconds": 0}, "time_budget_seconds"),
    ({"dataset": "imagenet"}, "dataset"),
    ({"dataset": "npz"}, "upload"),
    ({"upload": 99}, "upload"),
    ({"name": ""}, "name"),
    ({"name": "\ud83d"}, "name"),
    ({"project": None}, "project"),
    ({"project": 10**6}, "project"),
    ({"project": "x"}, "project"),
])
def test_bad_search_input_is_a_field_error(web_client, project, fields, field):
    body = {"project_id": project, **fields}
    if "project" in body:
        body["project_id"] = body.pop("project")
    response = create(web_client, **body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert Search.objects.count() == 0


@pytest.mark.parametrize("text, expected", [
    ("20KB", 20_000), ("20 KiB", 20 * 1024), ("20480", 20480), (20480, 20480),
    ("0.5 MiB", 512 * 1024), (" 6000 B ", 6000), (6000.0, 6000),
])
def test_limits_take_the_cli_size_syntax(web_client, project, text, expected):
    response = create(web_client, project, sram_bytes=text, flash_bytes=text)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sram_bytes"], body["flash_bytes"]) == (expected, expected)
    assert body["warnings"] == {}


@pytest.mark.parametrize("value, message", [
    (-5, "must be at least 1 (got '-5')"), ("-5", "must be at least 1 (got '-5')"),
    (0, "must be at least 1"), ("0 KiB", "must be at least 1"),
    ("20 XB", "unknown unit 'XB' in '20 XB' (use B, KB, KiB, MB, MiB"),
    ("twenty", "expected a positive number with an optional unit"),
    ("1.5", "'1.5' is not a whole number"),
    (2**41, "more than 1099511627776 (1 TiB)"),
])
def test_bad_sizes_have_exact_messages(web_client, project, value, message):
    response = create(web_client, project, sram_bytes=value)
    assert response.status_code == 400
    [error] = response.json()["sram_bytes"]
    assert message in error and "must be a number" not in error
    assert Search.objects.count() == 0


def test_limits_below_the_smallest_model_are_refused_with_the_reason(web_client, project):
    from search_engine.search.floor import smallest_fit

    floor = smallest_fit((8, 8, 1), 10, 0.8)  # digits, the quick profile's pruning range
    response = create(web_client, project, sram_bytes=floor.sram_bytes - 1,
                      flash_bytes=100)
    assert response.status_code == 400
    errors = response.json()
    assert errors["sram_bytes"][0].startswith("too small: no model can fit")
    assert f"needs about {floor.sram_bytes} bytes" in errors["sram_bytes"][0]
    assert "TFLite Micro" in errors["sram_bytes"][0]
    assert f"Give at least {floor.flash_bytes} bytes" in errors["flash_bytes"][0]
    assert Search.objects.count() == 0
    # exactly the floor is accepted
    ok = create(web_client, project, sram_bytes=floor.sram_bytes, flash_bytes=floor.flash_bytes)
    assert ok.status_code == 201, ok.content


def test_limits_no_mcu_has_are_accepted_with_a_warning(web_client, project):
    response = create(web_client, project, sram_bytes="10 MiB",
                      flash_bytes=200 * 1024**2)
    assert response.status_code == 201, response.content
    warnings = response.json()["warnings"]
    assert "sram_bytes" not in warnings  # 10 MiB: PSRAM modules have that
    assert "more than any microcontroller has" in warnings["flash_bytes"][0]
    big = create(web_client, project, sram_bytes=10 * 1024**3)
    assert big.status_code == 201
    assert "check the unit" in big.json()["warnings"]["sram_bytes"][0]


def test_a_data_set_that_is_not_installed_is_refused(web_client, project, settings, tmp_path):
    settings.DATASETS_DIR = tmp_path  # no mnist files here
    response = create(web_client, project, dataset="mnist")
    assert response.status_code == 400 and "not installed" in response.json()["dataset"][0]


def test_life_cycle_actions(web_client, project):
    pk = create(web_client, project).json()["id"]
    paused = web_client.post(f"/api/searches/{pk}/pause/")
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    again = web_client.post(f"/api/searches/{pk}/pause/")
    assert again.status_code == 409 and "paused" in again.json()["state"][0]
    resumed = web_client.post(f"/api/searches/{pk}/resume/")
    assert resumed.status_code == 200 and resumed.json()["state"] == "running"
    cancelled = web_client.post(f"/api/searches/{pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    for action in ("pause", "resume", "cancel"):
        assert web_client.post(f"/api/searches/{pk}/{action}/").status_code == 409
    assert web_client.get(f"/api/searches/{pk}/pause/").status_code == 405
    kinds = list(SearchEvent.objects.filter(search_id=pk).values_list("kind", flat=True))
    assert kinds[0] == "search.created" and kinds.count("search.state") >= 3


def test_edit_what_may_change(web_client, project):
    pk = create(web_client, project).json()["id"]
    edited = web_client.patch(f"/api/searches/{pk}/", {"name": "renamed",
                                                       "in_flight_target": 3}, format="json")
    assert edited.status_code == 200
    assert (edited.json()["name"], edited.json()["in_flight_target"]) == ("renamed", 3)
    fixed = web_client.patch(f"/api/searches/{pk}/", {"sram_bytes": 1, "rounds": 2},
                             format="json")
    assert fixed.status_code == 400
    assert set(fixed.json()) == {"sram_bytes", "rounds"}
    assert "cannot be changed" in fixed.json()["rounds"][0]
    assert web_client.patch(f"/api/searches/{pk}/", "[]", content_type="application/json"
                            ).status_code == 400
    assert web_client.put(f"/api/searches/{pk}/", {"name": "x"}, format="json"
                          ).status_code == 405


def test_list_filters_and_delete(web_client, project):
    first = create(web_client, project).json()["id"]
    second = create(web_client, project, name="t").json()["id"]
    web_client.post(f"/api/searches/{second}/cancel/")
    listed = web_client.get("/api/searches/").json()
    assert listed["count"] == 2
    assert [s["id"] for s in web_client.get("/api/searches/?state=cancelled").json()["results"]
            ] == [second]
    assert web_client.get(f"/api/searches/?project={project}").json()["count"] == 2
    assert web_client.get("/api/searches/?project=999999").json()["count"] == 0
    assert "state" in web_client.get("/api/searches/?state=bogus").json()
    assert "project" in web_client.get("/api/searches/?project=x").json()
    assert web_client.delete(f"/api/searches/{first}/").status_code == 204
    assert web_client.get(f"/api/searches/{first}/").status_code == 404


def test_events_endpoint_reads_after_a_cursor(web_client, project):
    pk = create(web_client, project).json()["id"]
    web_client.post(f"/api/searches/{pk}/pause/")
    web_client.post(f"/api/searches/{pk}/resume/")
    everything = web_client.get(f"/api/searches/{pk}/events/").json()
    ids = [e["id"] for e in everything["results"]]
    assert ids == sorted(ids) and len(ids) >= 3 and everything["cursor"] == ids[-1]
    assert [e["prev"] for e in everything["results"]] == [0, *ids[:-1]]
    later = web_client.get(f"/api/searches/{pk}/events/?after={ids[0]}").json()
    assert [e["id"] for e in later["results"]] == ids[1:]
    page = web_client.get(f"/api/searches/{pk}/events/?limit=1").json()
    assert page["more"] and page["cursor"] == ids[0]
    assert web_client.get(f"/api/searches/{pk}/events/?after=-1").status_code == 400
    assert web_client.get(f"/api/searches/{pk}/events/?limit=0").status_code == 400


def test_other_users_searches_are_not_found(web_client, other_client, project):
    pk = create(web_client, project).json()["id"]
    for method, path in [("get", f"/api/searches/{pk}/"), ("delete", f"/api/searches/{pk}/"),
                         ("patch", f"/api/searches/{pk}/"), ("post", f"/api/searches/{pk}/pause/"),
                         ("post", f"/api/searches/{pk}/cancel/"),
                         ("get", f"/api/searches/{pk}/pareto/"),
                         ("get", f"/api/searches/{pk}/events/"),
                         ("get", f"/api/searches/{pk}/candidates/")]:
        assert getattr(other_client, method)(path).status_code == 404, (method, path)
    assert other_client.get("/api/searches/").json()["count"] == 0
    # nor can a search be created in someone else's project
    response = create(other_client, project)
    assert response.status_code == 400 and "project" in response.json()
    assert Search.objects.get(pk=pk).state == "queued"
