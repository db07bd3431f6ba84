"""The whole app in subprocesses, for browser tests and screenshots: a migrated SQLite file, Daphne
serving ``nasweb.asgi:application`` and a Celery worker, all on a private queue and channel
prefix of the shared Redis; plus a headless Chromium (Debian's ``chromium``) driven by Playwright.

    with AppStack(tmp_path, evaluator="tests.fake_evaluator:evaluate") as app:
        with browser() as chromium:
            page = chromium.new_page(base_url=app.url)

Nothing here is imported by the app itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FAKE_EVALUATOR = "tests.fake_evaluator:evaluate"
#: the fast fake evaluator plus real files: TFLM's shipped sine model and its C header
HEADER_EVALUATOR = "frontend.testing:fake_evaluator_with_header"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def sine_model() -> bytes:
    """The small float model that the ``tflite-micro`` package ships (a real .tflite)."""
    import tflite_micro

    return (Path(tflite_micro.__file__).parent / "python" / "tflite_micro"
            / "sine_float.tflite").read_bytes()


def fake_evaluator_with_header(architecture: dict, sparsity: float, context: Any, *,
                               candidate_id: int) -> tuple[dict, dict]:
    """``tests.fake_evaluator`` (analytic metrics, no TensorFlow), and as files the shipped sine
    model with a real C header whose arena size is the candidate's (fake) measured arena, so
    that pages can show and download a header tied to the candidate's figures. When
    ``$UNAS_FAKE_HOLD_DIR/fail-seed-<seed>`` exists, every candidate of that search fails
    (``tests.fake_evaluator.fail``), as with a data set that cannot be decoded."""
    from search_engine.export.header import render_c_header
    from tests.fake_evaluator import evaluate, fail

    hold_while_training(context)
    folder = os.environ.get("UNAS_FAKE_HOLD_DIR")
    if folder and (Path(folder) / f"fail-seed-{context.seed}").exists():
        fail(architecture, sparsity, context, candidate_id=candidate_id)  # raises
    metrics, files = evaluate(architecture, sparsity, context, candidate_id=candidate_id)
    if "tflite" not in files:  # stopped early at a rung: nothing exported
        return metrics, files
    out = Path(files["tflite"]).parent
    data = sine_model()
    (out / "model.tflite").write_bytes(data)
    header = render_c_header(data, name="model", arena_bytes=int(metrics["tflm_arena_bytes"]),
                             class_names=["sine"])
    (out / "model.h").write_text(header, encoding="ascii")
    return metrics, {"tflite": str(out / "model.tflite"), "header": str(out / "model.h")}


#: the progress event a held evaluation reports (as the trainer does at an epoch's end)
HELD_PROGRESS = {"stage": "train", "epoch": 2, "epochs": 8, "seconds": 5.0,
                 "samples_per_second": 1234.0}


def hold_while_training(context: Any, timeout: float = 20.0) -> bool:
    """For tests of live progress: when ``$UNAS_FAKE_HOLD_DIR/hold-seed-<seed>`` exists (the
    search's seed), report ``HELD_PROGRESS`` and wait, as a candidate in the middle of its
    training, until ``release-seed-<seed>`` appears there, the lease is lost or ``timeout``
    seconds have passed. ``True`` when it held."""
    folder = os.environ.get("UNAS_FAKE_HOLD_DIR")
    if not folder or not (Path(folder) / f"hold-seed-{context.seed}").exists():
        return False
    on_progress = context.options.get("on_progress")
    if on_progress is not None:
        on_progress(dict(HELD_PROGRESS))
    release = Path(folder) / f"release-seed-{context.seed}"
    should_stop = context.options.get("should_stop") or (lambda: False)
    deadline = time.monotonic() + timeout
    while not release.exists() and not should_stop() and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_path() -> str | None:
    """Debian's Chromium (``apt-get install chromium``); Playwright never downloads one here."""
    return os.environ.get("UNAS_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class AppStack:
    """Daphne + one Celery worker + a fresh SQLite database under ``folder``."""

    def __init__(self, folder: Path, *, evaluator: str = FAKE_EVALUATOR,
                 redis_url: str | None = None, concurrency: int = 1,
                 extra_env: dict[str, str] | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        token = uuid.uuid4().hex[:10]
        db = self.folder / "app.sqlite3"
        self.redis_url = redis_url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.env = dict(
            os.environ, DJANGO_SETTINGS_MODULE="nasweb.settings", DJANGO_DEBUG="0",
            # nasweb.env reads sqlite:///<path> relative to the project folder
            DATABASE_URL="sqlite:///" + os.path.relpath(db, ROOT), REDIS_URL=self.redis_url,
            UNAS_CELERY_QUEUE=f"unas-browser-{token}", UNAS_CHANNEL_PREFIX=f"unasbrowser{token}",
            UNAS_WORK_DIR=str(self.folder / "work"), MEDIA_ROOT=str(self.folder / "media"),
            UNAS_EVALUATOR=evaluator, UNAS_HEARTBEAT_SECONDS="2", PYTHONPATH=str(ROOT),
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        self.env.pop("CELERY_BROKER_URL", None)
        self.env.update(extra_env or {})
        self.concurrency = concurrency
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self._logs: list[Any] = []

    # -- processes ---------------------------------------------------------------------------

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.folder / log_name, "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def migrate(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                       cwd=ROOT, env=self.env, check=True, timeout=180)

    def start_web(self) -> None:
        self.web = self._spawn([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p",
                                str(self.port), "nasweb.asgi:application"], "web.log")
        self.wait_for_web()

    def wait_for_web(self, timeout: float = 60) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web is not None and self.web.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log('web.log')}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/mcu-presets/", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer within {timeout} s:\n{self.log('web.log')}")

    def start_worker(self) -> None:
        name = f"browser{os.getpid()}-{time.monotonic_ns()}@%h"
        self.worker = self._spawn(
            [sys.executable, "-m", "celery", "-A", "nasweb", "worker", "--pool=prefork",
             f"--concurrency={self.concurrency}", "-Q", self.env["UNAS_CELERY_QUEUE"], "-n", name,
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            "worker.log")

    def restart_web(self) -> None:
        """Stop Daphne (every websocket drops) and start it again on the same port."""
        self._stop(self.web)
        self.start_web()

    def stop_web(self) -> None:
        self._stop(self.web)

    @staticmethod
    def _stop(process: subprocess.Popen | None) -> None:
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def log(self, name: str) -> str:
        path = self.folder / name
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name)}" for name in ("web.log", "worker.log"))

    def __enter__(self) -> AppStack:
        if not redis_answers(self.redis_url):
            raise RuntimeError(f"no Redis answers at {self.redis_url} (make test starts one)")
        self.migrate()
        self.start_worker()
        self.start_web()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop(self.web)
        self._stop(self.worker)
        for log in self._logs:
            log.close()


@contextmanager
def browser(executable: str | None = None) -> Iterator[Any]:
    """A headless Chromium (the system one) for Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    path = executable or chromium_path()
    if path is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class ConsoleWatch:
    """Collects a page's console errors and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            text = message.text
            if not any(pattern in text for pattern in self.allowed):
                self.errors.append(f"console: {text} ({message.location.get('url', '')})")

    @contextmanager
    def allowing(self, *patterns: str) -> Iterator[None]:
        """Tolerate console errors containing ``patterns`` meanwhile (a deliberate outage)."""
        self.allowed.extend(patterns)
        try:
            yield
        finally:
            for pattern in patterns:
                self.allowed.remove(pattern)
