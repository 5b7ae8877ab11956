"""Connection-layer behaviour the mutation run found unpinned (see tests/mutation.md).

Which pings a pong answers, how long close() and a failed connection wait for a silent
peer, the close codes, reasons and log lines of handlers and of server shutdown, what a
ConnectionClosed is caused by, which cancellations become ConnectionClosed, and the
reconnecting loop with ``task_group=``. Both backends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from helpers import (
    MemoryByteStream,
    Peer,
    client_of_a_waiting_handler,
    connection_pair,
    memory_stream_pair,
)

import anyio_ws
from anyio_ws import (
    ConcurrencyError,
    ConnectionClosedError,
    ConnectionClosedOK,
    ProtocolError,
    Server,
    ServerConnection,
    State,
)
from anyio_ws._memory import MemoryListener
from anyio_ws._sending import _MAX_PENDING_REPLIES
from anyio_ws.client import ClientConnection
from anyio_ws.connection import Connection
from anyio_ws.core.events import CloseReceived, PongReceived
from anyio_ws.core.frames import Close
from anyio_ws.core.protocol import Protocol, Side
from anyio_ws.testing import serve_in_memory

pytestmark = pytest.mark.usefixtures("anyio_backend")


def uri(server: Server) -> str:
    return f"ws://127.0.0.1:{server.port}/"


# ------------------------------------------------------------ which pings a pong answers


async def test_a_pong_answers_its_ping_and_every_earlier_one_only():
    """A pong resolves the ping with its payload and those before it, not those after."""
    async with connection_pair(ping_interval=None) as (ws, peer):
        first = await ws.ping(b"first")
        second = await ws.ping(b"second")
        third = await ws.ping(b"third")
        # The peer reads nothing (no automatic pongs): it answers only what we make it.
        peer.protocol.send_pong(b"second")
        await peer.send_text("after the pong")
        with anyio.fail_after(5):
            assert await ws.recv() == "after the pong"  # the pong was handled before it
            latency = await second
            earlier = await first
        assert latency >= 0 and earlier >= latency
        assert ws.latency == latency
        # "third" still waits: pinging with its payload again is refused.
        with pytest.raises(ConcurrencyError):
            await ws.ping(b"third")
        # The answered ones are gone: their payloads can be used again.
        await ws.ping(b"first")
        await ws.ping(b"second")
        peer.protocol.send_pong(b"third")
        await peer.flush()
        with anyio.fail_after(5):
            assert await third >= 0


async def test_a_pong_with_an_unknown_payload_answers_nothing():
    """A pong nobody pinged for (a heartbeat) resolves no ping and leaves latency alone."""
    async with connection_pair(ping_interval=None) as (ws, peer):
        await ws.ping(b"waiting")
        peer.protocol.send_pong(b"unsolicited")
        await peer.send_text("after the pong")
        with anyio.fail_after(5):
            assert await ws.recv() == "after the pong"
        assert ws.latency == 0.0
        with pytest.raises(ConcurrencyError):
            await ws.ping(b"waiting")


# ----------------------------------------------------- close() and a silent peer


@pytest.mark.parametrize("side", [Side.SERVER, Side.CLIENT], ids=["server", "client"])
async def test_close_waits_close_timeout_for_a_silent_peer(side: Side):
    """close() with a peer that never answers returns after close_timeout, not before."""
    timeout = 0.3
    async with connection_pair(side=side, close_timeout=timeout, ping_interval=None) as (
        ws,
        _peer,
    ):
        start = anyio.current_time()
        with anyio.fail_after(timeout + 10):  # generous: load only makes it longer
            await ws.close()
        elapsed = anyio.current_time() - start
        assert elapsed >= timeout
        assert ws.state is State.CLOSED
        assert ws.close_code == 1006


async def test_connection_defaults_are_the_documented_ones():
    """The defaults the docstring and README give: 10 s, 20 s, 20 s, 32 KiB."""
    ours, theirs = memory_stream_pair()
    async with ours, theirs:
        ws = Connection(ours, Protocol(Side.SERVER))
        assert ws.close_timeout == 10
        assert ws.ping_interval == 20
        assert ws.ping_timeout == 20
        assert ws.write_limit == 32768
        assert ws.latency == 0.0
        assert ws.state is State.OPEN
        assert ws.close_code is None and ws.close_reason is None


# ------------------------------------------- a server cancelled after close(False)


async def test_server_cancelled_after_close_without_closing_connections_sends_1001():
    """close(close_connections=False) lets connections run; a later cancellation ends them
    with 1001 (going away), as leaving serve() does."""
    entered = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        entered.set()
        await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as scope:
            async with anyio_ws.serve(handler, "127.0.0.1", 0, close_timeout=5) as server:
                ws = await anyio_ws.connect(uri(server), task_group=group, ping_interval=None)
                await entered.wait()
                server.close(close_connections=False)
                with anyio.fail_after(5):
                    await (await ws.ping())  # still open: close() left it alone
                assert ws.state is State.OPEN
                scope.cancel()
                await anyio.sleep_forever()
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        assert ws.close_code == 1001
        assert ws.close_reason == "server shutting down"


# ------------------------------------------------------- cancelled from outside


async def test_a_bare_connection_cancelled_drops_the_transport_without_a_close_frame():
    """Connection's own rule when its group is cancelled: no close frame, just EOF."""
    ours, theirs = memory_stream_pair(buffer=float("inf"))
    peer = Peer(theirs, Side.CLIENT)
    ws = Connection(ours, Protocol(Side.SERVER), ping_interval=None, close_timeout=5)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            ws.start(group)
            await ws.ping(b"started")  # the reader runs
            group.cancel_scope.cancel()
        events = await peer.read_until_eof()
    assert not [event for event in events if isinstance(event, CloseReceived)]
    assert ws.close_code == 1006
    await theirs.aclose()


async def test_a_cancelled_client_waits_close_timeout_at_most_for_a_silent_peer():
    """ClientConnection tries to close with 1000 when cancelled, for close_timeout at most,
    even when the peer reads nothing (the close frame's write never completes)."""
    timeout = 0.3
    ours, theirs = memory_stream_pair(buffer=0)
    ws = ClientConnection(ours, Protocol(Side.CLIENT), ping_interval=None, close_timeout=timeout)
    rescued = False

    async def failsafe() -> None:
        nonlocal rescued
        await anyio.sleep(timeout + 10)  # far beyond: only a bug gets here
        rescued = True
        await theirs.aclose()  # unblock a shielded wait that never ends

    async with anyio.create_task_group() as outer:
        outer.start_soon(failsafe)
        start = anyio.current_time()
        async with anyio.create_task_group() as group:
            ws.start(group)
            group.cancel_scope.cancel()
        elapsed = anyio.current_time() - start
        outer.cancel_scope.cancel()
    assert not rescued
    assert elapsed >= timeout
    assert ws.protocol.close_sent == Close(1000)
    assert ws.state is State.CLOSED
    await theirs.aclose()


async def test_a_handler_close_without_arguments_sends_1000():
    """ServerConnection.close() defaults to 1000 (normal closure) and no reason."""

    async def handler(ws: ServerConnection) -> None:
        await ws.close()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(uri(server)) as ws:
            with pytest.raises(ConnectionClosedOK):
                await ws.recv()
            assert ws.close_code == 1000
            assert ws.close_reason == ""


async def test_a_second_server_close_changes_nothing():
    """Only the first server.close() counts: a second one cannot change the close code."""
    async with client_of_a_waiting_handler() as (server, ws):
        server.close()
        server.close(code=4000)
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        assert ws.close_code == 1001
        with anyio.fail_after(5):
            await server.wait_closed()


# ------------------------------------------------- ping() and pong(): what they send

PING_REFUSAL = "a ping with the same payload is already waiting"


async def test_a_ping_waiter_carries_its_payload():
    """ping() returns a waiter whose ``data`` is the payload sent, given or random."""
    async with connection_pair(ping_interval=None) as (ws, _peer):
        given = await ws.ping(b"payload")
        assert given.data == b"payload"
        assert (await ws.ping("text")).data == b"text"
        random = await ws.ping()
        assert type(random.data) is bytes and len(random.data) == 4


async def test_pinging_twice_with_one_payload_says_why_it_is_refused():
    """The ConcurrencyError of a duplicate ping payload says what went wrong."""
    async with connection_pair(ping_interval=None) as (ws, _peer):
        await ws.ping(b"twice")
        with pytest.raises(ConcurrencyError) as info:
            await ws.ping(b"twice")
        assert str(info.value) == PING_REFUSAL


async def test_pong_without_arguments_sends_an_empty_pong():
    """pong() defaults to an empty payload."""
    async with connection_pair(ping_interval=None) as (ws, peer):
        await ws.pong()
        await ws.pong(b"heartbeat")
        with anyio.fail_after(5):
            assert await peer.next_event() == PongReceived(b"")
            assert await peer.next_event() == PongReceived(b"heartbeat")


# ------------------------------------ a binary message read as text: failing with 1007

UTF8_REASON = "invalid UTF-8 in a message decoded as text"


@pytest.mark.parametrize("side", [Side.SERVER, Side.CLIENT], ids=["server", "client"])
async def test_invalid_utf8_read_as_text_fails_1007_after_the_closing_handshake(side: Side):
    """recv(decode=True) of non-UTF-8 bytes closes with 1007 and the reason, and raises
    once the connection is closed, not while the closing handshake is under way."""
    async with connection_pair(side=side, ping_interval=None, close_timeout=30) as (ws, peer):
        seen: list[object] = []

        async def answer() -> None:
            seen.extend(await peer.read_until_eof())

        async with anyio.create_task_group() as group:
            group.start_soon(answer)
            await peer.send_binary(b"\xff")
            with anyio.fail_after(10), pytest.raises(ConnectionClosedError) as info:
                await ws.recv(decode=True)
            assert ws.state is State.CLOSED
        assert info.value.sent == Close(1007, UTF8_REASON)
        assert seen == [CloseReceived(Close(1007, UTF8_REASON))]


@pytest.mark.fake_clock
@pytest.mark.parametrize("side", [Side.SERVER, Side.CLIENT], ids=["server", "client"])
async def test_invalid_utf8_read_as_text_drops_a_silent_peer_after_close_timeout(side: Side):
    """A peer that never answers the 1007 close frame is dropped after close_timeout:
    recv() raises then, and the connection is closed (it used to stay CLOSING)."""
    async with connection_pair(side=side, ping_interval=None, close_timeout=3) as (ws, peer):
        await peer.send_binary(b"\xff")
        start = anyio.current_time()
        with anyio.fail_after(100), pytest.raises(ConnectionClosedError) as info:
            await ws.recv(decode=True)
        assert anyio.current_time() - start == 3
        assert ws.state is State.CLOSED
        assert ws.close_code == 1006
        assert info.value.sent == Close(1007, UTF8_REASON)


def inline_pair(**options: Any) -> tuple[Connection, Peer, MemoryByteStream]:
    """A server connection run inline (no reader task) over memory, and its peer."""
    ours, theirs = memory_stream_pair(buffer=float("inf"))
    ws = Connection(ours, Protocol(Side.SERVER), ping_interval=None, **options)
    ws.start_inline()
    return ws, Peer(theirs, Side.CLIENT), ours


@pytest.mark.fake_clock
async def test_invalid_utf8_read_inline_reads_the_peer_answer_itself():
    """Inline (no reader task), recv(decode=True) reads the peer's answer to its 1007
    close frame itself, instead of waiting close_timeout for a reader that is not there."""
    ws, peer, ours = inline_pair(close_timeout=3)
    async with ours, peer.stream, anyio.create_task_group() as group:
        group.start_soon(peer.read_until_eof)
        await peer.send_binary(b"\xff")
        start = anyio.current_time()
        with anyio.fail_after(100), pytest.raises(ConnectionClosedError) as info:
            await ws.recv(decode=True)
        assert anyio.current_time() == start
        assert ws.state is State.CLOSED
        assert info.value.sent == Close(1007, UTF8_REASON)


# ------------------------------------------- a fragment source failing in send()


@pytest.mark.fake_clock
async def test_a_failing_fragment_source_raises_without_waiting_for_the_peer():
    """A fragmented send() whose source raises fails the connection with 1011 and
    raises the source's error at once: it does not wait for the closing handshake."""
    async with connection_pair(ping_interval=None, close_timeout=3) as (ws, peer):

        async def fragments() -> AsyncIterator[str]:
            yield "first"
            raise ValueError("the source broke")

        start = anyio.current_time()
        with anyio.fail_after(100), pytest.raises(ValueError, match="the source broke"):
            await ws.send(fragments())
        assert anyio.current_time() == start
        assert ws.protocol.close_sent == Close(1011, "error in fragmented message")


@pytest.mark.fake_clock
async def test_after_a_failing_fragment_source_a_silent_peer_is_dropped_after_close_timeout():
    """The 1011 closing handshake after a failing fragment source is bounded too: a peer
    that never answers is dropped after close_timeout (it used to stay CLOSING)."""
    async with connection_pair(ping_interval=None, close_timeout=3) as (ws, _peer):

        async def fragments() -> AsyncIterator[str]:
            yield "first"
            raise ValueError("the source broke")

        with pytest.raises(ValueError, match="the source broke"):
            await ws.send(fragments())
        start = anyio.current_time()
        with anyio.fail_after(100):
            await ws.wait_closed()
        assert anyio.current_time() - start == 3
        assert ws.close_code == 1006


# ---------------------------------- cancellation: ours, or the connection's release


async def test_a_cancelled_wait_on_a_closed_connection_stays_a_cancellation():
    """The caller's own cancellation is not turned into ConnectionClosed, even once the
    connection is closed: only the connection's release of a handler is."""
    async with connection_pair(ping_interval=None) as (ws, peer):
        waiter = await ws.ping(b"never answered")
        await peer.send_close(1000)
        with anyio.fail_after(5):
            await peer.read_until_eof()
            await ws.wait_closed()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await waiter
        assert scope.cancelled_caught


async def test_a_handler_in_send_when_released_sees_connection_closed():
    """A handler inside send(), waiting on its own fragment source when the connection
    releases it, gets ConnectionClosed, not a bare cancellation."""
    seen: list[type[BaseException]] = []
    waiting = anyio.Event()
    done = anyio.Event()

    async def stalled() -> AsyncIterator[str]:
        waiting.set()
        await anyio.Event().wait()
        yield "never"

    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.send(stalled())
        except BaseException as exc:
            seen.append(type(exc))
            raise
        finally:
            done.set()

    async with anyio_ws.serve(handler, "127.0.0.1", 0, close_timeout=30) as server:
        async with anyio_ws.connect(uri(server)):
            with anyio.fail_after(5):
                await waiting.wait()
        with anyio.fail_after(5):
            await done.wait()
    assert seen == [ConnectionClosedOK]


# ------------------------------------------------ what a ConnectionClosed is caused by


async def test_connection_closed_after_a_broken_transport_is_caused_by_its_error():
    """Once a write broke the transport, later calls raise ConnectionClosed caused by
    that transport error."""
    async with connection_pair(ping_interval=None) as (ws, peer):
        await peer.stream.close_reading()  # a reset: our writes now fail
        with anyio.fail_after(5):
            with pytest.raises(ConnectionClosedError) as sending:
                await ws.send("into the void")
            await ws.wait_closed()
        broken = sending.value.__cause__
        assert isinstance(broken, anyio.BrokenResourceError)
        with pytest.raises(ConnectionClosedError) as sending_again:
            await ws.send("still nothing")
        assert sending_again.value.__cause__ is broken
        with pytest.raises(ConnectionClosedError) as receiving:
            await ws.recv()
        assert receiving.value.__cause__ is broken


async def test_connection_closed_after_a_protocol_error_is_caused_by_it_not_the_transport():
    """A protocol error that then breaks the transport (the close frame cannot be
    written) stays the cause: the transport error does not replace it."""
    async with connection_pair(ping_interval=None) as (ws, peer):
        await peer.stream.close_reading()  # writing the 1002 close frame will fail
        await peer.stream.send(b"\x83\x80\x00\x00\x00\x00")  # opcode 3 is reserved
        with anyio.fail_after(5):
            await ws.wait_closed()
        assert isinstance(ws._link.transport_error, anyio.BrokenResourceError)
        with pytest.raises(ConnectionClosedError) as sending:
            await ws.send("too late")
        assert isinstance(sending.value.__cause__, ProtocolError)
        with pytest.raises(ConnectionClosedError) as receiving:
            await ws.recv()
        assert receiving.value.__cause__ is sending.value.__cause__


# ------------------------------------------- close_timeout=None: handlers are not cut

HOUR = 3600.0


@pytest.mark.fake_clock
async def test_without_close_timeout_a_handler_holding_a_message_runs_on():
    """close_timeout=None: a handler still working on a message when the client leaves is
    not cancelled, however long the work takes (an hour here, on the fake clock)."""
    got = anyio.Event()
    finished = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        got.set()
        await anyio.sleep(HOUR)  # long work on the message
        finished.set()

    async with serve_in_memory(handler, close_timeout=None) as served:
        async with served.connect() as ws:
            await ws.send("work")
            await got.wait()
        with anyio.fail_after(2 * HOUR):
            await finished.wait()


@pytest.mark.fake_clock
async def test_without_close_timeout_server_close_lets_a_handler_finish():
    """close_timeout=None: server.close() waits for a handler working on a message,
    however long it takes (an hour here), instead of cancelling it."""
    got = anyio.Event()
    finished = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        got.set()
        await anyio.sleep(HOUR)
        finished.set()

    async with serve_in_memory(handler, close_timeout=None) as served:
        async with served.connect() as ws:
            await ws.send("work")
            await got.wait()
            served.server.close()
            with anyio.fail_after(2 * HOUR):
                await served.server.wait_closed()
            assert finished.is_set()
            assert ws.close_code == 1001


# ------------------------------------------------------- a handler that returns


async def test_a_handler_that_returns_closes_with_1000_and_no_reason():
    """When the handler returns, the server closes with 1000 and an empty reason."""

    async def handler(ws: ServerConnection) -> None:
        return

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(uri(server)) as ws:
            with anyio.fail_after(5), pytest.raises(ConnectionClosedOK):
                await ws.recv()
            assert (ws.close_code, ws.close_reason) == (1000, "")


# ------------------------------------- async for ws in connect(..., task_group=...)


async def test_a_reconnecting_connection_in_a_task_group_reads_in_the_background():
    """With task_group=, each connection has its reader task in the group: it answers
    the server's pings while the loop's body reads nothing."""
    answered = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        await (await ws.ping(b"anyone there?"))
        answered.set()
        await ws.wait_closed()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                connector = anyio_ws.connect(uri(server), task_group=group, ping_interval=None)
                async for ws in connector:
                    assert ws.state is State.OPEN
                    await answered.wait()
                    await connector.aclose()
    assert ws.close_code == 1000


async def test_closing_a_task_group_loop_from_a_cancelled_scope_still_closes():
    """aclose() of a task_group= loop, called in a cancelled scope, returns only once the
    connection is closed with 1000: the wait for its closing is shielded."""
    async with anyio_ws.serve(handler_waiting_closed, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                connector = anyio_ws.connect(uri(server), task_group=group, ping_interval=None)
                async for ws in connector:
                    with anyio.CancelScope() as scope:
                        scope.cancel()
                        await connector.aclose()
                    assert ws.state is State.CLOSED
                    assert ws.close_code == 1000


async def handler_waiting_closed(ws: ServerConnection) -> None:
    await ws.wait_closed()


# ------------------------------------------------------------ a handler that fails


@pytest.mark.parametrize("in_a_group", [False, True], ids=["plain", "group"])
async def test_a_failing_handler_closes_1011_internal_error_and_logs_it(
    in_a_group: bool, caplog: pytest.LogCaptureFixture
):
    """A handler's error, raised plainly or from a task group inside it, closes with
    1011 "internal error" and logs "connection handler failed" at ERROR."""
    caplog.set_level(logging.INFO, logger="anyio_ws")

    async def fail() -> None:
        raise RuntimeError("bug")

    async def handler(ws: ServerConnection) -> None:
        if in_a_group:
            async with anyio.create_task_group() as group:
                group.start_soon(fail)
        else:
            await fail()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(uri(server)) as ws:
            with anyio.fail_after(5), pytest.raises(ConnectionClosedError):
                await ws.recv()
            assert (ws.close_code, ws.close_reason) == (1011, "internal error")
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == ["connection handler failed"]


# ------------------------------------- the closing handshake's end, as a client


@pytest.mark.fake_clock
async def test_a_client_drops_a_server_that_keeps_the_transport_open_after_closing(
    caplog: pytest.LogCaptureFixture,
):
    """After the closing handshake a client waits close_timeout for the server to close
    the TCP connection, then drops it itself, quietly: nothing logged at WARNING."""
    caplog.set_level(logging.INFO, logger="anyio_ws")
    async with connection_pair(side=Side.CLIENT, ping_interval=None, close_timeout=3) as (
        ws,
        peer,
    ):
        await anyio.sleep(10)  # the fake clock away from 0: a deadline is not a duration
        await peer.send_close(1000, "bye")
        with anyio.fail_after(5):
            peer.protocol.receive_data(await peer.stream.receive())
        # The peer's protocol now queues its EOF: never written, the transport stays open.
        assert peer.protocol.events_received() == [CloseReceived(Close(1000))]
        start = anyio.current_time()
        with anyio.fail_after(100):
            await ws.wait_closed()  # the peer never closes its side
        assert anyio.current_time() - start == 3
        assert (ws.close_code, ws.close_reason) == (1000, "bye")
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


RESET = b"\x00reset"
"""A chunk that ``FailingStream`` turns into a transport error, as a TCP reset is."""

BUG = b"\x00bug"
"""A chunk that ``FailingStream`` turns into an error no transport raises."""


class FailingStream(MemoryByteStream):
    """An in-memory stream whose receive fails when ``RESET`` or ``BUG`` arrives."""

    async def receive(self, max_bytes: int = 65536) -> bytes:
        data = await super().receive(max_bytes)
        if data == RESET:
            raise anyio.BrokenResourceError("connection reset")
        if data == BUG:
            raise RuntimeError("a bug below us")
        return data


async def test_a_reset_while_waiting_for_the_server_to_close_is_the_cause():
    """A transport error while a client waits for the server's TCP close, after the
    closing handshake, is kept as the cause of the ConnectionClosed raised later."""
    ours, theirs = memory_stream_pair(buffer=float("inf"), first=FailingStream)
    peer = Peer(theirs, Side.SERVER)
    ws = Connection(ours, Protocol(Side.CLIENT), ping_interval=None, close_timeout=30)
    async with ours, peer.stream, anyio.create_task_group() as group:
        ws.start(group)
        await peer.send_close(1000)
        with anyio.fail_after(5):
            peer.protocol.receive_data(await peer.stream.receive())  # the client's answer
            assert peer.protocol.events_received() == [CloseReceived(Close(1000))]
            await peer.stream.send(RESET)  # instead of closing TCP
            await ws.wait_closed()
    with pytest.raises(ConnectionClosedOK) as info:
        await ws.recv()
    assert isinstance(info.value.__cause__, anyio.BrokenResourceError)
    assert str(info.value.__cause__) == "connection reset"


# ---------------------------------------------------------------- server shutdown


async def test_server_close_with_a_code_closes_the_connections_with_it():
    """server.close(code=...) closes every connection with that code."""
    async with client_of_a_waiting_handler() as (server, ws):
        server.close(code=4000)
        with anyio.fail_after(5), pytest.raises(ConnectionClosedError):
            await ws.recv()
        assert (ws.close_code, ws.close_reason) == (4000, "server shutting down")


class FailingListener(MemoryListener):
    """A listener whose aclose() closes it, then fails: a caller's listener may."""

    async def aclose(self) -> None:
        await super().aclose()
        raise RuntimeError("cannot close")


async def test_a_listener_failing_to_close_is_logged_and_the_server_still_stops(
    caplog: pytest.LogCaptureFixture,
):
    """An error closing a listener is logged at ERROR, once; shutdown goes on."""
    caplog.set_level(logging.INFO, logger="anyio_ws")
    async with anyio_ws.serve(handler_waiting_closed, listener=FailingListener()) as server:
        pass
    with anyio.fail_after(5):
        await server.wait_closed()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == ["failed to close a listener"]
    assert errors[0].exc_info is not None
    assert str(errors[0].exc_info[1]) == "cannot close"


@pytest.mark.fake_clock
async def test_shutdown_cancels_a_handler_whose_connection_has_no_close_timeout():
    """Shutdown cancels whatever outlives the server's close_timeout, even a handler whose
    connection lifted its own close_timeout (alone, it would wait for ever)."""
    got = anyio.Event()
    cancelled = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        ws.close_timeout = None
        await ws.recv()  # a message in hand: the connection waits for the handler
        got.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise

    async with serve_in_memory(handler, close_timeout=3) as served:
        async with served.connect() as ws:
            await ws.send("work")
            await got.wait()
            start = anyio.current_time()
            served.server.close()
            with anyio.fail_after(100):
                await served.server.wait_closed()
            assert cancelled.is_set()
            assert anyio.current_time() - start == 3


# ------------------------------------------------------------------ close() itself


async def test_close_without_arguments_sends_1000_and_no_reason():
    """Connection.close() defaults to 1000 (normal closure) and an empty reason."""
    async with connection_pair(ping_interval=None) as (ws, peer):
        async with anyio.create_task_group() as group:
            events: list[object] = []

            async def answer() -> None:
                events.extend(await peer.read_until_eof())

            group.start_soon(answer)
            with anyio.fail_after(5):
                await ws.close()
        assert events == [CloseReceived(Close(1000, ""))]
        assert ws.close_code == 1000


# ------------------------------------------ max_queue, whatever a read brings at once


def frames_from(peer: Peer, texts: list[str]) -> bytes:
    """The peer's text frames for ``texts``, as one write: they arrive in one read."""
    for text in texts:
        peer.protocol.send_text(text.encode())
    return b"".join(peer.protocol.data_to_send())


async def test_many_messages_in_one_read_still_stop_reading_at_max_queue():
    """The reader queues a read's messages one by one and waits for room at max_queue,
    rather than taking in a whole read (and the next) at once; nothing is lost."""
    async with connection_pair(ping_interval=None, max_queue=4) as (ws, peer):
        expected = [f"{batch}.{n}" for batch in range(3) for n in range(20)]
        for batch in range(3):
            await peer.stream.send(frames_from(peer, expected[batch * 20 : batch * 20 + 20]))
        await anyio.wait_all_tasks_blocked()
        assert len(ws._receiver.messages) == 4
        with anyio.fail_after(5):
            assert [await ws.recv() for _ in expected] == expected


async def test_inline_recv_takes_a_read_of_more_messages_than_max_queue():
    """Inline, recv() itself reads: a read holding more than max_queue messages is
    queued whole (waiting for room would wait for ourselves), and all are received."""
    ws, peer, ours = inline_pair(max_queue=2)
    async with ours, peer.stream:
        texts = [str(n) for n in range(10)]
        await peer.stream.send(frames_from(peer, texts))
        with anyio.fail_after(5):
            assert [await ws.recv() for _ in texts] == texts


async def test_inline_wait_closed_stops_reading_at_max_queue():
    """Inline, wait_closed() reads for itself but stops at max_queue unread messages,
    as the reader task would; once they are received it reads on to the close."""
    ws, peer, ours = inline_pair(max_queue=2)
    async with ours, peer.stream, anyio.create_task_group() as group:
        texts = [str(n) for n in range(5)]
        for text in texts:
            await peer.send_text(text)
        await peer.send_close(1000)
        group.start_soon(ws.wait_closed)
        await anyio.wait_all_tasks_blocked()
        assert (len(ws._receiver.messages), ws.state) == (2, State.OPEN)
        group.start_soon(peer.read_until_eof)
        with anyio.fail_after(5):
            assert [await ws.recv() for _ in texts] == texts
    assert ws.close_code == 1000


async def test_an_inline_pong_waiter_stops_reading_at_max_queue():
    """Inline, awaiting a ping's waiter reads for itself, but not past max_queue unread
    messages: the pong behind them is read once they are received."""
    ws, peer, ours = inline_pair(max_queue=2)
    async with ours, peer.stream, anyio.create_task_group() as group:
        waiter = await ws.ping(b"p")
        texts = [str(n) for n in range(5)]
        for text in texts:
            await peer.send_text(text)  # one read each
        peer.protocol.send_pong(b"p")
        await peer.flush()
        answered = anyio.Event()

        async def wait_for_the_pong() -> None:
            await waiter
            answered.set()

        group.start_soon(wait_for_the_pong)
        await anyio.wait_all_tasks_blocked()
        assert (len(ws._receiver.messages), answered.is_set()) == (2, False)
        with anyio.fail_after(5):
            assert [await ws.recv() for _ in texts] == texts
            await answered.wait()


async def test_inline_recv_takes_a_message_another_call_read_while_it_waited():
    """Inline, recv() waiting for the read lock while wait_closed() reads a message
    takes that message, instead of reading on for one that may never come."""
    ws, peer, ours = inline_pair(max_queue=16)
    async with ours, peer.stream, anyio.create_task_group() as group:
        group.start_soon(ws.wait_closed)  # holds the lock, waiting for data
        await anyio.wait_all_tasks_blocked()
        received: list[object] = []

        async def receive() -> None:
            received.append(await ws.recv())

        group.start_soon(receive)  # waits for the lock
        await anyio.wait_all_tasks_blocked()
        await peer.send_text("the only one")
        with anyio.fail_after(5):
            while not received:
                await anyio.wait_all_tasks_blocked()
        assert received == ["the only one"]
        group.start_soon(peer.read_until_eof)
        await peer.send_close(1000)


# ------------------------------------ replies wait for a stuck send, up to a point


@pytest.mark.parametrize("pings_over_the_limit", [-1, 0])
async def test_the_reader_stops_once_the_most_pending_pongs_wait_for_a_stuck_send(
    pings_over_the_limit: int,
):
    """While a send() is stuck on a peer that does not read, the reader keeps reading
    and leaves the pongs to the sender, until _MAX_PENDING_REPLIES of them wait: then
    it waits for the send lock itself, and stops reading."""
    pings = _MAX_PENDING_REPLIES + pings_over_the_limit
    async with connection_pair(ping_interval=None, buffer=0) as (ws, peer):
        async with anyio.create_task_group() as group:
            group.start_soon(ws.send, b"x" * 100_000)  # stuck: the peer does not read
            await anyio.wait_all_tasks_blocked()
            for n in range(pings):
                peer.protocol.send_ping(str(n).encode())
            await peer.stream.send(frames_from(peer, ["after the pings"]))
            await anyio.wait_all_tasks_blocked()
            assert len(ws._receiver.messages) == (1 if pings < _MAX_PENDING_REPLIES else 0)
            group.cancel_scope.cancel()


# ------------------------------------------- how the reader ends when something breaks


async def reader_fed(chunk: bytes) -> Connection:
    """A running server connection whose stream receives ``chunk``, once it is over."""
    ours, theirs = memory_stream_pair(buffer=float("inf"), first=FailingStream)
    ws = Connection(ours, Protocol(Side.SERVER), ping_interval=None)
    async with ours, theirs, anyio.create_task_group() as group:
        ws.start(group)
        await theirs.send(chunk)
        with anyio.fail_after(5):
            await ws.wait_closed()
    return ws


async def test_a_reset_while_open_ends_the_connection_and_is_the_cause():
    """A transport error while reading an open connection closes it (1006) and is the
    cause of the ConnectionClosed raised afterwards."""
    ws = await reader_fed(RESET)
    assert (ws.state, ws.close_code) == (State.CLOSED, 1006)
    with pytest.raises(ConnectionClosedError) as info:
        await ws.recv()
    assert isinstance(info.value.__cause__, anyio.BrokenResourceError)
    assert str(info.value.__cause__) == "connection reset"


async def test_an_unexpected_error_in_the_reader_is_logged_and_closes_the_connection(
    caplog: pytest.LogCaptureFixture,
):
    """An error no transport raises (a bug) ends the reader: logged at ERROR with its
    traceback, the connection CLOSED (1006), and the error the cause of ConnectionClosed."""
    ws = await reader_fed(BUG)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        "unexpected error in the connection reader"
    ]
    assert errors[0].exc_info is not None
    bug = errors[0].exc_info[1]
    assert isinstance(bug, RuntimeError)
    assert (ws.state, ws.protocol.state, ws.close_code) == (State.CLOSED, State.CLOSED, 1006)
    with pytest.raises(ConnectionClosedError) as info:
        await ws.recv()
    assert info.value.__cause__ is bug
    with pytest.raises(ConnectionClosedError) as info:
        await ws.send("after the reader ended")  # refused, not written to a dead stream
    assert info.value.__cause__ is bug


async def test_a_pong_that_cannot_be_written_ends_the_connection_quietly(
    caplog: pytest.LogCaptureFixture,
):
    """When the write of a pong fails, the connection ends (1006) with the transport
    error as the cause, and nothing is logged as a problem."""
    caplog.set_level(logging.INFO, logger="anyio_ws")
    async with connection_pair(ping_interval=None) as (ws, peer):
        await peer.stream.close_reading()  # our writes now fail
        await peer.send_ping(b"?")
        with anyio.fail_after(5):
            await ws.wait_closed()
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
    assert isinstance(info.value.__cause__, anyio.BrokenResourceError)
    assert ws.close_code == 1006
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# --------------------------------------------------------- write_buffer_size()


async def test_write_buffer_size_counts_a_large_frame_until_the_peer_takes_it():
    """A frame too large to copy behind its header goes out in two writes; every byte
    of both counts until the transport took it, then none."""
    payload = b"x" * 100_000
    header = b"\x82\x7f" + len(payload).to_bytes(8, "big")
    async with connection_pair(ping_interval=None, buffer=0) as (ws, peer):
        async with anyio.create_task_group() as group:
            group.start_soon(ws.send, payload)
            await anyio.wait_all_tasks_blocked()
            assert ws.write_buffer_size() == len(header) + len(payload)
            assert await peer.stream.receive() == header
            await anyio.wait_all_tasks_blocked()
            assert ws.write_buffer_size() == len(payload)
            received = b""
            while len(received) < len(payload):
                received += await peer.stream.receive()
        assert ws.write_buffer_size() == 0


async def test_write_buffer_size_is_zero_once_a_large_message_is_delivered():
    """Over TCP (on asyncio, with the transport's own buffer counted), nothing is left
    counted once the peer has the whole message."""
    sizes: list[int] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(b"x" * 100_000)
        await ws.recv()  # the client has it all
        sizes.append(ws.write_buffer_size())

    async with anyio_ws.serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        async with anyio_ws.connect(uri(server), ping_interval=None) as client:
            with anyio.fail_after(5):
                assert len(await client.recv()) == 100_000
                await client.send("got it")
                await client.wait_closed()
    assert sizes == [0]
