"""Shared test fixtures.

Web tests (``test_web_*``): the test database is a file when the engine is SQLite, so that the
Celery worker processes some tests start can see it (PostgreSQL test databases are visible
anyway); ``web_env`` isolates the channel layer prefix, the Celery queue and the file folders
of one test from other test runs sharing the same Redis.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # "tests.fake_evaluator" importable in-process too
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix,
                                 tmp_path_factory):
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(path)


@pytest.fixture
def web_env(settings, tmp_path):
    """Per-test channel prefix, Celery queue, work and media folders."""
    from nasweb.celery import app

    token = uuid.uuid4().hex[:10]
    prefix = f"unastest{token}"
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": settings.REDIS_URL, "socket_timeout": 30}],
                   "prefix": prefix}}}
    queue = f"unas-test-{token}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    settings.UNAS_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UNAS_EVALUATOR = "tests.fake_evaluator:evaluate"
    yield SimpleNamespace(prefix=prefix, queue=queue, tmp=tmp_path)
    app.conf.task_default_queue = previous_queue
    try:  # leave no test queue behind in the shared Redis
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).delete(queue)
    except Exception:  # noqa: BLE001 - Redis may be down in a test that stopped it
        pass


@pytest.fixture
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def web_user(db, fast_passwords):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("ada", password="correct horse 1815")


@pytest.fixture
def web_client(web_user):
    """An API client authenticated with ``web_user``'s token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=web_user).key}")
    client.user = web_user
    return client


@pytest.fixture
def other_client(db, fast_passwords):
    """Another user's API client (their objects must be invisible to ``web_client``)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = get_user_model().objects.create_user("eve", password="correct horse 1816")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user
    return client
