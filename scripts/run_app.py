"""Start the app for local use: a Celery worker (``UNAS_WORKER_CONCURRENCY`` pool processes,
default 2: tiny networks train faster side by side than one at a time), Celery beat (the
periodic reaper that re-queues work lost with a dead worker or a restarted broker) and the web
server (Daphne with the request gate, ``nasweb.server``) on 127.0.0.1:8000.

All stop together on Ctrl-C. Used by ``make run`` after migrations.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def app_env(environ: dict[str, str]) -> dict[str, str]:
    """The processes' environment: DEBUG off unless DJANGO_DEBUG asks for it (Django's debug
    404 page lists every URL pattern); static files are served either way."""
    env = dict(environ, DJANGO_SETTINGS_MODULE="nasweb.settings")
    env.setdefault("DJANGO_DEBUG", "0")
    return env


def main() -> int:
    host = os.environ.get("UNAS_HOST", "127.0.0.1")
    port = os.environ.get("UNAS_PORT", "8000")
    env = app_env(dict(os.environ))
    concurrency = os.environ.get("UNAS_WORKER_CONCURRENCY", "2")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nasweb", "worker", "--loglevel=INFO",
         f"--concurrency={concurrency}", "--pool=prefork"],
        cwd=ROOT, env=env,
    )
    run_dir = ROOT / ".run"
    run_dir.mkdir(exist_ok=True)
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nasweb", "beat", "--loglevel=INFO",
         "--schedule", str(run_dir / "celerybeat-schedule")],
        cwd=ROOT, env=env,
    )
    web = subprocess.Popen(
        [sys.executable, "-m", "nasweb.server", "-b", host, "-p", port,
         "nasweb.asgi:application"],
        cwd=ROOT, env=env,
    )
    print(f"\nμNAS Web is running at http://{host}:{port}/  (Ctrl-C stops it)\n", flush=True)
    try:
        return web.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in (web, beat, worker):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (web, beat, worker):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
