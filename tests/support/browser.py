"""Headless Chromium driven through selenium and Debian's chromedriver."""

import contextlib
import shutil

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
WAIT_SECONDS = 60


def chromium(trusted_ca: bool = False) -> webdriver.Chrome:
    """A headless Chromium; fails loudly when the browser or its driver is missing.

    ``trusted_ca``: accept the test's development CA (Chromium has no way to be
    given one CA file, so certificate errors are accepted instead).
    """
    binary = next(filter(None, map(shutil.which, CHROMIUM)), None)
    driver = shutil.which("chromedriver")
    assert binary and driver, "chromium and chromedriver must be installed (make test does it)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.accept_insecure_certs = trusted_ca
    return webdriver.Chrome(service=Service(driver), options=options)


def wait(driver, timeout: float = WAIT_SECONDS) -> WebDriverWait:
    """A wait that polls the page."""
    # Vue replaces elements when it redraws them; look them up again.
    stale = (StaleElementReferenceException,)
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=stale)


def labelled(driver, label: str):
    """The visible element with this aria-label, once it is clickable."""
    where = (By.CSS_SELECTOR, f'[aria-label="{label}"]')
    return wait(driver).until(seen.element_to_be_clickable(where))


def text_appears(driver, text: str, timeout: float = WAIT_SECONDS) -> bool:
    """Wait until the page's text contains ``text``."""
    return wait(driver, timeout).until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)


def type_into(driver, css: str, text: str) -> None:
    """Type into the element matching ``css`` once it takes input (Vue may redraw it first)."""
    _retry(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).send_keys(text))


def press(driver, label: str) -> None:
    """Click the element with this aria-label, finding it again if Vue redrew it meanwhile."""
    _retry(driver, lambda d: labelled(d, label).click())


def open_dialog(driver, label: str, attempts: int = 4) -> None:
    """Click a button that opens a dialog, again if the click was lost.

    A click that lands while its list is redrawn goes to an element the server
    has just replaced, and nothing happens; an operator would click again too.
    """
    dialog = (By.CSS_SELECTOR, ".q-dialog")
    for _ in range(attempts):
        # Something may cover the button, perhaps the dialog already: looked at below.
        with contextlib.suppress(ElementClickInterceptedException):
            press(driver, label)
        try:
            wait(driver, 15).until(seen.presence_of_element_located(dialog))
            return
        except TimeoutException:
            continue
    raise AssertionError(f"clicking {label!r} never opened its dialog")


def _retry(driver, act) -> None:
    def done(d) -> bool:
        try:
            act(d)
            return True
        except (StaleElementReferenceException, ElementNotInteractableException):
            return False

    wait(driver).until(done)


def open_page(driver, url: str) -> None:
    """Load a page and wait until its socket to the console is up (clicks before it are lost)."""
    driver.get(url)
    wait(driver).until(lambda d: d.execute_script("return window.did_handshake === true"))
