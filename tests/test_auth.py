"""anyio_ws.basic_auth: HTTP Basic Authentication as a process_request hook."""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from helpers import handshake_request, raw_exchange

import anyio_ws
from anyio_ws import InvalidStatus, Request, Response, Server, ServerConnection
from anyio_ws import auth as auth_module

pytestmark = pytest.mark.usefixtures("anyio_backend")

CHALLENGE = 'Basic realm="chat", charset="UTF-8"'


async def whoami(ws: ServerConnection) -> None:
    await ws.send(repr(ws.username))


def uri(server: Server, user_info: str = "") -> str:
    return f"ws://{user_info}127.0.0.1:{server.port}/"


def basic(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


async def login(server: Server, authorization: str | None) -> str:
    """Connect with this Authorization header; return the username the handler saw."""
    headers = {} if authorization is None else {"Authorization": authorization}
    with anyio.fail_after(5):
        async with anyio_ws.connect(uri(server), additional_headers=headers) as ws:
            message = await ws.recv()
    assert isinstance(message, str)
    return message


async def refused(server: Server, extra: str = "") -> tuple[bytes, bytes]:
    """Send a raw handshake; check the 401's framing; return its head and body."""
    raw = await raw_exchange(server.port, handshake_request(extra=extra))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    lines = head.decode().split("\r\n")[1:]
    assert f"WWW-Authenticate: {CHALLENGE}" in lines
    assert "Content-Type: text/plain; charset=utf-8" in lines
    assert f"Content-Length: {len(body)}" in lines
    return head, body


# ------------------------------------------------------------------ credentials


async def test_valid_credentials_set_username() -> None:
    """Valid credentials from the URI open the connection; username is set."""
    auth = anyio_ws.basic_auth(realm="chat", credentials=("alice", "s3cret"))
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        async with anyio_ws.connect(uri(server, "alice:s3cret@")) as ws:
            assert await ws.recv() == "'alice'"


async def test_several_pairs() -> None:
    """An iterable of pairs lets each user in with their own password only."""
    pairs = iter([("alice", "a-pass"), ["bob", "b-pass"]])  # any iterable, lists too
    auth = anyio_ws.basic_auth(realm="chat", credentials=pairs)
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        assert await login(server, basic("alice", "a-pass")) == "'alice'"
        assert await login(server, basic("bob", "b-pass")) == "'bob'"
        for username, password in [("alice", "b-pass"), ("carol", "a-pass"), ("bob", "")]:
            with pytest.raises(InvalidStatus) as exc_info:
                await login(server, basic(username, password))
            assert exc_info.value.response.status_code == 401


async def test_non_ascii_credentials() -> None:
    """Credentials are UTF-8, as the challenge's charset says."""
    auth = anyio_ws.basic_auth(realm="chat", credentials=("jöhn", "pässwörd"))
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        assert await login(server, basic("jöhn", "pässwörd")) == "'jöhn'"


async def test_password_with_colon() -> None:
    """Only the first colon separates the username from the password (RFC 7617)."""
    auth = anyio_ws.basic_auth(realm="chat", credentials=("alice", "a:b:c"))
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        assert await login(server, basic("alice", "a:b:c")) == "'alice'"


async def test_every_pair_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """hmac.compare_digest checks name and password of every pair, match or not."""
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", compare_digest)
    auth = anyio_ws.basic_auth(credentials=[("alice", "a"), ("bob", "b"), ("carol", "c")])
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        assert await login(server, basic("alice", "a")) == "'alice'"
    assert calls == [
        (b"alice", b"alice"),
        (b"a", b"a"),
        (b"bob", b"alice"),
        (b"b", b"a"),
        (b"carol", b"alice"),
        (b"c", b"a"),
    ]


# ------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("authorization", "body"),
    [
        (None, b"Missing credentials.\n"),
        (basic("alice", "wrong"), b"Invalid credentials.\n"),
        (basic("mallory", "s3cret"), b"Invalid credentials.\n"),
        ("Bearer abc.def", b"Unsupported credentials.\n"),
        ("Basic", b"Unsupported credentials.\n"),
        ("Basic !!!!", b"Unsupported credentials.\n"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), b"Unsupported credentials.\n"),
        ("Basic YWxpY2U6czNjcmV0 extra", b"Unsupported credentials.\n"),
    ],
    ids=repr,
)
async def test_bad_credentials_get_401(
    authorization: str | None, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Missing, malformed or wrong credentials: 401 with the challenge, one INFO line."""
    caplog.set_level(logging.INFO, logger="anyio_ws")
    handled: list[object] = []

    async def handler(ws: ServerConnection) -> None:
        handled.append(ws)
        await whoami(ws)

    auth = anyio_ws.basic_auth(realm="chat", credentials=("alice", "s3cret"))
    extra = "" if authorization is None else f"Authorization: {authorization}\r\n"
    async with anyio_ws.serve(handler, "127.0.0.1", 0, process_request=auth) as server:
        caplog.clear()
        _, received = await refused(server, extra)
        records = [r for r in caplog.records if r.name == "anyio_ws.server"]
        assert await login(server, basic("alice", "s3cret")) == "'alice'"
    assert received == body
    assert len(handled) == 1  # only the last, authenticated, connection
    assert len(records) == 1
    assert records[0].levelno == logging.INFO and records[0].exc_info is None
    assert records[0].getMessage().endswith('"GET / HTTP/1.1" 401')


async def test_scheme_is_case_insensitive() -> None:
    """``basic`` in any case is the Basic scheme (RFC 7235 section 2.1)."""
    auth = anyio_ws.basic_auth(credentials=("alice", "s3cret"))
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        authorization = basic("alice", "s3cret").replace("Basic", "bAsIc")
        assert await login(server, authorization) == "'alice'"


async def test_two_authorization_headers_get_401() -> None:
    """Two Authorization headers are not guessed between."""
    auth = anyio_ws.basic_auth(realm="chat", credentials=("alice", "s3cret"))
    good = f"Authorization: {basic('alice', 's3cret')}\r\n"
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        _, body = await refused(server, good + good)
    assert body == b"Unsupported credentials.\n"


async def test_realm_is_quoted() -> None:
    """The realm is a quoted-string: quotes and backslashes are escaped."""
    auth = anyio_ws.basic_auth(realm='say "hi" \\o/', credentials=("alice", "s3cret"))
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        raw = await raw_exchange(server.port, handshake_request())
    assert b'\r\nWWW-Authenticate: Basic realm="say \\"hi\\" \\\\o/", charset="UTF-8"\r\n' in raw


# ------------------------------------------------------------ check_credentials


def only_alice(username: str, password: str) -> bool:
    return (username, password) == ("alice", "s3cret")


async def only_alice_async(username: str, password: str) -> bool:
    await anyio.lowlevel.checkpoint()
    return only_alice(username, password)


@pytest.mark.parametrize("check", [only_alice, only_alice_async])
async def test_check_credentials(check: Callable[[str, str], Any]) -> None:
    """check_credentials, a function or a coroutine function, decides."""
    auth = anyio_ws.basic_auth(realm="chat", check_credentials=check)
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        assert await login(server, basic("alice", "s3cret")) == "'alice'"
        _, body = await refused(server, f"Authorization: {basic('alice', 'nope')}\r\n")
    assert body == b"Invalid credentials.\n"


async def test_check_credentials_returning_a_non_bool_is_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A check_credentials that returns something else than a bool is a bug: 500."""
    caplog.set_level(logging.INFO, logger="anyio_ws")
    auth = anyio_ws.basic_auth(check_credentials=lambda username, password: "yes")
    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        caplog.clear()
        with pytest.raises(InvalidStatus) as exc_info:
            await login(server, basic("alice", "s3cret"))
    assert exc_info.value.response.status_code == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], TypeError)


# ------------------------------------------------------------------ composition


async def test_basic_auth_composes_with_another_hook() -> None:
    """Calling the hook from your own process_request: a health check needs no login."""
    auth = anyio_ws.basic_auth(realm="chat", credentials=("alice", "s3cret"))

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            return connection.respond(200, "OK\n")
        return await auth(connection, request)

    async with anyio_ws.serve(whoami, "127.0.0.1", 0, process_request=process_request) as server:
        health = await raw_exchange(server.port, handshake_request("/healthz"))
        await refused(server)
        assert await login(server, basic("alice", "s3cret")) == "'alice'"
    assert health.startswith(b"HTTP/1.1 200 OK\r\n") and health.endswith(b"\r\n\r\nOK\n")


async def test_username_is_none_without_basic_auth() -> None:
    """Without basic_auth, connection.username is None."""
    async with anyio_ws.serve(whoami, "127.0.0.1", 0) as server:
        assert await login(server, None) == "None"


# -------------------------------------------------------------------- arguments


def argument_id(value: object) -> str:
    """A test id naming functions and classes, not showing their memory addresses.

    ``repr`` of a function differs between runs, and pytest-xdist refuses to run when
    its workers collect different ids.
    """
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={argument_id(item)}" for key, item in value.items()) + "}"
    if isinstance(value, type) or callable(value):
        return getattr(value, "__name__", repr(value))
    return repr(value)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, ValueError),
        ({"credentials": ("a", "b"), "check_credentials": only_alice}, ValueError),
        ({"credentials": []}, ValueError),
        ({"credentials": "alice:s3cret"}, TypeError),
        ({"credentials": ("alice", 42)}, TypeError),
        ({"credentials": [("alice", "s3cret"), ("bob",)]}, TypeError),
        ({"credentials": {"alice": "s3cret"}}, TypeError),
        ({"credentials": 42}, TypeError),
        ({"check_credentials": "alice"}, TypeError),
        ({"realm": "line\r\nbreak", "credentials": ("a", "b")}, ValueError),
        ({"realm": "日本", "credentials": ("a", "b")}, ValueError),
        ({"realm": b"chat", "credentials": ("a", "b")}, TypeError),
    ],
    ids=argument_id,
)
def test_bad_arguments_raise_at_the_call(kwargs: dict[str, Any], error: type[Exception]) -> None:
    """Wrong arguments fail when basic_auth() is called, not on the first client."""
    with pytest.raises(error):
        anyio_ws.basic_auth(**kwargs)


def test_type_error_does_not_show_passwords() -> None:
    """The TypeError about malformed credentials does not echo them."""
    with pytest.raises(TypeError) as exc_info:
        anyio_ws.basic_auth(credentials=[("alice", "hunter2"), ("bob",)])
    assert "hunter2" not in str(exc_info.value)
