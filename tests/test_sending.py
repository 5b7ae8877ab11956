"""The send side on its own: writes grouped, refusals as values, failures mapped once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from helpers import MemoryByteStream, Peer, memory_stream_pair

from anyio_ws import ConnectionClosedError
from anyio_ws._link import Link
from anyio_ws._sending import _WRITE_JOIN_LIMIT, Refusal, Sender, _coalesce
from anyio_ws._streams import nowait_writer, open_tcp
from anyio_ws.core.events import BinaryMessage, TextMessage
from anyio_ws.core.protocol import Protocol, Side

pytestmark = pytest.mark.usefixtures("anyio_backend")


@asynccontextmanager
async def sender_pair(
    *, write_limit: int = 32768, buffer: float = float("inf")
) -> AsyncIterator[tuple[Sender, Link, Peer]]:
    """A server-side sender over memory, and the client at the far end."""
    ours, theirs = memory_stream_pair(buffer=buffer)
    link = Link(ours, Protocol(Side.SERVER), close_timeout=1)
    async with ours, theirs:
        yield Sender(link, write_limit), link, Peer(theirs, Side.CLIENT)


# ------------------------------------------------------------------ _coalesce


def test_small_chunks_are_joined_into_one_write() -> None:
    assert _coalesce([b"ab", b"cd", b"e"]) == [b"abcde"]


def test_a_single_chunk_is_written_as_it_is() -> None:
    chunk = b"x" * (_WRITE_JOIN_LIMIT * 2)
    assert _coalesce([chunk])[0] is chunk


def test_a_large_chunk_goes_alone_between_joined_small_ones() -> None:
    large = b"L" * (_WRITE_JOIN_LIMIT + 1)
    assert _coalesce([b"a", b"b", large, b"c", b"d"]) == [b"ab", large, b"cd"]


def test_end_of_stream_is_a_write_of_its_own() -> None:
    assert _coalesce([b"a", b"b", b"", b"c"]) == [b"ab", b"", b"c"]


def test_joined_writes_stay_within_the_limit() -> None:
    half = b"h" * (_WRITE_JOIN_LIMIT // 2 + 1)
    assert _coalesce([half, half, half]) == [half, half, half]
    exact = b"e" * (_WRITE_JOIN_LIMIT // 2)
    assert _coalesce([exact, exact, b"z"]) == [exact + exact, b"z"]


# ---------------------------------------------------------------- try_send


async def test_try_send_refuses_before_the_connection_runs() -> None:
    async with sender_pair() as (sender, _, _):
        assert sender.try_send(b"x", False) is Refusal.NOT_RUNNING


async def test_try_send_queues_and_a_flush_task_writes() -> None:
    async with sender_pair() as (sender, link, peer):
        async with anyio.create_task_group() as group:
            link.task_group = group
            assert sender.try_send(b"hello", True) is None
            assert sender.try_send(b"\x00", False) is None
            with anyio.fail_after(5):
                assert await peer.next_event() == TextMessage("hello")
                assert await peer.next_event() == BinaryMessage(b"\x00")


async def test_try_send_refuses_during_a_fragmented_message() -> None:
    async with sender_pair() as (sender, link, _):
        async with anyio.create_task_group() as group:
            link.task_group = group
            sender.sending_fragments = True
            assert sender.try_send(b"x", False) is Refusal.FRAGMENTING
            sender.fragments_done()
            assert not sender.sending_fragments


async def test_try_send_refuses_over_the_write_limit_and_queues_nothing() -> None:
    async with sender_pair(write_limit=100, buffer=0) as (sender, link, _):
        async with anyio.create_task_group() as group:
            link.task_group = group
            assert sender.try_send(b"x" * 200, False) is None  # under the limit when asked
            assert sender.buffer_size() > 100
            before = sender.buffer_size()
            assert sender.try_send(b"y", False) is Refusal.BUFFER_FULL
            assert sender.buffer_size() == before
            group.cancel_scope.cancel()


async def test_try_send_refuses_once_closing() -> None:
    async with sender_pair() as (sender, link, _):
        async with anyio.create_task_group() as group:
            link.task_group = group
            link.protocol.send_close(1000)
            assert sender.try_send(b"x", False) is Refusal.NOT_OPEN
            group.cancel_scope.cancel()


def test_refusal_values_are_what_the_log_says() -> None:
    assert Refusal.BUFFER_FULL.value == "write buffer over write_limit"
    assert len({refusal.value for refusal in Refusal}) == len(Refusal)


# ------------------------------------------------------------- send_frames


async def test_send_frames_writes_what_the_callback_queued_and_returns_its_result() -> None:
    async with sender_pair() as (sender, link, peer):

        def queue(payload: bytes) -> int:
            link.protocol.send_binary(payload)
            return len(payload)

        assert await sender.send_frames(queue, b"abc") == 3
        assert await peer.next_event() == BinaryMessage(b"abc")
        assert sender.buffer_size() == 0


async def test_send_frames_raises_the_connection_closure_once_not_open() -> None:
    async with sender_pair() as (sender, link, _):
        link.protocol.send_close(1000)
        with pytest.raises(ConnectionClosedError, match="sent 1000"):
            await sender.send_frames(link.protocol.send_binary, b"x")
        assert link.protocol.data_to_send() == []  # the close frame was written first


async def test_a_broken_transport_becomes_the_cause_of_the_closure() -> None:
    class Broken(MemoryByteStream):
        async def send(self, item: bytes) -> None:
            raise anyio.BrokenResourceError("connection reset")

    ours, theirs = memory_stream_pair(first=Broken)
    link = Link(ours, Protocol(Side.SERVER), close_timeout=1)
    sender = Sender(link, 32768)
    async with ours, theirs:
        with pytest.raises(ConnectionClosedError) as info:
            await sender.send_frames(link.protocol.send_binary, b"x")
    assert isinstance(info.value.__cause__, anyio.BrokenResourceError)
    assert link.transport_error is info.value.__cause__


async def test_send_frames_after_fragments_waits_for_the_fragmented_message() -> None:
    async with sender_pair() as (sender, link, peer):
        sender.sending_fragments = True
        sent = anyio.Event()

        async def send_whole() -> None:
            await sender.send_frames(link.protocol.send_text, b"whole", after_fragments=True)
            sent.set()

        async with anyio.create_task_group() as group:
            group.start_soon(send_whole)
            await anyio.wait_all_tasks_blocked()
            assert not sent.is_set()
            await sender.send_frames(link.protocol.send_pong, b"")  # control frames go on
            sender.fragments_done()
        assert [await peer.next_event(), await peer.next_event()][1] == TextMessage("whole")


# ------------------------------------------------------------- nowait writers


async def test_a_plain_tcp_stream_takes_bytes_without_waiting(anyio_backend_name: str) -> None:
    """What broadcast() writes with: asyncio's transport takes everything (the caller
    bounds its buffer); trio's socket takes what fits in the kernel, then 0, never blocks."""

    async def never_read(peer: anyio.abc.SocketStream) -> None:
        async with peer:
            await anyio.sleep_forever()

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, never_read)
            stream = await open_tcp("127.0.0.1", port, None, None)
            write = nowait_writer(stream)
            assert write is not None
            chunk = b"x" * 65536
            counts = [write(chunk) for _ in range(256)]  # 16 MiB to a peer that never reads
            if anyio_backend_name == "trio":
                assert counts[0] == len(chunk) and counts[-1] == 0
                assert sum(counts) < 256 * len(chunk)
            else:
                assert counts == [len(chunk)] * 256
            await anyio.aclose_forcefully(stream)
            group.cancel_scope.cancel()


async def test_memory_streams_have_no_nowait_writer() -> None:
    """Streams that must be awaited (memory, TLS on trio) are written by a task."""
    ours, theirs = memory_stream_pair()
    async with ours, theirs:
        assert nowait_writer(ours) is None
