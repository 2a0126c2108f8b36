"""The shared HTTP server: a client that hangs up is routine, other errors are logged."""

import logging
import urllib.error
import urllib.request

import pytest

from immune_common.httpserve import BackgroundServer, QuietHandler


class Failing(QuietHandler):
    def do_GET(self):
        if self.path == "/reset":
            raise ConnectionResetError(104, "Connection reset by peer")
        raise ValueError("a bug in a handler")


@pytest.fixture
def server():
    running = BackgroundServer(Failing, "127.0.0.1", 0, "test-http")
    running.start()
    yield running
    running.stop()


def get(server, path: str) -> None:
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5)


def test_a_client_that_went_away_prints_nothing(server, capfd, caplog):
    with caplog.at_level(logging.DEBUG, logger="immune_common.httpserve"):
        get(server, "/reset")
    assert "Traceback" not in capfd.readouterr().err
    assert [r.levelname for r in caplog.records if "went away" in r.message] == ["DEBUG"]


def test_a_handler_bug_is_logged_with_its_stack_not_printed(server, capfd, caplog):
    with caplog.at_level(logging.WARNING, logger="immune_common.httpserve"):
        get(server, "/bug")
    assert "Traceback" not in capfd.readouterr().err
    (record,) = [r for r in caplog.records if "error serving" in r.message]
    assert record.exc_info and record.exc_info[0] is ValueError
