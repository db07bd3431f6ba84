"""Accounts: sign-up, token and session log-in, CSRF on browser requests, anonymous refusal."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_signup_gives_a_working_token():
    client = APIClient()
    response = client.post("/api/auth/signup/", {"username": "grace", "password":
                                                 "a long enough pass 42"}, format="json")
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    assert response.json()["user"]["username"] == "grace"
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/projects/").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"username": "grace", "password": "short"}, "password"),
    ({"username": "grace", "password": "password"}, "password"),
    ({"username": "has space", "password": "a long enough pass 42"}, "username"),
    ({"username": "", "password": "a long enough pass 42"}, "username"),
    ({"password": "a long enough pass 42"}, "username"),
    ({"username": "grace"}, "password"),
    ({"username": "grace", "password": "a long enough pass 42", "email": "nope"}, "email"),
    ({"username": "gr\ud800ace", "password": "a long enough pass 42"}, "username"),
    ({"username": "grace", "password": "a long \udfff enough pass 42"}, "password"),
])
def test_signup_refuses_bad_input_by_field(body, field):
    raw = json.dumps(body)  # ASCII with \u escapes: lone surrogates travel as sent
    response = APIClient().post("/api/auth/signup/", raw, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()


def test_signup_refuses_a_taken_name(web_user):
    response = APIClient().post("/api/auth/signup/", {"username": "ADA", "password":
                                                      "a long enough pass 42"}, format="json")
    assert response.status_code == 400 and "taken" in response.json()["username"][0]


def test_signup_can_be_closed(settings):
    settings.UNAS_SIGNUP_OPEN = False
    response = APIClient().post("/api/auth/signup/", {"username": "x", "password": "y"})
    assert response.status_code == 403


def test_token_for_credentials(web_user):
    client = APIClient()
    good = client.post("/api/auth/token/", {"username": "ada", "password":
                                            "correct horse 1815"}, format="json")
    assert good.status_code == 200 and len(good.json()["token"]) == 40
    again = client.post("/api/auth/token/", {"username": "ada", "password":
                                             "correct horse 1815"}, format="json")
    assert again.json()["token"] == good.json()["token"]
    bad = client.post("/api/auth/token/", {"username": "ada", "password": "wrong"},
                      format="json")
    assert bad.status_code == 400 and "non_field_errors" in bad.json()
    surrogate = client.post("/api/auth/token/", '{"username": "\\udc00", "password": "x"}',
                            content_type="application/json")
    assert surrogate.status_code == 400 and "username" in surrogate.json()


def test_anonymous_requests_are_refused():
    client = APIClient()
    for path in ("/api/projects/", "/api/searches/", "/api/datasets/",
                 "/api/datasets/uploads/", "/api/searches/1/candidates/"):
        assert client.get(path).status_code in (401, 403), path
    assert client.get("/api/mcu-presets/").status_code == 200  # public
    assert client.get("/api/schema/").status_code == 200


def test_session_login_and_csrf(web_user):
    client = APIClient(enforce_csrf_checks=True)
    me = client.get("/api/auth/me/")
    assert me.json() == {"authenticated": False, "user": None}
    csrf = client.cookies["csrftoken"].value
    # log-in itself is CSRF-protected
    assert client.post("/api/auth/login/", {"username": "ada", "password":
                                            "correct horse 1815"}, format="json"
                       ).status_code == 403
    login = client.post("/api/auth/login/", {"username": "ada", "password":
                                             "correct horse 1815"}, format="json",
                        HTTP_X_CSRFTOKEN=csrf)
    assert login.status_code == 200 and login.json()["authenticated"]
    csrf = client.cookies["csrftoken"].value  # rotated at log-in
    assert client.get("/api/projects/").status_code == 200
    # a state-changing request without the token is refused ...
    refused = client.post("/api/projects/", {"name": "p"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    # ... and accepted with it
    accepted = client.post("/api/projects/", {"name": "p"}, format="json",
                           HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 201
    assert client.post("/api/auth/logout/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert client.get("/api/projects/").status_code == 403


def test_token_requests_need_no_csrf(web_client):
    web_client.enforce_csrf_checks = True
    assert web_client.post("/api/projects/", {"name": "p"}, format="json").status_code == 201
