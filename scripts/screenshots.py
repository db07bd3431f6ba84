"""Screenshots of the main pages for the README (``docs/screenshots/``).

Starts the app (Daphne + a Celery worker, a fresh SQLite file, a private queue on the local
Redis), signs up through the browser, runs a small search on digits to the end and saves
projects, new-search, dashboard, candidate and comparison pages as PNG. ``--evaluator real``
(the default) trains every candidate for real (TensorFlow, TFLite Micro; about 4 minutes on
two cores), so that the pictures show real errors and each candidate's own C header and usage
example; ``fake`` uses the fast analytic stand-in of the tests (seconds; its header is TFLM's
sine model whatever the candidate, and its errors are 10-50 %).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--rounds 24]
        [--evaluator real|fake]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from frontend.testing import HEADER_EVALUATOR, AppStack, browser  # noqa: E402

EVALUATORS = {"fake": HEADER_EVALUATOR,
              "real": "search_engine.search.evaluate:evaluate_candidate"}
#: the error target (%) of the pictured search: one that some candidates meet, so that the
#: hypervolume (of the box up to the target) rises; the fake's errors are 10-30 %
ERROR_TARGETS = {"fake": "20", "real": "5"}


def distinct_front(rows: list[dict], n: int = 3) -> list[int]:
    """Up to ``n`` trained candidates within the limits to compare: the most accurate first,
    then Pareto-front members (then the next most accurate) that differ from those chosen in
    error, SRAM and Flash (a search may train the same network twice)."""
    pool = [r for r in rows if r["state"] == "done" and r["feasible"] and r["error"] is not None]
    pool.sort(key=lambda r: (r["error"], r["index"]))
    ordered = [r for r in pool if r["pareto"]] + [r for r in pool if not r["pareto"]]
    chosen: list[dict] = pool[:1]
    seen = {(r["error"], r["sram_bytes"], r["flash_bytes"]) for r in chosen}
    for row in ordered:
        key = (row["error"], row["sram_bytes"], row["flash_bytes"])
        if len(chosen) < n and key not in seen:
            chosen.append(row)
            seen.add(key)
    return [r["index"] for r in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--evaluator", choices=sorted(EVALUATORS), default="real")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, \
            AppStack(Path(tmp), evaluator=EVALUATORS[args.evaluator],
                     extra_env={"UNAS_FAKE_SECONDS": "0.2"}, concurrency=2) as app, \
            browser() as chromium:
        context = chromium.new_context(base_url=app.url,
                                       viewport={"width": args.width, "height": 900})
        page = context.new_page()
        page.goto("/signup/")
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill("analytical engine 1843")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url("**/projects/")
        page.get_by_label("Name", exact=True).fill("Digits on a Nano 33")
        page.get_by_role("button", name="Create project").click()
        page.wait_for_url("**/projects/*/")
        project_url = page.url
        page.goto(project_url + "new-search/")
        page.get_by_label("Board or MCU").select_option("arduino-nano-33-ble")
        # then tighter custom limits, so that some candidates are over them
        page.locator("#sram_bytes").fill("16")
        page.locator("#flash_bytes").fill("96")
        page.locator("#flash_unit").select_option("KiB")
        page.locator("#name").fill("digits · 16 KiB SRAM")
        page.locator("#rounds").fill(str(args.rounds))
        page.locator("#bound_error").fill(ERROR_TARGETS[args.evaluator])
        page.locator("#bound_error").blur()  # no focus ring in the picture
        page.screenshot(path=str(out / "new-search.png"), full_page=True)
        page.get_by_role("button", name="Start search").click()
        page.wait_for_url("**/searches/*/")
        page.wait_for_function("document.getElementById('dashboard').dataset.state === 'finished'",
                               timeout=1_800_000)
        page.wait_for_function(
            f"document.getElementById('hv-plot').data?.[0]?.x?.length >= {args.rounds // 2}")
        page.screenshot(path=str(out / "dashboard.png"), full_page=True)
        search_url = page.url
        search_id = search_url.rstrip("/").rsplit("/", 1)[1]
        rows = page.request.get(f"/api/searches/{search_id}/candidates/?page_size=1000").json()
        best, *others = distinct_front(rows["results"])
        page.goto(f"{search_url}candidates/{best}/")
        page.wait_for_selector("#candidate-page[data-ready='1']")
        page.screenshot(path=str(out / "candidate.png"), full_page=True)
        page.goto(f"{search_url}compare/?c={','.join(map(str, [best, *others]))}")
        page.wait_for_selector("#compare-page[data-ready='1']")
        page.screenshot(path=str(out / "compare.png"), full_page=True)
        page.goto("/projects/")
        page.wait_for_selector("#project-list table")
        page.screenshot(path=str(out / "projects.png"), full_page=True)
        narrow = context.new_page()
        narrow.set_viewport_size({"width": 390, "height": 844})
        narrow.goto(search_url)
        narrow.wait_for_selector("#dashboard[data-ready='1']")
        narrow.wait_for_function("document.getElementById('pareto-plot').data")
        narrow.screenshot(path=str(out / "dashboard-narrow.png"), full_page=False)
        context.close()
    for name in sorted(p.name for p in out.glob("*.png")):
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
