"""Projects: CRUD, data set validation, names, and other users' projects are 404."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def test_project_crud(web_client):
    created = web_client.post("/api/projects/", {"name": "  kws  ", "description": "d",
                                                 "dataset": "digits"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "kws" and body["dataset"] == "digits" and body["upload"] is None
    pk = body["id"]
    assert web_client.get(f"/api/projects/{pk}/").json()["name"] == "kws"
    assert [p["id"] for p in web_client.get("/api/projects/").json()["results"]] == [pk]
    patched = web_client.patch(f"/api/projects/{pk}/", {"dataset": "mnist"}, format="json")
    assert patched.status_code == 200 and patched.json()["dataset"] == "mnist"
    assert patched.json()["name"] == "kws"
    put = web_client.put(f"/api/projects/{pk}/", {"name": "renamed"}, format="json")
    assert put.status_code == 200 and put.json()["name"] == "renamed"
    assert web_client.delete(f"/api/projects/{pk}/").status_code == 204
    assert web_client.get(f"/api/projects/{pk}/").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": "a\ud800b"}, "name"),
    ({"name": "p", "dataset": "imagenet"}, "dataset"),
    ({"name": "p", "dataset": "npz"}, "upload"),
    ({"name": "p", "upload": 12345}, "upload"),
    ({"name": "p", "upload": "x"}, "upload"),
    ({"name": "p", "upload": [1]}, "upload"),
    ({"name": "p", "description": 5 * "x" * 1001}, "description"),
])
def test_bad_project_input_is_a_field_error(web_client, body, field):
    response = web_client.post("/api/projects/", json.dumps(body),
                               content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_malformed_bodies_are_400(web_client):
    assert web_client.post("/api/projects/", "[1, 2]", content_type="application/json"
                           ).status_code == 400
    assert web_client.post("/api/projects/", "{not json", content_type="application/json"
                           ).status_code == 400
    assert web_client.post("/api/projects/", "name=x", content_type="text/plain"
                           ).status_code == 415


def test_names_are_unique_per_user(web_client, other_client):
    assert web_client.post("/api/projects/", {"name": "p"}, format="json").status_code == 201
    again = web_client.post("/api/projects/", {"name": "p"}, format="json")
    assert again.status_code == 400 and "already" in again.json()["name"][0]
    assert other_client.post("/api/projects/", {"name": "p"}, format="json").status_code == 201


def test_other_users_projects_are_not_found(web_client, other_client):
    pk = other_client.post("/api/projects/", {"name": "secret"}, format="json").json()["id"]
    assert web_client.get(f"/api/projects/{pk}/").status_code == 404
    assert web_client.patch(f"/api/projects/{pk}/", {"name": "x"}, format="json"
                            ).status_code == 404
    assert web_client.delete(f"/api/projects/{pk}/").status_code == 404
    assert web_client.get("/api/projects/").json()["count"] == 0
    assert other_client.get(f"/api/projects/{pk}/").json()["name"] == "secret"
    # non-numeric and huge ids are 404 too
    assert web_client.get("/api/projects/abc/").status_code == 404
    assert web_client.get(f"/api/projects/{10**30}/").status_code == 404
    assert web_client.get(f"/api/projects/{2**63}/").status_code == 404


def test_blank_names_have_one_message_everywhere(web_client):
    """Projects, searches and uploads share one name field: trimmed, blank refused alike."""
    blank = {"name": "   ", "dataset": "digits"}
    project = web_client.post("/api/projects/", blank, format="json")
    assert project.json()["name"] == ["may not be blank"]
    pk = web_client.post("/api/projects/", {"name": "p"}, format="json").json()["id"]
    search = web_client.post("/api/searches/", {"project": pk, "name": " ", "sram_bytes": 20000,
                                                "flash_bytes": 64000}, format="json")
    assert search.status_code == 400 and search.json()["name"] == ["may not be blank"]
    upload = web_client.post("/api/datasets/uploads/", {"name": "\t"}, format="multipart")
    assert upload.json()["name"] == ["may not be blank"]
