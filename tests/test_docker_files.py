"""docker/ cannot run on the development machines, so it is checked here: the compose files
parse and name the services, commands, variables, healthchecks and volumes they need; every
command matches the project's real entry points; every file the Dockerfile copies exists; the
variables are ones the settings read; and the URLs the compose file builds parse the way
``nasweb.env`` reads them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
APP_SERVICES = ("migrate", "web", "worker", "beat")
REQUIRED_ENV = ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "DJANGO_DEBUG")
TEST_ENV = {"DJANGO_SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "pg-secret",
            "REDIS_PASSWORD": "redis-secret", "UNAS_MAIN_HOST": "10.0.0.5"}
VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def load(name: str) -> dict:
    return yaml.safe_load((DOCKER / name).read_text())


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, as the compose spec defines them."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if op in (":-", "-"):
            return value if value else (arg or "")
        if op in (":?", "?"):
            if not value:
                raise KeyError(f"{name}: {arg}")
            return value
        return value or ""

    return VARIABLE.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def app_env(service: dict, env: dict[str, str] = TEST_ENV) -> dict[str, str]:
    return {k: interpolate(str(v), env) for k, v in service["environment"].items()}


def dockerfile_lines() -> list[str]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def entrypoint_roles() -> dict[str, str]:
    """role -> the command the entrypoint execs for it."""
    text = (DOCKER / "entrypoint.sh").read_text().replace("\\\n", " ")
    roles = {}
    for role, body in re.findall(r"^\s{2}(\w+)\)\n(.*?);;", text, flags=re.M | re.S):
        execs = re.findall(r"exec (.+)", body)
        if execs:
            roles[role] = " ".join(execs[-1].split())
    return roles


# -- compose.yml ----------------------------------------------------------------------------


def test_the_compose_file_has_the_services_and_a_scalable_worker():
    compose = load("compose.yml")
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert (DOCKER / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["command"] == [name]
    for name in ("postgres", "redis", "web", "worker"):
        assert services[name]["healthcheck"]["test"], name
    for name, service in services.items():
        for other, rule in service.get("depends_on", {}).items():
            assert other in services, (name, other)
            expected = ("service_completed_successfully" if other == "migrate"
                        else "service_healthy")
            assert rule["condition"] == expected, (name, other)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[other], other
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])
             if not v.startswith(("$", ".", "/"))}
    assert named <= set(compose["volumes"]), named


def test_app_services_are_configured_from_the_environment():
    services = load("compose.yml")["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        for key in REQUIRED_ENV + ("DJANGO_ALLOWED_HOSTS",):
            assert key in env, (name, key)
        assert env["DJANGO_DEBUG"] == "0"
        assert "?" in env["DJANGO_SECRET_KEY"]  # refuses to start without a secret
    with pytest.raises(KeyError, match="DJANGO_SECRET_KEY"):
        app_env(services["web"], {k: v for k, v in TEST_ENV.items()
                                  if k != "DJANGO_SECRET_KEY"})
    assert services["worker"]["environment"]["DATABASE_URL"] == \
        services["web"]["environment"]["DATABASE_URL"]


def test_the_urls_point_at_the_compose_services_and_parse_like_the_settings():
    from nasweb.env import database_from_url

    services = load("compose.yml")["services"]
    env = app_env(services["web"])
    database = database_from_url(env["DATABASE_URL"], ROOT)
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"], database["USER"],
            database["PASSWORD"]) == ("postgres", "5432", "unas", "unas", "pg-secret")
    postgres = {k: interpolate(str(v), TEST_ENV)
                for k, v in services["postgres"]["environment"].items()}
    assert (postgres["POSTGRES_DB"], postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"]) == ("unas", "unas", "pg-secret")
    import redis

    pool = redis.ConnectionPool.from_url(env["REDIS_URL"])
    assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"],
            pool.connection_kwargs["password"]) == ("redis", 6379, "redis-secret")
    redis_command = " ".join(services["redis"]["command"])
    assert interpolate(redis_command, TEST_ENV).count("--requirepass redis-secret") == 1
    assert env["DJANGO_ALLOWED_HOSTS"] == "localhost,127.0.0.1"


def test_every_variable_the_app_gets_is_read_by_the_project():
    read = set(re.findall(r'env_(?:str|bool|list)\("([A-Z_0-9]+)"',
                          (ROOT / "nasweb" / "settings.py").read_text()))
    read |= set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", (DOCKER / "entrypoint.sh").read_text()))
    read |= {"DJANGO_SETTINGS_MODULE"}
    for file in ("compose.yml", "compose.worker.yml"):
        for name, service in load(file)["services"].items():
            if service.get("image", "").startswith(("postgres:", "redis:")):
                continue
            unknown = set(service["environment"]) - read
            assert not unknown, (file, name, unknown)


# -- entry points ---------------------------------------------------------------------------


def test_roles_run_the_projects_real_entry_points():
    roles = entrypoint_roles()
    assert set(APP_SERVICES) <= set(roles), roles
    assert roles["web"].startswith("python -m nasweb.server -b 0.0.0.0 ")  # Daphne, gated
    assert roles["web"].endswith(" nasweb.asgi:application")
    assert roles["worker"].startswith("celery -A nasweb worker ")
    assert roles["beat"].startswith("celery -A nasweb beat ")
    assert roles["migrate"] == "python manage.py migrate --noinput"
    from nasweb import asgi
    from nasweb.celery import app

    assert callable(asgi.application)
    app.loader.import_default_modules()
    assert "nasweb.searches.tasks.evaluate_candidate" in app.tasks
    assert "nasweb.searches.tasks.start_search" in app.tasks
    from django.conf import settings

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled and scheduled <= set(app.tasks)  # what the beat service runs exists
    assert (ROOT / "manage.py").is_file()
    for command in ("daphne", "celery"):
        assert (Path(sys.executable).parent / command).exists(), command


def test_the_entrypoint_is_valid_sh_and_executable():
    script = DOCKER / "entrypoint.sh"
    assert script.read_text().startswith("#!/bin/sh\n")
    assert script.stat().st_mode & 0o111
    if shutil.which("sh"):
        subprocess.run(["sh", "-n", str(script)], check=True)
    assert "wait_for_services.py" in script.read_text()
    compile((DOCKER / "wait_for_services.py").read_text(), "wait_for_services.py", "exec")


def test_wait_for_services_gives_up_with_a_clear_message(tmp_path):
    env = dict(os.environ, DATABASE_URL="postgres://u:p@127.0.0.1:1/none",
               UNAS_WAIT_SECONDS="1", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(DOCKER / "wait_for_services.py")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "gave up waiting for the database (DATABASE_URL)" in done.stderr


# -- Dockerfile -----------------------------------------------------------------------------


def test_the_dockerfile_builds_a_non_root_image_with_collected_static_files():
    lines = dockerfile_lines()
    assert lines[0] == "FROM python:3.11-slim"
    assert 'requires-python = ">=3.11,<3.12"' in (ROOT / "pyproject.toml").read_text()
    runs = " ".join(line for line in lines if line.startswith("RUN "))
    assert "pip install -r requirements.txt" in runs
    assert "manage.py collectstatic --noinput" in runs
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert f"useradd --create-home --uid 10001 {users[-1]}" in runs
    assert lines.index(next(x for x in lines if x.startswith("USER "))) > lines.index(
        next(x for x in lines if "collectstatic" in x))
    assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in lines
    assert 'CMD ["web"]' in lines
    assert "EXPOSE 8000" in lines


def test_every_file_the_dockerfile_copies_exists_and_is_not_ignored():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for must in (".git", ".venv", "db.sqlite3*", "docker/.env"):
        assert must in ignored, must
    copied = []
    for line in dockerfile_lines():
        if line.startswith("COPY "):
            copied += line.split()[1:-1]
    assert {"requirements.txt", "manage.py", "nasweb", "frontend", "search_engine"} <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), source
        top = source.split("/")[0]
        assert top not in ignored, source
    packages = {p.split("/")[0] for p in copied}
    imported = {"nasweb", "frontend", "search_engine"}
    assert imported <= packages  # everything the settings' INSTALLED_APPS import


# -- compose.worker.yml ---------------------------------------------------------------------


def test_remote_workers_use_the_main_machines_database_and_redis():
    main = load("compose.yml")["services"]
    remote = load("compose.worker.yml")["services"]
    assert set(remote) == {"worker"}
    worker = remote["worker"]
    assert worker["command"] == ["worker"]
    assert worker["build"] == main["worker"]["build"]
    env = app_env(worker)
    for key in REQUIRED_ENV:
        assert key in env
    from nasweb.env import database_from_url

    database = database_from_url(env["DATABASE_URL"], ROOT)
    assert (database["HOST"], database["NAME"], database["PASSWORD"]) == (
        "10.0.0.5", "unas", "pg-secret")
    assert env["REDIS_URL"] == "redis://:redis-secret@10.0.0.5:6379/0"
    with pytest.raises(KeyError, match="UNAS_MAIN_HOST"):
        app_env(worker, {k: v for k, v in TEST_ENV.items() if k != "UNAS_MAIN_HOST"})
    # the main machine publishes PostgreSQL and Redis on localhost unless told otherwise
    for name in ("postgres", "redis"):
        (port,) = main[name]["ports"]
        assert interpolate(port, TEST_ENV).startswith("127.0.0.1:"), name
        assert interpolate(port, {**TEST_ENV, f"UNAS_{name.upper()}_BIND": "0.0.0.0"}
                           ).startswith("0.0.0.0:"), name
