"""broadcast() and abroadcast(): one message to many, never held up by a slow client."""

from __future__ import annotations

import logging
import socket
import struct
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest
from helpers import handshake_request, read_http_head

import anyio_ws
from anyio_ws import ClientConnection, Server, ServerConnection, abroadcast, broadcast
from anyio_ws._sending import Sender

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


@pytest.fixture
def flush_tasks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the flush tasks connections run (one entry per task)."""
    runs: list[int] = []
    flush_queued = Sender._flush_queued

    async def counted(self: Sender) -> None:
        runs.append(1)
        await flush_queued(self)

    monkeypatch.setattr(Sender, "_flush_queued", counted)
    return runs


async def test_broadcast_to_clients_that_read_starts_no_task(flush_tasks):
    """Each open connection writes the message at once: no task per connection."""
    async with clients(20) as (server, connected):
        for number in range(50):
            broadcast(server.connections, f"message {number}")
            await anyio.lowlevel.checkpoint()
        with anyio.fail_after(5):
            for client in connected:
                for number in range(50):
                    assert await client.recv() == f"message {number}"
    assert flush_tasks == []


async def test_what_the_kernel_does_not_take_goes_out_later_whole_and_in_order(
    flush_tasks, anyio_backend_name
):
    """Past the socket buffer (a client slow to read), the rest is written later.

    On asyncio the transport buffers it; on trio one flush task at a time writes it.
    """
    big = bytes(range(256)) * 256  # 64 KiB
    async with clients(1, write_limit=2**25) as (server, (client,)):
        for number in range(256):  # 16 MiB, beyond the kernel's buffers
            broadcast(server.connections, bytes([number]) + big)
        with anyio.fail_after(10):
            for number in range(256):
                assert await client.recv() == bytes([number]) + big
    if anyio_backend_name == "trio":
        assert 1 <= len(flush_tasks) < 256  # something was left over; not a task a message
    else:
        assert flush_tasks == []


async def test_broadcast_between_sends_keeps_each_senders_order():
    """A handler's own messages and broadcasts interleave whole, each in its order."""
    async with clients(1) as (server, (client,)):
        (server_side,) = server.connections

        async def own_messages() -> None:
            for number in range(200):
                await server_side.send(f"own {number}")

        async with anyio.create_task_group() as group:
            group.start_soon(own_messages)
            for number in range(200):
                broadcast([server_side], f"all {number}")
                await anyio.lowlevel.checkpoint()
        with anyio.fail_after(5):
            received = [await client.recv() for _ in range(400)]
    assert [m for m in received if m.startswith("own")] == [f"own {n}" for n in range(200)]
    assert [m for m in received if m.startswith("all")] == [f"all {n}" for n in range(200)]


async def test_a_fragmented_send_under_way_is_skipped_and_stays_whole(caplog):
    caplog.set_level(logging.WARNING)
    async with clients(1) as (server, (client,)):
        (server_side,) = server.connections
        between = anyio.Event()
        resume = anyio.Event()

        async def fragments() -> AsyncIterator[str]:
            yield "first "
            between.set()
            await resume.wait()
            yield "last"

        async with anyio.create_task_group() as group:
            group.start_soon(server_side.send, fragments())
            with anyio.fail_after(5):
                await between.wait()
            broadcast([server_side], "in the middle")
            resume.set()
        broadcast([server_side], "after")
        with anyio.fail_after(5):
            assert await client.recv() == "first last"
            assert await client.recv() == "after"
    skipped = [r.getMessage() for r in caplog.records if "skipped broadcast" in r.getMessage()]
    assert skipped == ["skipped broadcast: a fragmented message is being sent"]


async def test_a_peer_that_resets_mid_broadcast_ends_only_its_connection(caplog):
    """A write that fails (RST) does not raise from broadcast(); the others go on."""
    async with clients(2) as (server, connected):
        async with await anyio.connect_tcp("127.0.0.1", server.port) as raw:
            await raw.send(handshake_request())
            await read_http_head(raw)
            with anyio.fail_after(5):
                while len(server.connections) < 3:  # noqa: ASYNC110 (a plain set)
                    await anyio.sleep(0.01)
            sock = raw.extra(anyio.abc.SocketAttribute.raw_socket)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await anyio.aclose_forcefully(raw)  # an RST
        everyone = list(server.connections)
        for number in range(20):
            broadcast(everyone, f"message {number}")
            await anyio.sleep(0.01)
        with anyio.fail_after(5):
            for client in connected:
                for number in range(20):
                    assert await client.recv() == f"message {number}"
            while len(server.connections) > 2:  # noqa: ASYNC110 (a plain set)
                await anyio.sleep(0.01)


async def test_one_encoded_frame_serves_plain_and_compressed_clients():
    """Uncompressed connections share one frame; compressed ones compress their own."""

    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        async with (
            anyio_ws.connect(url, compression=None) as plain,
            anyio_ws.connect(url) as compressed,
        ):
            with anyio.fail_after(5):
                while len(server.connections) < 2:  # noqa: ASYNC110 (a plain set)
                    await anyio.sleep(0.01)
            text = "the same words, again and again; " * 40
            broadcast(server.connections, text)
            broadcast(server.connections, text.encode())
            with anyio.fail_after(5):
                for client in (plain, compressed):
                    assert await client.recv() == text
                    assert await client.recv() == text.encode()
