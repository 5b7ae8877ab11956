"""connect() and ClientConnection over loopback TCP."""

from __future__ import annotations

import os
import socket
import ssl

import anyio
import anyio.abc
import anyio.lowlevel
import pytest
from helpers import headers_of, raw_server, read_http_head, switching_response

import anyio_ws
from anyio_ws import (
    ClientConnection,
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    ServerConnection,
)
from anyio_ws.core.frames import Opcode, encode_frame

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def test_connect_as_async_context_manager():
    """``async with connect(uri)`` yields an open ClientConnection."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            assert isinstance(ws, ClientConnection)
            assert ws.state is anyio_ws.State.OPEN
            assert ws.response is not None and ws.response.status_code == 101
            assert ws.remote_address[:2] == ("127.0.0.1", server.port)  # type: ignore[index]
            await ws.send("ping")
            assert await ws.recv() == "ping"
        assert ws.state is anyio_ws.State.CLOSED


async def test_connect_awaited_with_a_task_group():
    """``await connect(uri, task_group=tg)`` returns a connection that runs in tg."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        async with anyio.create_task_group() as group:
            ws = await anyio_ws.connect(f"ws://127.0.0.1:{server.port}/", task_group=group)
            await ws.send(b"bytes")
            assert await ws.recv() == b"bytes"
            await ws.close()
        assert ws.close_code == 1000


async def test_connect_awaited_without_a_task_group_raises_type_error():
    """Awaiting connect() without task_group= raises a TypeError that says why."""
    with pytest.raises(TypeError, match="task_group"):
        await anyio_ws.connect("ws://127.0.0.1:1/")


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1/",
        "https://example.com/",
        "ws://",
        "ws:///path",
        "ws://127.0.0.1:notaport/",
        "ws://127.0.0.1:99999/",
        "not a uri",
    ],
)
async def test_invalid_uri_raises_at_call_time(uri):
    """A URI that is not ws:// or wss:// with a host and valid port raises InvalidURI."""
    with pytest.raises(InvalidURI):
        anyio_ws.connect(uri)


async def test_ssl_with_a_ws_uri_raises_value_error():
    """ssl= with a ws:// URI raises ValueError."""
    with pytest.raises(ValueError, match="wss"):
        anyio_ws.connect("ws://127.0.0.1/", ssl=ssl.create_default_context())


# ------------------------------------------------------- answers from raw servers


def responder(response: bytes | None, *, then: bytes = b""):
    """A raw server handler: read the request, answer ``response`` (+ ``then``) at once.

    ``response=None`` answers 101 with the right accept key. Afterwards it waits for
    the client's next bytes or EOF, then closes.
    """

    async def handle(stream: anyio.abc.SocketStream) -> None:
        head, _ = await read_http_head(stream)
        key = headers_of(head)["sec-websocket-key"]
        answer = switching_response(key) if response is None else response
        await stream.send(answer + then)
        await stream.receive()

    return handle


async def test_non_101_response_raises_invalid_status():
    """A 403 answer raises InvalidStatus carrying the response and its body."""
    body = b"go away, you are not welcome"
    response = (
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    async with raw_server(responder(response)) as port:
        with anyio.fail_after(5), pytest.raises(InvalidStatus) as info:
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/"):
                pytest.fail("the handshake must fail")
    assert info.value.response.status_code == 403
    assert info.value.response.body == body


async def test_wrong_accept_key_raises_invalid_handshake():
    """A 101 with a wrong Sec-WebSocket-Accept raises InvalidHeaderValue."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        head, _ = await read_http_head(stream)
        key = headers_of(head)["sec-websocket-key"]
        await stream.send(switching_response(key, accept="d3JvbmcgYWNjZXB0IGtleQ=="))
        await stream.receive()

    async with raw_server(handle) as port:
        with anyio.fail_after(5), pytest.raises(InvalidHandshake) as info:
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/"):
                pytest.fail("the handshake must fail")
    assert isinstance(info.value, anyio_ws.InvalidHeaderValue)


async def test_first_frame_in_the_same_write_as_the_101_is_received():
    """A frame sent in the same TCP write as the 101 is what recv() returns first."""
    frame = encode_frame(Opcode.TEXT, b"hello right away")
    async with raw_server(responder(None, then=frame)) as port:
        with anyio.fail_after(5):
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/", close_timeout=1) as ws:
                assert await ws.recv() == "hello right away"


async def test_open_timeout_when_the_server_never_answers():
    """connect() raises TimeoutError after open_timeout when no response comes."""
    never = anyio.Event()

    async def silent(stream: anyio.abc.SocketStream) -> None:
        await never.wait()

    async with raw_server(silent) as port:
        start = anyio.current_time()
        with anyio.fail_after(5), pytest.raises(TimeoutError):
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/", open_timeout=0.5):
                pytest.fail("the handshake must time out")
        assert 0.4 < anyio.current_time() - start < 4


# ------------------------------------------------------------------ options


async def test_additional_headers_and_user_agent_reach_the_server():
    """additional_headers and user_agent_header are sent with the request."""
    seen: dict[str, str | None] = {}

    async def handler(ws):
        seen["x-custom"] = ws.request.headers.get("X-Custom")
        seen["user-agent"] = ws.request.headers.get("User-Agent")

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(
            f"ws://127.0.0.1:{server.port}/",
            additional_headers={"X-Custom": "yes"},
            user_agent_header="tester/1.0",
        ) as ws:
            await ws.wait_closed()
    assert seen == {"x-custom": "yes", "user-agent": "tester/1.0"}


async def test_user_agent_header_none_sends_none():
    """user_agent_header=None sends no User-Agent."""
    seen: list[str | None] = []

    async def handler(ws):
        seen.append(ws.request.headers.get("User-Agent"))

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/", user_agent_header=None) as ws:
            await ws.wait_closed()
    assert seen == [None]


async def test_create_connection_builds_a_subclass():
    """create_connection= makes connect() return a ClientConnection subclass."""

    class Custom(ClientConnection):
        def shout(self) -> str:
            return "custom"

    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(
            f"ws://127.0.0.1:{server.port}/", create_connection=Custom
        ) as ws:
            assert type(ws) is Custom
            assert ws.shout() == "custom"
            await ws.send("x")
            assert await ws.recv() == "x"


# ------------------------------------------------------------------ closing


async def test_leaving_async_with_closes_with_1000():
    """Leaving ``async with connect()`` closes with 1000; the handler sees ConnectionClosedOK."""
    outcome: list[BaseException] = []
    done = anyio.Event()

    async def handler(ws):
        try:
            await ws.recv()
        except ConnectionClosed as exc:
            outcome.append(exc)
        done.set()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/"):
            pass
        with anyio.fail_after(5):
            await done.wait()
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConnectionClosedOK)
    assert outcome[0].code == 1000


async def test_client_body_is_not_cancelled_when_the_server_closes():
    """When the server closes, the client's body goes on and recv() raises ConnectionClosedOK."""
    reached_the_end = False
    async with anyio_ws.serve(echo_once, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("one")
            assert await ws.recv() == "one"
            with pytest.raises(ConnectionClosedOK) as info:
                await ws.recv()
            assert info.value.code == 1000
            await ws.wait_closed()
            # A checkpoint would raise if the body's scope had been cancelled.
            await anyio.lowlevel.checkpoint()
            with pytest.raises(ConnectionClosed):
                await ws.send("too late")
            reached_the_end = True
    assert reached_the_end


async def echo_once(ws: ServerConnection) -> None:
    await ws.send(await ws.recv())


async def test_ipv6_literal_uri():
    """ws://[::1]:port/ connects over IPv6 when the machine has it."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    async with anyio_ws.serve(echo, "::1", 0) as server:
        async with anyio_ws.connect(f"ws://[::1]:{server.port}/") as ws:
            await ws.send("six")
            assert await ws.recv() == "six"
            assert ws.remote_address[0] == "::1"  # type: ignore[index]


# ------------------------------------------------------------ failure modes


async def test_server_closing_during_the_handshake_raises_invalid_handshake():
    """A server that closes the TCP connection instead of answering raises InvalidHandshake."""

    async def hang_up(stream: anyio.abc.SocketStream) -> None:
        await read_http_head(stream)

    async with raw_server(hang_up) as port:
        with anyio.fail_after(5), pytest.raises(InvalidHandshake):
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/"):
                pytest.fail("the handshake must fail")


async def test_garbage_response_raises_invalid_handshake():
    """A response that is not HTTP raises InvalidHandshake."""
    async with raw_server(responder(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")) as port:
        with anyio.fail_after(5), pytest.raises(InvalidHandshake):
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/"):
                pytest.fail("the handshake must fail")


async def test_101_without_upgrade_raises_invalid_upgrade():
    """A 101 without ``Upgrade: websocket`` raises InvalidUpgrade."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        head, _ = await read_http_head(stream)
        key = headers_of(head)["sec-websocket-key"]
        response = switching_response(key).replace(b"Upgrade: websocket\r\n", b"")
        await stream.send(response)
        await stream.receive()

    async with raw_server(handle) as port:
        with anyio.fail_after(5), pytest.raises(anyio_ws.InvalidUpgrade):
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/"):
                pytest.fail("the handshake must fail")


async def test_connection_refused_raises_os_error():
    """Connecting to a closed port raises OSError, not an exception group."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with anyio.fail_after(5), pytest.raises(OSError):
        async with anyio_ws.connect(f"ws://127.0.0.1:{port}/"):
            pytest.fail("nothing listens there")


async def test_exception_in_the_body_propagates_unwrapped():
    """An exception raised in ``async with connect()`` comes out as is, not in a group."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        with pytest.raises(LookupError):
            async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("x")
                raise LookupError("mine")
        assert ws.close_code == 1000


async def test_message_over_max_size_from_the_server_closes_with_1009():
    """A message larger than the client's max_size makes the client close with 1009."""

    async def big(ws: ServerConnection) -> None:
        await ws.send("y" * 1000)
        await ws.wait_closed()

    async with anyio_ws.serve(big, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/", max_size=999) as ws:
            with pytest.raises(anyio_ws.ConnectionClosedError) as info:
                await ws.recv()
    assert info.value.sent is not None and info.value.sent.code == 1009


async def test_server_error_code_ends_iteration_with_connection_closed_error():
    """async for on the client raises ConnectionClosedError when the server closes with 1011."""

    async def fail(ws: ServerConnection) -> None:
        await ws.send("before")
        await ws.close(1011, "oops")

    async with anyio_ws.serve(fail, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            received = []
            with pytest.raises(anyio_ws.ConnectionClosedError) as info:
                async for message in ws:
                    received.append(message)
    assert received == ["before"]
    assert (info.value.code, info.value.reason) == (1011, "oops")


async def test_server_closing_during_the_handshake_is_retryable():
    """The InvalidMessage for a hang-up has an EOFError cause: process_exception retries it."""

    async def hang_up(stream: anyio.abc.SocketStream) -> None:
        await read_http_head(stream)

    async with raw_server(hang_up) as port:
        with anyio.fail_after(5), pytest.raises(anyio_ws.InvalidMessage) as info:
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/"):
                pytest.fail("the handshake must fail")
    assert isinstance(info.value.__cause__, EOFError)
    assert anyio_ws.process_exception(info.value) is None


async def test_garbage_response_is_not_retryable():
    """A response that is not HTTP is a fatal error for the reconnecting loop."""
    async with raw_server(responder(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")) as port:
        with anyio.fail_after(5), pytest.raises(InvalidHandshake) as info:
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/"):
                pytest.fail("the handshake must fail")
    assert anyio_ws.process_exception(info.value) is info.value


async def test_default_proxy_setting_connects_directly_without_proxy_variables(monkeypatch):
    """proxy=True (the default) with no *_proxy variable set opens a direct connection."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("direct")
            assert await ws.recv() == "direct"
