"""The new-search form and the project page in a real browser (issue 13): sizes typed with
units, limits that no model can meet refused with the reason, limits no MCU has warned about,
small-board presets, and deleting a search. Same app and browser set-up as
``test_browser_dashboard.py`` (its fixtures and helpers are reused)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from tests import test_browser_dashboard as dash  # noqa: E402
from tests.test_browser_dashboard import api, new_project, new_search, sign_up  # noqa: E402

app, chromium, page = dash.app, dash.chromium, dash.page  # the same fixtures, by name

pytestmark = pytest.mark.slow


def _searches(page, project: int) -> list[dict]:
    return api(page, "GET", f"/api/searches/?project={project}")["results"]


def test_units_in_the_fields_and_hopeless_limits_refused_with_the_reason(page):
    sign_up(page)
    project = new_project(page)
    page.goto(f"/projects/{project}/new-search/")
    page.wait_for_function("document.querySelectorAll('#preset option').length > 1")
    # more SRAM than any MCU: accepted, but warned about
    page.locator("#sram_bytes").fill("32")
    page.locator("#sram_unit").select_option("MiB")
    expect(page.locator("#sram_bytes-warning")).to_contain_text("than any microcontroller has")
    # CLI size syntax in the fields; a Flash limit that no model of the space can meet
    page.locator("#sram_bytes").fill("20 KiB")
    expect(page.locator("#sram_bytes-warning")).to_have_text("")
    page.locator("#flash_bytes").fill("100B")
    with page.console_watch.allowing("status of 400 (Bad Request)"):
        page.get_by_role("button", name="Start search").click()
        expect(page.locator("#flash_bytes-error")).to_contain_text(
            "too small: no model can fit in 100 B of Flash")
    expect(page.locator("#flash_bytes-error")).to_contain_text("Give at least")
    expect(page.locator("#flash_bytes")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#sram_bytes-error")).to_have_text("")
    assert _searches(page, project) == []
    # a unit the parser does not know: its exact message, not "must be a number"
    page.locator("#flash_bytes").fill("64 XB")
    with page.console_watch.allowing("status of 400 (Bad Request)"):
        page.get_by_role("button", name="Start search").click()
        expect(page.locator("#flash_bytes-error")).to_contain_text("unknown unit 'XB'")
    assert _searches(page, project) == []
    page.locator("#flash_bytes").fill("64KB")
    page.get_by_role("button", name="Start search").click()
    page.wait_for_url(re.compile(r"/searches/\d+/$"))
    [created] = _searches(page, project)
    assert (created["sram_bytes"], created["flash_bytes"]) == (20 * 1024, 64_000)
    api(page, "POST", f"/api/searches/{created['id']}/cancel/")


def test_delete_a_search_from_the_project_page_after_confirming(page):
    sign_up(page)
    project = new_project(page)
    keep = new_search(page, project, name="keep", rounds=1, population=1, sample=1)
    doomed = new_search(page, project, name="doomed", rounds=1, population=1, sample=1)
    page.goto(f"/projects/{project}/")
    button = page.get_by_role("button", name="Delete search doomed")
    # dismissing the confirmation deletes nothing
    page.once("dialog", lambda dialog: dialog.dismiss())
    button.click()
    expect(page.get_by_role("link", name="doomed")).to_be_visible()
    assert {s["id"] for s in _searches(page, project)} == {keep, doomed}
    messages = []

    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    button.click()
    expect(page.get_by_role("link", name="doomed")).to_have_count(0)
    expect(page.get_by_role("link", name="keep")).to_be_visible()
    assert 'Delete the search "doomed"' in messages[0]
    assert [s["id"] for s in _searches(page, project)] == [keep]


def test_small_board_presets_fill_the_limits(page):
    sign_up(page)
    project = new_project(page)
    page.goto(f"/projects/{project}/new-search/")
    page.wait_for_function("document.querySelectorAll('#preset option').length > 1")
    for preset, sram, flash in (("stm32f103c8", "20", "64"), ("nrf52832", "64", "512"),
                                ("samd21g18", "32", "256")):
        page.get_by_label("Board or MCU").select_option(preset)
        expect(page.locator("#sram_bytes")).to_have_value(sram)
        expect(page.locator("#sram_unit")).to_have_value("KiB")
        expect(page.locator("#flash_bytes")).to_have_value(flash)
    expect(page.locator("#preset option[value=stm32f103c8]")).to_contain_text("20 KiB SRAM")


def test_data_sets_that_are_not_installed_say_how_to_install_them(page):
    """This server has MNIST but not CIFAR-10 or speech: the form says where their files go
    and offers the upload, and never prints "null classes"."""
    sign_up(page)
    project = new_project(page)
    page.goto(f"/projects/{project}/new-search/")
    hint = page.locator("#dataset-install")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("cifar10")
    expect(hint).to_contain_text("data_batch_1")
    expect(hint).to_contain_text("Upload a data set")
    options = page.locator("#dataset option").all_inner_texts()
    assert not any("null" in text for text in options), options


def test_the_projects_page_says_how_to_install_missing_data_sets(page):
    """The new-project form listed CIFAR-10 as a bare "(not installed)"; it gives the same
    hint as the new-search form: which files go where."""
    sign_up(page)  # lands on the projects page
    hint = page.locator("#dataset-install")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Not installed on this server:")
    expect(hint.locator("li", has_text="cifar10")).to_contain_text("cifar10: put ")
    expect(hint.locator("li", has_text="cifar10")).to_contain_text("data_batch_1")
    expect(hint).to_contain_text("upload your own data on the new-search form")
    expect(page.locator("#dataset option[value=cifar10]")).to_be_disabled()
    expect(page.locator("#dataset")).to_have_value("digits")


def test_implausible_limits_typed_with_a_unit_are_warned_about_here_and_after_the_start(page):
    """A size typed with its unit ("64 MiB") skipped the form's plausibility warning, and the
    API's warnings were dropped with the redirect: the form warns as it does for the number
    field, and the dashboard shows what the API said once."""
    sign_up(page)
    project = new_project(page)
    page.goto(f"/projects/{project}/new-search/")
    page.wait_for_function("document.querySelectorAll('#preset option').length > 1")
    page.locator("#sram_bytes").fill("64 MiB")
    expect(page.locator("#sram_bytes-warning")).to_contain_text("than any microcontroller has")
    page.get_by_role("button", name="Start search").click()
    page.wait_for_url(re.compile(r"/searches/\d+/$"))
    warning = page.locator("#search-warnings")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("64 MiB of SRAM is more than any microcontroller has")
    [created] = _searches(page, project)
    assert created["sram_bytes"] == 64 * 1024 * 1024
    page.reload()  # shown once: the search page itself stays as it is
    page.wait_for_selector("#dashboard[data-ready='1']")
    expect(warning).to_be_hidden()
    api(page, "POST", f"/api/searches/{created['id']}/cancel/")
