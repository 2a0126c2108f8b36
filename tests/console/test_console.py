"""The console in headless Chromium against a real control, sidecar and SDK agents on loopback."""

import time

import pytest
from immune_sdk import Client
from selenium.webdriver.common.by import By

from immune_control.config import ControlConfig
from immune_control.fleet import FleetSettings
from tests.support.browser import (
    chromium,
    labelled,
    open_dialog,
    open_page,
    text_appears,
    type_into,
    wait,
)
from tests.support.console import ConsoleProcess, confirm, state
from tests.support.control import FAULT, rig, run_control, wait_for
from tests.support.sidecar import free_port

from .conftest import ARTIFACTS

AGENTS = [f"con-{i}" for i in range(6)]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Control holding a healed, a rejected and four pending incidents; the console on it."""
    # Six agents failing alike would read as an external cause; here each is its own case.
    alone = FleetSettings(min_fleet_size=100, max_quarantined_share=1.0)
    r = rig(tmp_path_factory.mktemp("console"), threshold=0.0, fleet=alone)
    agents = {name: r.agent(name, seed=n) for n, name in enumerate(AGENTS)}
    for agent in agents.values():
        agent.interval(FAULT)
    client = Client(target=f"127.0.0.1:{r.control.port}", actor="setup")
    assert wait_for(lambda: client.stats().pending_approvals == len(AGENTS))
    client.approve(agent_id="con-0", reason="setup")
    assert r.drive(agents["con-0"], lambda: state(client, "con-0") == "healed")
    client.reject(agent_id="con-1", reason="setup")
    console = ConsoleProcess(f"127.0.0.1:{r.control.port}")
    yield r, client, console
    console.stop()
    client.close()
    for agent in agents.values():
        agent.close()
    r.close()


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def decide(browser, button: str, reason: str = "") -> None:
    """Click a decision button, give a reason in the dialog, confirm."""
    open_dialog(browser, button)
    type_into(browser, ".q-dialog input", reason)
    confirm(browser)


@pytest.mark.timeout(600)  # every decision waits on a real browser, console and control
def test_main_page_decisions_reach_control_and_show_live(fleet, browser):
    _, client, console = fleet
    open_page(browser, console.url)
    assert text_appears(browser, "Pending approvals (4)")
    assert text_appears(browser, "Rejected healings (1)")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "console-main.png"))

    decide(browser, "Approve con-2", "evidence checked")
    assert wait_for(lambda: state(client, "con-2") not in ("pending_approval", ""))
    assert text_appears(browser, "Pending approvals (3)")

    decide(browser, "Reject con-3", "not during the release")
    assert wait_for(lambda: state(client, "con-3") == "rejected")
    assert text_appears(browser, "Rejected healings (2)")

    decide(browser, "Heal now con-1", "try again")
    assert wait_for(lambda: state(client, "con-1") not in ("rejected", ""))
    assert text_appears(browser, "Rejected healings (1)")

    open_dialog(browser, "Approve all")
    assert text_appears(browser, "Approve all 2 pending healings?")
    confirm(browser)
    assert wait_for(lambda: client.stats().pending_approvals == 0)
    assert text_appears(browser, "Pending approvals (0)")

    audit = {(e.method, e.reason) for e in client.audit(actor="dana")}
    assert ("RejectHealing", "not during the release") in audit
    assert {"ApproveHealing", "HealNow", "ApproveAll"} <= {m for m, _ in audit}
    assert text_appears(browser, "heal now")  # the recent actions name their trigger
    log = (By.CSS_SELECTOR, '[aria-label="audit log"]')
    assert wait(browser).until(lambda d: "not during the release" in d.find_element(*log).text)


PAINTED_PIXELS = """
const c = document.querySelector('[aria-label="vital tool_calls"] canvas');
if (!c || c.width < 100 || c.height < 100) return 0;
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;
"""


def test_agent_page_draws_vitals_with_baseline_and_timeline(fleet, browser):
    _, _, console = fleet
    open_page(browser, f"{console.url}/agent/con-0")
    labelled(browser, "vital tool_calls")
    # Looked up afresh on every poll: the chart redraws as vitals arrive.
    assert wait(browser).until(lambda d: d.execute_script(PAINTED_PIXELS) > 1000)
    assert "too coarse" not in browser.find_element(By.TAG_NAME, "body").text  # fine buckets
    assert text_appears(browser, "incident.healed")
    assert text_appears(browser, "revoke tools")


def test_grid_filters_and_page_fits_a_narrow_window(fleet, browser):
    _, _, console = fleet
    browser.set_window_size(420, 900)
    try:
        open_page(browser, console.url)
        assert text_appears(browser, "6 of 6 agents match")
        labelled(browser, "search agents").send_keys("con-4")
        assert text_appears(browser, "1 of 6 agents match")
        cards = browser.find_elements(By.CSS_SELECTOR, '[aria-label^="agent con-"]')
        assert [c.get_attribute("aria-label") for c in cards] == ["agent con-4"]
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0
    finally:
        browser.set_window_size(1400, 1000)


def test_lost_control_is_shown_and_recovers(tmp_path, browser):
    port = free_port()
    console = ConsoleProcess(f"127.0.0.1:{port}")
    try:
        open_page(browser, console.url)
        assert text_appears(browser, "control unreachable")
        control = run_control(ControlConfig(listen=f"127.0.0.1:{port}", db=str(tmp_path / "c.db")))
        try:
            labelled(browser, "connected to control")
            time.sleep(0.3)
            assert "control unreachable" not in browser.find_element(By.TAG_NAME, "body").text
        finally:
            control.stop()
        assert text_appears(browser, "control unreachable")
    finally:
        console.stop()
