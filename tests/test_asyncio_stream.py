"""The asyncio backend's own stream (``anyio_ws._asyncio_stream``), on its own.

The connection layer runs over it in every other test module on asyncio; here its
``ByteStream`` contract is checked directly, both ends built the way ``serve()`` and
``connect()`` build them (accepted socket / ``create_connection``), over TCP and TLS.
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio
import anyio.lowlevel
import pytest
import trustme
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSAttribute

import anyio_ws
from anyio_ws import _asyncio_stream
from anyio_ws._asyncio_stream import AsyncioSocketStream, accept_socket, open_accepted, open_tcp
from anyio_ws._streams import _running_asyncio, half_close


@pytest.fixture(autouse=True)
def _asyncio_only(anyio_backend: tuple[str, dict[str, object]]) -> None:
    if anyio_backend[0] != "asyncio":
        pytest.skip("AsyncioSocketStream is the asyncio backend's own; trio keeps anyio's stream")


@pytest.fixture(scope="module")
def contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client)
    return server, client


@asynccontextmanager
async def stream_pair(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,
) -> AsyncIterator[tuple[AsyncioSocketStream, AsyncioSocketStream]]:
    """(server side, client side), built as ``serve()`` and ``connect()`` build them."""
    server_ssl, client_ssl = contexts if contexts is not None else (None, None)
    accepted: list[AsyncioSocketStream] = []
    with anyio.fail_after(5):
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            listening = listener.extra(SocketAttribute.raw_socket)
            port = listener.extra(SocketAttribute.local_port)

            async def accept() -> None:
                accepted.append(await open_accepted(await accept_socket(listening), server_ssl))

            async with anyio.create_task_group() as group:
                group.start_soon(accept)
                client = await open_tcp("127.0.0.1", port, client_ssl, "localhost")
    server = accepted[0]
    try:
        yield server, client
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(client)
            await anyio.aclose_forcefully(server)


async def wait_until_buffered(stream: AsyncioSocketStream, size: int) -> None:
    """Wait until ``size`` bytes arrived and wait unread in ``stream`` (polled: no event)."""
    with anyio.fail_after(5):
        while stream._protocol.buffered < size:  # noqa: ASYNC110 (a plain counter)
            await anyio.sleep(0.001)


def stuck(stream: AsyncioSocketStream) -> bool:
    """Whether ``stream`` can send nothing more until its peer reads.

    Its transport holds more than the limit (so ``send()`` waits) and the kernel takes
    no more (the socket is not writable): nothing changes until the peer reads.
    """
    sock = stream.extra(SocketAttribute.raw_socket)
    _, writable, _ = select.select([], [sock], [], 0)
    return stream._protocol.writing_paused and not writable


async def wait_until_stuck(stream: AsyncioSocketStream) -> None:
    """Wait until ``stuck(stream)`` (polled: the kernel gives no event for it)."""
    with anyio.fail_after(10):
        while not stuck(stream):  # noqa: ASYNC110 (socket state, no event for it)
            await anyio.sleep(0.01)


async def cancel_once_all_wait(scope: anyio.CancelScope) -> None:
    """Cancel ``scope`` once every other task waits: what it ran could not finish."""
    await anyio.wait_all_tasks_blocked()
    scope.cancel()


async def receive_exactly(stream: anyio.abc.ByteStream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        data += await stream.receive()
    return bytes(data)


async def test_receive_returns_what_the_peer_sent():
    async with stream_pair() as (server, client):
        await client.send(b"hello")
        assert await server.receive() == b"hello"
        await server.send(b"world")
        assert await client.receive() == b"world"


async def test_receive_honours_max_bytes_and_joins_chunks():
    """Buffered chunks come out joined, split at ``max_bytes``; nothing is lost."""
    async with stream_pair() as (server, client):
        arrived = 0
        for part in (b"abc", b"defg", b"hij"):
            await client.send(part)
            arrived += len(part)
            await wait_until_buffered(server, arrived)  # so each part is a separate read
        assert len(server._protocol.chunks) == 3
        assert await server.receive(2) == b"ab"
        assert await server.receive(5) == b"cdefg"
        assert await server.receive() == b"hij"


async def test_a_cancelled_receive_loses_nothing():
    async with stream_pair() as (server, client):
        async with anyio.create_task_group() as group:
            with anyio.CancelScope() as scope:
                group.start_soon(cancel_once_all_wait, scope)
                await server.receive()
        assert scope.cancelled_caught
        await client.send(b"later")
        assert await server.receive() == b"later"


async def test_end_of_stream_after_the_data():
    async with stream_pair() as (server, client):
        await client.send(b"last words")
        await client.send_eof()
        assert await receive_exactly(server, 10) == b"last words"
        with pytest.raises(anyio.EndOfStream):
            await server.receive()
        with pytest.raises(anyio.EndOfStream):
            await server.receive()


async def test_send_eof_is_a_half_close():
    """After our EOF the peer still sends, and we still receive."""
    async with stream_pair() as (server, client):
        await server.send_eof()
        with pytest.raises(anyio.EndOfStream):
            await client.receive()
        await client.send(b"still open this way")
        assert await receive_exactly(server, 19) == b"still open this way"
        await half_close(client)
        with pytest.raises(anyio.EndOfStream):
            await server.receive()


async def test_aclose_is_idempotent_and_closes_for_good():
    async with stream_pair() as (server, client):
        await client.aclose()
        await client.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await client.receive()
        with pytest.raises(anyio.ClosedResourceError):
            await client.send(b"x")
        with pytest.raises(anyio.ClosedResourceError):
            await client.send_eof()
        with pytest.raises(anyio.EndOfStream):
            await server.receive()


async def test_aclose_flushes_what_was_sent():
    """Unlike anyio's asyncio stream, closing is graceful: written bytes go out."""
    payload = os.urandom(32 * 2**20)  # beyond what the kernel buffers

    async def send(stream: AsyncioSocketStream) -> None:
        with suppress(anyio.ClosedResourceError):  # if closed while it waited to drain
            await stream.send(payload)

    async with stream_pair() as (server, client):
        async with anyio.create_task_group() as group:
            group.start_soon(send, client)
            await anyio.wait_all_tasks_blocked()  # the send waits for the buffer to drain
            assert client._protocol.writing_paused
            received = await server.receive()
            group.start_soon(client.aclose)
            received += await receive_exactly(server, len(payload) - len(received))
        assert received == payload
        with pytest.raises(anyio.EndOfStream):
            await server.receive()


async def test_close_at_once_closes_plain_tcp_with_nothing_to_write() -> None:
    """abort()'s fast path: no wait, and what was written before still arrives."""
    async with stream_pair() as (server, client):
        await client.send(b"last words")
        assert client.close_at_once()  # the kernel took the bytes: nothing buffered
        assert client.close_at_once()  # and again: already closed
        with pytest.raises(anyio.ClosedResourceError):
            await client.send(b"x")
        assert await receive_exactly(server, 10) == b"last words"
        with pytest.raises(anyio.EndOfStream):
            await server.receive()


async def test_close_at_once_leaves_buffered_bytes_to_aclose() -> None:
    """With bytes still buffered for a slow peer, closing at once would wait on it: no."""
    async with stream_pair() as (server, client):
        async with anyio.create_task_group() as group:
            group.start_soon(client.send, b"x" * 32 * 2**20)  # far beyond the kernel's buffer
            await wait_until_stuck(client)
            assert not client.close_at_once()
            assert not client._closed  # untouched: still usable, still sending
            group.cancel_scope.cancel()


async def test_close_at_once_leaves_tls_to_aclose(contexts) -> None:
    async with stream_pair(contexts) as (_, client):
        assert not client.close_at_once()
        assert not client._closed


async def test_a_cancelled_aclose_aborts():
    """A peer that does not read cannot hold a graceful close: cancelling it aborts."""
    payload = os.urandom(32 * 2**20)

    async def send(stream: AsyncioSocketStream) -> None:
        with pytest.raises(anyio.ClosedResourceError):
            await stream.send(payload)

    async with stream_pair() as (server, client):
        async with anyio.create_task_group() as group:
            group.start_soon(send, client)
            await wait_until_stuck(client)
            with anyio.CancelScope() as scope:
                group.start_soon(cancel_once_all_wait, scope)
                await client.aclose()  # waits for the buffer to drain: never
            assert scope.cancelled_caught
            with anyio.fail_after(5):  # aborted: it does not wait for the buffer again
                await client.aclose()
            assert client._protocol.lost
        received = 0
        with anyio.fail_after(5), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
            while True:
                received += len(await server.receive())
        assert received < len(payload)


async def test_aclose_wakes_a_waiting_receive():
    async with stream_pair() as (server, _client):
        async with anyio.create_task_group() as group:

            async def receive() -> None:
                with pytest.raises(anyio.ClosedResourceError):
                    await server.receive()

            group.start_soon(receive)
            await anyio.wait_all_tasks_blocked()  # the receive waits
            await server.aclose()


async def test_concurrent_receive_is_busy():
    async with stream_pair() as (server, client):
        async with anyio.create_task_group() as group:
            group.start_soon(server.receive)
            await anyio.wait_all_tasks_blocked()  # the first receive waits
            with pytest.raises(anyio.BusyResourceError):
                await server.receive()
            await client.send(b"x")


async def test_peer_reset_is_a_broken_resource():
    async with stream_pair() as (server, client):
        sock = client.extra(SocketAttribute.raw_socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await anyio.aclose_forcefully(client)  # SO_LINGER 0: an RST, not a FIN
        with anyio.fail_after(5), pytest.raises(anyio.BrokenResourceError) as info:
            await server.receive()
        assert isinstance(info.value.__cause__, ConnectionError)
        with pytest.raises(anyio.BrokenResourceError):
            await server.send(b"x")


async def test_send_waits_while_the_peer_does_not_read():
    """Backpressure: a peer that stops reading stops the sender, reading resumes it."""
    chunk = b"x" * 65536
    total = 64 * 2**20  # far beyond any socket buffer
    sent = 0
    async with stream_pair() as (server, client):

        async def sender() -> None:
            nonlocal sent
            while sent < total:
                await client.send(chunk)
                sent += len(chunk)

        async with anyio.create_task_group() as group:
            group.start_soon(sender)
            await wait_until_stuck(client)
            await anyio.wait_all_tasks_blocked()
            assert sent < total
            assert client._protocol.writing_paused
            with anyio.fail_after(30):
                assert len(await receive_exactly(server, total)) == total
        assert sent == total


async def test_reading_pauses_above_the_high_water_mark():
    """What we do not read is buffered up to a bound, then the transport stops reading."""
    async with stream_pair() as (server, client):
        protocol = server._protocol
        async with anyio.create_task_group() as group:
            group.start_soon(client.send, b"y" * (8 * 2**20))
            with anyio.fail_after(5):
                while not protocol.reading_paused:  # noqa: ASYNC110 (a plain flag)
                    await anyio.sleep(0.01)
            # More is waiting in the kernel: were the transport still reading, each turn
            # of the event loop (which polls the socket) would add to the buffer.
            buffered = protocol.buffered
            for _ in range(100):
                await anyio.lowlevel.checkpoint()
            assert protocol.buffered == buffered < _asyncio_stream._READ_HIGH + 2**20
            received = len(await server.receive())
            while protocol.buffered > _asyncio_stream._READ_LOW:
                received += len(await server.receive())
            assert not protocol.reading_paused
            with anyio.fail_after(10):
                received += len(await receive_exactly(server, 8 * 2**20 - received))
        assert received == 8 * 2**20


async def test_big_data_both_ways_at_once():
    """Several MiB each way, concurrently, in random-sized writes: every byte arrives."""
    size = 6 * 2**20
    data = {"server": os.urandom(size), "client": os.urandom(size)}
    digests: dict[str, str] = {}

    async def send(name: str, stream: AsyncioSocketStream) -> None:
        payload = memoryview(data[name])
        rng = random.Random(name)
        while payload:
            n = rng.randint(1, 300_000)
            await stream.send(bytes(payload[:n]))
            payload = payload[n:]

    async def receive(name: str, stream: AsyncioSocketStream) -> None:
        digests[name] = hashlib.sha256(await receive_exactly(stream, size)).hexdigest()

    async with stream_pair() as (server, client):
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(send, "server", server)
                group.start_soon(send, "client", client)
                group.start_soon(receive, "from client", server)
                group.start_soon(receive, "from server", client)
    assert digests["from client"] == hashlib.sha256(data["client"]).hexdigest()
    assert digests["from server"] == hashlib.sha256(data["server"]).hexdigest()


async def test_socket_address_agrees_with_the_typed_attributes():
    """The quick path address_of() takes gives what extra() gives, IPv6 included."""
    for host in ("127.0.0.1", "::1"):
        try:
            listener = await anyio.create_tcp_listener(local_host=host)
        except OSError:  # no IPv6 on this machine
            continue
        async with listener:
            port = listener.extra(SocketAttribute.local_port)
            sock = socket.create_connection((host, port))
            with sock:
                raw = listener.extra(SocketAttribute.raw_socket)
                accepted, _ = raw.accept()
                stream = await open_accepted(accepted, None)
                async with stream:
                    for local, attribute in (
                        (True, SocketAttribute.local_address),
                        (False, SocketAttribute.remote_address),
                    ):
                        assert stream.socket_address(local) == stream.extra(attribute)
                    assert stream.socket_address(False) == sock.getsockname()[:2]


async def test_socket_attributes():
    async with stream_pair() as (server, client):
        assert server.extra(SocketAttribute.local_address) == client.extra(
            SocketAttribute.remote_address
        )
        assert client.extra(SocketAttribute.local_address) == server.extra(
            SocketAttribute.remote_address
        )
        assert server.extra(SocketAttribute.remote_port) == client.extra(SocketAttribute.local_port)
        assert server.extra(SocketAttribute.family) == socket.AF_INET
        sock = server.extra(SocketAttribute.raw_socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        with pytest.raises(anyio.TypedAttributeLookupError):
            server.extra(TLSAttribute.ssl_object)


async def test_tls_echo_attributes_and_no_half_close(contexts):
    async with stream_pair(contexts) as (server, client):
        await client.send(b"secret")
        assert await server.receive() == b"secret"
        payload = os.urandom(2**20)
        async with anyio.create_task_group() as group:
            group.start_soon(server.send, payload)
            assert await receive_exactly(client, len(payload)) == payload
        assert server.extra(TLSAttribute.server_side) is True
        assert client.extra(TLSAttribute.server_side) is False
        assert client.extra(TLSAttribute.tls_version).startswith("TLS")
        assert isinstance(client.extra(TLSAttribute.ssl_object), ssl.SSLObject)
        assert client.extra(TLSAttribute.peer_certificate) is not None
        assert server.extra(SocketAttribute.remote_address) == client.extra(
            SocketAttribute.local_address
        )
        with pytest.raises(NotImplementedError):
            await client.send_eof()
        await half_close(client)  # falls back to closing
        with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
            await server.receive()


async def test_tls_handshake_failure_is_an_oserror(contexts):
    """A client that does not trust the certificate fails with an ``ssl.SSLError``."""
    server_ssl, _ = contexts
    untrusting = ssl.create_default_context()
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        listening = listener.extra(SocketAttribute.raw_socket)
        port = listener.extra(SocketAttribute.local_port)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:

                async def accept() -> None:
                    with pytest.raises(OSError):
                        await open_accepted(await accept_socket(listening), server_ssl)

                group.start_soon(accept)
                with pytest.raises(ssl.SSLError):
                    await open_tcp("127.0.0.1", port, untrusting, "localhost")


async def test_connections_run_on_it_in_serve_and_connect():
    """On asyncio, ``serve()`` and ``connect()`` both put connections on this stream."""
    streams: list[object] = []

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        streams.append(ws.stream)
        async for message in ws:
            await ws.send(message)

    assert _running_asyncio()
    with anyio.fail_after(5):
        async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
            async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("ping")
                assert await ws.recv() == "ping"
                assert isinstance(ws.stream, AsyncioSocketStream)
                assert ws.local_address == streams[0].extra(SocketAttribute.remote_address)  # type: ignore[attr-defined]
    assert isinstance(streams[0], AsyncioSocketStream)


def test_running_asyncio_detection_needs_an_asyncio_task():
    """Stdlib only: true in an asyncio task, false on trio and outside any loop."""

    async def check() -> bool:
        return _running_asyncio()

    assert not _running_asyncio()
    assert anyio.run(check, backend="asyncio") is True
    assert anyio.run(check, backend="trio") is False
