"""The idioms users bring from trio and websockets, and mistakes caught at the call.

``task_group.start(serve, handler, host, port)`` and ``task_group.start(connect, uri)``
as trio users write them; a handler that could never run refused by ``serve()``
itself; a refused connection is a ``ConnectionRefusedError`` on both backends.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import memory_stream_pair

import anyio_ws
from anyio_ws import Server, ServerConnection


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def uri_of(server: Server, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def round_trip(uri: str, message: str = "hi", **options: Any) -> str:
    """What the server sends back to ``message`` over a fresh connection."""
    with anyio.fail_after(5):
        async with anyio_ws.connect(uri, proxy=None, **options) as ws:
            await ws.send(message)
            reply = await ws.recv()
    assert isinstance(reply, str)
    return reply


# ------------------------------------------------- task_group.start(serve, ...)


async def test_serve_started_with_arguments_as_trio_does() -> None:
    """``tg.start(serve, handler, host, port)`` returns the listening ``Server``."""
    async with anyio.create_task_group() as tg:
        server = await tg.start(anyio_ws.serve, echo, "127.0.0.1", 0)
        assert isinstance(server, Server)
        assert await round_trip(uri_of(server)) == "hi"
        server.close()
    assert server.connections == set()


async def test_serve_started_from_a_serve_object_still_works() -> None:
    """``tg.start(serve(handler, host, port))``, the README's form, is unchanged."""
    async with anyio.create_task_group() as tg:
        server = await tg.start(anyio_ws.serve(echo, "127.0.0.1", 0))
        assert await round_trip(uri_of(server)) == "hi"
        server.close()


async def test_keyword_options_pass_through_a_partial() -> None:
    """``tg.start(partial(serve, option=...), handler, host, port)`` applies the option."""
    serve = functools.partial(anyio_ws.serve, ping_interval=None, server_header="idioms")
    async with anyio.create_task_group() as tg:
        server = await tg.start(serve, echo, "127.0.0.1", 0)
        async with anyio_ws.connect(uri_of(server), proxy=None) as ws:
            assert ws.response is not None
            assert ws.response.headers["Server"] == "idioms"
        server.close()


async def test_path_handler_started_with_arguments_gets_the_path() -> None:
    """A ``(ws, path)`` handler started trio style gets the request path."""

    async def handler(ws: ServerConnection, path: str) -> None:
        async for message in ws:
            await ws.send(f"{path}:{message}")

    async with anyio.create_task_group() as tg:
        server = await tg.start(anyio_ws.serve, handler, "127.0.0.1", 0)
        assert await round_trip(uri_of(server, "/room")) == "/room:hi"
        server.close()


async def test_unix_serve_and_unix_connect_started_with_arguments(tmp_path: Path) -> None:
    """``tg.start(unix_serve, handler, path)`` and ``tg.start(unix_connect, path)`` work."""
    path = str(tmp_path / "ws.sock")
    async with anyio.create_task_group() as tg:
        server = await tg.start(anyio_ws.unix_serve, echo, path)
        assert server.addresses == [path]
        ws = await tg.start(anyio_ws.unix_connect, path)
        await ws.send("over unix")
        assert await ws.recv() == "over unix"
        await ws.close()
        server.close()
    assert ws.close_code == 1000


async def test_bad_arguments_raise_from_start_as_at_a_call() -> None:
    """Arguments are checked when ``start`` calls ``serve``: the error reaches the caller."""
    async with anyio.create_task_group() as tg:
        with pytest.raises(TypeError, match="port must be an int"):
            await tg.start(anyio_ws.serve, echo, "127.0.0.1", "8765")
        with pytest.raises(TypeError, match="async def handler"):
            await tg.start(anyio_ws.serve, lambda ws: None, "127.0.0.1", 0)


def test_serve_called_with_task_status_returns_a_coroutine() -> None:
    """With ``task_status=`` ``serve(...)`` gives the coroutine trio and anyio run."""
    coroutine = anyio_ws.serve(echo, "127.0.0.1", 0, task_status=anyio.TASK_STATUS_IGNORED)
    try:
        assert hasattr(coroutine, "send") and hasattr(coroutine, "throw")
    finally:
        coroutine.close()
    assert isinstance(anyio_ws.serve(echo, "127.0.0.1", 0), anyio_ws.serve)


# ----------------------------------------------- task_group.start(connect, ...)


@pytest.fixture
async def echo_server() -> AsyncIterator[Server]:
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        yield server


async def test_connect_started_returns_the_connection(echo_server: Server) -> None:
    """``tg.start(connect, uri)`` returns an open connection; closing it ends the task."""
    async with anyio.create_task_group() as tg:
        ws = await tg.start(anyio_ws.connect, uri_of(echo_server))
        assert isinstance(ws, anyio_ws.ClientConnection)
        await ws.send("started")
        assert await ws.recv() == "started"
        await ws.close()
    assert ws.close_code == 1000


async def test_cancelling_the_group_closes_a_started_connection_with_1000() -> None:
    """The connection lives in the started task: cancelling the group closes it, 1000."""
    seen: list[int | None] = []
    handler_done = anyio.Event()

    async def record(ws: ServerConnection) -> None:
        try:
            await ws.wait_closed()
        finally:
            seen.append(ws.close_code)
            handler_done.set()

    async with anyio_ws.serve(record, "127.0.0.1", 0) as server:
        async with anyio.create_task_group() as tg:
            ws = await tg.start(anyio_ws.connect, uri_of(server))
            tg.cancel_scope.cancel()
        with anyio.fail_after(5):
            await handler_done.wait()
    assert ws.close_code == 1000
    assert seen == [1000]


async def test_a_started_connection_ends_when_the_server_closes_it() -> None:
    """When the peer closes, the started task ends and the group exits by itself."""

    async def bye(ws: ServerConnection) -> None:
        await ws.close(1000, "bye")

    async with anyio_ws.serve(bye, "127.0.0.1", 0) as server:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                ws = await tg.start(anyio_ws.connect, uri_of(server))
    assert (ws.close_code, ws.close_reason) == (1000, "bye")


async def test_connect_options_pass_through_a_partial() -> None:
    """``tg.start(partial(connect, subprotocols=...), uri)`` negotiates as asked."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, subprotocols=["chat"]) as server:
        async with anyio.create_task_group() as tg:
            connect = functools.partial(anyio_ws.connect, subprotocols=["chat"], proxy=None)
            ws = await tg.start(connect, uri_of(server))
            assert ws.subprotocol == "chat"
            await ws.close()


async def test_connect_started_with_a_task_group_is_refused(echo_server: Server) -> None:
    """``task_group=`` makes no sense when the started task holds the connection."""
    async with anyio.create_task_group() as tg:
        with pytest.raises(TypeError, match="leave task_group= out"):
            await tg.start(functools.partial(anyio_ws.connect, task_group=tg), uri_of(echo_server))


# --------------------------------------------- handlers checked by serve()


def plain(ws: ServerConnection) -> None:
    pass


async def no_argument() -> None:
    pass


async def three_arguments(ws: ServerConnection, path: str, extra: int) -> None:
    pass


async def generator(ws: ServerConnection) -> AsyncIterator[None]:
    yield


class SyncCall:
    def __call__(self, ws: ServerConnection) -> None:
        pass


BAD_HANDLERS: dict[str, object] = {
    "plain def": plain,
    "plain lambda": lambda ws: None,
    "no argument": no_argument,
    "three arguments": three_arguments,
    "async generator": generator,
    "sync __call__": SyncCall(),
    "partial of a plain def": functools.partial(plain),
    "not callable": "echo",
}


@pytest.mark.parametrize("handler", BAD_HANDLERS.values(), ids=BAD_HANDLERS.keys())
def test_serve_refuses_a_handler_that_cannot_work(handler: Any) -> None:
    """``serve()`` says what a handler must look like, before any connection."""
    with pytest.raises(
        TypeError, match=r"async def handler\(ws\) or async def handler\(ws, path\)"
    ):
        anyio_ws.serve(handler, "127.0.0.1", 0)


@pytest.mark.parametrize("handler", [plain, no_argument], ids=["plain def", "no argument"])
def test_unix_serve_refuses_a_handler_that_cannot_work(handler: Any, tmp_path: Path) -> None:
    """``unix_serve()`` checks the handler as ``serve()`` does."""
    with pytest.raises(TypeError, match=r"async def handler\(ws\)"):
        anyio_ws.unix_serve(handler, str(tmp_path / "ws.sock"))


async def test_serve_stream_refuses_a_plain_def_before_running_it() -> None:
    """``serve_stream()`` raises for a sync handler without calling it."""
    calls: list[object] = []

    def sync(ws: ServerConnection) -> None:
        calls.append(ws)

    client, server = memory_stream_pair()
    with pytest.raises(TypeError, match=r"async def handler\(ws\)"):
        await anyio_ws.serve_stream(sync, server)
    assert calls == []
    await client.aclose()
    await server.aclose()


def test_the_message_names_the_refused_handler() -> None:
    """The error says which handler and what is wrong with it."""
    with pytest.raises(TypeError, match=r"plain is a plain function \(def\)"):
        anyio_ws.serve(plain)
    with pytest.raises(TypeError, match=r"three_arguments\(ws.*neither with \(ws\)"):
        anyio_ws.serve(three_arguments)


class Service:
    """Handlers as methods, and as an object with ``async def __call__``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    async def handle(self, ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(f"{self.prefix}{message}")

    async def __call__(self, ws: ServerConnection) -> None:
        await self.handle(ws)


async def with_prefix(prefix: str, ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(f"{prefix}{message}")


def logged(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A sync decorator that passes the coroutine through, with ``functools.wraps``."""

    @functools.wraps(handler)
    def wrapper(*args: Any) -> Any:
        return handler(*args)

    return wrapper


class Opaque:
    """An async callable whose signature cannot be read: taken on trust."""

    @property
    def __signature__(self) -> inspect.Signature:
        raise ValueError("no signature")

    async def __call__(self, ws: ServerConnection) -> None:
        await Service("opaque ").handle(ws)


GOOD_HANDLERS: dict[str, tuple[Any, str]] = {
    "async def": (echo, "hi"),
    "bound async method": (Service("m ").handle, "m hi"),
    "async __call__": (Service("c ").__call__, "c hi"),
    "object with async __call__": (Service("o "), "o hi"),
    "partial": (functools.partial(with_prefix, "p "), "p hi"),
    "wraps around async def": (logged(Service("w ").handle), "w hi"),
    "uninspectable": (Opaque(), "opaque hi"),
}


@pytest.mark.parametrize("handler, reply", GOOD_HANDLERS.values(), ids=GOOD_HANDLERS.keys())
async def test_serve_accepts_every_async_callable_and_runs_it(handler: Any, reply: str) -> None:
    """Async functions, methods, partials and ``async __call__`` objects serve as before."""
    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        assert await round_trip(uri_of(server)) == reply


# ------------------------------------------------ a refused connection


async def test_a_refused_connection_raises_connection_refused_error(
    anyio_backend: tuple[str, object], refused_port: int
) -> None:
    """Nothing listening: ``ConnectionRefusedError`` on both backends, the original as cause."""
    with pytest.raises(ConnectionRefusedError) as info:
        async with anyio_ws.connect(f"ws://127.0.0.1:{refused_port}/", proxy=None):
            pass
    if anyio_backend[0] == "trio":
        assert isinstance(info.value.__cause__, OSError)
        assert str(info.value.__cause__) == "All connection attempts failed"


async def test_a_refused_proxy_raises_connection_refused_error(refused_port: int) -> None:
    """The same holds for a proxy that is not there."""
    proxy = f"http://127.0.0.1:{refused_port}"
    with pytest.raises(ConnectionRefusedError):
        async with anyio_ws.connect("ws://example.invalid/", proxy=proxy):
            pass


async def test_a_refused_connection_is_retried_when_reconnecting(
    caplog: pytest.LogCaptureFixture, refused_port: int
) -> None:
    """The default ``process_exception`` retries a refusal; the last one is raised as is."""
    caplog.set_level(logging.INFO, logger="anyio_ws.client")
    uri = f"ws://127.0.0.1:{refused_port}/"
    with pytest.raises(ConnectionRefusedError):
        async for _ws in anyio_ws.connect(uri, proxy=None, reconnect_delays=[0, 0]):
            pytest.fail("nothing listens: no connection can open")
    retries = [r for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert len(retries) == 2
    assert anyio_ws.process_exception(ConnectionRefusedError(111, "refused")) is None


async def test_a_refused_connection_started_in_a_task_group_raises_as_itself(
    refused_port: int,
) -> None:
    """``tg.start(connect, uri)`` raises the refusal unwrapped; the group goes on."""
    async with anyio.create_task_group() as tg:
        with pytest.raises(ConnectionRefusedError):
            await tg.start(anyio_ws.connect, f"ws://127.0.0.1:{refused_port}/")


def test_the_classes_still_show_their_options_to_inspect() -> None:
    """``inspect.signature(serve)`` lists ``__init__``'s options, not ``*args, **kwargs``."""
    assert "compression" in inspect.signature(anyio_ws.serve).parameters
    assert "sock" in inspect.signature(anyio_ws.unix_serve).parameters
    assert "reconnect_delays" in inspect.signature(anyio_ws.connect).parameters
    assert "task_status" in inspect.signature(anyio_ws.serve(echo)).parameters
