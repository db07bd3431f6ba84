"""The bare site answers and the settings helpers parse what users configure."""

from pathlib import Path

import pytest

from nasweb.env import database_from_url


def test_home_page_answers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "μNAS Web" in response.content.decode()


def test_database_urls():
    assert database_from_url("sqlite:///db.sqlite3", Path("/app"))["NAME"] == "/app/db.sqlite3"
    assert database_from_url("sqlite:////var/lib/unas.db", Path("/app"))["NAME"] == \
        "/var/lib/unas.db"
    pg = database_from_url("postgres://u:p%40ss@db:5433/unas", Path("/app"))
    assert pg["ENGINE"].endswith("postgresql")
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == (
        "u", "p@ss", "db", "5433", "unas")
    with pytest.raises(ValueError, match="unsupported scheme"):
        database_from_url("mysql://x/y", Path("/app"))


def test_make_run_has_debug_off_unless_asked():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "run_app", Path(__file__).resolve().parents[1] / "scripts/run_app.py")
    run_app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_app)
    assert run_app.app_env({})["DJANGO_DEBUG"] == "0"
    assert run_app.app_env({"DJANGO_DEBUG": "1"})["DJANGO_DEBUG"] == "1"
