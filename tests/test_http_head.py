"""read_head: one loop reads the opening handshake's HTTP head on both sides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
from helpers import MemoryByteStream, handshake_request, memory_stream_pair

from anyio_ws._http_head import read_head
from anyio_ws.core.handshake import ClientHandshake, ServerHandshake
from anyio_ws.core.http import Request, Response
from anyio_ws.core.uri import parse_uri
from anyio_ws.exceptions import InvalidMessage

pytestmark = pytest.mark.usefixtures("anyio_backend")


def new_client(max_header_size: int = 16384) -> ClientHandshake:
    return ClientHandshake(parse_uri("ws://localhost/chat"), max_header_size=max_header_size)


def answer_to(client: ClientHandshake) -> bytes:
    """The 101 a real server handshake gives to ``client``'s request."""
    server = ServerHandshake()
    server.receive_data(client.data_to_send())
    request = server.next_request()
    assert request is not None
    return server.send_response(server.accept(request))


async def read_request(stream: MemoryByteStream, server: ServerHandshake) -> Request:
    """The server's call, as ``_server_handshake`` makes it."""
    return await read_head(stream, server, server.next_request, quiet_if_silent=True)


async def read_response(stream: MemoryByteStream, client: ClientHandshake) -> Response:
    """The client's call, as ``client`` makes it."""
    return await read_head(stream, client, client.next_response)


@asynccontextmanager
async def pipe(
    *, buffer: float = float("inf"), chunk_size: int = 16384
) -> AsyncIterator[tuple[MemoryByteStream, MemoryByteStream]]:
    """Our end and the peer's of an in-memory stream, closed on the way out."""
    ours, theirs = memory_stream_pair(buffer=buffer, chunk_size=chunk_size)
    async with ours, theirs:
        yield ours, theirs


async def send_then_close(stream: MemoryByteStream, *pieces: bytes) -> None:
    for piece in pieces:
        await stream.send(piece)
    await stream.send_eof()


# ------------------------------------------------------------------ whole heads


async def test_a_request_split_into_single_bytes_is_read_whole() -> None:
    async with pipe(chunk_size=1) as (ours, theirs):
        request = handshake_request("/room?id=7")
        await theirs.send(request)
        server = ServerHandshake()
        with anyio.fail_after(5):
            head = await read_request(ours, server)
        assert head.path == "/room?id=7"
        assert head.headers["Sec-WebSocket-Version"] == "13"


async def test_a_response_split_into_single_bytes_is_read_whole() -> None:
    async with pipe(chunk_size=1) as (ours, theirs):
        client = new_client()
        await theirs.send(answer_to(client))
        with anyio.fail_after(5):
            response = await read_response(ours, client)
        assert response.status_code == 101
        client.process_response(response)  # the accept key matches: nothing was lost


async def test_nothing_past_the_head_is_read_from_the_stream() -> None:
    """Bytes in the head's read stay with the handshake; later ones stay in the stream."""
    async with pipe() as (ours, theirs):
        await theirs.send(handshake_request() + b"\x81\x00")
        await theirs.send(b"later")
        server = ServerHandshake()
        with anyio.fail_after(5):
            await read_request(ours, server)
            assert server.trailing_data == b"\x81\x00"
            assert await ours.receive() == b"later"


async def test_a_response_whose_body_ends_with_the_connection_is_returned() -> None:
    async with pipe() as (ours, theirs):
        client = new_client()
        refusal = b"HTTP/1.1 503 Service Unavailable\r\n\r\ntry later"
        await send_then_close(theirs, refusal)
        with anyio.fail_after(5):
            response = await read_response(ours, client)
        assert (response.status_code, response.body) == (503, b"try later")


# -------------------------------------------------------------- end of stream


async def test_a_server_peer_that_sends_nothing_raises_end_of_stream() -> None:
    """A port scanner or a health probe: nothing to answer, nothing to log."""
    async with pipe() as (ours, theirs):
        await theirs.send_eof()
        with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
            await read_request(ours, ServerHandshake())


async def test_a_client_whose_server_sends_nothing_gets_invalid_message_from_eof() -> None:
    """``process_exception`` retries an ``InvalidMessage`` caused by ``EOFError``."""
    async with pipe() as (ours, theirs):
        await theirs.send_eof()
        with anyio.fail_after(5), pytest.raises(InvalidMessage) as info:
            await read_response(ours, new_client())
        assert isinstance(info.value.__cause__, EOFError)
        assert "closed before the response was complete" in str(info.value)


@pytest.mark.parametrize("side", ["server", "client"])
async def test_an_end_of_stream_mid_head_is_invalid_message_from_eof(side: str) -> None:
    async with pipe(chunk_size=7) as (ours, theirs):
        client = new_client()
        whole = handshake_request() if side == "server" else answer_to(client)
        await send_then_close(theirs, whole[: len(whole) // 2])
        with anyio.fail_after(5), pytest.raises(InvalidMessage) as info:
            if side == "server":
                await read_request(ours, ServerHandshake())
            else:
                await read_response(ours, client)
        assert isinstance(info.value.__cause__, EOFError)
        assert info.value.status == 400


async def test_a_parser_still_waiting_at_the_end_of_stream_fails_rather_than_loops() -> None:
    """The loop does not trust the parser to fail at EOF; h11's do, others may not."""

    class Patient:
        def receive_data(self, data: bytes) -> None:
            pass

        def receive_eof(self) -> None:
            pass

        def next_head(self) -> Request | None:
            return None

    async with pipe() as (ours, theirs):
        await send_then_close(theirs, b"GET / HTTP/1.1\r\n")
        parser = Patient()
        with anyio.fail_after(5), pytest.raises(InvalidMessage) as info:
            await read_head(ours, parser, parser.next_head, quiet_if_silent=True)
        assert isinstance(info.value.__cause__, EOFError)


# ------------------------------------------------------------------ size bound


def endless_head(side: str) -> Callable[[], bytes]:
    """The first line of a head, then a header line more at each call, for ever."""
    first = b"GET / HTTP/1.1\r\n" if side == "server" else b"HTTP/1.1 101 Switching\r\n"
    lines = iter([first])

    def next_piece() -> bytes:
        return next(lines, b"X-Filler: " + b"a" * 90 + b"\r\n")

    return next_piece


@pytest.mark.parametrize("side", ["server", "client"])
async def test_an_endless_head_fails_with_the_core_error_having_read_a_bounded_amount(
    side: str,
) -> None:
    """The handshake's ``max_header_size`` bounds what is read, not the peer's patience."""
    limit = 4096
    async with pipe(buffer=0) as (ours, theirs):  # a send returns once it was read
        sent = 0

        async def flood() -> None:
            nonlocal sent
            piece = endless_head(side)
            while True:
                data = piece()
                await theirs.send(data)
                sent += len(data)

        failure: InvalidMessage | None = None
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(flood)
                try:
                    if side == "server":
                        await read_request(ours, ServerHandshake(max_header_size=limit))
                    else:
                        await read_response(ours, new_client(max_header_size=limit))
                except InvalidMessage as exc:
                    failure = exc
                group.cancel_scope.cancel()
        assert failure is not None
        assert not isinstance(failure.__cause__, EOFError)
        if side == "server":
            assert failure.status == 431
        assert sent <= limit + 2 * 100
