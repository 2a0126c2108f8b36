"""Console sign-in over HTTPS: operators act as themselves, viewers may only look, the
session cookie is secure, and the audit log in the console and in control names who."""

import pytest
from immune_sdk import Client
from immune_sdk import certs as devca
from selenium.webdriver.common.by import By

from immune_control.access import hash_token
from tests.support.browser import (
    chromium,
    labelled,
    open_page,
    press,
    text_appears,
    type_into,
    wait,
)
from tests.support.console import ConsoleProcess, confirm, state
from tests.support.control import FAULT, rig, wait_for

TOKENS = {"console": "t-console", "dana": "t-dana", "val": "t-val", "sc-1": "t-link"}
ROLES = {"console": "viewer", "dana": "operator", "val": "viewer", "sc-1": "sidecar"}
AUDIT = (By.CSS_SELECTOR, '[aria-label="audit log"]')


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """Control with tokens and a pending incident; the console on HTTPS with its viewer token."""
    tmp = tmp_path_factory.mktemp("login")
    (tmp / "tokens").write_text(
        "".join(f"{n} {ROLES[n]} {hash_token(t)}\n" for n, t in TOKENS.items())
    )
    ca = devca.load_or_create(tmp)
    cert, key = devca.issue(ca, "localhost", hosts=["127.0.0.1"])
    (tmp / "web.pem").write_bytes(cert)
    (tmp / "web-key.pem").write_bytes(key)
    (tmp / "console-token").write_text(TOKENS["console"])
    (tmp / "link-token").write_text(TOKENS["sc-1"])
    link = {"control_token_file": str(tmp / "link-token")}
    r = rig(tmp, threshold=0.0, token_file=str(tmp / "tokens"), sidecar_overrides=link)
    agent = r.agent("gated")
    agent.interval(FAULT)
    target = f"127.0.0.1:{r.control.port}"
    client = Client(target=target, token=TOKENS["dana"])
    assert wait_for(lambda: client.stats().pending_approvals == 1)
    console = ConsoleProcess(
        target,
        "ignored",
        "--token-file", str(tmp / "console-token"),
        "--tls-cert-file", str(tmp / "web.pem"),
        "--tls-key-file", str(tmp / "web-key.pem"),
        https=True,
    )  # fmt: skip
    yield client, console
    console.stop()
    client.close()
    agent.close()
    r.close()


@pytest.fixture(scope="module")
def browser():
    driver = chromium(trusted_ca=True)
    yield driver
    driver.quit()


def sign_in(browser, console, token: str) -> None:
    open_page(browser, f"{console.url}/login")
    type_into(browser, 'input[type="password"]', token)
    press(browser, "Sign in")


@pytest.mark.timeout(600)
def test_sign_in_roles_and_the_audit_log(signed, browser):
    client, console = signed
    open_page(browser, console.url)
    wait(browser).until(lambda d: d.current_url.endswith("/login"))  # nobody signed in yet

    sign_in(browser, console, "not-a-token")
    assert text_appears(browser, "control does not know this token")

    sign_in(browser, console, TOKENS["val"])
    assert wait(browser).until(lambda d: labelled(d, "signed in as").text == "val (viewer)")
    cookie = next(c for c in browser.get_cookies() if c["name"] == "session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    press(browser, "Approve gated")
    assert text_appears(browser, "val is a viewer: decisions need the operator role")
    assert client.stats().pending_approvals == 1

    press(browser, "Sign out")
    wait(browser).until(lambda d: d.current_url.endswith("/login"))
    sign_in(browser, console, TOKENS["dana"])
    assert wait(browser).until(lambda d: labelled(d, "signed in as").text == "dana (operator)")
    press(browser, "Approve gated")
    type_into(browser, ".q-dialog input", "checked by dana")
    confirm(browser)
    assert wait_for(lambda: state(client, "gated") != "pending_approval")
    entry = next(e for e in client.audit() if e.reason == "checked by dana")
    assert (entry.actor, entry.method, entry.result) == ("dana", "ApproveHealing", "OK")
    assert wait(browser).until(lambda d: "checked by dana" in d.find_element(*AUDIT).text)
