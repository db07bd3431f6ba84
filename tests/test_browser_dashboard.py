"""The dashboard in a real browser: headless Debian Chromium driven by Playwright, against the
real app (Daphne + a Celery worker + Redis, ``frontend.testing.AppStack``) with the fast fake
evaluator (analytic metrics, a real .tflite and C header from TFLM's shipped sine model).

Every test fails on any console error or uncaught exception in the page. Waits are explicit
(``expect``, ``wait_for_function``), never sleeps.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from frontend.testing import (  # noqa: E402
    HEADER_EVALUATOR,
    HELD_PROGRESS,
    AppStack,
    ConsoleWatch,
    browser,
    chromium_path,
    redis_answers,
)

pytestmark = pytest.mark.slow
if chromium_path() is None:
    if os.environ.get("CI"):  # make test installs it there; its absence is a failure
        pytest.fail("chromium is not installed (apt-get install chromium)", pytrace=False)
    pytest.skip("chromium is not installed (make test installs it: apt-get install chromium)",
                allow_module_level=True)

PASSWORD = "analytical engine 1843"
FAKE_SECONDS = "0.6"  # per evaluation: candidates arrive over a few seconds, not all at once


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from django.conf import settings

    if not redis_answers(settings.REDIS_URL):
        pytest.skip(f"no Redis at {settings.REDIS_URL} (make test starts one)")
    folder = tmp_path_factory.mktemp("browser")
    hold = folder / "hold"  # frontend.testing.hold_while_training: held candidates
    hold.mkdir()
    with AppStack(folder, evaluator=HEADER_EVALUATOR, redis_url=settings.REDIS_URL,
                  concurrency=2, extra_env={"UNAS_FAKE_SECONDS": FAKE_SECONDS,
                                            "UNAS_FAKE_HOLD_DIR": str(hold)}) as stack:
        yield stack


@pytest.fixture(scope="module")
def chromium():
    with browser() as instance:
        yield instance


@pytest.fixture
def page(app, chromium):
    context = chromium.new_context(base_url=app.url, viewport={"width": 1280, "height": 900},
                                   accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch = ConsoleWatch(page)
    page.console_watch = watch
    yield page
    context.close()
    assert not watch.errors, "\n".join(watch.errors) + "\n" + app.logs()


# -- helpers --------------------------------------------------------------------------------


def sign_up(page, name: str | None = None) -> str:
    name = name or f"u{uuid.uuid4().hex[:8]}"
    page.goto("/signup/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/projects/")
    return name


def api(page, method: str, path: str, body: dict | None = None) -> dict:
    """The API with the page's session (the same cookies, CSRF header as the pages send)."""
    token = next((c["value"] for c in page.context.cookies() if c["name"] == "csrftoken"), "")
    response = page.request.fetch(path, method=method, data=body,
                                  headers={"X-CSRFToken": token})
    assert response.ok, (response.status, response.text())
    return response.json() if response.status != 204 else {}


def new_project(page, name: str = "Digits") -> int:
    return api(page, "POST", "/api/projects/", {"name": name, "dataset": "digits"})["id"]


def new_search(page, project: int, **fields) -> int:
    body = {"project": project, "name": "s", "sram_bytes": 64 * 1024, "flash_bytes": 512 * 1024,
            "rounds": 8, "population": 4, "sample": 2, "seed": 3, **fields}
    return api(page, "POST", "/api/searches/", body)["id"]


def wait_finished(page, timeout: float = 120_000) -> None:
    page.wait_for_function("document.getElementById('dashboard').dataset.state === 'finished'",
                           timeout=timeout)


def plot_points(page) -> int:
    return int(page.get_attribute("#pareto-plot", "data-points") or 0)


# -- tests ----------------------------------------------------------------------------------


def test_sign_up_create_a_search_from_a_preset_watch_it_live_and_take_the_header(page, app):
    sign_up(page)
    expect(page.get_by_text("No projects yet")).to_be_visible()
    page.get_by_label("Name").fill("Digits on a Nucleo")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    expect(page.get_by_text("No searches yet")).to_be_visible()
    page.get_by_role("link", name="New search").click()

    # defaults a newcomer gets: digits, quick profile, limits that admit models
    expect(page.locator("#dataset")).to_have_value("digits")
    expect(page.locator("#profile")).to_have_value("quick")
    expect(page.locator("#sram_bytes")).to_have_value("32")
    page.get_by_label("Board or MCU").select_option("stm32f446re")
    expect(page.locator("#sram_bytes")).to_have_value("128")
    expect(page.locator("#sram_unit")).to_have_value("KiB")
    expect(page.locator("#flash_bytes")).to_have_value("512")
    page.locator("#rounds").fill("16")
    page.get_by_role("button", name="Start search").click()
    page.wait_for_url(re.compile(r"/searches/\d+/$"))
    search_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.evaluate("window.__notReloaded = true")
    created = api(page, "GET", f"/api/searches/{search_id}/")
    assert (created["sram_bytes"], created["flash_bytes"]) == (128 * 1024, 512 * 1024)
    assert (created["dataset"], created["profile"], created["rounds"]) == ("digits", "quick", 16)

    # live: the first candidates arrive on the plot and in the table without a reload
    expect(page.locator("#conn")).to_have_text("Live")
    page.wait_for_function("Number(document.getElementById('pareto-plot').dataset.points) >= 2")
    # the user zooms and sorts by Flash; later candidates must not undo either
    page.evaluate("Plotly.relayout('pareto-plot', {'xaxis.range': [1, 300], "
                  "'yaxis.range': [0, 80]})")
    page.locator("th[data-key=flash_bytes] button").click()
    expect(page.locator("th[data-key=flash_bytes]")).to_have_attribute("aria-sort", "ascending")
    seen = plot_points(page)
    wait_finished(page)
    expect(page.locator("#state")).to_have_text("Finished")
    expect(page.locator("#progress-label")).to_have_text("16 of 16 candidates trained")
    page.wait_for_function("Number(document.getElementById('pareto-plot').dataset.points) >= 16")
    assert plot_points(page) > seen, "no candidate arrived after the zoom"
    assert page.evaluate("window.__notReloaded") is True
    x_range = page.evaluate("document.getElementById('pareto-plot').layout.xaxis.range")
    assert x_range == [1, 300]
    expect(page.locator("th[data-key=flash_bytes]")).to_have_attribute("aria-sort", "ascending")
    rows = api(page, "GET", f"/api/searches/{search_id}/candidates/?page_size=100")["results"]
    by_flash = sorted(rows, key=lambda c: (c["flash_bytes"] is None, c["flash_bytes"] or 0,
                                           c["index"]))
    shown = [int(i) for i in page.locator("#candidates tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.index)")]
    assert shown == [c["index"] for c in by_flash]
    expect(page.locator("#hv-plot .scatterlayer .trace")).to_have_count(1)
    # the other views of the same candidates: Flash, MACs (log axis) and 3-D
    axes = page.get_by_role("radiogroup", name="Horizontal axis")
    for label, axis, kind, axis_type in (("Flash", "flash", "scatter", "linear"),
                                         ("MACs", "macs", "scatter", "log"),
                                         ("3-D", "3d", "scatter3d", None),
                                         ("Peak SRAM", "sram", "scatter", "linear")):
        axes.get_by_text(label, exact=True).click()
        expect(page.locator("#pareto-plot")).to_have_attribute("data-axis", axis)
        assert page.evaluate("(kind) => document.getElementById('pareto-plot').data"
                             ".every(t => t.type === kind || t.mode === 'lines')", kind)
        if axis_type:
            assert page.evaluate("document.getElementById('pareto-plot')._fullLayout"
                                 ".xaxis.type") == axis_type

    # nothing covers a label: the limit's label is inside the plot, clear of the mode bar,
    # and Plotly's zoom tips (which covered the hypervolume card) are off
    page.evaluate("Plotly.relayout('pareto-plot', {'xaxis.autorange': true, "
                  "'yaxis.autorange': true})")
    expect(page.locator("#pareto-plot .annotation-text").first).to_contain_text("SRAM limit")
    covered = page.evaluate("""() => {
      const plot = document.getElementById('pareto-plot');
      const box = (e) => e.getBoundingClientRect();
      const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom
        && b.top < a.bottom;
      const bar = box(plot.querySelector('.modebar'));
      const legend = plot.querySelector('.legend');
      return [...plot.querySelectorAll('.annotation')]
        .filter((a) => hit(bar, box(a)) || (legend && hit(box(legend), box(a))))
        .map((a) => a.textContent);
    }""")
    assert covered == []
    assert page.evaluate("document.getElementById('pareto-plot')._context.showTips") is False

    # open the smallest-Flash candidate from the table
    first = shown[0]
    page.locator("#candidates tbody tr").first.get_by_role("link").click()
    page.wait_for_url(f"**/searches/{search_id}/candidates/{first}/")
    page.wait_for_selector("#candidate-page[data-ready='1']")
    candidate = api(page, "GET", f"/api/searches/{search_id}/candidates/{first}/")
    # the memory timeline: stacked bars per step, peak marked, equal to the evaluator's figure
    optimal = page.locator("#timeline-optimal")
    expect(optimal).to_have_attribute("data-peak", str(candidate["peak_memory_bytes"]))
    steps = int(optimal.get_attribute("data-steps"))
    assert steps == len(page.locator("#ops tbody tr").all()) > 2
    expect(optimal.locator("text.annotation-text")).to_contain_text("peak")
    assert page.evaluate("document.getElementById('timeline-optimal').layout.barmode") == "stack"
    assert int(page.get_attribute("#timeline-default", "data-peak")) >= \
        candidate["peak_memory_bytes"]
    expect(page.locator("#ops tbody tr.peak")).to_have_count(1)
    # the timelines' step labels (op names, turned) do not run into each other: turned labels
    # are parallel, so they clear each other when their spacing across the slant is at least
    # the font's height
    for plot_id in ("timeline-optimal", "timeline-default"):
        spacing, font, angle, shown = page.evaluate("""(id) => {
          const xaxis = document.getElementById(id)._fullLayout.xaxis;
          const shown = document.querySelectorAll(`#${id} .xtick text`).length;
          return [xaxis._length / Math.max(1, shown), xaxis.tickfont.size, xaxis.tickangle,
                  shown];
        }""", plot_id)
        assert shown >= 2, plot_id
        clear = spacing * math.sin(math.radians(abs(angle))) if angle else spacing
        assert clear >= font, (plot_id, spacing, font, angle)
    expect(page.locator("#diagram svg")).to_be_visible()
    expect(page.locator("#sram")).to_contain_text("Measured TFLM arena")

    # download the header: the real file of this candidate, with its measured arena
    with page.expect_download() as info:
        page.get_by_role("link", name="Download C header (.h)").click()
    download = info.value
    assert download.suggested_filename.endswith(f"-s{search_id}-c{first}.h")
    header = Path(download.path()).read_text()
    assert "alignas(16) const unsigned char model[] = {" in header
    assert f"constexpr int model_arena_size = {candidate['tflm_arena_bytes']};" in header
    compiler = shutil.which("g++")
    if compiler:
        folder = Path(download.path()).parent
        (folder / "model.h").write_text(header)
        (folder / "use.cc").write_text('#include "model.h"\nint arena() { return '
                                       'model_arena_size + model_len + model[0]; }\n')
        subprocess.run([compiler, "-std=c++17", "-c", "use.cc", "-o", "use.o"], cwd=folder,
                       check=True, timeout=60)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download .tflite").click()
    assert Path(info.value.path()).read_bytes()[4:8] == b"TFL3"


def test_a_running_candidate_shows_its_epoch_and_time_left(page, app):
    """The evaluator reports an epoch's end (as the trainer does: epoch, epochs, seconds per
    epoch, samples/s) and goes on training; the running row shows it live, with the time left
    at that pace, and drops it once the candidate is done."""
    hold = Path(app.env["UNAS_FAKE_HOLD_DIR"])
    seed = 9000 + uuid.uuid4().int % 100_000  # this search's candidates only
    (hold / f"hold-seed-{seed}").touch()
    try:
        sign_up(page)
        search = new_search(page, new_project(page), rounds=1, population=1, sample=1,
                            in_flight_target=1, seed=seed)
        page.goto(f"/searches/{search}/")
        expect(page.locator("#conn")).to_have_text("Live")
        left = (HELD_PROGRESS["epochs"] - HELD_PROGRESS["epoch"]) * HELD_PROGRESS["seconds"]
        live = page.locator("#candidates tbody tr[data-index='0'] .live-progress")
        expect(live).to_have_text(f"epoch 2/8 · 1,234 samples/s · about {left:.0f} s left")
        expect(page.locator("#candidates tbody tr[data-index='0'] td:nth-child(3)")
               ).to_contain_text("Running")
    finally:
        (hold / f"release-seed-{seed}").touch()
    wait_finished(page)
    expect(page.locator("#candidates tbody tr[data-index='0'] td:nth-child(3)")
           ).to_have_text("Done")
    expect(live).to_have_count(0)


def test_a_search_whose_candidates_all_fail_ends_failed_and_says_why(page, app):
    """Issue 12: every candidate failed (an image zip that did not decode) and the dashboard
    said 'finished' with nothing telling the user why."""
    seed = 9000 + uuid.uuid4().int % 100_000  # this search's candidates only
    (Path(app.env["UNAS_FAKE_HOLD_DIR"]) / f"fail-seed-{seed}").touch()
    sign_up(page)
    search = new_search(page, new_project(page), rounds=2, population=2, sample=1, seed=seed)
    page.goto(f"/searches/{search}/")
    page.wait_for_function("document.getElementById('dashboard').dataset.state === 'failed'",
                           timeout=60_000)
    error = page.locator("#search-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("all 2 candidates failed; the last error: ValueError: zip "
                                  "entry 'pets/dog/")
    expect(error).to_contain_text("cannot decode the image (Invalid PNG data)")
    expect(page.locator("#state")).not_to_have_text("Finished")


def test_the_candidate_page_shows_the_headers_own_usage_example_and_it_compiles(page,
                                                                                tmp_path):
    """The 'Use it in a TFLite Micro sketch' card was a hand-written snippet (Invoke commented
    out, a literal resolver size); it is the example from the header the page downloads, and
    that compiles against TFLM's headers with the header saved under the name it includes."""
    from search_engine.export.header import extract_usage_example
    from tests.tflm import compile_flags, tflm_source_tree

    sign_up(page)
    search = new_search(page, new_project(page), rounds=3, population=2, sample=1)
    page.goto(f"/searches/{search}/")
    wait_finished(page)
    rows = api(page, "GET", f"/api/searches/{search}/candidates/?page_size=100")["results"]
    index = next(r["index"] for r in rows if r["state"] == "done" and r["tflite_bytes"])
    page.goto(f"/searches/{search}/candidates/{index}/")
    page.wait_for_selector("#candidate-page[data-ready='1']")
    expect(page.locator("#snippet-box")).to_be_visible()
    shown = page.locator("#snippet").text_content()
    name = page.locator("#snippet-header").text_content()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download C header (.h)").click()
    header = Path(info.value.path()).read_text()
    assert shown == extract_usage_example(header)
    assert name == "model.h" and '#include "model.h"' in shown
    assert "// interpreter.Invoke()" not in shown and "->Invoke() != kTfLiteOk" in shown
    expect(page.locator("#snippet-explain")).to_contain_text("model_setup()")
    compiler = shutil.which("g++")
    tree = tflm_source_tree(tmp_path / "tflm")
    if compiler is None or tree is None:
        pytest.skip("g++ or the TFLM headers are missing: the example was not compiled")
    (tmp_path / name).write_text(header)
    (tmp_path / "sketch.cc").write_text(shown)
    cc = subprocess.run([compiler, *compile_flags(tree), "-I", str(tmp_path), "-fsyntax-only",
                         "sketch.cc"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert cc.returncode == 0, cc.stderr[-4000:]


def test_the_diagram_names_a_pool_by_what_it_leaves(page):
    """The space's "global" P×P pool (stride P) left 2×2×61 under the title "Global max pool
    4×4"; global only where it leaves 1×1, otherwise named by its window and stride."""
    page.goto("/")
    drawn = page.evaluate("""async () => {
      const a = await import('/static/frontend/js/archdiagram.js');
      const draw = (pooling, out) => [...a.architectureSvg({blocks: [], pooling, dense: []},
          null, [{name: 'pool', output_shape: out}], [8, 8, 1], 10)
        .querySelectorAll('g.node text')].map((t) => t.textContent);
      return [draw({kind: 'max', size: 4}, [2, 2, 61]), draw({kind: 'avg', size: 2}, [1, 1, 8]),
              draw({kind: 'max', size: 3}, [1, 1, 4])];
    }""")
    assert "Max pool 4×4, stride 4" in drawn[0] and "→ 2×2×61" in drawn[0]
    assert not any("Global" in t for t in drawn[0]), drawn[0]
    assert "Global average pool" in drawn[1]
    assert "Global max pool" in drawn[2]


def test_finalise_the_front_from_the_dashboard_and_download_the_finalised_best(page):
    """'Best so far' offers the most accurate feasible model's header; after 'Finalise the
    front' it offers the most accurate *finalised* one, marked as such, and the file is that
    candidate's header with its final measured arena."""
    sign_up(page)
    search_id = new_search(page, new_project(page), rounds=8)
    page.goto(f"/searches/{search_id}/")
    wait_finished(page)

    def best():
        rows = api(page, "GET", f"/api/searches/{search_id}/candidates/?page_size=100")["results"]
        pool = [r for r in rows if r["state"] == "done" and r["feasible"]
                and r["error"] is not None]
        final = [r for r in pool if (r["metrics"] or {}).get("finalised")]
        return min(final or pool, key=lambda r: (r["error"], r["index"])), bool(final)

    screening, _ = best()
    link = page.locator("#best-header")
    expect(link).to_have_text(f"Download #{screening['index']} as a C header")
    page.get_by_role("button", name="Finalise the front").click()
    expect(page.locator("#toast")).to_contain_text("Final training queued")
    expect(link).to_contain_text("(finalised)", timeout=60_000)
    page.wait_for_function("document.getElementById('dashboard').dataset.state === 'finished'")

    def finalising() -> int:  # the front's other members may still be in final training
        rows = api(page, "GET", f"/api/searches/{search_id}/candidates/?page_size=100")["results"]
        return sum("finalise_requested_at" in (r["timings"] or {}) for r in rows)

    deadline = time.monotonic() + 60
    while finalising() and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert not finalising()
    final, finalised = best()
    assert finalised
    expect(page.locator("#best .stat .k").first).to_have_text("Most accurate finalised")
    expect(link).to_have_text(f"Download #{final['index']} as a C header (finalised)")
    with page.expect_download() as info:
        link.click()
    header = Path(info.value.path()).read_text()
    candidate = api(page, "GET", f"/api/searches/{search_id}/candidates/{final['index']}/")
    assert candidate["metrics"]["finalised"] is True
    assert f"constexpr int model_arena_size = {candidate['tflm_arena_bytes']};" in header


def test_invalid_inputs_show_messages_next_to_the_fields_and_create_nothing(page):
    sign_up(page)
    project = new_project(page)
    page.goto(f"/projects/{project}/new-search/")
    page.wait_for_function("document.querySelectorAll('#preset option').length > 1")
    # client-side checks
    page.locator("#sram_bytes").fill("")
    page.locator("#flash_bytes").fill("-5")
    page.locator("#bound_error").fill("150")
    page.locator("#rounds").fill("0")
    page.get_by_role("button", name="Start search").click()
    expect(page.locator("#sram_bytes-error")).to_have_text("Enter the SRAM your MCU has.")
    expect(page.locator("#flash_bytes-error")).to_have_text(
        "Flash must be at least 1 byte, not -5 KiB.")
    expect(page.locator("#bound_error-error")).to_contain_text("between 0 and 100")
    expect(page.locator("#rounds-error")).to_contain_text("at least 1")
    expect(page.locator("#sram_bytes")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#sram_bytes")).to_be_focused()
    # a tiny SRAM is allowed but warned about
    page.locator("#sram_bytes").fill("2")
    expect(page.locator("#sram_bytes-warning")).to_contain_text("few models will fit")
    # the server's refusals land next to their fields too (here: an upper bound it checks)
    page.locator("#flash_bytes").fill("64")
    page.locator("#bound_error").fill("5")
    page.locator("#rounds").fill("10")
    page.get_by_text("Advanced settings").click()
    page.locator("#in_flight_target").fill("1000")
    # Chromium logs the refused request (HTTP 400) itself; that one is expected here
    with page.console_watch.allowing("status of 400 (Bad Request)"):
        page.get_by_role("button", name="Start search").click()
        expect(page.locator("#in_flight_target-error")).to_contain_text("64")
    expect(page.locator("#in_flight_target")).to_have_attribute("aria-invalid", "true")
    for field in ("sram_bytes", "flash_bytes", "bound_error", "rounds"):
        expect(page.locator(f"#{field}-error")).to_have_text("")
    page.locator("#in_flight_target").fill("2")
    page.locator("#population").fill("3")
    page.locator("#sample").fill("5")
    page.get_by_role("button", name="Start search").click()
    expect(page.locator("#sample-error")).to_contain_text("cannot exceed the population (3)")
    assert re.search(r"/new-search/$", page.url)
    assert api(page, "GET", f"/api/searches/?project={project}")["count"] == 0


def test_pause_resume_and_cancel_from_the_dashboard(page):
    sign_up(page)
    search = new_search(page, new_project(page), rounds=60, in_flight_target=1)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"/searches/{search}/")
    expect(page.locator("#conn")).to_have_text("Live")
    expect(page.locator("#pause")).to_be_enabled()
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#state")).to_have_text("Paused")
    expect(page.locator("#resume")).to_be_enabled()
    expect(page.locator("#pause")).to_be_disabled()
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#state")).to_have_text("Running")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#state")).to_have_text("Cancelled")
    for button in ("#pause", "#resume", "#cancel"):
        expect(page.locator(button)).to_be_disabled()
    assert api(page, "GET", f"/api/searches/{search}/")["state"] == "cancelled"


def test_the_dashboard_reconnects_after_the_server_restarts_and_misses_nothing(page, app):
    sign_up(page)
    search = new_search(page, new_project(page), rounds=14)
    page.goto(f"/searches/{search}/")
    expect(page.locator("#conn")).to_have_text("Live")
    page.wait_for_function("Number(document.getElementById('pareto-plot').dataset.points) >= 1")
    with page.console_watch.allowing("WebSocket connection to", "ERR_CONNECTION_REFUSED",
                                     "Failed to load resource"):
        app.stop_web()  # every websocket drops; the search goes on in the worker
        expect(page.locator("#conn")).to_have_text("Reconnecting…")
        app.start_web()
        expect(page.locator("#conn")).to_have_text("Live", timeout=30_000)
    wait_finished(page)
    final = api(page, "GET", f"/api/searches/{search}/candidates/?page_size=100")
    done = [c["index"] for c in final["results"] if c["state"] == "done"]
    page.wait_for_function(
        f"Number(document.getElementById('pareto-plot').dataset.points) === {len(done)}")
    expect(page.locator("#candidates tbody tr")).to_have_count(final["count"])
    expect(page.locator("#progress-label")).to_have_text("14 of 14 candidates trained")
    shown = page.locator("#candidates tbody tr td:nth-child(3)").all_inner_texts()
    assert all(s.strip().lower() == "done" for s in shown)


def test_compare_narrow_window_and_labels(page):
    sign_up(page)
    search = new_search(page, new_project(page), rounds=6)
    page.goto(f"/searches/{search}/")
    wait_finished(page)
    rows = api(page, "GET", f"/api/searches/{search}/candidates/?page_size=100")["results"]
    for box, expected in (("#filter-feasible", [c for c in rows if c["feasible"]]),
                          ("#filter-pareto", [c for c in rows if c["feasible"] and c["pareto"]])):
        page.locator(box).check()
        expect(page.locator("#candidates tbody tr")).to_have_count(len(expected))
    page.locator("#filter-feasible").uncheck()
    page.locator("#filter-pareto").uncheck()
    page.locator("#filter-state").select_option("failed")
    expect(page.locator("#table-empty")).to_be_visible()
    page.locator("#filter-state").select_option("")
    expect(page.locator("#candidates tbody tr")).to_have_count(len(rows))
    boxes = page.get_by_role("checkbox", name=re.compile(r"Select candidate \d+ to compare"))
    for i in range(3):
        boxes.nth(i).check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url(re.compile(r"/compare/\?c=\d+,\d+,\d+$"))
    page.wait_for_selector("#compare-page[data-ready='1']")
    expect(page.locator("#compare-table thead th")).to_have_count(4)
    expect(page.locator("#compare-diagrams svg")).to_have_count(3)
    assert page.evaluate("document.getElementById('compare-timeline').data.length") == 3
    # three diagrams side by side are drawn at full size (scale 1: 11.5 px node titles); they
    # were scaled to 0.8 and less when each kept the candidate page's margins
    scales = page.evaluate("""() => [...document.querySelectorAll('#compare-diagrams svg')]
        .map((s) => s.getBoundingClientRect().width / s.viewBox.baseVal.width)""")
    assert min(scales) >= 0.99, scales

    first = page.locator("#compare-table thead th a").first.inner_text().lstrip("#")
    unlabelled = """() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                     && !e.getAttribute('aria-labelledby') && !(e.textContent || '').trim())
        .map(e => e.outerHTML.slice(0, 80))"""
    page.set_viewport_size({"width": 380, "height": 800})
    for path in (f"/searches/{search}/", f"/searches/{search}/candidates/{first}/",
                 f"/searches/{search}/compare/?c={first}", "/projects/"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(unlabelled) == [], path
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)  # nothing sticks out sideways


def test_upload_a_data_set_from_the_form_and_search_on_it(page, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 255, (60, 6, 6, 1), dtype=np.uint8),
              "y_train": np.arange(60) % 3,
              "x_test": rng.integers(0, 255, (15, 6, 6, 1), dtype=np.uint8),
              "y_test": np.arange(15) % 3}
    good = tmp_path / "blobs.npz"
    np.savez(good, **arrays)
    bad = tmp_path / "broken.npz"
    np.savez(bad, x_train=arrays["x_train"])
    sign_up(page)
    project = new_project(page)
    page.goto(f"/projects/{project}/new-search/")
    page.get_by_text("Upload a data set…", exact=True).click()
    page.get_by_role("button", name="Upload and use").click()
    expect(page.locator("#upload_file-error")).to_have_text("Choose a .npz or .zip file.")
    page.locator("#upload_file").set_input_files(str(bad))
    with page.console_watch.allowing("status of 400 (Bad Request)"):
        page.get_by_role("button", name="Upload and use").click()
        expect(page.locator("#upload_file-error")).to_contain_text("missing array(s)")
    page.locator("#upload_file").set_input_files(str(good))
    page.locator("#upload_name").fill("Blobs")
    page.get_by_role("button", name="Upload and use").click()
    expect(page.locator("#upload-status")).to_contain_text("“Blobs” is ready: 6×6×1, 3 classes")
    expect(page.locator("#dataset")).to_have_value(re.compile(r"^upload:\d+$"))
    page.locator("#rounds").fill("3")
    page.get_by_role("button", name="Start search").click()
    page.wait_for_url(re.compile(r"/searches/\d+/$"))
    search = api(page, "GET", page.url.replace(page.url.split("/searches/")[0], "/api"))
    assert (search["dataset"], search["input_shape"], search["num_classes"]) == (
        "npz", [6, 6, 1], 3)
    assert search["upload"] is not None


def test_the_page_modules_pure_functions(page):
    """format.js, search_form.js, candidates.js and charts.js logic, run in the browser."""
    sign_up(page)
    result = page.evaluate("""async () => {
      const f = await import('/static/frontend/js/format.js');
      const s = await import('/static/frontend/js/search_form.js');
      const c = await import('/static/frontend/js/candidates.js');
      const ch = await import('/static/frontend/js/charts.js');
      const base = {project: 1, name: 'n', sram: '32', sramUnit: 'KiB', flash: '1.5',
        flashUnit: 'MiB', macs: '', macsUnit: '1000', errorTarget: '', dataset: 'digits',
        rounds: '20', timeMinutes: '', profile: 'quick', strategy: 'evolution',
        population: '8', sample: '3', inFlight: '2', dataLimit: '', seed: '0'};
      const ok = s.validateSearch(base, {lowSram: 8192, lowFlash: 8192});
      const bad = s.validateSearch({...base, sram: '-3', flash: '', macs: 'x', errorTarget: '0',
        rounds: '2.5', population: '2', sample: '3', seed: '-1', timeMinutes: '0'});
      const low = s.validateSearch({...base, sram: '4000', sramUnit: 'B'}, {lowSram: 8192});
      const high = s.validateSearch({...base, sram: '32', sramUnit: 'MiB'},
        {highSram: 16 * 1048576});
      const units = s.validateSearch({...base, sram: '20KB', flash: '20 KiB'});
      const up = s.validateSearch({...base, dataset: 'upload:7', macs: '2.5', errorTarget: '5',
        timeMinutes: '10'});
      const rows = [{index: 0, flash_bytes: 5}, {index: 1, flash_bytes: null},
                    {index: 2, flash_bytes: 3}, {index: 3, flash_bytes: 5}];
      return {
        bytes: [f.bytes(512), f.bytes(32768), f.bytes(12595), f.bytes(1536 * 1024), f.bytes(null)],
        compact: [f.compact(999), f.compact(52663), f.compact(1.2e6)],
        toBytes: [f.toBytes('32', 'KiB'), f.toBytes('1.5', 'MiB'), f.toBytes('7', 'B'),
                  f.toBytes('1e3', 'B'), f.toBytes('3', 'KB')],
        split: [f.splitBytes(32768), f.splitBytes(1048576), f.splitBytes(1000)],
        ok: [ok.body, ok.errors, ok.warnings], bad: Object.keys(bad.errors).sort(),
        low: low.warnings, up: up.body, high: high.warnings,
        inherit: [s.validateSearch({...base, inheritance: true}).body.inheritance,
                  s.validateSearch({...base, inheritance: false}).body.inheritance,
                  'inheritance' in ok.body],
        units: [units.body.sram_bytes, units.body.flash_bytes, units.errors],
        asc: c.view(rows, {key: 'flash_bytes', direction: 'ascending'}).map(r => r.index),
        desc: c.view(rows, {key: 'flash_bytes', direction: 'descending'}).map(r => r.index),
        front: ch.front2d([{x: 1, y: 5}, {x: 2, y: 6}, {x: 3, y: 2}, {x: 3, y: 1}, {x: 4, y: 1}])
          .map(p => [p.x, p.y]),
        event: c.fromEvent({index: 4, state: 'done', pareto: true, feasible: false,
          objectives: {error: 0.1, sram_bytes: 9000, flash_bytes: 20000},
          metrics: {macs: 1234, val_accuracy: 0.9}}, {predicted_sram_bytes: 8000}),
        fidelity: [
          c.fidelity(c.fromRow({index: 1, state: 'done', metrics: {epochs: 8, epochs_trained: 1,
            stopped_early: true}})),
          c.fidelity(c.fromRow({index: 2, state: 'done', metrics: {epochs: 8, epochs_trained: 8}})),
          c.fidelity(c.fromRow({index: 3, state: 'running', metrics: {}})),
          c.fidelity(c.fromRow({index: 4, state: 'done', metrics: {epochs: 30, epochs_trained: 30,
            finalised: true}})),
          c.fidelity(c.fromRow({index: 5, state: 'done', finalising: true,
            metrics: {epochs: 8, epochs_trained: 8}})),
          c.fidelity(c.fromRow({index: 6, state: 'done', metrics: {epochs: 4, epochs_trained: 4,
            inheritance: {parent: 2, layers_exact: 5, layers_partial: 1, layers_fresh: 0}}})),
          c.fidelity(c.fromRow({index: 7, state: 'done', metrics: {epochs: 8, epochs_trained: 8,
            inheritance: {parent: 3, skipped: "the parent's weights are missing"}}}))],
        live: [c.progressText(c.fromRow({index: 1, state: 'running', progress: {stage: 'train',
                  epoch: 3, epochs: 8, samples_per_second: 1234.4}})),
               c.progressText(c.fromRow({index: 1, state: 'running',
                  progress: {stage: 'convert'}})),
               c.progressText(c.fromRow({index: 1, state: 'done', progress: {stage: 'train',
                  epoch: 3, epochs: 8}}))],
        origin: [c.origin({morphism: 'reference:lenet-8', parent: null}),
                 c.origin({morphism: 'add_conv', parent: 2}), c.origin({parent: null})],
        traces: ch.paretoFigure({limits: {}}, [
            {index: 0, state: 'done', error: 0.05, sram_bytes: 9000, feasible: true,
             pareto: true, origin: 'reference'},
            {index: 1, state: 'done', error: 0.5, sram_bytes: 20000, feasible: false,
             stopped_early: true, epochs_trained: 1, epochs: 8},
            {index: 2, state: 'done', error: 0.1, sram_bytes: 8000, feasible: true,
             pareto: true, origin: 'mutation'}], 'sram')
          .data.map(t => [t.name, (t.customdata || []).join(',')]),
        scene3d: (() => {
          const l = ch.paretoFigure({limits: {}}, [{index: 0, state: 'done', error: 0.05,
            sram_bytes: 9000, flash_bytes: 20000, feasible: true, pareto: true}], '3d').layout;
          return {margin: l.margin, domain: l.scene.domain, aspect: l.scene.aspectmode};
        })(),
      };
    }""")
    assert result["bytes"] == ["512 B", "32 KiB", "12.3 KiB", "1.5 MiB", "–"]
    assert result["compact"] == ["999", "52.7 k", "1.2 M"]
    assert result["toBytes"][:3] == [32768, 1572864, 7]
    assert all(math.isnan(v) for v in result["toBytes"][3:])  # "1e3", unit "KB": refused
    assert result["split"] == [[32, "KiB"], [1, "MiB"], [1000, "B"]]
    body, errors, warnings = result["ok"]
    assert errors == {} and warnings == {}
    assert body == {"project": 1, "name": "n", "sram_bytes": 32768, "flash_bytes": 1572864,
                    "macs": None, "dataset": "digits", "upload": None, "rounds": 20,
                    "time_budget_seconds": None, "profile": "quick", "strategy": "evolution",
                    "population": 8, "sample": 3, "in_flight_target": 2, "data_limit": None,
                    "seed": 0}
    assert result["bad"] == ["bound_error", "flash_bytes", "macs", "rounds", "sample", "seed",
                             "sram_bytes", "time_budget_minutes"]
    assert "few models will fit" in result["low"]["sram_bytes"]
    assert "than any microcontroller has" in result["high"]["sram_bytes"]
    assert result["units"] == ["20KB", "20 KiB", {}]  # the API parses these (CLI syntax)
    assert result["up"]["upload"] == 7 and "dataset" not in result["up"]
    assert result["up"]["macs"] == 2500 and result["up"]["bound_error"] == 0.05
    assert result["up"]["time_budget_seconds"] == 600
    assert result["inherit"] == [True, False, False]
    assert result["asc"] == [2, 0, 3, 1] and result["desc"] == [0, 3, 2, 1]  # missing last
    assert result["front"] == [[1, 5], [3, 1]]
    # the 3-D view fills its plot: no wide margins around the scene (issue 13, item 8)
    scene = result["scene3d"]
    assert max(scene["margin"].values()) <= 10
    (x0, x1), (y0, y1) = scene["domain"]["x"], scene["domain"]["y"]
    assert x1 - x0 >= 0.9 and y1 - y0 >= 0.9
    event = result["event"]
    assert (event["error"], event["sram_bytes"], event["flash_bytes"], event["macs"]) == (
        0.1, 9000, 20000, 1234)
    assert event["pareto"] is True and event["feasible"] is False
    assert event["predicted_sram_bytes"] == 8000  # kept from what the API gave earlier
    assert result["fidelity"] == ["1/8 ep, stopped", "8/8 ep", "", "final, 30/30 ep",
                                  "8/8 ep, finalising…", "4/4 ep, from #2", "8/8 ep"]
    assert result["origin"] == ["reference", "mutation", "random"]
    assert result["live"] == ["epoch 3/8 · 1,234 samples/s", "converting to int8", ""]
    traces = dict(result["traces"])
    assert traces["Stopped early"] == "1"  # drawn apart, not among the trained candidates
    assert traces["Pareto front"] == "0,2" and traces["Over a limit"] == ""
    assert traces["Reference network"] == "0"  # ringed where it lies


def test_sizes_typed_with_a_unit_are_checked_for_plausibility_too(page):
    """format.js parseSize reads sizes as the API and the CLI do; search_form.js warned about
    implausible sizes only when typed as a number beside the unit menu, never as "32 MiB"."""
    page.goto("/")
    result = page.evaluate("""async () => {
      const f = await import('/static/frontend/js/format.js');
      const s = await import('/static/frontend/js/search_form.js');
      const base = {project: 1, name: 'n', sram: '32', sramUnit: 'KiB', flash: '512',
        flashUnit: 'KiB', dataset: 'digits', rounds: '20', population: '8', sample: '3'};
      const limits = {lowSram: 8192, lowFlash: 8192, highSram: 16 * 1048576,
        highFlash: 64 * 1048576};
      const check = (fields) => s.validateSearch({...base, ...fields}, limits);
      return {
        sizes: ['4KB', '4 KiB', '1.5MiB', '512', '2 mb', '64 XB', '0.5B', '-3KB', '1.5B', '']
          .map(f.parseSize),
        high: [check({sram: '32 MiB'}).warnings, check({sram: '32 MiB'}).body.sram_bytes],
        low: check({flash: '500B'}).warnings, fine: check({sram: '20KB', flash: '1 MiB'}).warnings,
        unknown: [check({sram: '64 XB'}).warnings, check({sram: '64 XB'}).errors],
      };
    }""")
    sizes = result["sizes"]
    assert sizes[:5] == [4000, 4096, 1572864, 512, 2_000_000]  # the CLI's units
    assert all(math.isnan(v) for v in sizes[5:]), sizes
    warnings, body = result["high"]
    assert "than any microcontroller has" in warnings["sram_bytes"] and body == "32 MiB"
    assert "Only 500 B" in result["low"]["flash_bytes"]
    assert result["fine"] == {}
    assert result["unknown"] == [{}, {}]  # the API's message for this field comes instead


def test_a_search_that_ended_at_once_shows_no_elapsed_time(page):
    """search_progress.js: a search that failed (or paused) before it ran a second said "0 s
    elapsed"; a running one counts from 0 s."""
    page.goto("/")
    texts = page.evaluate("""async () => {
      const p = await import('/static/frontend/js/search_progress.js');
      const search = (state, elapsed, extra = {}) => p.progressTexts({state, progress: {
        evaluated: 2, rounds: 8, running: 0, queued: 0, rejected: 0, elapsed_seconds: elapsed,
        ...extra}});
      return [search('failed', 0.3), search('failed', 0), search('failed', 12.4),
              search('cancelled', 75), search('running', 0), search('paused', 0),
              search('queued', 0, {evaluated: 0}), search('running', 3, {running: 2})]
        .map((t) => [t.label, t.extra, t.parts]);
    }""")
    assert texts[0] == ["2 of 8 candidates trained", "", []]
    assert texts[1][1] == "" and texts[2][1] == "12 s in all"
    assert texts[3][1] == "1 min 15 s in all"
    assert texts[4][1] == "0 s elapsed" and texts[5][1] == ""
    assert texts[6][:2] == ["0 of 8 candidates trained",
                            "Waiting for a worker to start the search…"]
    assert texts[7][1] == "2 training now · 3 s elapsed"
    assert texts[7][2] == ["2 training now", "3 s elapsed"]  # each kept on one line


def test_live_progress_gives_the_time_left_at_the_last_epochs_pace(page):
    """candidates.js progressText: the epochs to go times the trainer's seconds per epoch."""
    page.goto("/")
    live = page.evaluate("""async () => {
      const c = await import('/static/frontend/js/candidates.js');
      const running = (progress) => c.progressText(c.fromRow({index: 1, state: 'running',
        progress}));
      return [running({stage: 'train', epoch: 3, epochs: 8, seconds: 5,
                       samples_per_second: 1234.4}),
              running({stage: 'train', epoch: 2, epochs: 10, seconds: 20}),
              running({stage: 'train', epoch: 8, epochs: 8, seconds: 5}),
              running({stage: 'train', epoch: 3, epochs: 8})];
    }""")
    assert live == ["epoch 3/8 · 1,234 samples/s · about 25 s left",
                    "epoch 2/10 · about 2 min 40 s left", "epoch 8/8", "epoch 3/8"]


def test_the_breadcrumb_stays_on_one_line_in_a_narrow_window(page):
    """At phone width the trail wrapped, the next line starting with "/"; there it leaves out
    the current page (the heading below) and "Projects" (in the top bar)."""
    sign_up(page)
    search = new_search(page, new_project(page, "Digits on a Nano 33"),
                        name="digits · 16 KiB SRAM", rounds=1, population=1, sample=1)
    page.goto(f"/searches/{search}/")
    wait_finished(page)
    page.set_viewport_size({"width": 390, "height": 844})
    trail = """() => [...document.querySelectorAll('.crumbs li')]
        .filter((li) => li.offsetParent !== null)
        .map((li) => [Math.round(li.getBoundingClientRect().top), li.innerText.trim(),
                      getComputedStyle(li, '::before').content])"""
    for path, shown in ((f"/searches/{search}/", ["Digits on a Nano 33"]),
                        (f"/searches/{search}/candidates/0/",
                         ["Digits on a Nano 33", "digits · 16 KiB SRAM"])):
        page.goto(path)
        items = page.evaluate(trail)
        assert [text for _, text, _ in items] == shown, (path, items)
        assert len({top for top, _, _ in items}) == 1, (path, items)  # one line
        assert items[0][2] == "none", (path, items)  # no "/" in front of the first
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/searches/{search}/")
    assert [t for _, t, _ in page.evaluate(trail)] == ["Projects", "Digits on a Nano 33",
                                                       "digits · 16 KiB SRAM"]
