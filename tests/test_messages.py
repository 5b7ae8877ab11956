"""The message API over loopback TCP: fragmented send, recv(decode=), recv_streaming(), max_size.

A real ``serve()`` and ``connect()`` on 127.0.0.1; the server side runs a script per test.
Where a test needs to know that a fragment reached the other side, the sender pings
between fragments: the pong comes back only after the fragment before it was read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

import anyio_ws
from anyio_ws import (
    ClientConnection,
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ServerConnection,
)

pytestmark = pytest.mark.usefixtures("anyio_backend")

Script = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def served(
    script: Script, *, server: dict[str, Any] | None = None, **client: Any
) -> AsyncIterator[ClientConnection]:
    """A client connected to a server whose handler runs ``script``, then waits for closure."""

    async def handler(ws: ServerConnection) -> None:
        await script(ws)
        await ws.wait_closed()

    async with anyio_ws.serve(handler, "127.0.0.1", 0, **(server or {})) as running:
        uri = f"ws://127.0.0.1:{running.port}/"
        async with anyio_ws.connect(uri, **client) as ws:
            yield ws


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def recorder(received: list[Any], done: anyio.Event | None = None) -> Script:
    """A script that records every message (then the ConnectionClosed) it receives."""

    async def script(ws: ServerConnection) -> None:
        try:
            while True:
                received.append(await ws.recv())
        except ConnectionClosed as exc:
            received.append(exc)
        if done is not None:
            done.set()

    return script


class Gate:
    """Fragments that stop after the first one until ``open()``; a ping proves delivery."""

    def __init__(self, ws: anyio_ws.Connection, first: Any, rest: list[Any]) -> None:
        self.ws = ws
        self.first = first
        self.rest = rest
        self.delivered = anyio.Event()  # the first fragment reached the peer
        self._open = anyio.Event()

    def open(self) -> None:
        self._open.set()

    async def __aiter__(self) -> AsyncIterator[Any]:
        yield self.first
        await (await self.ws.ping())  # a ping between fragments, answered by the peer
        self.delivered.set()
        await self._open.wait()
        for item in self.rest:
            yield item


async def cancel_when_blocked(function: Callable[[], Awaitable[Any]]) -> None:
    """Run ``function`` until every task is blocked, then cancel it."""
    async with anyio.create_task_group() as group:
        group.start_soon(function)
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()


async def sent_close_code(ws: anyio_ws.Connection) -> int | None:
    """The code of the close frame ``ws`` sent, once closed (a failing side reads nothing
    more, so its own ``close_code`` is 1006, as in websockets)."""
    await ws.wait_closed()
    with pytest.raises(ConnectionClosedError) as info:
        await ws.send("too late")
    return None if info.value.sent is None else info.value.sent.code


# ----------------------------------------------------------------- sending


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (lambda: ["frag", "men", "ted"], "fragmented"),
        (lambda: (b"\x00", bytearray(b"\x01"), memoryview(b"\x02")), b"\x00\x01\x02"),
        (lambda: iter(["one"]), "one"),
        (lambda: {"set"}, "set"),
    ],
)
async def test_send_iterable_sends_one_message(message, expected):
    """An iterable of str or of bytes-like is sent as one message."""
    async with served(echo) as ws:
        await ws.send(message())
        assert await ws.recv() == expected


async def test_send_iterable_sends_one_frame_per_item():
    """The peer sees one fragment per item of a list."""
    fragments: list[Any] = []

    async def script(ws: ServerConnection) -> None:
        fragments.extend([fragment async for fragment in ws.recv_streaming()])
        await ws.send("done")

    async with served(script) as ws:
        await ws.send(["a", "b", "c"])
        assert await ws.recv() == "done"
    assert fragments == ["a", "b", "c"]


async def test_send_generator_and_async_generator():
    """A generator and an async generator each send one message."""

    def numbers() -> Iterator[bytes]:
        for i in range(5):
            yield bytes([i])

    async def words() -> AsyncIterator[str]:
        for word in ("as", "ync"):
            await anyio.lowlevel.checkpoint()
            yield word

    async with served(echo) as ws:
        await ws.send(numbers())
        assert await ws.recv() == bytes(range(5))
        await ws.send(words())
        assert await ws.recv() == "async"


async def test_send_async_iterable_ends_with_an_empty_final_fragment():
    """Each async item leaves at once, so the message ends with an empty final frame."""
    fragments: list[Any] = []

    async def script(ws: ServerConnection) -> None:
        fragments.extend([fragment async for fragment in ws.recv_streaming()])
        await ws.send("done")

    async def items() -> AsyncIterator[bytes]:
        yield b"x"
        yield b"y"

    async with served(script) as ws:
        await ws.send(items())
        assert await ws.recv() == "done"
    assert fragments == [b"x", b"y", b""]


@pytest.mark.parametrize("empty", [[], (), "async"])
async def test_send_empty_iterable_sends_nothing(empty):
    """An empty iterable or async iterable sends no message at all."""

    async def nothing() -> AsyncIterator[str]:
        return
        yield  # pragma: no cover

    async with served(echo) as ws:
        await ws.send(nothing() if empty == "async" else empty)
        await ws.send("after")
        assert await ws.recv() == "after"


@pytest.mark.parametrize(
    ("message", "text", "expected"),
    [
        (b"caf\xc3\xa9", True, "café"),
        ("café", False, b"caf\xc3\xa9"),
        ("plain", None, "plain"),
        ([b"caf", b"\xc3", b"\xa9"], True, "café"),
        (["ca", "fé"], False, b"caf\xc3\xa9"),
    ],
)
async def test_send_text_overrides_the_frame_type(message, text, expected):
    """text=True sends bytes as text; text=False sends str as binary; fragments too."""
    async with served(echo) as ws:
        await ws.send(message, text=text)
        assert await ws.recv() == expected


@pytest.mark.parametrize("message", [{"a": 1}, 42, None, 1.5])
async def test_send_rejects_mappings_and_other_types(message):
    """A dict (a likely mistake) or a non-iterable raises TypeError and sends nothing."""
    async with served(echo) as ws:
        with pytest.raises(TypeError):
            await ws.send(message)
        await ws.send("still open")
        assert await ws.recv() == "still open"


async def test_send_mixed_types_before_anything_is_sent():
    """Mixed str and bytes found before a frame left: TypeError, the connection stays open."""
    async with served(echo) as ws:
        with pytest.raises(TypeError):
            await ws.send(["text", b"bytes"])
        with pytest.raises(TypeError):
            await ws.send([42])
        await ws.send("still open")
        assert await ws.recv() == "still open"


async def test_send_mixed_types_mid_message_closes_with_1011():
    """Mixed types once a fragment is on the wire: TypeError, and the connection closes 1011."""
    received: list[Any] = []

    async def mixed() -> AsyncIterator[Any]:
        yield "text"
        yield b"bytes"

    async with served(recorder(received)) as ws:
        with pytest.raises(TypeError):
            await ws.send(mixed())
        assert await sent_close_code(ws) == 1011
    assert isinstance(received[-1], ConnectionClosedError)
    assert received[-1].rcvd is not None and received[-1].rcvd.code == 1011


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_send_iterator_raising_mid_message_closes_with_1011(kind):
    """An iterable that raises after a fragment was sent: re-raised, connection closed 1011."""
    received: list[Any] = []

    def failing() -> Iterator[str]:
        yield "a"
        yield "b"
        raise ValueError("boom")

    async def failing_async() -> AsyncIterator[str]:
        yield "a"
        raise ValueError("boom")

    async with served(recorder(received)) as ws:
        with pytest.raises(ValueError, match="boom"):
            await ws.send(failing() if kind == "sync" else failing_async())
        assert await sent_close_code(ws) == 1011
        with pytest.raises(ConnectionClosedError):
            await ws.send("too late")
    assert received[-1].rcvd.code == 1011
    assert received[-1].rcvd.reason == "error in fragmented message"


async def test_send_iterator_raising_before_its_first_frame_leaves_the_connection_open():
    """A plain iterable that raises before a frame went out just raises."""

    def failing() -> Iterator[str]:
        yield "a"
        raise ValueError("boom")

    async with served(echo) as ws:
        with pytest.raises(ValueError, match="boom"):
            await ws.send(failing())
        await ws.send("still open")
        assert await ws.recv() == "still open"


async def test_other_sends_wait_during_a_fragmented_send_while_pings_go_through():
    """send() waits for a fragmented message; ping(), pong() and automatic pongs do not."""
    received: list[Any] = []
    server_pinged = anyio.Event()

    async def script(ws: ServerConnection) -> None:
        stream = ws.recv_streaming()
        first = await anext(stream)
        await (await ws.ping())  # the client's reader answers between fragments
        server_pinged.set()
        rest = [fragment async for fragment in stream]
        received.append(first + "".join(rest))
        received.append(await ws.recv())

    async with served(script) as ws:
        gate = Gate(ws, "frag", ["ment"])
        other_sent = anyio.Event()

        async def other() -> None:
            await ws.send("other")
            other_sent.set()

        async with anyio.create_task_group() as group:
            group.start_soon(ws.send, gate)
            await gate.delivered.wait()
            assert ws._sender.sending_fragments
            group.start_soon(other)
            await server_pinged.wait()
            latency = await (await ws.ping())  # our ping goes between fragments too
            await ws.pong(b"unsolicited")
            assert latency >= 0
            await anyio.wait_all_tasks_blocked()
            assert not other_sent.is_set()
            gate.open()
            await other_sent.wait()
        assert not ws._sender.sending_fragments
        await ws.close()
    assert received == ["fragment", "other"]


async def test_two_fragmented_sends_do_not_interleave():
    """Two tasks sending fragmented messages at once: each message arrives whole."""
    received: list[Any] = []
    done = anyio.Event()

    async def script(ws: ServerConnection) -> None:
        for _ in range(2):
            received.append(await ws.recv())
        done.set()

    async with served(script) as ws:
        gate = Gate(ws, "a1", ["a2", "a3"])
        async with anyio.create_task_group() as group:
            group.start_soon(ws.send, gate)
            await gate.delivered.wait()
            group.start_soon(ws.send, ["b1", "b2"])
            await anyio.wait_all_tasks_blocked()
            gate.open()
        await done.wait()
    assert received == ["a1a2a3", "b1b2"]


async def test_close_during_a_fragmented_send_closes_with_1011():
    """close() while a fragmented message is half sent fails the connection with 1011."""
    received: list[Any] = []
    outcome: list[BaseException] = []

    async with served(recorder(received)) as ws:
        gate = Gate(ws, "half", ["never"])

        async def sender() -> None:
            try:
                await ws.send(gate)
            except ConnectionClosed as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(sender)
            await gate.delivered.wait()
            await ws.close()
            assert await sent_close_code(ws) == 1011
            gate.open()
    assert isinstance(outcome[0], ConnectionClosedError)
    assert received[-1].rcvd.code == 1011
    assert received[-1].rcvd.reason == "close during fragmented message"


async def test_sends_waiting_for_a_fragmented_message_see_the_closure():
    """Sends queued behind a stuck fragmented message raise ConnectionClosed at closure."""
    outcomes: list[BaseException] = []
    may_close = anyio.Event()

    async def script(ws: ServerConnection) -> None:
        await anext(ws.recv_streaming())
        await may_close.wait()  # not before the client's ping was answered
        await ws.close()

    async with served(script) as ws:
        gate = Gate(ws, "stuck", ["never"])

        async def send(message: Any) -> None:
            try:
                await ws.send(message)
            except ConnectionClosed as exc:
                outcomes.append(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(send, gate)
            await gate.delivered.wait()
            group.start_soon(send, "whole")
            group.start_soon(send, ["frag", "mented"])
            await anyio.wait_all_tasks_blocked()
            may_close.set()
            await ws.wait_closed()
            await anyio.wait_all_tasks_blocked()
            assert len(outcomes) == 2  # the two waiting sends, while the gate is still shut
            gate.open()
    assert len(outcomes) == 3


async def test_cancelled_fragmented_send_closes_with_1011():
    """Cancelling send() once a fragment left: the message cannot end, so 1011."""
    received: list[Any] = []
    async with served(recorder(received)) as ws:
        gate = Gate(ws, "half", ["never"])
        async with anyio.create_task_group() as group:
            group.start_soon(ws.send, gate)
            await gate.delivered.wait()
            group.cancel_scope.cancel()
        assert await sent_close_code(ws) == 1011
    assert received[-1].rcvd.code == 1011


# ----------------------------------------------------------------- receiving


async def test_recv_returns_a_fragmented_message_whole():
    """recv() joins the fragments of a message."""

    async def script(ws: ServerConnection) -> None:
        await ws.send(["x" * 1000] * 50)

    async with served(script) as ws:
        assert await ws.recv() == "x" * 50_000


@pytest.mark.parametrize(
    ("sent", "decode", "expected"),
    [
        ("café", False, b"caf\xc3\xa9"),
        (b"caf\xc3\xa9", True, "café"),
        ("café", True, "café"),
        (b"\xff", False, b"\xff"),
        (["ca", "fé"], False, b"caf\xc3\xa9"),
        ([b"caf\xc3", b"\xa9"], True, "café"),
    ],
)
async def test_recv_decode_overrides_the_type(sent, decode, expected):
    """decode=False gives bytes for text; decode=True gives str for binary."""

    async def script(ws: ServerConnection) -> None:
        await ws.send(sent)

    async with served(script) as ws:
        message = await ws.recv(decode=decode)
        assert message == expected
        assert type(message) is type(expected)


async def test_recv_decode_true_on_invalid_utf8_fails_with_1007():
    """decode=True on a binary message that is not UTF-8 fails the connection with 1007."""

    async def script(ws: ServerConnection) -> None:
        await ws.send(b"\xff\xfe")

    async with served(script) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv(decode=True)
        assert isinstance(info.value.__cause__, UnicodeDecodeError)
        assert info.value.sent is not None and info.value.sent.code == 1007


async def test_recv_cancelled_mid_message_loses_nothing():
    """Cancelling recv() while it waits for the rest of a message keeps the message."""
    gates: list[Gate] = []
    ready = anyio.Event()

    async def script(ws: ServerConnection) -> None:
        gates.append(Gate(ws, "first ", ["second"]))
        ready.set()
        await ws.send(gates[0])

    async with served(script) as ws:
        await ready.wait()
        await gates[0].delivered.wait()
        async with anyio.create_task_group() as group:
            group.start_soon(ws.recv)
            await anyio.wait_all_tasks_blocked()
            assert len(ws._receiver.messages) == 0  # recv() holds the unfinished message
            group.cancel_scope.cancel()
        assert len(ws._receiver.messages) == 1  # given back when cancelled
        gates[0].open()
        assert await ws.recv() == "first second"


async def test_recv_streaming_yields_the_first_fragment_before_the_last_is_sent():
    """recv_streaming() yields a fragment as soon as it arrives, not when the message ends."""
    gates: list[Gate] = []

    async def script(ws: ServerConnection) -> None:
        gates.append(Gate(ws, "first", ["second", "third"]))
        await ws.send(gates[0])

    async with served(script) as ws:
        stream = ws.recv_streaming()
        assert await anext(stream) == "first"
        assert not gates[0]._open.is_set()  # the rest is not even produced yet
        gates[0].open()
        assert [fragment async for fragment in stream] == ["second", "third", ""]


async def test_recv_streaming_of_a_single_frame_message():
    """A message in one frame is one fragment."""

    async def script(ws: ServerConnection) -> None:
        await ws.send(b"whole")
        await ws.send("next")

    async with served(script) as ws:
        assert [fragment async for fragment in ws.recv_streaming()] == [b"whole"]
        assert await ws.recv() == "next"


async def test_recv_streaming_utf8_split_across_fragments():
    """A character cut by a frame boundary comes whole in the next str fragment."""

    async def script(ws: ServerConnection) -> None:
        await ws.send([b"a\xe2\x82", b"\xac", b"b"], text=True)

    async with served(script) as ws:
        assert [fragment async for fragment in ws.recv_streaming()] == ["a", "€", "b"]


@pytest.mark.parametrize(
    ("sent", "decode", "expected"),
    [
        (["ca", "fé"], False, [b"ca", b"f\xc3\xa9"]),
        ([b"a\xe2\x82", b"\xac"], True, ["a", "€"]),
        (b"x", True, ["x"]),
        ("x", False, [b"x"]),
    ],
)
async def test_recv_streaming_decode(sent, decode, expected):
    """recv_streaming(decode=...) converts each fragment, decoding binary incrementally."""

    async def script(ws: ServerConnection) -> None:
        await ws.send(sent)

    async with served(script) as ws:
        assert [fragment async for fragment in ws.recv_streaming(decode)] == expected


async def test_recv_streaming_decode_true_on_invalid_utf8_fails_with_1007():
    """recv_streaming(decode=True) of binary that is not UTF-8 fails with 1007."""

    async def script(ws: ServerConnection) -> None:
        await ws.send([b"ok", b"\xff"])

    async with served(script) as ws:
        stream = ws.recv_streaming(decode=True)
        assert await anext(stream) == "ok"
        with pytest.raises(ConnectionClosedError) as info:
            await anext(stream)
        assert info.value.sent is not None and info.value.sent.code == 1007


async def test_recv_and_recv_streaming_are_exclusive():
    """recv() during recv_streaming(), or a second stream, is a ConcurrencyError."""
    gates: list[Gate] = []

    async def script(ws: ServerConnection) -> None:
        gates.append(Gate(ws, "a", ["b"]))
        await ws.send(gates[0])

    async with served(script) as ws:
        async with anyio.create_task_group() as group:
            group.start_soon(ws.recv)
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(ConcurrencyError):
                await anext(ws.recv_streaming())
            group.cancel_scope.cancel()
        stream = ws.recv_streaming()
        assert await anext(stream) == "a"
        with pytest.raises(ConcurrencyError):
            await ws.recv()
        with pytest.raises(ConcurrencyError):
            await anext(ws.recv_streaming())
        gates[0].open()
        assert [fragment async for fragment in stream] == ["b", ""]


async def test_recv_streaming_cancelled_before_the_first_fragment_loses_nothing():
    """Cancelling recv_streaming() while it waits for a message loses no message."""
    async with served(echo) as ws:
        await cancel_when_blocked(lambda: anext(ws.recv_streaming()))
        await ws.send("hello")
        assert await ws.recv() == "hello"


@pytest.mark.parametrize("how", ["cancel", "aclose", "break"])
async def test_recv_streaming_abandoned_mid_message_drops_the_rest(how):
    """Cancelled, closed or left mid-message: the rest is dropped, the next message follows."""
    gates: list[Gate] = []

    async def script(ws: ServerConnection) -> None:
        gates.append(Gate(ws, "a", ["b", "c"]))
        await ws.send(gates[0])
        await ws.send("next")

    async with served(script) as ws:
        stream = ws.recv_streaming()
        if how == "break":
            async for fragment in stream:
                assert fragment == "a"
                break
            del stream
        else:
            assert await anext(stream) == "a"
            if how == "cancel":
                await cancel_when_blocked(lambda: anext(stream))
            else:
                await stream.aclose()
            with pytest.raises(StopAsyncIteration):
                await anext(stream)
        gates[0].open()
        assert await ws.recv() == "next"


async def test_recv_streaming_raises_connection_closed_when_closed_mid_message():
    """If the connection ends mid-message, the stream raises ConnectionClosed."""
    gates: list[Gate] = []

    async def script(ws: ServerConnection) -> None:
        gates.append(Gate(ws, "a", ["b"]))
        async with anyio.create_task_group() as group:
            group.start_soon(ws.send, gates[0])
            await gates[0].delivered.wait()
            await ws.close(1001)

    async with served(script) as ws:
        stream = ws.recv_streaming()
        assert await anext(stream) == "a"
        with pytest.raises(ConnectionClosedError):
            await anext(stream)
        with pytest.raises(ConnectionClosedError):
            await ws.recv()
        gates[0].open()


async def test_fragmented_message_takes_one_queue_slot():
    """max_queue counts messages: a message in many fragments fills one slot."""
    done = anyio.Event()

    async def script(ws: ServerConnection) -> None:
        await ws.send(["f"] * 100)
        await ws.send("second")
        done.set()

    async with served(script, max_queue=2) as ws:
        await done.wait()
        assert await ws.recv() == "f" * 100
        assert await ws.recv() == "second"


# ----------------------------------------------------------------- max_size


async def test_max_size_pair_accepts_long_messages_in_short_fragments():
    """max_size=(message, fragment): fragments within their limit make a long message."""
    async with served(echo, server={"max_size": (None, 10)}) as ws:
        await ws.send([b"0123456789"] * 5)
        assert await ws.recv() == b"0123456789" * 5


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_max_size_pair_fails_an_over_long_fragment_with_1009(compression):
    """A frame over the fragment limit (after decompression) closes the connection with 1009."""
    received: list[Any] = []
    options = {"max_size": (None, 1000), "compression": compression}
    async with served(recorder(received), server=options, compression=compression) as ws:
        await ws.send([bytes(1000), bytes(1000)])
        await ws.send([bytes(1001), b""])
        await ws.wait_closed()
        assert ws.close_code == 1009
    assert received[0] == bytes(2000)
    assert received[-1].sent.code == 1009


async def test_max_size_pair_on_the_client():
    """connect(max_size=(message, fragment)) bounds what the client receives."""

    async def script(ws: ServerConnection) -> None:
        await ws.send(["12345", "67890"])
        await ws.send("x" * 11)

    async with served(script, max_size=(None, 10)) as ws:
        assert await ws.recv() == "1234567890"
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.sent is not None and info.value.sent.code == 1009


@pytest.mark.parametrize("max_size", [(0, 10), (10, -1), (1, 2, 3), ("10", None), 1.5])
def test_max_size_is_checked_at_the_call(max_size):
    """A bad max_size (pair or not) raises ValueError when serve()/connect() is called."""
    with pytest.raises(ValueError, match="max_size"):
        anyio_ws.serve(echo, "127.0.0.1", 0, max_size=max_size)
    with pytest.raises(ValueError, match="max_size"):
        anyio_ws.connect("ws://127.0.0.1:1/", max_size=max_size)
