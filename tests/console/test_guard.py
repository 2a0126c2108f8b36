"""The console against another site: it cannot be framed (checked in real Chromium), answers
only to its own host names, and takes socket handshakes only from its own origin."""

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import chromium, open_page
from tests.support.console import ConsoleProcess
from tests.support.control import start_control

HANDSHAKE = "/_nicegui_ws/socket.io/?EIO=4&transport=polling"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    control = start_control(str(tmp_path_factory.mktemp("guard") / "c.duckdb"))
    running = ConsoleProcess(f"127.0.0.1:{control.port}")
    yield running
    running.stop()
    control.stop()


def get(console, path: str, **headers) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_every_page_forbids_framing(console):
    for path in ("/", "/login", "/no-such-page"):
        reply = get(console, path)
        assert reply.getheader("X-Frame-Options") == "DENY"
        assert "frame-ancestors 'none'" in reply.getheader("Content-Security-Policy")


def test_a_foreign_host_name_is_421(console):
    assert get(console, "/", Host=f"attacker.example:{console.port}").status == 421
    assert get(console, "/", Host=f"localhost:{console.port}").status == 200


def test_a_socket_handshake_from_another_origin_is_refused(console):
    own = f"http://127.0.0.1:{console.port}"
    assert get(console, HANDSHAKE, Origin=own).status == 200
    assert get(console, HANDSHAKE, Origin="http://attacker.example").status == 403
    assert get(console, "/", Origin="http://127.0.0.1:1").status == 403


class _Attacker(BaseHTTPRequestHandler):
    def do_GET(self):
        page = f'<html><body><iframe src="{self.server.target}" width=800 height=600></iframe>'
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(page.encode())

    def log_message(self, *args):
        pass


@pytest.mark.timeout(300)
def test_chromium_will_not_show_the_console_inside_another_sites_frame(console):
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    attacker.target = console.url
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    browser = chromium()
    try:
        open_page(browser, console.url)
        assert "Immune" in browser.title  # the console itself loads
        assert browser.find_elements(By.CSS_SELECTOR, "#app")  # NiceGUI's root element
        browser.get(f"http://127.0.0.1:{attacker.server_port}/")
        browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
        assert not browser.find_elements(By.CSS_SELECTOR, "#app")  # the frame shows nothing of it
    finally:
        browser.quit()
        attacker.shutdown()
