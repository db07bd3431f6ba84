"""Wait until the database and Redis that the settings name answer (container start order).

Used by docker/entrypoint.sh before every role, so that a worker on another machine, or a
container started before PostgreSQL is ready, waits instead of crashing. Gives up after
``UNAS_WAIT_SECONDS`` (default 120) with a one-line message.
"""

from __future__ import annotations

import os
import sys
import time


def wait(what: str, check: object, deadline: float) -> None:
    last = ""
    while time.monotonic() < deadline:
        try:
            check()  # type: ignore[operator]
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = f"{type(exc).__name__}: {exc}".splitlines()[0]
            time.sleep(1)
    sys.exit(f"gave up waiting for {what}: {last}")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nasweb.settings")
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.db import connection

    deadline = time.monotonic() + float(os.environ.get("UNAS_WAIT_SECONDS", "120"))
    wait("the database (DATABASE_URL)", connection.ensure_connection, deadline)
    wait("Redis (REDIS_URL)",
         lambda: redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping(),
         deadline)


if __name__ == "__main__":
    main()
