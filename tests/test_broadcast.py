"""broadcast() and abroadcast(): one message to many, never held up by a slow client."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

import anyio_ws
from anyio_ws import ClientConnection, Server, ServerConnection, abroadcast, broadcast

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.usefixtures("anyio_backend")

MESSAGE = b"x" * 16384


@asynccontextmanager
async def clients(
    count: int, **options: object
) -> AsyncIterator[tuple[Server, list[ClientConnection]]]:
    """A server whose handlers just wait, and ``count`` clients connected to it."""

    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with anyio_ws.serve(handler, "127.0.0.1", 0, compression=None, **options) as server:
        async with anyio.create_task_group() as group:
            connected = [
                await anyio_ws.connect(
                    f"ws://127.0.0.1:{server.port}/",
                    compression=None,
                    max_queue=1,
                    close_timeout=1,
                    task_group=group,
                )
                for _ in range(count)
            ]
            with anyio.fail_after(5):
                # Polled (bounded): the server gives no event when a connection opens.
                while len(server.connections) < count:  # noqa: ASYNC110 (a plain set)
                    await anyio.sleep(0.01)
            try:
                yield server, connected
            finally:
                for client in connected:
                    await client.close()


def server_side_of(server: Server, client: ClientConnection) -> ServerConnection:
    """The server's end of ``client``'s connection."""
    port = client.local_address[1]  # type: ignore[index]
    (found,) = [c for c in server.connections if c.remote_address[1] == port]  # type: ignore[index]
    return found


async def fill_until_skipped(
    server_side: list[ServerConnection], fast: ClientConnection, caplog: pytest.LogCaptureFixture
) -> int:
    """Broadcast until the slow client's buffer is full; the fast one reads each message."""
    for sent in range(1, 5000):
        broadcast(server_side, MESSAGE)
        with anyio.fail_after(5):
            assert await fast.recv() == MESSAGE
        if any("skipped broadcast" in record.getMessage() for record in caplog.records):
            return sent
    raise AssertionError("the slow client was never skipped")


async def test_every_open_connection_gets_the_message_text_or_binary():
    async with clients(3) as (server, connected):
        broadcast(server.connections, "hello")
        broadcast(server.connections, b"\x00\x01")
        with anyio.fail_after(5):
            for client in connected:
                assert await client.recv() == "hello"
                assert await client.recv() == b"\x00\x01"


async def test_closed_connections_are_skipped_quietly(caplog):
    async with clients(2) as (server, connected):
        gone, still_open = (server_side_of(server, client) for client in connected)
        await gone.close()
        broadcast([gone, still_open], "after")
        with anyio.fail_after(5):
            assert await connected[1].recv() == "after"
    assert not [r for r in caplog.records if "skipped broadcast" in r.getMessage()]


async def test_a_client_that_stops_reading_is_skipped_and_memory_stays_bounded(caplog):
    caplog.set_level(logging.WARNING)
    async with clients(2) as (server, (slow, fast)):
        slow_server_side = server_side_of(server, slow)
        server_side = [slow_server_side, server_side_of(server, fast)]
        sent = await fill_until_skipped(server_side, fast, caplog)
        # Whatever the slow client does, what waits for it is bounded by write_limit.
        for _ in range(50):
            broadcast(server_side, MESSAGE)
            assert await fast.recv() == MESSAGE
            buffered = slow_server_side.write_buffer_size()
            high = slow_server_side._sender._write_high
            assert buffered <= high + len(MESSAGE) + 14  # + a frame header
        skipped = [r for r in caplog.records if "skipped broadcast" in r.getMessage()]
        assert skipped and all(r.levelno == logging.WARNING for r in skipped)
        assert "write buffer over write_limit" in skipped[0].getMessage()
        # The slow client catches up: it gets whole messages, in order, none corrupted.
        received = 0
        with anyio.move_on_after(1):
            while True:
                assert await slow.recv() == MESSAGE
                received += 1
        assert 0 < received <= sent + 50


async def test_raise_exceptions_reports_the_skipped_connections(caplog):
    async with clients(2) as (server, (slow, fast)):
        server_side = [server_side_of(server, slow), server_side_of(server, fast)]
        await fill_until_skipped(server_side, fast, caplog)
        with pytest.raises(ExceptionGroup) as raised:
            broadcast(server_side, MESSAGE, raise_exceptions=True)
        assert len(raised.value.exceptions) == 1
        assert isinstance(raised.value.exceptions[0], anyio_ws.ConcurrencyError)
        assert await fast.recv() == MESSAGE  # the others still got it


async def test_abroadcast_waits_for_room_within_its_bound(caplog):
    caplog.set_level(logging.WARNING)
    async with clients(2) as (server, (slow, fast)):
        server_side = [server_side_of(server, slow), server_side_of(server, fast)]
        await fill_until_skipped(server_side, fast, caplog)
        caplog.clear()
        # Full and nobody reads: skipped after the timeout.
        with anyio.fail_after(5):
            await abroadcast(server_side, b"late", timeout=0.1)
        assert await fast.recv() == b"late"
        assert [r for r in caplog.records if "skipped broadcast" in r.getMessage()]
        caplog.clear()

        # Full, but the client starts reading: the message waits for room, then goes.
        async def drain() -> None:
            while await slow.recv() != b"last":
                pass

        async with anyio.create_task_group() as group:
            group.start_soon(drain)
            with anyio.fail_after(5):
                await abroadcast(server_side, b"last", timeout=5)
        assert await fast.recv() == b"last"
        assert not [r for r in caplog.records if "skipped broadcast" in r.getMessage()]


async def test_broadcast_rejects_other_types_at_the_call():
    with pytest.raises(TypeError):
        broadcast([], 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await abroadcast([], {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await abroadcast([], "x", timeout=-1)
