"""The newcomer check, automated once with the real evaluator (TensorFlow training, int8 export,
TFLite Micro measurement) in a real Celery worker: sign up in the browser, start a tiny search
on digits with the form's defaults, watch it finish, open the best candidate and download its C
header, which must compile with ``g++ -std=c++17 -c`` and carry the measured arena.

Kept tiny (2 candidates, the quick profile); the fake evaluator covers the rest of the pages
(``test_browser_dashboard.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from frontend.testing import AppStack, ConsoleWatch, browser, chromium_path  # noqa: E402
from frontend.testing import redis_answers as _redis_answers  # noqa: E402

pytestmark = pytest.mark.slow
if chromium_path() is None:
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (apt-get install chromium)", pytrace=False)
    pytest.skip("chromium is not installed (make test installs it: apt-get install chromium)",
                allow_module_level=True)

REAL_EVALUATOR = "search_engine.search.evaluate:evaluate_candidate"


def test_a_newcomer_runs_a_search_on_digits_and_gets_a_header_that_compiles(tmp_path):
    from django.conf import settings

    if not _redis_answers(settings.REDIS_URL):
        pytest.skip(f"no Redis at {settings.REDIS_URL} (make test starts one)")
    compiler = shutil.which("g++")
    with AppStack(tmp_path / "app", evaluator=REAL_EVALUATOR, redis_url=settings.REDIS_URL,
                  concurrency=1) as app, browser() as chromium:
        context = chromium.new_context(base_url=app.url, accept_downloads=True)
        context.set_default_timeout(30_000)
        page = context.new_page()
        watch = ConsoleWatch(page)
        try:
            page.goto("/")
            page.get_by_role("link", name="Create an account").click()
            page.get_by_label("Username").fill("newcomer")
            page.get_by_label("Password").fill("first search 2026")
            page.get_by_role("button", name="Create account").click()
            page.wait_for_url("**/projects/")
            page.get_by_label("Name", exact=True).fill("My first model")
            page.get_by_role("button", name="Create project").click()
            page.wait_for_url(re.compile(r"/projects/\d+/$"))
            page.get_by_role("link", name="New search").click()
            page.wait_for_url("**/new-search/")
            # the defaults, with a smaller budget so that the check stays short
            page.locator("#rounds").fill("2")
            page.get_by_text("Advanced settings").click()
            page.locator("#population").fill("2")
            page.locator("#sample").fill("1")
            page.locator("#in_flight_target").fill("1")
            page.get_by_role("button", name="Start search").click()
            page.wait_for_url(re.compile(r"/searches/\d+/$"))
            page.wait_for_function(
                "['finished', 'failed', 'cancelled'].includes("
                "document.getElementById('dashboard').dataset.state)", timeout=420_000)
            expect(page.locator("#state")).to_have_text("Finished")
            expect(page.locator("#progress-label")).to_have_text("2 of 2 candidates trained")
            page.wait_for_function(
                "Number(document.getElementById('pareto-plot').dataset.points) >= 1")
            page.get_by_role("button", name="Error").click()  # best first
            page.locator("#candidates tbody tr").first.get_by_role("link").click()
            page.wait_for_selector("#candidate-page[data-ready='1']")
            measured = page.locator("#sram .stat").first.get_attribute("title")
            arena = int(measured.split()[0].replace(",", ""))
            expect(page.locator("#accuracy")).to_contain_text("Test, int8 on TFLM")
            with page.expect_download() as info:
                page.get_by_role("link", name="Download C header (.h)").click()
            header = Path(info.value.path()).read_text()
        except Exception as exc:
            raise AssertionError(f"{exc}\n{app.logs()}") from exc
        finally:
            context.close()
        assert not watch.errors, watch.errors
    assert "alignas(16) const unsigned char model[] = {" in header
    assert f"constexpr int model_arena_size = {arena};" in header
    assert "constexpr int model_num_classes = 10;" in header
    if compiler is None:
        pytest.skip("g++ is not installed: the header was checked but not compiled")
    (tmp_path / "model.h").write_text(header)
    (tmp_path / "sketch.cc").write_text(
        '#include "model.h"\n'
        "int check() { return model_arena_size + model_len + model_input_zero_point"
        " + static_cast<int>(model[4]); }\n")
    subprocess.run([compiler, "-std=c++17", "-Wall", "-Werror", "-c", "sketch.cc", "-o",
                    "sketch.o"], cwd=tmp_path, check=True, timeout=120)
