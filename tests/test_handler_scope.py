"""Each sentence of design.md, "Structured concurrency", as a test on both backends.

A handler runs in a scope owned by its connection: free while the connection is open,
cancelled once the connection is over and every received message was read (or after
``close_timeout``), never outliving it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import anyio_ws
from anyio_ws.testing import serve_in_memory

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

Handler = Callable[[anyio_ws.ServerConnection], Awaitable[None]]


@asynccontextmanager
async def running(handler: Handler, **options: Any) -> AsyncIterator[anyio_ws.Server]:
    async with anyio_ws.serve(handler, "127.0.0.1", 0, **options) as server:
        yield server


def uri(server: anyio_ws.Server) -> str:
    return f"ws://127.0.0.1:{server.port}/"


async def raw_client(server: anyio_ws.Server) -> anyio.abc.SocketStream:
    """A TCP stream that completed a handshake by hand, to vanish without a close frame."""
    stream = await anyio.connect_tcp("127.0.0.1", server.port)
    await stream.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += await stream.receive()
    assert response.startswith(b"HTTP/1.1 101")
    return stream


class TestWhileOpen:
    """Point 1: while the connection is open, the handler and its tasks run freely."""

    async def test_handler_child_tasks_run(self) -> None:
        """A handler's own task group serves messages while the connection is open."""

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            async with anyio.create_task_group() as group:

                async def echo() -> None:
                    async for message in ws:
                        await ws.send(f"child: {message}")

                group.start_soon(echo)

        async with running(handler) as server, anyio_ws.connect(uri(server)) as ws:
            for n in range(3):
                await ws.send(str(n))
                assert await ws.recv() == f"child: {n}"


class TestAfterClosure:
    """Point 2: after closure, sends fail and every received message is still read."""

    async def test_messages_sent_before_close_reach_slow_handler(self) -> None:
        """Messages a client sends right before closing all reach a handler that was busy."""
        received: list[str] = []
        ended = anyio.Event()
        release = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            await ws.wait_closed()  # busy until the client is long gone
            await release.wait()
            try:
                async for message in ws:
                    received.append(str(message))
            finally:
                ended.set()

        async with running(handler, max_queue=None) as server:
            async with anyio_ws.connect(uri(server)) as ws:
                for n in range(10):
                    await ws.send(str(n))
            release.set()
            with anyio.fail_after(5):
                await ended.wait()
        assert received == [str(n) for n in range(10)]

    async def test_send_and_ping_raise_after_closure(self) -> None:
        """Once the connection is closed, send() and ping() raise ConnectionClosed."""
        outcomes: list[str] = []
        done = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                await ws.wait_closed()
                for operation in (ws.send("late"), ws.ping()):
                    try:
                        await operation
                    except anyio_ws.ConnectionClosed:
                        outcomes.append("closed")
            finally:
                done.set()

        async with running(handler) as server:
            async with anyio_ws.connect(uri(server)):
                pass
            with anyio.fail_after(5):
                await done.wait()
        assert outcomes == ["closed", "closed"]

    async def test_recv_after_drain_raises_connection_closed(self) -> None:
        """recv() returns the queued message, then raises ConnectionClosedOK."""
        results: list[object] = []
        done = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                await ws.wait_closed()
                results.append(await ws.recv())
                try:
                    await ws.recv()
                except anyio_ws.ConnectionClosedOK as exc:
                    results.append(exc.code)
            finally:
                done.set()

        async with running(handler) as server:
            async with anyio_ws.connect(uri(server)) as ws:
                await ws.send(b"last words")
            with anyio.fail_after(5):
                await done.wait()
        assert results == [b"last words", 1000]


class TestCancellation:
    """Point 3: the handler's scope is cancelled once nothing is left to read."""

    async def test_blocked_handler_cancelled_when_peer_vanishes(self) -> None:
        """A handler waiting on an unrelated event is cancelled when the TCP peer drops."""
        cancelled = anyio.Event()
        started = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            started.set()
            try:
                await anyio.Event().wait()  # never set: only cancellation ends this
            except anyio.get_cancelled_exc_class():
                cancelled.set()
                raise

        async with running(handler, close_timeout=30) as server:
            stream = await raw_client(server)
            await started.wait()
            await stream.aclose()
            with anyio.fail_after(5):  # far sooner than close_timeout
                await cancelled.wait()

    @pytest.mark.fake_clock
    async def test_unread_messages_delay_cancellation_until_close_timeout(self) -> None:
        """With messages left unread, the handler is cancelled after close_timeout."""
        cancelled_after: list[float] = []
        closed_at: list[float] = []
        started = anyio.Event()
        cancelled = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            started.set()
            try:
                await ws.wait_closed()
                closed_at.append(anyio.current_time())
                await anyio.Event().wait()
            except anyio.get_cancelled_exc_class():
                cancelled_after.append(anyio.current_time() - closed_at[0])
                cancelled.set()
                raise

        # In memory, so that the fake clock times it exactly.
        async with serve_in_memory(handler, close_timeout=0.5) as served:
            async with served.connect() as ws:
                await started.wait()
                await ws.send("never read")
            with anyio.fail_after(5):
                await cancelled.wait()
        assert cancelled_after[0] == pytest.approx(0.5)

    async def test_work_on_the_last_message_is_not_cut_short(self) -> None:
        """`async for msg in ws: await work(msg)` completes every message, then ends quietly."""
        saved: list[str] = []
        outcome: list[str] = []
        done = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                async for message in ws:
                    if message == "0":
                        await ws.wait_closed()  # the peer is gone while this one is in hand
                    for _ in range(3):  # stands for `await db.save(message)`
                        await anyio.lowlevel.checkpoint()
                    saved.append(str(message))
                outcome.append("returned")
            except BaseException as exc:
                outcome.append(type(exc).__name__)
                raise
            finally:
                done.set()

        async with running(handler, max_queue=64, close_timeout=30) as server:
            async with anyio_ws.connect(uri(server)) as ws:
                for n in range(50):
                    await ws.send(str(n))
            with anyio.fail_after(5):  # far sooner than close_timeout
                await done.wait()
        assert saved == [str(n) for n in range(50)]
        assert outcome == ["returned"]

    async def test_a_single_message_in_hand_is_finished(self) -> None:
        """The issue's example: one message, a handler that works on it after the peer left."""
        saved: list[object] = []
        done = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                message = await ws.recv()
                await ws.wait_closed()
                await anyio.lowlevel.checkpoint()
                saved.append(message)
            finally:
                done.set()

        async with running(handler, close_timeout=30) as server:
            async with anyio_ws.connect(uri(server)) as ws:
                await ws.send("order #1")
            with anyio.fail_after(5):
                await done.wait()
        assert saved == ["order #1"]

    async def test_streamed_message_in_hand_is_finished(self) -> None:
        """A message read with recv_streaming() stays in hand after its last fragment."""
        saved: list[str] = []
        done = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                fragments = [str(f) async for f in ws.recv_streaming()]
                await ws.wait_closed()
                await anyio.lowlevel.checkpoint()
                saved.append("".join(fragments))
            finally:
                done.set()

        async with running(handler, close_timeout=30) as server:
            async with anyio_ws.connect(uri(server)) as ws:
                await ws.send(["a", "b", "c"])
            with anyio.fail_after(5):
                await done.wait()
        assert saved == ["abc"]

    async def test_message_held_forever_is_cancelled_at_close_timeout(self) -> None:
        """A handler that keeps a message in hand and blocks is cancelled by close_timeout."""
        cancelled = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            await ws.recv()
            try:
                await anyio.Event().wait()
            except anyio.get_cancelled_exc_class():
                cancelled.set()
                raise

        async with running(handler, close_timeout=0.2) as server:
            async with anyio_ws.connect(uri(server)) as ws:
                await ws.send("held")
            with anyio.fail_after(5):
                await cancelled.wait()

    async def test_reader_back_in_recv_releases_the_handler(self) -> None:
        """Once the reading task asks for the next message, the rest of the handler is cancelled."""
        cancelled = anyio.Event()
        closed_by: list[type[BaseException]] = []

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            async def reader() -> None:
                message = await ws.recv()
                await ws.wait_closed()
                assert message == "x"
                try:
                    await ws.recv()
                except anyio_ws.ConnectionClosed as exc:
                    closed_by.append(type(exc))

            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(reader)
                    await anyio.Event().wait()  # unrelated: only cancellation ends this
            except anyio.get_cancelled_exc_class():
                cancelled.set()
                raise

        async with running(handler, close_timeout=30) as server:
            async with anyio_ws.connect(uri(server)) as ws:
                await ws.send("x")
            with anyio.fail_after(5):
                await cancelled.wait()
        assert closed_by == [anyio_ws.ConnectionClosedOK]

    async def test_task_in_recv_sees_connection_closed(self) -> None:
        """A child task waiting in recv() gets ConnectionClosed, not a bare cancellation."""
        seen: list[type[BaseException]] = []
        done = anyio.Event()
        waiting = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            async def reader() -> None:
                waiting.set()
                try:
                    await ws.recv()
                except BaseException as exc:
                    seen.append(type(exc))
                    raise
                finally:
                    done.set()

            async with anyio.create_task_group() as group:
                group.start_soon(reader)

        async with running(handler, close_timeout=30) as server:
            stream = await raw_client(server)
            await waiting.wait()
            await stream.aclose()
            with anyio.fail_after(5):
                await done.wait()
        assert len(seen) == 1 and issubclass(seen[0], anyio_ws.ConnectionClosedError)

    async def test_shielded_cleanup_runs_after_cancellation(self) -> None:
        """Async cleanup in a shielded scope completes after the handler is cancelled."""
        cleaned = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                await anyio.Event().wait()
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(0.01)  # the async cleanup itself: it must not be cut
                    cleaned.set()

        async with running(handler) as server:
            stream = await raw_client(server)
            await stream.aclose()
            with anyio.fail_after(5):
                await cleaned.wait()


class TestHandlerOutcome:
    """Point 4: return closes with 1000; an exception closes with 1011 and is logged."""

    async def test_return_closes_with_1000(self) -> None:
        """When the handler returns, the client sees a 1000 closure."""

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            return

        async with running(handler) as server, anyio_ws.connect(uri(server)) as ws:
            with pytest.raises(anyio_ws.ConnectionClosedOK):
                await ws.recv()
            assert ws.close_code == 1000

    async def test_exception_closes_with_1011_and_logs(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failing handler gets 1011, one ERROR line with traceback; the server goes on."""
        caplog.set_level(logging.INFO, logger="anyio_ws")

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            if ws.request is not None and ws.request.path == "/boom":
                raise RuntimeError("boom")
            await ws.send("fine")

        async with running(handler) as server:
            async with anyio_ws.connect(uri(server) + "boom") as ws:
                with pytest.raises(anyio_ws.ConnectionClosedError):
                    await ws.recv()
                assert ws.close_code == 1011
            async with anyio_ws.connect(uri(server)) as ws:
                assert await ws.recv() == "fine"
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert errors[0].exc_info is not None and "boom" in str(errors[0].exc_info[1])

    async def test_connection_closed_escaping_is_not_an_error(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """ConnectionClosed escaping a handler is normal: nothing logged at ERROR."""
        caplog.set_level(logging.DEBUG, logger="anyio_ws")
        done = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                while True:
                    await ws.recv()
            finally:
                done.set()

        async with running(handler) as server:
            stream = await raw_client(server)
            await stream.aclose()
            with anyio.fail_after(5):
                await done.wait()
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


class TestShutdown:
    """Point 5: leaving serve() closes with 1001, bounds handlers, leaves no task."""

    async def test_leaving_serve_closes_clients_with_1001(self) -> None:
        """Clients see 1001; a handler that ignores closure is cancelled; no task is left."""
        cancelled = anyio.Event()
        tasks_before = len(anyio.get_running_tasks())

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                await anyio.Event().wait()
            except anyio.get_cancelled_exc_class():
                cancelled.set()
                raise

        async with anyio.create_task_group() as group:
            async with running(handler, close_timeout=1) as server:
                ws = await anyio_ws.connect(uri(server), task_group=group)
                await ws.send("hello")
                await anyio.wait_all_tasks_blocked()
            with pytest.raises(anyio_ws.ConnectionClosedOK):
                await ws.recv()
            assert ws.close_code == 1001
            assert cancelled.is_set()
            await ws.wait_closed()
        assert len(anyio.get_running_tasks()) == tasks_before

    async def test_cancelling_serve_scope_returns_promptly(self) -> None:
        """Cancelling the scope around serve() shuts it down without hanging."""

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            await anyio.Event().wait()

        with anyio.fail_after(5):
            with anyio.CancelScope() as scope:
                async with running(handler, close_timeout=0.5) as server:
                    async with anyio.create_task_group() as group:
                        await anyio_ws.connect(uri(server), task_group=group)
                        scope.cancel()
        assert scope.cancelled_caught

    async def test_start_in_task_group(self) -> None:
        """await task_group.start(serve(...)) returns a listening Server."""

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            await ws.send("started")

        async with anyio.create_task_group() as group:
            server = await group.start(anyio_ws.serve(handler, "127.0.0.1", 0))
            async with anyio_ws.connect(uri(server)) as ws:
                assert await ws.recv() == "started"
            server.close()
            await server.wait_closed()


class TestClientBody:
    """Point 6: the client's body is not cancelled when the peer closes."""

    async def test_body_keeps_running_after_server_closes(self) -> None:
        """After the server closes, the body runs on and operations raise ConnectionClosed."""

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            return

        async with running(handler) as server, anyio_ws.connect(uri(server)) as ws:
            await ws.wait_closed()
            await anyio.lowlevel.checkpoint()  # a checkpoint: still not cancelled
            with pytest.raises(anyio_ws.ConnectionClosedOK):
                await ws.send("too late")


class TestChildTasks:
    """A handler's own task group: the end of the connection in a child is not an error."""

    async def test_connection_closed_in_a_child_task_is_not_logged(self, caplog) -> None:  # type: ignore[no-untyped-def]
        caplog.set_level(logging.INFO, logger="anyio_ws")
        finished = anyio.Event()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            try:
                async with anyio.create_task_group() as group:

                    async def sender() -> None:
                        while True:  # raises ConnectionClosed once the client is gone
                            await ws.send("tick")
                            await anyio.sleep(0.01)  # the pace of the ticks

                    group.start_soon(sender)
                    await anyio.sleep_forever()
            finally:
                finished.set()

        async with running(handler) as server:
            async with anyio_ws.connect(uri(server)) as client:
                assert await client.recv() == "tick"
            with anyio.fail_after(5):
                await finished.wait()
        assert client.close_code == 1000
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == []

    async def test_a_real_error_in_a_child_task_is_logged_and_closes_1011(self, caplog) -> None:  # type: ignore[no-untyped-def]
        async def handler(ws: anyio_ws.ServerConnection) -> None:
            async with anyio.create_task_group() as group:

                async def broken() -> None:
                    await ws.recv()
                    raise RuntimeError("bug in a child task")

                group.start_soon(broken)

        async with running(handler) as server:
            async with anyio_ws.connect(uri(server)) as client:
                await client.send("go")
                with anyio.fail_after(5):
                    await client.wait_closed()
        assert client.close_code == 1011
        failures = [r for r in caplog.records if r.getMessage() == "connection handler failed"]
        assert len(failures) == 1 and failures[0].exc_info is not None
        logged = failures[0].exc_info[1]
        assert isinstance(logged, ExceptionGroup)  # the group, its traceback shows the child
        assert [str(e) for e in logged.exceptions] == ["bug in a child task"]


@pytest.mark.fake_clock
async def test_closing_with_a_full_queue_reads_the_peer_close_at_once() -> None:
    """close() while max_queue unread messages wait: the close handshake still completes."""
    got_all = anyio.Event()

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        for n in range(4):
            await ws.send(f"message {n}")
        got_all.set()
        await ws.wait_closed()

    # In memory, so that once every task waits the client's reader has stopped, its
    # queue full, and the fake clock shows how long close() takes.
    async with serve_in_memory(handler) as served:
        async with served.connect(max_queue=1, close_timeout=30) as client:
            await got_all.wait()
            await anyio.wait_all_tasks_blocked()
            assert client._receiver.messages.full()  # so the client's reader has paused
            before = anyio.current_time()
            await client.close()
            assert anyio.current_time() == before  # at once, not after close_timeout
        assert client.close_code == 1000
        # What was read before close() is delivered: the queued message and the one the
        # paused reader held. The rest arrived after the close frame was sent and found
        # the queue full: dropped, so that memory stays within max_queue while closing.
        assert [await client.recv() for _ in range(2)] == ["message 0", "message 1"]
        with pytest.raises(anyio_ws.ConnectionClosedOK):
            await client.recv()
