"""serve(), Server and ServerConnection over loopback TCP."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import anyio
import pytest
from helpers import (
    GONE,
    client_of_a_waiting_handler,
    handshake_request,
    headers_of,
    is_a_problem,
    is_slow_step_note,
    raw_exchange,
    read_http_head,
    status_of,
)

import anyio_ws
from anyio_ws import ConnectionClosedError, ConnectionClosedOK, Server, ServerConnection
from anyio_ws.core.frames import Opcode, encode_frame

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def uri(server: Server, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def check_echo(server: Server) -> None:
    """The server still answers a real client."""
    with anyio.fail_after(5):
        async with anyio_ws.connect(uri(server)) as ws:
            await ws.send("still there?")
            assert await ws.recv() == "still there?"


# -------------------------------------------------------------------- handlers


async def test_handler_with_one_parameter_gets_the_connection():
    """A one-parameter handler gets the ServerConnection, with request.path set."""
    seen: list[object] = []

    async def handler(ws):
        seen.append((type(ws), ws.request.path))

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(uri(server, "/one?x=1")) as ws:
            with pytest.raises(ConnectionClosedOK):
                await ws.recv()
    assert seen == [(ServerConnection, "/one?x=1")]


async def test_handler_with_ws_and_path_gets_the_path():
    """A classic (ws, path) handler gets the request path as second argument."""
    seen: list[object] = []

    async def handler(ws, path):
        seen.append((isinstance(ws, ServerConnection), path))

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(uri(server, "/chat/room?id=7")) as ws:
            with pytest.raises(ConnectionClosedOK):
                await ws.recv()
    assert seen == [(True, "/chat/room?id=7")]


async def test_request_headers_reach_the_handler():
    """ws.request.headers holds the client's handshake headers."""
    seen: list[object] = []

    async def handler(ws):
        seen.append(ws.request.headers["X-Token"])
        seen.append(ws.request.headers["Upgrade"].lower())

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(uri(server), additional_headers={"X-Token": "abc"}) as ws:
            await ws.wait_closed()
    assert seen == ["abc", "websocket"]


async def test_server_port_addresses_and_connections():
    """Server.port and addresses tell where it listens; connections holds open ones."""
    inside: list[object] = []
    release = anyio.Event()

    async def handler(ws):
        inside.append(ws)
        await ws.send("in")
        await release.wait()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        assert server.port > 0
        assert [address[:2] for address in server.addresses] == [("127.0.0.1", server.port)]
        assert server.connections == set()
        async with anyio_ws.connect(uri(server)) as ws:
            assert await ws.recv() == "in"
            assert server.connections == set(inside)
            assert len(inside) == 1
            connection = inside[0]
            assert isinstance(connection, ServerConnection)
            assert connection.server is server
            assert connection.remote_address[:2] == ws.local_address[:2]  # type: ignore[index]
            release.set()
            await ws.wait_closed()
        with anyio.fail_after(5):
            while server.connections:
                await anyio.wait_all_tasks_blocked()
        assert server.connections == set()


async def test_task_group_start_returns_the_server():
    """``await tg.start(serve(...))`` returns a listening Server; close() stops it."""
    async with anyio.create_task_group() as group:
        server = await group.start(anyio_ws.serve(echo, "127.0.0.1", 0))
        assert isinstance(server, Server)
        await check_echo(server)
        server.close()
        with anyio.fail_after(5):
            await server.wait_closed()
    with pytest.raises(OSError):
        await anyio.connect_tcp("127.0.0.1", server.port)


async def test_close_closes_connections_with_1001():
    """server.close() closes open connections with 1001 and wait_closed() returns."""
    async with client_of_a_waiting_handler() as (server, ws):
        server.close()
        with pytest.raises(ConnectionClosedOK) as info:
            await ws.recv()
        assert info.value.code == 1001
        with anyio.fail_after(5):
            await server.wait_closed()
        assert server.connections == set()


async def test_create_connection_builds_a_subclass():
    """create_connection= lets the handler get a ServerConnection subclass."""

    class Custom(ServerConnection):
        greeting = "custom"

    seen: list[object] = []

    async def handler(ws):
        seen.append(type(ws))
        await ws.send(ws.greeting)

    async with anyio_ws.serve(handler, "127.0.0.1", 0, create_connection=Custom) as server:
        async with anyio_ws.connect(uri(server)) as ws:
            assert await ws.recv() == "custom"
    assert seen == [Custom]


# ------------------------------------------------------------ bad handshakes

BAD_REQUESTS = {
    "garbage": (b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n", {400}),
    "post": (handshake_request().replace(b"GET", b"POST", 1), {400, 405}),
    "no upgrade": (handshake_request().replace(b"Upgrade: websocket\r\n", b""), {426}),
    "bad key": (handshake_request(key="not a key"), {400}),
    "short key": (handshake_request(key="c2hvcnQ="), {400}),
    "version 8": (handshake_request(version="8"), {426}),
    "huge headers": (handshake_request(extra=f"X-Big: {'a' * 20000}\r\n"), {400, 431}),
    "http/1.0": (handshake_request().replace(b"HTTP/1.1", b"HTTP/1.0", 1), {400, 505}),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
async def test_bad_handshake_gets_an_http_error_and_the_server_goes_on(name, caplog):
    """A malformed handshake gets its HTTP error, no ERROR log, and serving goes on."""
    request, statuses = BAD_REQUESTS[name]
    caplog.set_level(logging.INFO, logger="anyio_ws")
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        response = await raw_exchange(server.port, request)
        assert status_of(response) in statuses
        await check_echo(server)
    assert not [r for r in caplog.records if is_a_problem(r)]


async def test_unsupported_version_lists_version_13():
    """Sec-WebSocket-Version: 8 gets 426 with ``Sec-WebSocket-Version: 13``."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        response = await raw_exchange(server.port, handshake_request(version="8"))
    head, _, _ = response.partition(b"\r\n\r\n")
    assert status_of(response) == 426
    assert headers_of(head)["sec-websocket-version"] == "13"


async def test_rejection_is_logged_at_info():
    """A rejected handshake is one INFO line on the anyio_ws logger, no traceback."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("anyio_ws.test.server")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        async with anyio_ws.serve(echo, "127.0.0.1", 0, logger=logger) as server:
            records.clear()
            await raw_exchange(server.port, handshake_request(key="bad"))
    finally:
        logger.removeHandler(handler)
    rejections = [r for r in records if "rejected" in r.getMessage()]
    assert len(rejections) == 1
    assert rejections[0].levelno == logging.INFO
    assert rejections[0].exc_info is None


async def test_client_that_sends_nothing_logs_nothing(caplog):
    """A TCP connection closed without a byte (a port scan) logs nothing at INFO."""
    caplog.set_level(logging.INFO, logger="anyio_ws")
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        caplog.clear()
        for _ in range(3):
            stream = await anyio.connect_tcp("127.0.0.1", server.port)
            await stream.aclose()
        # Leaving serve() waits until the server is done with each of them.
    logged = [r for r in caplog.records if r.levelno >= logging.INFO and not is_slow_step_note(r)]
    assert [r.getMessage() for r in logged] == []


async def test_half_a_request_is_dropped_after_open_timeout():
    """A client that never finishes its request is disconnected after open_timeout."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, open_timeout=0.5) as server:
        async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
            await stream.send(handshake_request()[:40])
            start = anyio.current_time()
            with anyio.fail_after(5):
                with pytest.raises(GONE):
                    while True:
                        assert await stream.receive() == b"", "no answer expected"
            elapsed = anyio.current_time() - start
        assert 0.4 < elapsed < 4
        await check_echo(server)


async def test_leaving_serve_drops_a_client_stuck_in_the_handshake():
    """Leaving serve() drops a half-sent handshake at once, without open_timeout."""
    async with AsyncExitStack() as stack:
        with anyio.fail_after(15):
            async with anyio_ws.serve(echo, "127.0.0.1", 0, open_timeout=20) as server:
                stream = await stack.enter_async_context(
                    await anyio.connect_tcp("127.0.0.1", server.port)
                )
                await stream.send(handshake_request()[:40])
                # Connections are accepted in order: that one is in its handshake now.
                await check_echo(server)
                start = anyio.current_time()
        assert anyio.current_time() - start < 4
        with anyio.fail_after(5), pytest.raises(GONE):
            await stream.receive()


async def test_first_frame_in_the_same_write_as_the_handshake_is_received():
    """A frame sent in the same TCP write as the request reaches the handler."""
    received: list[object] = []
    done = anyio.Event()

    async def handler(ws):
        received.append(await ws.recv())
        done.set()

    frame = encode_frame(Opcode.TEXT, b"right behind", mask=b"\x0a\x0b\x0c\x0d")
    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
            await stream.send(handshake_request() + frame)
            head, _ = await read_http_head(stream)
            assert status_of(head) == 101
            with anyio.fail_after(5):
                await done.wait()
    assert received == ["right behind"]


async def test_message_over_max_size_closes_with_1009():
    """A message larger than max_size makes the server close with 1009."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, max_size=100) as server:
        async with anyio_ws.connect(uri(server), compression=None) as ws:
            await ws.send(b"x" * 100)
            assert await ws.recv() == b"x" * 100
            await ws.send(b"x" * 101)
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
    assert info.value.code == 1009


# Interop with the websockets library, on both backends: tests/test_interop.py.


async def test_exception_in_the_serve_body_propagates_unwrapped():
    """An exception raised in ``async with serve()`` comes out as is, not in a group."""
    with pytest.raises(LookupError):
        async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
            await check_echo(server)
            raise LookupError("mine")


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_max_size_applies_after_decompression(compression):
    """max_size bounds the message as received, compressed or not: 1009 beyond."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, max_size=1000) as server:
        async with anyio_ws.connect(uri(server), compression=compression) as ws:
            await ws.send("z" * 1000)
            assert await ws.recv() == "z" * 1000
            await ws.send("z" * 1001)
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
    assert info.value.code == 1009


async def test_handler_sending_to_a_vanished_client_logs_no_error(caplog):
    """A handler whose client vanished gets ConnectionClosed; nothing is logged as an error."""
    outcome: list[BaseException] = []
    done = anyio.Event()

    async def handler(ws):
        try:
            while True:
                await ws.send(b"x" * 65536)
        except anyio_ws.ConnectionClosed as exc:
            outcome.append(exc)
            raise
        finally:
            done.set()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
            await stream.send(handshake_request())
            await read_http_head(stream)
        with anyio.fail_after(5):
            await done.wait()
    assert len(outcome) == 1
    assert outcome[0].code == 1006
    assert not [r for r in caplog.records if is_a_problem(r)]


async def test_cancelling_the_scope_around_serve_closes_clients_with_1001():
    """Cancelling serve()'s scope shuts down as leaving it does: clients see 1001."""
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
            async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
                ws = await anyio_ws.connect(uri(server), task_group=group)
                await entered.wait()
                scope.cancel()
                await anyio.sleep_forever()
        assert stopped == ["handler"]
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        assert ws.close_code == 1001
