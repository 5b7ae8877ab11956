"""``async for ws in connect(...)``: reconnection with back-off, and no task left behind."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from itertools import islice

import anyio
import anyio.abc
import pytest
from helpers import GONE, headers_of, raw_server, read_http_head, switching_response

import anyio_ws
from anyio_ws import ConnectionClosed, InvalidStatus, ServerConnection, State, backoff
from anyio_ws.connection import Connection
from anyio_ws.core.protocol import Protocol, Side

pytestmark = pytest.mark.usefixtures("anyio_backend")

CLIENT_LOGGER = "anyio_ws.client"


async def accept_and_echo(stream: anyio.abc.ByteStream, head: bytes, rest: bytes) -> None:
    """Finish a handshake by hand and echo messages until the client closes."""
    await stream.send(switching_response(headers_of(head)["sec-websocket-key"]))
    async with anyio.create_task_group() as group:
        connection = Connection(stream, Protocol(Side.SERVER, max_size=None, trailing_data=rest))
        connection.start(group)
        try:
            async for message in connection:
                await connection.send(message)
        except ConnectionClosed:
            pass


@asynccontextmanager
async def scripted(*script: str) -> AsyncIterator[tuple[str, list[str]]]:
    """A server answering its n-th connection as ``script[n]`` says; then it accepts.

    ``"503"``, ``"403"``...: that status; ``"eof"``: close without answering;
    ``"silent"``: never answer; ``"accept"``: a WebSocket echo. Yields the URI and the
    list of what each connection got.
    """
    served: list[str] = []
    never = anyio.Event()

    async def handle(stream: anyio.abc.SocketStream) -> None:
        # Counted when accepted, not once the request is read: a client that gives up
        # early (open_timeout on a loaded machine) still had its connection.
        what = script[len(served)] if len(served) < len(script) else "accept"
        served.append(what)
        try:
            head, rest = await read_http_head(stream)
        except GONE:
            return
        if what == "accept":
            await accept_and_echo(stream, head, rest)
        elif what == "silent":
            await never.wait()
        elif what != "eof":
            await stream.send(f"HTTP/1.1 {what} Nope\r\nContent-Length: 0\r\n\r\n".encode())
            try:
                await stream.receive()
            except GONE:
                pass

    async with raw_server(handle) as port:
        yield f"ws://127.0.0.1:{port}/", served


def retry_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == CLIENT_LOGGER and "reconnecting in" in record.getMessage()
    ]


# ----------------------------------------------------------------- iteration


async def test_each_iteration_yields_a_new_connection_and_closes_the_previous():
    """The previous connection is closed with 1000 when the loop asks for the next."""

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    seen: list[anyio_ws.ClientConnection] = []
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            async with aclosing(anyio_ws.connect(f"ws://127.0.0.1:{server.port}/")) as connector:
                async for ws in connector:
                    if seen:
                        assert seen[-1].state is State.CLOSED
                        assert seen[-1].close_code == 1000
                    seen.append(ws)
                    await ws.send(f"message {len(seen)}")
                    assert await ws.recv() == f"message {len(seen)}"
                    if len(seen) == 3:
                        break
    assert len({id(ws) for ws in seen}) == 3
    assert seen[-1].state is State.CLOSED and seen[-1].close_code == 1000


async def test_loop_reconnects_after_the_server_closes():
    """A body that reads until the server closes gets a new connection next."""

    async def close_at_once(ws: ServerConnection) -> None:
        await ws.close(1001, "bye")

    closes: list[int | None] = []
    async with anyio_ws.serve(close_at_once, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            async with aclosing(anyio_ws.connect(f"ws://127.0.0.1:{server.port}/")) as connector:
                async for ws in connector:
                    async for _ in ws:
                        pass
                    closes.append(ws.close_code)
                    if len(closes) == 2:
                        break
    assert closes == [1001, 1001]


async def test_break_leaves_no_task_running():
    """Leaving the loop (inside aclosing) closes the connection and ends its tasks."""
    server_done = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.recv()
        except ConnectionClosed:
            pass
        finally:
            server_done.set()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        await anyio.wait_all_tasks_blocked()
        tasks_before = len(anyio.get_running_tasks())
        with anyio.fail_after(10):
            async with aclosing(anyio_ws.connect(f"ws://127.0.0.1:{server.port}/")) as connector:
                async for ws in connector:  # noqa: B007
                    break
            assert ws.state is State.CLOSED and ws.close_code == 1000
            await server_done.wait()
        await anyio.wait_all_tasks_blocked()
        assert len(anyio.get_running_tasks()) == tasks_before


async def test_exception_in_the_body_propagates_and_closes_the_connection():
    """An error in the loop body comes out as itself (no group) and closes with 1000."""
    async with scripted() as (uri, _):
        with anyio.fail_after(10), pytest.raises(ValueError, match="from the body"):
            async with aclosing(anyio_ws.connect(uri)) as connector:
                async for ws in connector:  # noqa: B007
                    raise ValueError("from the body")
    assert ws.state is State.CLOSED and ws.close_code == 1000


async def test_cancelling_the_loop_closes_the_connection():
    """A cancelled scope around the loop still sends a 1000 close frame and ends."""
    codes: list[int | None] = []
    server_done = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.recv()
        except ConnectionClosed:
            codes.append(ws.close_code)
            server_done.set()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        with anyio.fail_after(10):
            with anyio.CancelScope() as scope:
                async with aclosing(anyio_ws.connect(uri)) as connector:
                    async for ws in connector:  # noqa: B007
                        scope.cancel()
                        await anyio.sleep_forever()
            assert scope.cancelled_caught
            await server_done.wait()
    assert ws.state is State.CLOSED
    assert codes == [1000]


# ----------------------------------------------------------------- retrying


async def test_retryable_failures_are_retried_and_logged(caplog):
    """A 503 and a server that hangs up are retried; each retry is logged at INFO."""
    caplog.set_level(logging.INFO, CLIENT_LOGGER)
    async with scripted("503", "eof") as (uri, served):
        with anyio.fail_after(10):
            async with aclosing(anyio_ws.connect(uri, reconnect_delays=[0, 0.01])) as connector:
                async for ws in connector:
                    await ws.send("finally")
                    assert await ws.recv() == "finally"
                    break
    assert served == ["503", "eof", "accept"]
    records = retry_logs(caplog)
    assert [record.levelno for record in records] == [logging.INFO] * 2
    assert "reconnecting in 0.0 seconds" in records[0].getMessage()
    assert "503" in records[0].getMessage()
    assert "InvalidMessage" in records[1].getMessage()


async def test_refused_connection_is_retried_until_the_delays_run_out(caplog, refused_port):
    """When reconnect_delays is exhausted, the last error is raised."""
    caplog.set_level(logging.INFO, CLIENT_LOGGER)
    uri = f"ws://127.0.0.1:{refused_port}/"
    with anyio.fail_after(10), pytest.raises(OSError):
        async for _ in anyio_ws.connect(uri, reconnect_delays=[0, 0]):
            pytest.fail("nothing listens there")
    assert len(retry_logs(caplog)) == 2


async def test_open_timeout_is_retried(caplog):
    """A handshake that times out is retryable."""
    caplog.set_level(logging.INFO, CLIENT_LOGGER)
    async with scripted("silent", "silent") as (uri, served):
        with anyio.fail_after(10), pytest.raises(TimeoutError):
            async for _ in anyio_ws.connect(uri, open_timeout=0.5, reconnect_delays=[0]):
                pytest.fail("the server never answers")
    assert served == ["silent", "silent"]
    assert len(retry_logs(caplog)) == 1


async def test_fatal_status_is_raised_without_retrying(caplog):
    """A 403 will not get better: it is raised at once."""
    caplog.set_level(logging.INFO, CLIENT_LOGGER)
    async with scripted("403") as (uri, served):
        with anyio.fail_after(10), pytest.raises(InvalidStatus) as info:
            async for _ in anyio_ws.connect(uri, reconnect_delays=[0]):
                pytest.fail("the handshake must fail")
    assert info.value.response.status_code == 403
    assert served == ["403"] and retry_logs(caplog) == []


async def test_process_exception_can_retry_any_error():
    """process_exception returning None retries even a 403."""
    async with scripted("403") as (uri, served):
        with anyio.fail_after(10):
            connector = anyio_ws.connect(
                uri, process_exception=lambda exc: None, reconnect_delays=[0]
            )
            async with aclosing(connector):
                async for _ in connector:
                    break
    assert served == ["403", "accept"]


async def test_process_exception_can_replace_the_error():
    """An exception returned by process_exception is raised, from the original one."""
    async with scripted("503") as (uri, _):
        with anyio.fail_after(10), pytest.raises(RuntimeError, match="give up") as info:
            connector = anyio_ws.connect(
                uri, process_exception=lambda exc: RuntimeError("give up"), reconnect_delays=[0]
            )
            async for _ in connector:
                pytest.fail("the handshake must fail")
    assert isinstance(info.value.__cause__, InvalidStatus)


async def test_back_off_restarts_after_a_successful_connection(caplog):
    """Each run of failures starts from the first delay again."""
    caplog.set_level(logging.INFO, CLIENT_LOGGER)
    calls = 0

    def delays() -> list[float]:
        nonlocal calls
        calls += 1
        return [0.0]  # a second failure in a row would end the loop

    async with scripted("503", "accept", "503") as (uri, served):
        with anyio.fail_after(10):
            async with aclosing(anyio_ws.connect(uri, reconnect_delays=delays)) as connector:
                count = 0
                async for _ in connector:
                    count += 1
                    if count == 2:
                        break
    assert served == ["503", "accept", "503", "accept"]
    assert calls == 2 and len(retry_logs(caplog)) == 2


async def test_negative_delay_from_a_function_raises_value_error():
    """A delay function yielding a negative number is an error when it is used."""
    async with scripted("503") as (uri, _):
        with anyio.fail_after(10), pytest.raises(ValueError, match="reconnect_delays"):
            async for _ in anyio_ws.connect(uri, reconnect_delays=lambda: [-1.0]):
                pytest.fail("the handshake must fail")


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize("delays", ["1, 2", 5, None])
def test_reconnect_delays_of_a_wrong_type_raise_type_error(delays):
    """reconnect_delays must be a sequence of numbers or a function."""
    with pytest.raises(TypeError, match="reconnect_delays"):
        anyio_ws.connect("ws://localhost/", reconnect_delays=delays)


@pytest.mark.parametrize("delays", [[-1], [1, "2"], [True]])
def test_bad_reconnect_delays_raise_value_error(delays):
    """Each delay must be a number >= 0."""
    with pytest.raises(ValueError, match="reconnect_delays"):
        anyio_ws.connect("ws://localhost/", reconnect_delays=delays)


def test_process_exception_must_be_callable():
    with pytest.raises(TypeError, match="process_exception"):
        anyio_ws.connect("ws://localhost/", process_exception=3)  # type: ignore[arg-type]


# --------------------------------------------------------------------- backoff


def test_backoff_sequence(monkeypatch):
    """A random first delay, then min_delay growing by factor up to max_delay, for ever."""
    monkeypatch.setattr("random.random", lambda: 0.5)
    delays = list(islice(backoff(initial_delay=4, min_delay=1, max_delay=5, factor=2), 7))
    assert delays == [2.0, 1, 2, 4, 5, 5, 5]


def test_backoff_defaults_are_websockets(monkeypatch):
    """Without arguments or environment: 5 s jitter, 3.1 s, x1.618, at most 90 s."""
    monkeypatch.setattr("random.random", lambda: 0.5)
    for name in ("INITIAL_DELAY", "MIN_DELAY", "MAX_DELAY", "FACTOR"):
        monkeypatch.delenv(f"ANYIO_WS_BACKOFF_{name}", raising=False)
    delays = list(islice(backoff(), 12))
    assert delays[:3] == [2.5, 3.1, pytest.approx(3.1 * 1.618)]
    assert delays[-1] == 90.0 and max(delays) == 90.0


def test_backoff_reads_the_environment(monkeypatch):
    """ANYIO_WS_BACKOFF_* variables change the defaults."""
    monkeypatch.setattr("random.random", lambda: 0.5)
    monkeypatch.setenv("ANYIO_WS_BACKOFF_INITIAL_DELAY", "2")
    monkeypatch.setenv("ANYIO_WS_BACKOFF_MIN_DELAY", "0.5")
    monkeypatch.setenv("ANYIO_WS_BACKOFF_MAX_DELAY", "3")
    monkeypatch.setenv("ANYIO_WS_BACKOFF_FACTOR", "3")
    assert list(islice(backoff(), 5)) == [1.0, 0.5, 1.5, 3.0, 3.0]


def test_default_process_exception():
    """Network errors and timeouts retry; other errors don't."""
    assert anyio_ws.process_exception(ConnectionRefusedError()) is None
    assert anyio_ws.process_exception(TimeoutError()) is None
    assert anyio_ws.process_exception(anyio.BrokenResourceError()) is None
    error = ValueError("bad")
    assert anyio_ws.process_exception(error) is error


# ---------------------------------------------------------------- task_group=


async def test_iteration_in_a_task_group_is_safe_to_break():
    """With task_group=, a bare ``break`` closes the connection with 1000; the group ends."""
    server_codes: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)
        server_codes.append(ws.close_code)

    seen: list[anyio_ws.ClientConnection] = []
    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                async for ws in anyio_ws.connect(uri, task_group=group):
                    if seen:
                        assert seen[-1].close_code == 1000
                    seen.append(ws)
                    await ws.send("held by the group")
                    assert await ws.recv() == "held by the group"
                    if len(seen) == 2:
                        break
    assert [ws.close_code for ws in seen] == [1000, 1000]
    assert server_codes == [1000, 1000]


async def test_iteration_in_a_task_group_raises_fatal_errors_unwrapped():
    """A fatal error comes out of the loop as itself, inside the caller's group."""
    async with scripted("403") as (uri, _):
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                with pytest.raises(InvalidStatus):
                    async for _ in anyio_ws.connect(uri, task_group=group):
                        pytest.fail("the handshake must fail")


async def test_iteration_in_a_task_group_retries(caplog):
    """Retries work the same way with task_group=."""
    caplog.set_level(logging.INFO, CLIENT_LOGGER)
    async with scripted("503") as (uri, served):
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                connector = anyio_ws.connect(uri, task_group=group, reconnect_delays=[0])
                async for ws in connector:
                    await ws.send("second try")
                    assert await ws.recv() == "second try"
                    await connector.aclose()
    assert served == ["503", "accept"] and len(retry_logs(caplog)) == 1
    assert ws.close_code == 1000
