"""Connection over in-memory streams, against a peer driven by a bare core Protocol."""

from __future__ import annotations

import anyio
import pytest
from helpers import Peer, connection_pair, memory_stream_pair

from anyio_ws import (
    ConcurrencyError,
    Connection,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    State,
)
from anyio_ws.core.events import (
    BinaryMessage,
    CloseReceived,
    PingReceived,
    PongReceived,
    TextMessage,
)
from anyio_ws.core.frames import Opcode, encode_frame
from anyio_ws.core.protocol import Protocol, Side

pytestmark = pytest.mark.usefixtures("anyio_backend")

# ----------------------------------------------------------------------- send


async def test_send_str_as_text():
    """send(str) sends a text message."""
    async with connection_pair() as (ws, peer):
        await ws.send("héllo")
        assert await peer.next_event() == TextMessage("héllo")


@pytest.mark.parametrize("message", [b"\x00\xff", bytearray(b"\x00\xff"), memoryview(b"\x00\xff")])
async def test_send_bytes_like_as_binary(message):
    """send() of bytes, bytearray or memoryview sends a binary message."""
    async with connection_pair() as (ws, peer):
        await ws.send(message)
        assert await peer.next_event() == BinaryMessage(b"\x00\xff")


@pytest.mark.parametrize("message", [42, None, {"a": 1}, 1.5])
async def test_send_other_types_raise_type_error(message):
    """send() of anything but str or bytes-like raises TypeError and sends nothing."""
    async with connection_pair() as (ws, peer):
        with pytest.raises(TypeError):
            await ws.send(message)
        await ws.send("after")
        assert await peer.next_event() == TextMessage("after")


async def test_concurrent_sends_keep_messages_whole():
    """Big messages sent from many tasks at once each arrive whole, never interleaved."""
    size = 200_000
    async with connection_pair(chunk_size=4096) as (ws, peer):

        async def sender(n: int) -> None:
            for _ in range(3):
                await ws.send(bytes([n]) * size)

        async with anyio.create_task_group() as group:
            for n in range(8):
                group.start_soon(sender, n)
            received = [await peer.next_event() for _ in range(24)]
    counts = dict.fromkeys(range(8), 0)
    for event in received:
        assert isinstance(event, BinaryMessage)
        assert len(event.data) == size
        assert event.data == event.data[:1] * size
        counts[event.data[0]] += 1
    assert counts == dict.fromkeys(range(8), 3)


# -------------------------------------------------------------------- receive


async def test_recv_returns_str_for_text_and_bytes_for_binary():
    """recv() returns str for a text message and bytes for a binary one."""
    async with connection_pair() as (ws, peer):
        await peer.send_text("café")
        await peer.send_binary(b"\x01\x02")
        text = await ws.recv()
        data = await ws.recv()
    assert text == "café" and type(text) is str
    assert data == b"\x01\x02" and type(data) is bytes


async def test_bytes_behind_the_handshake_are_the_first_message():
    """Frames that arrived with the handshake (trailing data) are received first."""
    first = encode_frame(Opcode.TEXT, b"early", mask=b"\x01\x02\x03\x04")
    async with connection_pair(trailing_data=first) as (ws, peer):
        await peer.send_text("later")
        assert await ws.recv() == "early"
        assert await ws.recv() == "later"


@pytest.mark.parametrize("code", [1000, 1001])
async def test_iteration_ends_quietly_on_normal_closure(code):
    """async for yields every message, then stops without error on 1000 or 1001."""
    async with connection_pair() as (ws, peer):
        await peer.send_text("one")
        await peer.send_binary(b"two")
        await peer.send_close(code)
        await peer.read_until_eof()
        received = [message async for message in ws]
        assert received == ["one", b"two"]
        assert ws.close_code == code


@pytest.mark.parametrize("code", [1002, 1011, 4000])
async def test_iteration_raises_on_error_closure(code):
    """async for raises ConnectionClosedError once the peer closed with an error code."""
    async with connection_pair() as (ws, peer):
        await peer.send_text("one")
        await peer.send_close(code, "bad")
        await peer.read_until_eof()
        received = []
        with pytest.raises(ConnectionClosedError) as info:
            async for message in ws:
                received.append(message)
    assert received == ["one"]
    assert info.value.code == code
    assert info.value.reason == "bad"


async def test_two_concurrent_recv_raise_concurrency_error():
    """A second recv() while one is waiting raises ConcurrencyError; the first goes on."""
    async with connection_pair() as (ws, peer):
        results = []

        async def first() -> None:
            results.append(await ws.recv())

        async with anyio.create_task_group() as group:
            group.start_soon(first)
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(ConcurrencyError):
                await ws.recv()
            await peer.send_text("for the first")
        assert results == ["for the first"]


async def test_recv_is_cancel_safe():
    """Cancelling recv() over and over, as messages arrive, loses and reorders nothing."""
    count = 500
    async with connection_pair(max_queue=4) as (ws, peer):

        async def produce() -> None:
            for n in range(count):
                await peer.send_text(str(n))

        received: list[str | bytes] = []
        cancelled = 0
        async with anyio.create_task_group() as group:
            group.start_soon(produce)
            attempt = 0
            while len(received) < count:
                attempt += 1
                with anyio.move_on_after(0 if attempt % 3 else 1e-4) as scope:
                    received.append(await ws.recv())
                cancelled += scope.cancelled_caught
    assert received == [str(n) for n in range(count)]
    assert cancelled > 0


async def test_messages_received_before_closure_are_returned_first():
    """recv() returns the messages that arrived before the close, then raises."""
    async with connection_pair() as (ws, peer):
        for n in range(3):
            await peer.send_text(str(n))
        await peer.send_close(1000)
        events = await peer.read_until_eof()
        assert [type(event) for event in events] == [CloseReceived]
        await ws.wait_closed()
        assert ws.state is State.CLOSED
        assert [await ws.recv() for _ in range(3)] == ["0", "1", "2"]
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()


# ------------------------------------------------------------ backpressure


async def test_max_queue_stops_reading_until_recv():
    """With max_queue=(2, 1) the reader stops at 2 unread messages; recv() lets it go on."""
    async with connection_pair(max_queue=(2, 1), buffer=0) as (ws, peer):
        sent = 0

        async def produce() -> None:
            nonlocal sent
            for n in range(6):
                await peer.send_text(str(n))
                sent += 1

        async with anyio.create_task_group() as group:
            group.start_soon(produce)
            await anyio.wait_all_tasks_blocked()
            # Two messages queued, a third parsed and waiting for room; the fourth
            # cannot be written because nobody reads the transport.
            assert sent == 3
            assert await ws.recv() == "0"
            await anyio.wait_all_tasks_blocked()
            assert sent == 4
            assert [await ws.recv() for _ in range(5)] == ["1", "2", "3", "4", "5"]
        assert sent == 6


# --------------------------------------------------------------- ping / pong


async def test_ping_waiter_resolves_to_the_latency_when_the_pong_arrives():
    """ping() returns a waiter that resolves to a float latency when the pong comes."""
    async with connection_pair() as (ws, peer):
        waiter = await ws.ping(b"abcd")
        latencies: list[float] = []

        async def wait_pong() -> None:
            latencies.append(await waiter)

        async with anyio.create_task_group() as group:
            group.start_soon(wait_pong)
            await anyio.wait_all_tasks_blocked()
            assert latencies == []
            # The peer reads the ping, and its protocol answers with a pong.
            assert await peer.next_event() == PingReceived(b"abcd")
        assert len(latencies) == 1
        assert isinstance(latencies[0], float) and latencies[0] >= 0
        assert ws.latency == latencies[0]


async def test_ping_default_payload_is_four_random_bytes():
    """ping() without data sends 4 bytes, different each time."""
    async with connection_pair() as (ws, peer):
        await ws.ping()
        await ws.ping()
        first, second = await peer.next_event(), await peer.next_event()
    assert isinstance(first, PingReceived) and isinstance(second, PingReceived)
    assert len(first.data) == len(second.data) == 4
    assert first.data != second.data


async def test_ping_with_a_payload_already_waiting_raises_concurrency_error():
    """Pinging twice with the same payload before the pong raises ConcurrencyError."""
    async with connection_pair() as (ws, _peer):
        await ws.ping(b"same")
        with pytest.raises(ConcurrencyError):
            await ws.ping(b"same")


async def test_pong_for_a_later_ping_resolves_earlier_ones():
    """A pong answers its own ping and every ping sent before it."""
    async with connection_pair() as (ws, peer):
        first = await ws.ping(b"1")
        second = await ws.ping(b"2")
        # The peer's protocol answers both pings; one pong would be enough.
        await peer.next_event()
        await peer.next_event()
        assert await first >= 0
        assert await second >= 0


async def test_pending_ping_raises_connection_closed_when_the_connection_closes():
    """Awaiting a ping whose pong never came raises ConnectionClosed after closure."""
    async with connection_pair() as (ws, peer):
        waiter = await ws.ping(b"lost")
        await peer.stream.aclose()
        with pytest.raises(ConnectionClosed):
            await waiter


async def test_pong_sends_an_unsolicited_pong():
    """pong(data) sends a pong frame with that payload."""
    async with connection_pair() as (ws, peer):
        await ws.pong(b"heartbeat")
        await ws.pong("text")
        assert await peer.next_event() == PongReceived(b"heartbeat")
        assert await peer.next_event() == PongReceived(b"text")


async def test_ping_from_the_peer_is_answered_automatically():
    """A ping from the peer gets a pong with the same payload, without recv()."""
    async with connection_pair() as (ws, peer):
        await peer.send_ping(b"are you there")
        assert await peer.next_event() == PongReceived(b"are you there")
        assert ws.state is State.OPEN


# ----------------------------------------------------------------- closing


async def test_close_runs_the_closing_handshake():
    """close(code, reason) sends the close frame, waits for the answer, then is CLOSED."""
    async with connection_pair() as (ws, peer):
        assert ws.close_code is None and ws.close_reason is None

        async def answer() -> None:
            assert isinstance(await peer.next_event(), CloseReceived)
            await peer.read_until_eof()

        async with anyio.create_task_group() as group:
            group.start_soon(answer)
            await ws.close(4000, "done here")
        assert ws.state is State.CLOSED
        assert peer.protocol.close_rcvd is not None
        assert (peer.protocol.close_rcvd.code, peer.protocol.close_rcvd.reason) == (
            4000,
            "done here",
        )
        # The peer echoed the code; close_code and close_reason are what it sent.
        assert ws.close_code == 4000
        assert ws.close_reason == ""


async def test_close_code_and_reason_come_from_the_peer():
    """After the peer closes, close_code and close_reason hold its close frame."""
    async with connection_pair() as (ws, peer):
        await peer.send_close(1001, "going away")
        await peer.read_until_eof()
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (1001, "going away")


async def test_close_twice_does_nothing():
    """Closing a closed connection returns at once."""
    async with connection_pair() as (ws, peer):
        async with anyio.create_task_group() as group:
            group.start_soon(peer.read_until_eof)
            await ws.close()
        with anyio.fail_after(1):
            await ws.close()
        assert ws.close_code == 1000


async def test_async_with_closes_with_1000():
    """Leaving ``async with connection`` closes it normally."""
    async with connection_pair() as (ws, peer):
        async with anyio.create_task_group() as group:
            group.start_soon(peer.read_until_eof)
            async with ws:
                await ws.send("inside")
        assert ws.state is State.CLOSED
        assert peer.protocol.close_rcvd is not None
        assert peer.protocol.close_rcvd.code == 1000


async def test_wait_closed_returns_once_the_connection_is_closed():
    """wait_closed() blocks while open and returns after the closing handshake."""
    async with connection_pair() as (ws, peer):
        closed = anyio.Event()

        async def wait() -> None:
            await ws.wait_closed()
            closed.set()

        async with anyio.create_task_group() as group:
            group.start_soon(wait)
            await anyio.wait_all_tasks_blocked()
            assert not closed.is_set()
            await peer.send_close(1000)
            await peer.read_until_eof()
        assert closed.is_set()
        assert ws.state is State.CLOSED


@pytest.mark.fake_clock
async def test_close_is_bounded_by_close_timeout_when_the_peer_never_answers():
    """close() gives up after close_timeout when the peer reads but never answers."""
    async with connection_pair(close_timeout=0.5, buffer=float("inf")) as (ws, _peer):
        start = anyio.current_time()
        with anyio.fail_after(5):
            await ws.close()
        elapsed = anyio.current_time() - start
        assert elapsed == pytest.approx(0.5)
        assert ws.state is State.CLOSED
        assert ws.close_code == 1006


@pytest.mark.fake_clock
async def test_close_is_bounded_by_close_timeout_when_the_peer_never_reads():
    """close() gives up after close_timeout even when the close frame cannot be written."""
    async with connection_pair(close_timeout=0.5, buffer=0) as (ws, _peer):
        start = anyio.current_time()
        with anyio.fail_after(5):
            await ws.close()
        assert anyio.current_time() - start == pytest.approx(0.5)
        assert ws.state is State.CLOSED


@pytest.mark.fake_clock
async def test_close_is_bounded_while_a_send_is_stuck():
    """close() gives up after close_timeout even when another task's send() is blocked."""
    async with connection_pair(close_timeout=0.5, buffer=0) as (ws, _peer):
        errors: list[BaseException] = []

        async def stuck_send() -> None:
            try:
                await ws.send(b"x" * 100_000)
            except ConnectionClosed as exc:
                errors.append(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(stuck_send)
            await anyio.wait_all_tasks_blocked()
            start = anyio.current_time()
            with anyio.fail_after(5):
                await ws.close()
            assert anyio.current_time() - start == pytest.approx(0.5)
        assert ws.state is State.CLOSED
        assert len(errors) == 1


async def test_close_on_a_broken_transport_does_not_raise():
    """close() when the close frame cannot be written just closes the connection."""
    async with connection_pair() as (ws, peer):
        await peer.stream.close_reading()
        with anyio.fail_after(5):
            await ws.close()
        assert ws.state is State.CLOSED
        assert ws.close_code == 1006


async def test_send_after_close_raises_connection_closed():
    """send(), ping() and pong() after closure raise ConnectionClosed."""
    async with connection_pair() as (ws, peer):
        await peer.send_close(1000)
        await peer.read_until_eof()
        await ws.wait_closed()
        with pytest.raises(ConnectionClosedOK):
            await ws.send("too late")
        with pytest.raises(ConnectionClosed):
            await ws.ping()
        with pytest.raises(ConnectionClosed):
            await ws.pong()


async def test_send_while_closing_raises_connection_closed():
    """send() after close frames crossed but before the transport closed raises."""
    async with connection_pair(side=Side.CLIENT) as (ws, peer):
        await peer.send_close(1000)
        # The client answered the close and now waits for the server's EOF.
        assert isinstance(await peer.next_event(), CloseReceived)
        with pytest.raises(ConnectionClosed):
            await ws.send("too late")


async def test_peer_vanishing_raises_connection_closed_error_1006():
    """A transport closed without a close frame ends the connection with 1006."""
    async with connection_pair() as (ws, peer):
        await peer.send_text("last words")
        await peer.stream.aclose()
        assert await ws.recv() == "last words"
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.code == 1006
        assert info.value.rcvd is None
        assert ws.close_code == 1006


async def test_protocol_violation_fails_the_connection_with_1002():
    """An unmasked frame from a client is answered with close code 1002."""
    async with connection_pair() as (ws, peer):
        await peer.stream.send(encode_frame(Opcode.TEXT, b"unmasked"))
        event = await peer.next_event()
        assert isinstance(event, CloseReceived)
        assert event.close.code == 1002
        await peer.read_until_eof()
        with pytest.raises(ConnectionClosedError):
            await ws.recv()


async def test_invalid_utf8_fails_the_connection_with_1007():
    """A text message that is not UTF-8 is answered with close code 1007."""
    async with connection_pair() as (ws, peer):
        await peer.stream.send(encode_frame(Opcode.TEXT, b"\xff\xfe", mask=b"abcd"))
        event = await peer.next_event()
        assert isinstance(event, CloseReceived)
        assert event.close.code == 1007
        await peer.read_until_eof()
        with pytest.raises(ConnectionClosedError):
            await ws.recv()


async def test_a_closed_connection_is_freed_without_the_cycle_collector():
    """No reference cycle holds a connection once it is over: under connection churn its
    buffers (and zlib contexts) go with its last reference, not at a later gc pass."""
    import gc
    import weakref

    gc.collect()
    gc.disable()
    try:
        for inline in (False, True):
            ours, theirs = memory_stream_pair(buffer=float("inf"))
            ws = Connection(ours, Protocol(Side.SERVER), ping_interval=None, close_timeout=1)
            peer = Peer(theirs, Side.CLIENT)
            async with ours, theirs:
                if inline:
                    ws.start_inline()
                    await peer.send_text("hello")
                    assert await ws.recv() == "hello"
                    await peer.send_close(1000)
                    await ws.wait_closed()
                else:
                    async with anyio.create_task_group() as group:
                        ws.start(group)
                        await peer.send_text("hello")
                        assert await ws.recv() == "hello"
                        await peer.send_close(1000)
                        await ws.wait_closed()
            gone = weakref.ref(ws)
            del ws
            assert gone() is None, f"kept alive by a cycle (inline={inline})"
    finally:
        gc.enable()
