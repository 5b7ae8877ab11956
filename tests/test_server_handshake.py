"""The handshake's pure helpers: the access log line, and completing a hook's response.

The handshake itself (TLS, hooks, rejections) is tested over real connections in
test_handshake_hooks.py, test_handshake_bounds.py and test_server.py.
"""

from __future__ import annotations

import logging

import pytest

from anyio_ws._server_handshake import (
    complete_response,
    format_address,
    log_response,
    loggable_target,
)
from anyio_ws.core.http import Headers, Request, Response
from anyio_ws.exceptions import InvalidOrigin

# ------------------------------------------------------------------ the access log


@pytest.mark.parametrize(
    "address, shown",
    [
        (("127.0.0.1", 50312), "127.0.0.1:50312"),
        (("::1", 8765, 0, 0), "[::1]:8765"),
        ("/run/app.sock", "/run/app.sock"),
        (None, "None"),
    ],
    ids=["IPv4", "IPv6", "Unix path", "no address"],
)
def test_format_address(address: object, shown: str) -> None:
    """``host:port``, an IPv6 host in brackets, anything else as it prints."""
    assert format_address(address) == shown


@pytest.mark.parametrize(
    "target, shown",
    [
        ("/", "/"),
        ("/chat?token=s3cret", "/chat?..."),
        ("/chat?", "/chat?..."),
        ("/" + "p" * 150 + "?q=1", "/" + "p" * 99 + "...?..."),
    ],
    ids=["path", "query", "empty query", "long path"],
)
def test_loggable_target_leaves_the_query_out(target: str, shown: str) -> None:
    """The query becomes ``?...`` (tokens travel there) and the path stops at 100."""
    assert loggable_target(target) == shown


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    caplog.set_level(logging.INFO, logger="tests.access")
    return logging.getLogger("tests.access")


def test_log_line_of_a_hook_answer(
    access_log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """An answer that is no failure: client, request line, status, nothing more."""
    log_response(access_log, ("127.0.0.1", 5), Request("/healthz?x=1"), 200, None)
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == '127.0.0.1:5 "GET /healthz?... HTTP/1.1" 200'


def test_log_line_of_a_rejected_handshake(
    access_log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure adds its reason, cut to 300 characters."""
    failure = InvalidOrigin("https://" + "o" * 1000)
    log_response(access_log, ("::1", 7, 0, 0), Request("/chat"), 403, failure)
    (record,) = caplog.records
    message = record.getMessage()
    assert message.startswith(
        '[::1]:7 "GET /chat HTTP/1.1" 403 rejected handshake: invalid Origin header: https://o'
    )
    assert message.endswith("...")
    assert len(message) < 400


def test_log_line_without_a_request(
    access_log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """A request that could not be read shows as ``-``."""
    log_response(access_log, ("127.0.0.1", 5), None, 400, InvalidOrigin(None))
    (record,) = caplog.records
    assert record.getMessage().startswith('127.0.0.1:5 "GET - HTTP/1.1" 400 rejected handshake')


# ------------------------------------------------------- completing a hook's response


def test_a_bare_response_gets_server_length_and_close() -> None:
    """What a hook builds by hand is sent with ``Server``, its length, and ``close``."""
    response = Response(200, "OK", body=b"hello")
    complete_response(response, "anyio_ws")
    assert list(response.headers.raw_items()) == [
        ("Server", "anyio_ws"),
        ("Content-Length", "5"),
        ("Connection", "close"),
    ]


def test_headers_the_hook_set_are_kept() -> None:
    """A header the hook chose is not replaced, and ``Transfer-Encoding`` means no length."""
    headers = Headers(
        [("Server", "mine"), ("Transfer-Encoding", "chunked"), ("Connection", "keep-alive")]
    )
    response = Response(200, "OK", headers=headers.copy(), body=b"hello")
    complete_response(response, "anyio_ws")
    assert response.headers == headers


@pytest.mark.parametrize("status", [204, 304])
def test_no_length_for_a_response_without_body(status: int) -> None:
    """204 and 304 carry no body, hence no ``Content-Length``."""
    response = Response(status, "No Content")
    complete_response(response, None)
    assert list(response.headers.raw_items()) == [("Connection", "close")]


def test_a_101_only_gets_the_server_header() -> None:
    """A switching response keeps the connection and has no body to frame."""
    response = Response(101, "Switching Protocols")
    complete_response(response, "anyio_ws")
    assert list(response.headers.raw_items()) == [("Server", "anyio_ws")]
