"""Frames that break RFC 6455 get the right close code; the server goes on serving."""

from __future__ import annotations

import struct

import pytest
from helpers import is_a_problem

from anyio_ws.core.frames import Opcode

from .peer import RawPeer, serving, survived

pytestmark = pytest.mark.usefixtures("anyio_backend")

MAX_SIZE = 1000


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


# name: (frames as (opcode, payload, fin, rsv, masked), expected close code)
ATTACKS: dict[str, tuple[list[tuple[int, bytes, bool, int, bool]], int]] = {
    "unmasked client frame": ([(Opcode.TEXT, b"hello", True, 0, False)], 1002),
    "reserved data opcode 0x3": ([(0x3, b"", True, 0, True)], 1002),
    "reserved control opcode 0xB": ([(0xB, b"", True, 0, True)], 1002),
    "rsv1 without extension": ([(Opcode.TEXT, b"x", True, 0x40, True)], 1002),
    "rsv2 on a ping": ([(Opcode.PING, b"", True, 0x20, True)], 1002),
    "rsv3 on a continuation": (
        [(Opcode.TEXT, b"a", False, 0, True), (Opcode.CONT, b"b", True, 0x10, True)],
        1002,
    ),
    "fragmented ping": ([(Opcode.PING, b"x", False, 0, True)], 1002),
    "fragmented close": ([(Opcode.CLOSE, close_payload(1000), False, 0, True)], 1002),
    "ping of 126 bytes": ([(Opcode.PING, b"p" * 126, True, 0, True)], 1002),
    "close of 126 bytes": ([(Opcode.CLOSE, close_payload(1000, b"r" * 124), True, 0, True)], 1002),
    "invalid utf-8 text": ([(Opcode.TEXT, b"caf\xc3", True, 0, True)], 1007),
    "surrogate in utf-8 text": ([(Opcode.TEXT, b"\xed\xa0\x80", True, 0, True)], 1007),
    "invalid utf-8 across fragments": (
        [(Opcode.TEXT, b"ok \xf0\x9f", False, 0, True), (Opcode.CONT, b"\x41", True, 0, True)],
        1007,
    ),
    "invalid utf-8 in close reason": (
        [(Opcode.CLOSE, close_payload(1000, b"\xff"), True, 0, True)],
        1007,
    ),
    "continuation without start": ([(Opcode.CONT, b"orphan", True, 0, True)], 1002),
    "new message inside a fragmented one": (
        [(Opcode.BINARY, b"a", False, 0, True), (Opcode.TEXT, b"b", True, 0, True)],
        1002,
    ),
    "oversized message": ([(Opcode.BINARY, b"x" * (MAX_SIZE + 1), True, 0, True)], 1009),
    "oversized fragmented message": (
        [(Opcode.BINARY, b"x" * 600, False, 0, True), (Opcode.CONT, b"x" * 600, True, 0, True)],
        1009,
    ),
    "close code 999": ([(Opcode.CLOSE, close_payload(999), True, 0, True)], 1002),
    "close code 1005": ([(Opcode.CLOSE, close_payload(1005), True, 0, True)], 1002),
    "close code 1006": ([(Opcode.CLOSE, close_payload(1006), True, 0, True)], 1002),
    "close code 1016": ([(Opcode.CLOSE, close_payload(1016), True, 0, True)], 1002),
    "close code 5000": ([(Opcode.CLOSE, close_payload(5000), True, 0, True)], 1002),
    "close with 1-byte payload": ([(Opcode.CLOSE, b"\x03", True, 0, True)], 1002),
}


async def attack(port: int, frames: list[tuple[int, bytes, bool, int, bool]]) -> int | None:
    """Open a connection, send ``frames``, return the server's close code; check it hangs up."""
    async with RawPeer.connect(port) as peer:
        assert await peer.handshake() == 101
        for opcode, payload, fin, rsv, masked in frames:
            await peer.send_frame(
                opcode, payload, fin=fin, rsv=rsv, mask=None if not masked else b"\x01\x02\x03\x04"
            )
        close = await peer.read_close()
        assert not close.masked and close.fin
        assert await peer.read_until_eof() == b"", "nothing may follow the close frame"
        return close.close_code


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_bad_frame_gets_its_close_code(name: str, caplog: pytest.LogCaptureFixture):
    """Each violation gets the close code the RFC asks for, then the TCP connection ends."""
    frames, code = ATTACKS[name]
    async with serving(max_size=MAX_SIZE) as (server, tasks):
        assert await attack(server.port, frames) == code
        await survived(server, tasks)
    assert not [record for record in caplog.records if is_a_problem(record)]


async def test_length_with_its_top_bit_set_gets_1002():
    """A 64-bit length with its most significant bit set is refused (section 5.2)."""
    async with serving() as (server, tasks):
        async with RawPeer.connect(server.port) as peer:
            assert await peer.handshake() == 101
            await peer.send(b"\x82\xff" + (2**63).to_bytes(8, "big") + b"\x00\x00\x00\x00")
            assert (await peer.read_close()).close_code == 1002
        await survived(server, tasks)


async def test_huge_declared_length_is_refused_unread():
    """A frame declaring 2**62 bytes gets 1009 at once: the server waits for none of them."""
    async with serving(max_size=MAX_SIZE) as (server, tasks):
        async with RawPeer.connect(server.port) as peer:
            assert await peer.handshake() == 101
            await peer.send(b"\x82\xff" + (2**62).to_bytes(8, "big") + b"\x00\x00\x00\x00")
            assert (await peer.read_close()).close_code == 1009
        await survived(server, tasks)


async def test_all_bad_frames_in_a_row_on_one_server():
    """Every violation above, one connection each, against the same server."""
    async with serving(max_size=MAX_SIZE) as (server, tasks):
        for frames, code in ATTACKS.values():
            assert await attack(server.port, frames) == code
        await survived(server, tasks)
