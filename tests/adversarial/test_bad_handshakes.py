"""Hostile opening handshakes get their HTTP error; the server goes on serving."""

from __future__ import annotations

import logging

import pytest
from helpers import handshake_request, is_a_problem

from .peer import RawPeer, serving, survived

pytestmark = pytest.mark.usefixtures("anyio_backend")

VALID = handshake_request()

ATTACKS = {
    "not http": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)), 400),
    "garbage request line": (b"\x00\xffGARBAGE\x7f \x01\r\n\r\n", 400),
    "missing upgrade": (VALID.replace(b"Upgrade: websocket\r\n", b""), 426),
    "missing connection": (VALID.replace(b"Connection: Upgrade\r\n", b""), 426),
    "key not base64": (handshake_request(key="not*base64*at*all"), 400),
    "key of 15 bytes": (handshake_request(key="AAAAAAAAAAAAAAAAAAAA"), 400),
    "two keys": (handshake_request(extra="Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"), 400),
    "version 8": (handshake_request(version="8"), 426),
    "version 13 twice": (handshake_request(extra="Sec-WebSocket-Version: 13\r\n"), 426),
    "oversized head": (handshake_request(extra=f"X-Big: {'a' * 20000}\r\n"), 431),
    "many headers": (handshake_request(extra="X-A: b\r\n" * 3000), 431),
    "request body": (handshake_request(extra="Content-Length: 5\r\n") + b"hello", 400),
}


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_bad_handshake_gets_its_status(name: str, caplog: pytest.LogCaptureFixture):
    """Each malformed request gets the expected HTTP status, then the connection closes."""
    request, status = ATTACKS[name]
    caplog.set_level(logging.INFO, logger="anyio_ws")
    async with serving() as (server, tasks):
        async with RawPeer.connect(server.port) as peer:
            assert await peer.handshake(request) == status
            await peer.read_until_eof()
        await survived(server, tasks)
    assert not [record for record in caplog.records if is_a_problem(record)]


async def test_bad_handshakes_one_after_another_on_the_same_server():
    """All the bad requests in a row leave one server able to serve and with no task left."""
    async with serving() as (server, tasks):
        for request, status in ATTACKS.values():
            async with RawPeer.connect(server.port) as peer:
                assert await peer.handshake(request) == status
        await survived(server, tasks)
