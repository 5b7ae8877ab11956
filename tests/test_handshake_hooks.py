"""Opening-handshake hooks and options of serve() and connect(), over loopback TCP.

process_request / process_response, ServerConnection.respond(), origins, subprotocols,
the Server / User-Agent / additional headers, and a custom extension negotiated end to
end. Error answers are read as raw HTTP to check their exact status, headers and body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from helpers import handshake_request, is_slow_step_note, raw_exchange

import anyio_ws
from anyio_ws import (
    InvalidStatus,
    NegotiationError,
    Request,
    Response,
    Server,
    ServerConnection,
    State,
)
from anyio_ws.core.extensions.base import (
    ClientExtensionFactory,
    Extension,
    ExtensionParameter,
    ServerExtensionFactory,
)

pytestmark = pytest.mark.usefixtures("anyio_backend")

Hook = Callable[..., Any]


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def uri(server: Server, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def check_echo(server: Server, **kwargs: Any) -> None:
    """The server still completes a handshake and echoes a message."""
    with anyio.fail_after(5):
        async with anyio_ws.connect(uri(server), **kwargs) as ws:
            await ws.send("still there?")
            assert await ws.recv() == "still there?"


def both_forms(function: Callable[..., Any]) -> list[Any]:
    """The hook as a plain function and as a coroutine function, for parametrize."""

    async def coroutine_function(*args: Any) -> Any:
        return function(*args)

    return [
        pytest.param(function, id="function"),
        pytest.param(coroutine_function, id="coroutine"),
    ]


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]

    def header(self, name: str) -> str:
        (value,) = self.get_all(name)
        return value


def parse(raw: bytes) -> RawResponse:
    """Split a raw HTTP/1.1 response read until EOF; its body is Content-Length long."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, raw
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, status, reason = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.lower(), value.strip()))
    response = RawResponse(int(status), reason, headers, body)
    assert response.header("Content-Length") == str(len(body))
    return response


async def exchange(server: Server, path: str = "/", extra: str = "") -> RawResponse:
    return parse(await raw_exchange(server.port, handshake_request(path, extra=extra)))


def server_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "anyio_ws.server" and r.levelno >= logging.INFO]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="anyio_ws")
    return caplog


# --------------------------------------------------------------- process_request


def health_check(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(200, "OK\n")
    return None


@pytest.mark.parametrize("process_request", both_forms(health_check))
async def test_process_request_answers_a_health_check(
    process_request: Hook, logs: pytest.LogCaptureFixture
) -> None:
    """A Response from process_request is sent as is, logged once, and no handler runs."""
    handled: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        handled.append(ws.request.path)

    async with anyio_ws.serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        logs.clear()
        response = await exchange(server, "/healthz")
        records = server_logs(logs)
        async with anyio_ws.connect(uri(server, "/chat")):
            pass
    assert (response.status, response.reason, response.body) == (200, "OK", b"OK\n")
    assert response.headers == [
        ("content-type", "text/plain; charset=utf-8"),
        ("content-length", "3"),
        ("connection", "close"),
        ("server", "anyio_ws"),
    ]
    assert handled == ["/chat"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert records[0].exc_info is None
    assert records[0].getMessage().endswith('"GET /healthz HTTP/1.1" 200')


async def test_process_request_runs_before_the_handshake_checks() -> None:
    """A plain HTTP GET (a load balancer's probe) reaches process_request."""
    probe = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    async with anyio_ws.serve(echo, "127.0.0.1", 0, process_request=health_check) as server:
        response = parse(await raw_exchange(server.port, probe))
        other = parse(await raw_exchange(server.port, probe.replace(b"healthz", b"other")))
    assert (response.status, response.body) == (200, b"OK\n")
    assert other.status == 426


async def test_process_request_gets_the_connection_the_handler_gets() -> None:
    """process_request gets the (custom) connection, CONNECTING, with its request."""

    class Custom(ServerConnection):
        tag = ""

    seen: list[Any] = []

    def process_request(connection: ServerConnection, request: Request) -> None:
        assert isinstance(connection, Custom)
        seen.append((connection.state, connection.request is request, connection.response))
        connection.tag = request.headers["X-Tag"]

    async def handler(ws: ServerConnection) -> None:
        assert isinstance(ws, Custom)
        seen.append((ws.state, ws.tag, ws.response is not None))
        await ws.send(ws.tag)

    async with anyio_ws.serve(
        handler, "127.0.0.1", 0, process_request=process_request, create_connection=Custom
    ) as server:
        async with anyio_ws.connect(uri(server), additional_headers={"X-Tag": "blue"}) as ws:
            assert await ws.recv() == "blue"
    assert seen == [(State.CONNECTING, True, None), (State.OPEN, "blue", True)]


async def test_process_request_may_drop_the_connection(logs: pytest.LogCaptureFixture) -> None:
    """close() in process_request drops the TCP connection, with no answer; serving goes on."""

    async def process_request(connection: ServerConnection, request: Request) -> None:
        if request.path == "/drop":
            await connection.close()

    async with anyio_ws.serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
        logs.clear()
        assert await raw_exchange(server.port, handshake_request("/drop")) == b""
        await check_echo(server)
    warnings = [r for r in logs.records if r.levelno >= logging.WARNING]
    assert [r for r in warnings if not is_slow_step_note(r)] == []


async def test_sending_in_process_request_is_an_error() -> None:
    """There is no WebSocket connection to send on yet: ConnectionClosed, hence a 500."""
    errors: list[BaseException] = []

    async def process_request(connection: ServerConnection, request: Request) -> None:
        try:
            await connection.send("too early")
        except anyio_ws.ConnectionClosed as exc:
            errors.append(exc)
            raise

    async with anyio_ws.serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
        response = await exchange(server)
    assert response.status == 500
    assert len(errors) == 1


def failing_hook(*args: Any) -> Response | None:
    raise RuntimeError("bug in a hook")


@pytest.mark.parametrize("hook", both_forms(failing_hook))
@pytest.mark.parametrize("name", ["process_request", "process_response"])
async def test_hook_raising_gets_500_and_a_traceback(
    hook: Hook, name: str, logs: pytest.LogCaptureFixture
) -> None:
    """A hook that raises: 500, its traceback logged at ERROR, and serving goes on."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, **{name: hook}) as server:
        logs.clear()
        response = await exchange(server)
        errors = [r for r in server_logs(logs) if r.levelno >= logging.ERROR]
        info = [r for r in server_logs(logs) if r.levelno == logging.INFO]
        with pytest.raises(InvalidStatus) as exc_info:
            await anyio_ws.connect(uri(server)).__aenter__()
    assert response.status == 500
    assert response.header("Content-Type") == "text/plain; charset=utf-8"
    assert b"See server log" in response.body
    assert len(errors) == 1
    assert errors[0].getMessage() == f"{name} failed"
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)
    assert [r.getMessage().endswith('"GET / HTTP/1.1" 500') for r in info] == [True]
    assert exc_info.value.response.status_code == 500


@pytest.mark.parametrize("name", ["process_request", "process_response"])
async def test_hook_returning_something_else_gets_500(
    name: str, logs: pytest.LogCaptureFixture
) -> None:
    """A hook returning neither None nor a Response is a bug: 500 and a TypeError logged."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, **{name: lambda *args: "OK"}) as server:
        logs.clear()
        response = await exchange(server)
        errors = [r for r in server_logs(logs) if r.levelno >= logging.ERROR]
        again = await exchange(server)
    assert response.status == again.status == 500
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], TypeError)


async def test_response_built_by_hand_is_completed() -> None:
    """A Response not made by respond() gets Server, Content-Length, Connection: close."""
    responses = {
        "/plain": Response(204, "No Content"),
        "/own": Response(200, "OK", anyio_ws.Headers({"Server": "mine"}), b"body"),
    }

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        return responses.get(request.path)

    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, process_request=process_request, server_header="srv/1"
    ) as server:
        # A 204 has neither body nor Content-Length: read it raw.
        plain = await raw_exchange(server.port, handshake_request("/plain"))
        own = await exchange(server, "/own")
    assert plain.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert plain.endswith(b"\r\nServer: srv/1\r\nConnection: close\r\n\r\n")
    assert own.headers == [("server", "mine"), ("content-length", "4"), ("connection", "close")]
    assert own.body == b"body"


# -------------------------------------------------------------- process_response


def add_header(
    connection: ServerConnection, request: Request, response: Response
) -> Response | None:
    response.headers["X-Seen"] = f"{request.path} {response.status_code}"
    return None


@pytest.mark.parametrize("process_response", both_forms(add_header))
async def test_process_response_changes_headers(process_response: Hook) -> None:
    """process_response may change the headers of the 101 and of an error alike."""
    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, process_response=process_response, origins=["https://ok"]
    ) as server:
        async with anyio_ws.connect(uri(server, "/a"), origin="https://ok") as ws:
            assert ws.response is not None
            assert ws.response.headers["X-Seen"] == "/a 101"
        refused = await exchange(server, "/b", extra="Origin: https://evil\r\n")
    assert refused.status == 403
    assert refused.header("X-Seen") == "/b 403"


def replace_response(
    connection: ServerConnection, request: Request, response: Response
) -> Response | None:
    if request.path == "/closed":
        return connection.respond(503, "Closed for maintenance.\n")
    return None


@pytest.mark.parametrize("process_response", both_forms(replace_response))
async def test_process_response_replaces_the_response(
    process_response: Hook, logs: pytest.LogCaptureFixture
) -> None:
    """A Response from process_response is sent instead; the handler never starts."""
    handled: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        handled.append("ran")

    async with anyio_ws.serve(handler, "127.0.0.1", 0, process_response=process_response) as server:
        logs.clear()
        with pytest.raises(InvalidStatus) as exc_info:
            async with anyio_ws.connect(uri(server, "/closed")):
                pass
        records = server_logs(logs)
        async with anyio_ws.connect(uri(server, "/open")):
            pass
    response = exc_info.value.response
    assert (response.status_code, response.body) == (503, b"Closed for maintenance.\n")
    assert handled == ["ran"]
    assert [r.getMessage().endswith('"GET /closed HTTP/1.1" 503') for r in records] == [True]


# ----------------------------------------------------------------------- respond()


async def test_respond_builds_plain_text() -> None:
    """respond() counts UTF-8 bytes, names the reason, and carries server_header."""
    captured: list[Response] = []

    def process_request(connection: ServerConnection, request: Request) -> Response:
        captured.append(connection.respond(418, "Je suis une théière.\n"))
        return captured[0]

    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, process_request=process_request, server_header="teapot/2"
    ) as server:
        response = await exchange(server)
    assert (response.status, response.reason) == (418, "I'm a Teapot")
    assert response.body == "Je suis une théière.\n".encode()
    assert response.header("Content-Length") == str(len(response.body)) == "23"
    assert response.header("Server") == "teapot/2"
    assert captured[0].headers["Connection"] == "close"


# ------------------------------------------------------------------------ origins

ORIGINS = ["https://app.example", re.compile(r"https://[a-z]+\.cdn\.example"), None]


@pytest.mark.parametrize("origin", ["https://app.example", "https://eu.cdn.example", None], ids=str)
async def test_allowed_origin_connects(origin: str | None) -> None:
    """An Origin equal to a str, fullmatching a pattern, or absent with None connects."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, origins=ORIGINS) as server:
        await check_echo(server, origin=origin)


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://eu.cdn.example.evil", "https://APP.example"]
)
async def test_refused_origin_gets_403(origin: str, logs: pytest.LogCaptureFixture) -> None:
    """Another Origin gets 403 Forbidden, one INFO line, and serving goes on."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, origins=ORIGINS) as server:
        logs.clear()
        response = await exchange(server, extra=f"Origin: {origin}\r\n")
        records = server_logs(logs)
        with pytest.raises(InvalidStatus) as exc_info:
            await anyio_ws.connect(uri(server), origin=origin).__aenter__()
        await check_echo(server, origin="https://app.example")
    assert (response.status, response.reason) == (403, "Forbidden")
    expected = f"Failed to open a WebSocket connection: invalid Origin header: {origin}.\n"
    assert response.body == expected.encode()
    assert exc_info.value.response.status_code == 403
    assert len(records) == 1
    assert records[0].levelno == logging.INFO and records[0].exc_info is None
    assert f'"GET / HTTP/1.1" 403 rejected handshake: invalid Origin header: {origin}' in (
        records[0].getMessage()
    )


async def test_missing_origin_refused_without_none() -> None:
    """Without None in origins, a request with no Origin gets 403."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, origins=["https://app.example"]) as server:
        response = await exchange(server)
    assert response.status == 403
    assert b"missing Origin header" in response.body


@pytest.mark.parametrize(
    "origins", ["https://app.example", [b"https://app.example"], [1], [re.compile(b"x")]]
)
async def test_bad_origins_raise_at_the_call(origins: Any) -> None:
    """origins with anything but str, None and re.Pattern[str] is a TypeError at once."""
    with pytest.raises(TypeError):
        anyio_ws.serve(echo, "127.0.0.1", 0, origins=origins)


# ------------------------------------------------------------------- subprotocols


async def subprotocol_of(ws: ServerConnection) -> None:
    await ws.send(repr(ws.subprotocol))


async def test_subprotocol_negotiated_on_both_sides() -> None:
    """The server's most preferred subprotocol the client offers is set on both sides."""
    async with anyio_ws.serve(
        subprotocol_of, "127.0.0.1", 0, subprotocols=["chat", "v2"]
    ) as server:
        async with anyio_ws.connect(uri(server), subprotocols=["v2", "chat"]) as ws:
            assert await ws.recv() == "'chat'"
            assert ws.subprotocol == "chat"


async def test_no_subprotocols_on_the_server_ignores_offers() -> None:
    """A server without subprotocols goes on without one, whatever the client offers."""
    async with anyio_ws.serve(subprotocol_of, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(uri(server), subprotocols=["chat"]) as ws:
            assert await ws.recv() == "None"
            assert ws.subprotocol is None


@pytest.mark.parametrize(
    ("offered", "reason"),
    [(None, "missing subprotocol"), (["v9"], "invalid subprotocol; expected one of chat, v2")],
)
async def test_no_common_subprotocol_gets_400(
    offered: list[str] | None, reason: str, logs: pytest.LogCaptureFixture
) -> None:
    """As in websockets, a server with subprotocols refuses a client with none of them."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, subprotocols=["chat", "v2"]) as server:
        logs.clear()
        with pytest.raises(InvalidStatus) as exc_info:
            await anyio_ws.connect(uri(server), subprotocols=offered).__aenter__()
        records = server_logs(logs)
        await check_echo(server, subprotocols=["v2"])
    response = exc_info.value.response
    assert response.status_code == 400
    assert response.body == f"Failed to open a WebSocket connection: {reason}.\n".encode()
    assert len(records) == 1 and reason in records[0].getMessage()


@pytest.mark.parametrize(("offered", "expected"), [(["a", "b"], "'b'"), (["a"], "None")])
async def test_select_subprotocol_decides(offered: list[str], expected: str) -> None:
    """select_subprotocol gets the connection and the offers; None means no subprotocol."""
    calls: list[Any] = []

    def select(connection: ServerConnection, subprotocols: Sequence[str]) -> str | None:
        calls.append((type(connection), connection.request is not None, list(subprotocols)))
        return "b" if "b" in subprotocols else None

    async with anyio_ws.serve(
        subprotocol_of, "127.0.0.1", 0, subprotocols=["a"], select_subprotocol=select
    ) as server:
        async with anyio_ws.connect(uri(server), subprotocols=offered) as ws:
            assert await ws.recv() == expected
    assert calls == [(ServerConnection, True, offered)]


async def test_select_subprotocol_unoffered_answer_is_500(
    logs: pytest.LogCaptureFixture,
) -> None:
    """A select_subprotocol returning what the client did not offer is a server bug: 500."""

    def select(connection: ServerConnection, subprotocols: Sequence[str]) -> str | None:
        return "not-offered"

    async with anyio_ws.serve(echo, "127.0.0.1", 0, select_subprotocol=select) as server:
        logs.clear()
        with pytest.raises(InvalidStatus) as exc_info:
            await anyio_ws.connect(uri(server), subprotocols=["chat"]).__aenter__()
        errors = [r for r in server_logs(logs) if r.levelno >= logging.ERROR]
    assert exc_info.value.response.status_code == 500
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "did not offer" in str(errors[0].exc_info[1])


def answer_subprotocol(value: str) -> Callable[..., None]:
    """A process_response that makes the server answer a subprotocol of its choosing."""

    def process_response(connection: Any, request: Request, response: Response) -> None:
        response.headers["Sec-WebSocket-Protocol"] = value

    return process_response


@pytest.mark.parametrize(("offered", "answer"), [(["chat"], "v2"), (None, "chat")])
async def test_client_refuses_an_unoffered_subprotocol(
    offered: list[str] | None, answer: str
) -> None:
    """connect() raises NegotiationError when the server picks what it did not offer."""
    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, process_response=answer_subprotocol(answer)
    ) as server:
        with pytest.raises(NegotiationError, match=f"unsupported subprotocol: {answer}"):
            async with anyio_ws.connect(uri(server), subprotocols=offered):
                pass


@pytest.mark.parametrize(
    "options",
    [
        {"subprotocols": "chat"},
        {"subprotocols": ["not a token"]},
        {"select_subprotocol": "chat"},
        {"process_request": 200},
        {"process_response": "nope"},
    ],
    ids=str,
)
async def test_bad_options_raise_at_the_call(options: dict[str, Any]) -> None:
    """A wrong subprotocol list or a hook that is not callable fails at serve()."""
    with pytest.raises((TypeError, ValueError)):
        anyio_ws.serve(echo, "127.0.0.1", 0, **options)


# ------------------------------------------------------------------------ headers


async def headers_of_request(ws: ServerConnection) -> None:
    assert ws.request is not None
    headers = ws.request.headers
    await ws.send(repr([headers.get_all("User-Agent"), headers.get_all("X-Extra")]))


@pytest.mark.parametrize(
    ("server_header", "expected"), [("anyio_ws", ["anyio_ws"]), ("srv/9", ["srv/9"]), (None, [])]
)
async def test_server_header_on_101_and_errors(
    server_header: str | None, expected: list[str]
) -> None:
    """server_header names the server in every response; None leaves it out."""
    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, server_header=server_header, origins=["https://ok"]
    ) as server:
        async with anyio_ws.connect(uri(server), origin="https://ok") as ws:
            assert ws.response is not None
            assert ws.response.headers.get_all("Server") == expected
        refused = await exchange(server, extra="Origin: https://evil\r\n")
    assert refused.status == 403
    assert refused.get_all("Server") == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "[['anyio_ws'], []]"),
        ({"user_agent_header": "bot/1"}, "[['bot/1'], []]"),
        ({"user_agent_header": None}, "[[], []]"),
        ({"additional_headers": {"X-Extra": "1"}}, "[['anyio_ws'], ['1']]"),
        (
            {"additional_headers": [("X-Extra", "1"), ("X-Extra", "2")]},
            "[['anyio_ws'], ['1', '2']]",
        ),
    ],
    ids=str,
)
async def test_client_headers(options: dict[str, Any], expected: str) -> None:
    """user_agent_header and additional_headers reach the server's request."""
    async with anyio_ws.serve(headers_of_request, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(uri(server), **options) as ws:
            assert await ws.recv() == expected


# --------------------------------------------------------------------- extensions

XOR = "x-anyio-ws-test"


class XorExtension(Extension):
    """XORs payloads with a negotiated byte and flags its messages with RSV2."""

    name = XOR
    reserved_bits = 0x20

    def __init__(self, key: int) -> None:
        self.key = key
        self.encoded = 0
        self.decoded = 0

    def _xor(self, data: bytes) -> bytes:
        return bytes(byte ^ self.key for byte in data)

    def encode(self, data: bytes, *, first: bool, fin: bool) -> tuple[bytes, int]:
        self.encoded += 1
        return self._xor(data), 0x20 if first else 0

    def begin_message(self, rsv: int) -> bool:
        return bool(rsv & 0x20)

    def decode(self, data: bytes, *, fin: bool, max_size: int | None) -> bytes:
        self.decoded += 1
        return self._xor(data)


def _key(params: Sequence[ExtensionParameter]) -> int:
    values = dict(params)
    if set(values) != {"key"} or not (values["key"] or "").isdigit():
        raise NegotiationError(f"bad {XOR} parameters: {params}")
    key = int(values["key"] or "")
    if not 0 < key < 256:
        raise NegotiationError(f"bad {XOR} key: {key}")
    return key


class XorServerFactory(ServerExtensionFactory):
    name = XOR

    def __init__(self) -> None:
        self.extensions: list[XorExtension] = []

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], Extension]:
        extension = XorExtension(_key(params))
        self.extensions.append(extension)
        return [("key", str(extension.key))], extension


class XorClientFactory(ClientExtensionFactory):
    name = XOR

    def __init__(self, key: int) -> None:
        self.key = key
        self.extensions: list[XorExtension] = []

    def get_request_params(self) -> list[ExtensionParameter]:
        return [("key", str(self.key))]

    def process_response_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> Extension:
        if _key(params) != self.key:
            raise NegotiationError("the server changed the key")
        extension = XorExtension(self.key)
        self.extensions.append(extension)
        return extension


async def test_custom_extension_negotiated_end_to_end() -> None:
    """A custom extension is negotiated by serve() and connect() and transforms messages."""
    server_factory, client_factory = XorServerFactory(), XorClientFactory(0x5A)
    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, extensions=[server_factory], compression=None
    ) as server:
        async with anyio_ws.connect(
            uri(server), extensions=[client_factory], compression=None
        ) as ws:
            for message in ["hello", b"\x00\x01\xff"]:
                await ws.send(message)
                assert await ws.recv() == message
            assert ws.response is not None
            assert ws.response.headers["Sec-WebSocket-Extensions"] == f"{XOR}; key=90"
    (on_server,), (on_client,) = server_factory.extensions, client_factory.extensions
    # decode() only runs for messages whose first frame had RSV2 set.
    assert (on_client.encoded, on_server.decoded) == (2, 2)
    assert (on_server.encoded, on_client.decoded) == (2, 2)


async def test_custom_extension_stacks_with_permessage_deflate() -> None:
    """With deflate too, incoming data goes through the extensions in reverse order."""
    server_factory, client_factory = XorServerFactory(), XorClientFactory(0x5A)
    async with anyio_ws.serve(echo, "127.0.0.1", 0, extensions=[server_factory]) as server:
        async with anyio_ws.connect(uri(server), extensions=[client_factory]) as ws:
            assert ws.response is not None
            negotiated = ws.response.headers["Sec-WebSocket-Extensions"]
            assert negotiated.startswith(f"{XOR}; key=90, permessage-deflate")
            for message in ["hello " * 100, bytes(range(256)) * 4]:
                await ws.send(message)
                assert await ws.recv() == message
    (on_server,), (on_client,) = server_factory.extensions, client_factory.extensions
    assert (on_client.encoded, on_server.decoded) == (2, 2)
    assert (on_server.encoded, on_client.decoded) == (2, 2)


async def test_custom_extension_not_offered_is_not_used() -> None:
    """A server extension the client does not offer is left out of the handshake."""
    server_factory = XorServerFactory()
    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, extensions=[server_factory], compression=None
    ) as server:
        async with anyio_ws.connect(uri(server), compression=None) as ws:
            await ws.send("plain")
            assert await ws.recv() == "plain"
            assert ws.response is not None
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
    assert server_factory.extensions == []


async def test_custom_extension_declined_offer() -> None:
    """A factory raising NegotiationError declines the offer; the connection goes on."""
    server_factory, client_factory = XorServerFactory(), XorClientFactory(0)
    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, extensions=[server_factory], compression=None
    ) as server:
        async with anyio_ws.connect(
            uri(server), extensions=[client_factory], compression=None
        ) as ws:
            await ws.send("plain")
            assert await ws.recv() == "plain"
    assert server_factory.extensions == client_factory.extensions == []


# ------------------------------------------------------- every rejection, alike


def reject_path(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/private":
        return connection.respond(404, "Not here.\n")
    return None


REJECTIONS: dict[str, tuple[dict[str, Any], str, str, int]] = {
    "origin": ({"origins": ["https://ok"]}, "/", "Origin: https://evil\r\n", 403),
    "auth": (
        {"process_request": anyio_ws.basic_auth(credentials=("u", "p"))},
        "/",
        "Authorization: Basic dTp3cm9uZw==\r\n",
        401,
    ),
    "subprotocol": ({"subprotocols": ["chat"]}, "/", "Sec-WebSocket-Protocol: v9\r\n", 400),
    "process_request": ({"process_request": reject_path}, "/private", "", 404),
    "bad handshake": ({}, "/", "Sec-WebSocket-Version: 8\r\n", 426),
}


@pytest.mark.parametrize("name", list(REJECTIONS))
async def test_every_rejection_is_plain_http_and_one_info_line(
    name: str, logs: pytest.LogCaptureFixture
) -> None:
    """Each kind of rejection is a plain-text HTTP answer and one INFO line; serving goes on."""
    options, path, extra, status = REJECTIONS[name]
    async with anyio_ws.serve(echo, "127.0.0.1", 0, **options) as server:
        logs.clear()
        response = await exchange(server, path, extra)
        records = server_logs(logs)
        logs.clear()
        response_again = await exchange(server, path, extra)
    assert response.status == status
    assert response.header("Content-Type") == "text/plain; charset=utf-8"
    assert response.header("Connection") == "close"
    assert response.body.endswith(b"\n")
    assert response_again == response
    assert len(records) == 1
    assert records[0].levelno == logging.INFO and records[0].exc_info is None
    assert f'"GET {path} HTTP/1.1" {status}' in records[0].getMessage()


async def test_hooks_are_awaited_in_the_open_timeout() -> None:
    """A process_request that hangs is dropped after open_timeout; serving goes on."""
    release = anyio.Event()

    async def process_request(connection: ServerConnection, request: Request) -> None:
        if request.path == "/slow":
            await release.wait()

    async with anyio_ws.serve(
        echo, "127.0.0.1", 0, process_request=process_request, open_timeout=0.2
    ) as server:
        assert await raw_exchange(server.port, handshake_request("/slow")) == b""
        await check_echo(server)
    release.set()
