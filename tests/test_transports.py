"""Server transports: sock=, unix_serve(), reuse_port, listener=, serve_stream(), task_group=."""

from __future__ import annotations

import os
import socket
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import pytest
import trustme
from anyio.abc import ByteStream
from anyio.streams.tls import TLSStream
from helpers import handshake_request, read_until_eof, status_of

import anyio_ws
from anyio_ws import ClientConnection, ConnectionClosedError, ConnectionClosedOK, ServerConnection
from anyio_ws._asyncio_stream import AsyncioSocketStream
from anyio_ws._http_head import read_head
from anyio_ws._memory import MemoryByteStream, MemoryListener, memory_stream_pair
from anyio_ws.core.handshake import ClientHandshake
from anyio_ws.core.protocol import Protocol, Side
from anyio_ws.core.uri import parse_uri

pytestmark = pytest.mark.usefixtures("anyio_backend")

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def open_client(
    stream: ByteStream, group: anyio.abc.TaskGroup, path: str = "/"
) -> ClientConnection:
    """A client connection over ``stream``: the handshake by hand, then the reader."""
    handshake = ClientHandshake(parse_uri(f"ws://localhost{path}"))
    await stream.send(handshake.data_to_send())
    response = await read_head(stream, handshake, handshake.next_response)
    handshake.process_response(response)
    protocol = Protocol(
        Side.CLIENT,
        max_size=None,
        extensions=handshake.extensions,
        trailing_data=handshake.trailing_data,
    )
    connection = ClientConnection(
        stream, protocol, request=handshake.request, response=response, ping_interval=None
    )
    connection.start(group)
    return connection


@asynccontextmanager
async def client_over(stream: ByteStream, path: str = "/") -> AsyncIterator[ClientConnection]:
    """``open_client`` in a task group of its own; leaving closes with 1000."""
    async with anyio.create_task_group() as group:
        ws = await open_client(stream, group, path)
        try:
            yield ws
        finally:
            await ws.close()


async def check_echo(ws: ClientConnection) -> None:
    with anyio.fail_after(5):
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x01" * 70_000)
        assert await ws.recv() == b"\x01" * 70_000


async def tcp_echo(port: int) -> None:
    with anyio.fail_after(5):
        async with anyio_ws.connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"


@pytest.fixture
def tcp_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    yield sock
    sock.close()


@pytest.fixture
def socket_path() -> Iterator[str]:
    """A short path (AF_UNIX paths are limited to about 100 bytes; tmp_path can be longer)."""
    directory = tempfile.mkdtemp(prefix="anyio_ws-")
    path = os.path.join(directory, "ws.sock")
    yield path
    if os.path.exists(path):
        os.unlink(path)
    os.rmdir(directory)


# ----------------------------------------------------------- in-memory streams


async def test_memory_pair_carries_bytes_both_ways():
    """What one end sends the other receives, in order, in pieces of max_bytes at most."""
    a, b = memory_stream_pair()
    async with a, b:
        await a.send(b"hello ")
        await a.send(bytearray(b"world"))
        assert await b.receive(3) == b"hel"
        assert await b.receive() == b"lo "
        assert await b.receive() == b"world"
        await b.send(b"back")
        assert await a.receive() == b"back"


async def test_memory_send_eof_is_a_half_close():
    """After send_eof() the peer reads what was sent, then EndOfStream; the other way works."""
    a, b = memory_stream_pair()
    async with a, b:
        await a.send(b"last")
        await a.send_eof()
        with pytest.raises(anyio.ClosedResourceError):
            await a.send(b"more")
        assert await b.receive() == b"last"
        with pytest.raises(anyio.EndOfStream):
            await b.receive()
        await b.send(b"still open")
        assert await a.receive() == b"still open"


async def test_memory_close_ends_the_peer_and_fails_our_own_calls():
    """aclose(): the peer gets EndOfStream and BrokenResourceError; we get ClosedResourceError."""
    a, b = memory_stream_pair()
    await a.send(b"in flight")
    await a.aclose()
    assert await b.receive() == b"in flight"
    with pytest.raises(anyio.EndOfStream):
        await b.receive()
    with pytest.raises(anyio.BrokenResourceError):
        await b.send(b"x")
    with pytest.raises(anyio.ClosedResourceError):
        await a.receive()
    with pytest.raises(anyio.ClosedResourceError):
        await a.send(b"x")
    with pytest.raises(anyio.ClosedResourceError):
        await a.send_eof()
    await b.aclose()


async def test_memory_close_wakes_a_waiting_receive():
    """Closing a stream makes a receive() waiting in another task raise ClosedResourceError."""
    a, b = memory_stream_pair()
    errors: list[type[BaseException]] = []

    async def reader() -> None:
        try:
            await a.receive()
        except Exception as exc:
            errors.append(type(exc))

    async with anyio.create_task_group() as group:
        group.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        await a.aclose()
    await b.aclose()
    assert errors == [anyio.ClosedResourceError]


async def test_memory_receive_twice_at_once_is_busy():
    """Two tasks receiving from one end is a BusyResourceError, as with a socket."""
    a, b = memory_stream_pair()
    async with a, b, anyio.create_task_group() as group:
        group.start_soon(a.receive)
        await anyio.wait_all_tasks_blocked()
        with pytest.raises(anyio.BusyResourceError):
            await a.receive()
        await b.send(b"x")


async def test_memory_send_waits_when_the_buffer_is_full():
    """With max_buffer_size=1 a second write waits until the peer reads."""
    a, b = memory_stream_pair(max_buffer_size=1)
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        await a.send(data)
        sent.append(data)

    async with a, b, anyio.create_task_group() as group:
        await send(b"1")
        group.start_soon(send, b"2")
        await anyio.wait_all_tasks_blocked()
        assert sent == [b"1"]
        assert await b.receive() == b"1"
        await anyio.wait_all_tasks_blocked()
        assert sent == [b"1", b"2"]
        assert await b.receive() == b"2"


async def test_memory_listener_refuses_once_closed_and_closes_unaccepted_streams():
    """Connections not accepted yet see EOF when the listener closes; connect() is refused."""
    listener = MemoryListener()
    client = await listener.connect()
    await listener.aclose()
    with pytest.raises(anyio.EndOfStream):
        await client.receive()
    await client.aclose()
    with pytest.raises(ConnectionRefusedError):
        await listener.connect()
    with pytest.raises(anyio.ClosedResourceError):
        await listener.serve(lambda stream: None)


# ------------------------------------------------------------------ serve_stream


async def test_serve_stream_runs_one_connection_and_returns():
    """serve_stream() handshakes, runs the handler, closes, then returns; server is None."""
    client_end, server_end = memory_stream_pair()
    seen: list[object] = []

    async def handler(ws: ServerConnection) -> None:
        seen.append((ws.request.path if ws.request else None, ws.server))
        await echo(ws)

    async with anyio.create_task_group() as group:
        group.start_soon(anyio_ws.serve_stream, handler, server_end)
        async with client_over(client_end, "/mem?x=1") as ws:
            await check_echo(ws)
    assert seen == [("/mem?x=1", None)]
    assert ws.close_code == 1000
    with pytest.raises(anyio.ClosedResourceError):  # serve_stream closed its stream
        await server_end.send(b"x")


async def test_serve_stream_closes_with_1011_when_the_handler_fails(caplog):
    """A failing handler on serve_stream() is logged and closes with 1011, as with serve()."""
    client_end, server_end = memory_stream_pair()

    async def handler(ws: ServerConnection) -> None:
        raise RuntimeError("boom")

    async with anyio.create_task_group() as group:
        group.start_soon(anyio_ws.serve_stream, handler, server_end)
        async with client_over(client_end) as ws:
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1011
    assert any(record.exc_info for record in caplog.records if record.name == "anyio_ws.server")


async def test_serve_stream_answers_a_bad_handshake_and_returns():
    """A bad request gets its HTTP error; serve_stream() returns without raising."""
    client_end, server_end = memory_stream_pair()
    async with client_end, anyio.create_task_group() as group:
        group.start_soon(anyio_ws.serve_stream, echo, server_end)
        await client_end.send(handshake_request(version="8"))
        with anyio.fail_after(5):
            response = await read_until_eof(client_end)
    assert status_of(response) == 426


async def test_serve_stream_returns_when_the_peer_vanishes():
    """A peer gone mid-connection ends serve_stream() quietly."""
    client_end, server_end = memory_stream_pair()
    entered = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        entered.set()
        await ws.recv()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(anyio_ws.serve_stream, handler, server_end)
            await client_end.send(handshake_request())
            await entered.wait()
            await client_end.aclose()  # the task group exits once serve_stream returned


async def test_serve_stream_passes_options():
    """serve_stream() takes serve()'s options: max_size closes with 1009."""
    client_end, server_end = memory_stream_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: anyio_ws.serve_stream(echo, server_end, max_size=10))
        async with client_over(client_end) as ws:
            await ws.send("x" * 11)
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


@pytest.mark.parametrize("option", ["host", "port", "sock", "listener", "reuse_port", "task_group"])
async def test_serve_stream_rejects_listening_options(option):
    """Options about listening make no sense for one stream: TypeError at the call."""
    a, b = memory_stream_pair()
    async with a, b:
        with pytest.raises(TypeError, match=option):
            await anyio_ws.serve_stream(echo, a, **{option: None})


async def test_serve_stream_rejects_what_is_not_a_byte_stream():
    with pytest.raises(TypeError, match="ByteStream"):
        await anyio_ws.serve_stream(echo, object())  # type: ignore[arg-type]


# ---------------------------------------------------------------------- listener=


async def test_listener_serves_streams_of_any_listener():
    """serve(listener=) accepts through any anyio Listener; the generic stream path is used."""
    listener = MemoryListener()
    streams: list[type] = []

    async def handler(ws: ServerConnection) -> None:
        streams.append(type(ws.stream))
        await echo(ws)

    async with anyio_ws.serve(handler, listener=listener) as server:
        assert server.addresses == []
        with pytest.raises(RuntimeError, match="port"):
            _ = server.port
        for _ in range(2):
            async with client_over(await listener.connect()) as ws:
                await check_echo(ws)
    assert streams == [MemoryByteStream, MemoryByteStream]
    with pytest.raises(ConnectionRefusedError):  # the server closed its listener
        await listener.connect()


async def test_leaving_serve_closes_listener_connections_with_1001():
    """Shutdown closes connections of a caller's listener like any other."""
    listener = MemoryListener()
    entered = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        entered.set()
        await ws.wait_closed()

    async with anyio.create_task_group() as group:
        async with anyio_ws.serve(handler, listener=listener):
            ws = await open_client(await listener.connect(), group)
            await entered.wait()
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
    assert ws.close_code == 1001


async def test_listener_of_tcp_sockets_with_start():
    """A (multi) TCP listener of the caller's, in the ``tg.start()`` form."""
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as group:
        server = await group.start(anyio_ws.serve(echo, listener=tcp))
        assert [address[:2] for address in server.addresses] == [("127.0.0.1", port)]
        assert server.port == port
        await tcp_echo(port)
        server.close()
    with pytest.raises(OSError):
        await anyio.connect_tcp("127.0.0.1", port)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_listener_with_ssl_runs_tls_on_its_streams(ca):
    """ssl= applies on top of a listener's streams (here in-memory ones)."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_context)
    listener = MemoryListener()
    versions: list[object] = []

    async def handler(ws: ServerConnection) -> None:
        versions.append(ws.stream.extra(anyio.streams.tls.TLSAttribute.tls_version, None))
        await echo(ws)

    async with anyio_ws.serve(handler, listener=listener, ssl=server_context):
        with anyio.fail_after(5):
            tls = await TLSStream.wrap(
                await listener.connect(),
                hostname="localhost",
                ssl_context=client_context,
                standard_compatible=False,
            )
        async with client_over(tls) as ws:
            await check_echo(ws)
    assert len(versions) == 1 and str(versions[0]).startswith("TLS")


# ------------------------------------------------------------------------- sock=


@pytest.mark.parametrize("listening", [False, True], ids=["bound", "listening"])
async def test_sock_serves_on_the_callers_socket(tcp_socket, listening):
    """serve(sock=) serves on a bound socket (listen() called if needed) and closes it."""
    tcp_socket.bind(("127.0.0.1", 0))
    if listening:
        tcp_socket.listen()
    port = tcp_socket.getsockname()[1]
    async with anyio_ws.serve(echo, sock=tcp_socket) as server:
        assert server.port == port
        assert server.addresses[0][:2] == ("127.0.0.1", port)
        await tcp_echo(port)
    assert tcp_socket.fileno() == -1


# ------------------------------------------------------------------ unix_serve()


async def unix_client(path: str) -> ByteStream:
    with anyio.fail_after(5):
        return await anyio.connect_unix(path)


async def test_unix_serve_on_a_path(socket_path, anyio_backend):
    """unix_serve(path): echo works, addresses is the path, the file goes at exit."""
    streams: list[object] = []

    async def handler(ws: ServerConnection) -> None:
        streams.append(ws.stream)
        await echo(ws)

    async with anyio_ws.unix_serve(handler, socket_path) as server:
        assert server.addresses == [socket_path]
        with pytest.raises(RuntimeError, match="port"):
            _ = server.port
        async with client_over(await unix_client(socket_path)) as ws:
            await check_echo(ws)
        assert await anyio.Path(socket_path).exists()
    assert not await anyio.Path(socket_path).exists()
    if anyio_backend[0] == "asyncio":  # the fast path, as for TCP
        assert isinstance(streams[0], AsyncioSocketStream)


async def test_unix_serve_on_a_socket_with_start(socket_path):
    """unix_serve(sock=) in the ``tg.start()`` form; leaving closes clients with 1001."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(socket_path)
    entered = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        entered.set()
        await ws.wait_closed()

    async with anyio.create_task_group() as group:
        server = await group.start(anyio_ws.unix_serve(handler, sock=sock))
        assert server.addresses == [socket_path]
        ws = await open_client(await unix_client(socket_path), group)
        await entered.wait()
        server.close()
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        await server.wait_closed()
    assert ws.close_code == 1001
    assert sock.fileno() == -1


async def test_unix_serve_replaces_a_stale_socket_file(socket_path):
    """A socket file left behind by a dead server does not stop a new one."""
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(socket_path)
    stale.close()
    async with anyio_ws.unix_serve(echo, socket_path):
        async with client_over(await unix_client(socket_path)) as ws:
            await check_echo(ws)


# ------------------------------------------------------------------- reuse_port


@linux_only
async def test_reuse_port_lets_two_servers_share_a_port():
    """Two servers with reuse_port bind one port, and the kernel gives both connections."""
    served: set[str] = set()

    def handler_for(name: str) -> Any:
        async def handler(ws: ServerConnection) -> None:
            served.add(name)
            await echo(ws)

        return handler

    async with anyio_ws.serve(handler_for("a"), "127.0.0.1", 0, reuse_port=True) as a:
        async with anyio_ws.serve(handler_for("b"), "127.0.0.1", a.port, reuse_port=True) as b:
            assert b.port == a.port
            for _ in range(200):  # spread by a hash of the client's port: both soon
                await tcp_echo(a.port)
                if served == {"a", "b"}:
                    break
    assert served == {"a", "b"}


@linux_only
async def test_without_reuse_port_the_second_server_cannot_bind():
    async with anyio_ws.serve(echo, "127.0.0.1", 0, reuse_port=True) as a:
        with pytest.raises(OSError):
            async with anyio_ws.serve(echo, "127.0.0.1", a.port):
                pass


# ------------------------------------------------------------------ task_group=


async def hold_group(*, task_status: anyio.abc.TaskStatus[anyio.abc.TaskGroup]) -> None:
    """A task group that lives in its own task, until its scope is cancelled."""
    async with anyio.create_task_group() as group:
        task_status.started(group)
        await anyio.sleep_forever()


async def test_handlers_run_in_the_given_task_group(caplog):
    """Cancelling the caller's group cancels the handlers it holds; the server then stops."""
    cancelled = anyio.Event()
    entered = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        entered.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise

    async with anyio.create_task_group() as outer:
        handlers = await outer.start(hold_group)
        async with anyio_ws.serve(handler, "127.0.0.1", 0, task_group=handlers) as server:
            ws = await open_client(await anyio.connect_tcp("127.0.0.1", server.port), outer)
            await entered.wait()
            assert len(server.connections) == 1
            handlers.cancel_scope.cancel()
            with anyio.fail_after(5):
                await cancelled.wait()
                with pytest.raises(ConnectionClosedError):  # not a closing handshake: 1006
                    await ws.recv()
                while server.connections:
                    await anyio.wait_all_tasks_blocked()
            # The group is gone: a new connection cannot be served, the server stops.
            with anyio.fail_after(5):
                async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
                    await stream.send(handshake_request())
                    assert await read_until_eof(stream) == b""
                await server.wait_closed()
    assert ws.close_code == 1006
    assert any("task_group is closed" in r.getMessage() for r in caplog.records)


async def test_shutdown_closes_connections_in_the_given_group_but_not_the_group():
    """Leaving serve() closes with 1001 and waits for handlers; the caller's group lives on."""
    finished: list[str] = []
    entered = anyio.Event()
    sibling_done = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            finished.append("handler")

    async def sibling() -> None:
        await anyio.lowlevel.checkpoint()
        sibling_done.set()

    async with anyio.create_task_group() as group:
        async with anyio_ws.serve(handler, "127.0.0.1", 0, task_group=group) as server:
            ws = await open_client(await anyio.connect_tcp("127.0.0.1", server.port), group)
            await entered.wait()
        assert finished == ["handler"]  # ended before serve() returned
        assert server.connections == set()
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        assert ws.close_code == 1001
        assert not group.cancel_scope.cancel_called
        group.start_soon(sibling)  # the group still takes tasks
    assert sibling_done.is_set()


async def test_shutdown_cancels_what_outlives_close_timeout_in_the_given_group():
    """A handler still running close_timeout after closure is cancelled; the group is not."""
    stopped: list[str] = []
    entered = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        entered.set()
        try:
            await ws.wait_closed()
            await anyio.sleep_forever()  # after closure: cancelled by the connection
        finally:
            stopped.append("handler")

    async with anyio.create_task_group() as group:
        async with anyio_ws.serve(
            handler, "127.0.0.1", 0, task_group=group, close_timeout=0.5
        ) as server:
            ws = await open_client(await anyio.connect_tcp("127.0.0.1", server.port), group)
            await entered.wait()
        assert stopped == ["handler"]
        await ws.wait_closed()
        assert not group.cancel_scope.cancel_called


async def test_cancelling_serve_cancels_connections_in_the_given_group():
    """Cancelling the scope around serve() still ends its handlers in the caller's group."""
    entered = anyio.Event()
    stopped: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            stopped.append("handler")

    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as scope:
            async with anyio_ws.serve(handler, "127.0.0.1", 0, task_group=group) as server:
                ws = await open_client(await anyio.connect_tcp("127.0.0.1", server.port), group)
                await entered.wait()
                scope.cancel()
                await anyio.sleep_forever()
        assert stopped == ["handler"]
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        assert ws.close_code == 1001


# ------------------------------------------------------------------ bad arguments


async def test_bad_transport_arguments_raise_at_the_call(tcp_socket):
    """Every bad combination or kind of transport argument raises before anything runs."""
    tcp_socket.bind(("127.0.0.1", 0))
    async with MemoryListener() as listener:
        check_bad_transport_arguments(tcp_socket, listener)


def check_bad_transport_arguments(tcp_socket: socket.socket, listener: MemoryListener) -> None:
    with pytest.raises(TypeError, match="socket"):
        anyio_ws.serve(echo, sock=tcp_socket.fileno())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one of"):
        anyio_ws.serve(echo, "127.0.0.1", sock=tcp_socket)
    with pytest.raises(ValueError, match="one of"):
        anyio_ws.serve(echo, port=8765, listener=listener)
    with pytest.raises(ValueError, match="one of"):
        anyio_ws.serve(echo, sock=tcp_socket, listener=listener)
    with pytest.raises(TypeError, match="Listener"):
        anyio_ws.serve(echo, listener=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reuse_port"):
        anyio_ws.serve(echo, sock=tcp_socket, reuse_port=True)
    with pytest.raises(TypeError, match="task_group"):
        anyio_ws.serve(echo, "127.0.0.1", task_group=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="port"):
        anyio_ws.serve(echo, "127.0.0.1", "8765")  # type: ignore[arg-type]


def test_sockets_of_the_wrong_kind_raise_at_the_call(socket_path):
    unbound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind(("127.0.0.1", 0))
        unix.bind(socket_path)
        tcp.bind(("127.0.0.1", 0))
        with pytest.raises(ValueError, match="bound"):
            anyio_ws.serve(echo, sock=unbound)
        with pytest.raises(ValueError, match="SOCK_STREAM"):
            anyio_ws.serve(echo, sock=udp)
        with pytest.raises(ValueError, match="unix_serve"):
            anyio_ws.serve(echo, sock=unix)
        with pytest.raises(ValueError, match="AF_UNIX"):
            anyio_ws.unix_serve(echo, sock=tcp)
    finally:
        for sock in (unbound, udp, unix, tcp):
            sock.close()


def test_unix_serve_arguments_raise_at_the_call(socket_path):
    with pytest.raises(ValueError, match="exactly one"):
        anyio_ws.unix_serve(echo)
    with pytest.raises(TypeError, match="path"):
        anyio_ws.unix_serve(echo, 42)  # type: ignore[arg-type]
    for option in ("host", "port", "reuse_port", "listener"):
        with pytest.raises(TypeError, match=option):
            anyio_ws.unix_serve(echo, socket_path, **{option: None})
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        unix.bind(socket_path)
        with pytest.raises(ValueError, match="exactly one"):
            anyio_ws.unix_serve(echo, socket_path, sock=unix)
    finally:
        unix.close()


async def test_closed_listener_is_not_a_problem_for_the_server():
    """A listener closed under the server ends accepting; the server closes cleanly."""
    listener = MemoryListener()
    async with anyio_ws.serve(echo, listener=listener) as server:
        await listener.aclose()
        with pytest.raises(ConnectionRefusedError):
            await listener.connect()
    await server.wait_closed()
