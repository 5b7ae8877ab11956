"""anyio_ws.testing: handlers tested over in-memory streams, the whole protocol included."""

from __future__ import annotations

import anyio
import pytest

import anyio_ws
from anyio_ws import ServerConnection
from anyio_ws.testing import connect_in_memory, serve_in_memory

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def test_a_client_talks_to_the_handler_without_a_socket():
    async with connect_in_memory(echo) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\xff")
        assert await ws.recv() == b"\x00\xff"
        assert ws.remote_address is None  # no socket underneath
    assert ws.close_code == 1000


async def test_the_handler_sees_the_path_and_headers():
    seen: list[tuple[str, str | None]] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen.append((ws.request.path, ws.request.headers.get("X-Test")))

    async with connect_in_memory(
        handler, "/rooms/1?x=2", additional_headers={"X-Test": "yes"}
    ) as ws:
        await ws.wait_closed()
    assert seen == [("/rooms/1?x=2", "yes")]


async def test_server_options_apply_rejections_included():
    async def process_request(connection, request):  # type: ignore[no-untyped-def]
        if request.path == "/private":
            return connection.respond(403, "no\n")
        return None

    options = {"process_request": process_request, "subprotocols": ["chat"]}
    with pytest.raises(anyio_ws.InvalidStatus) as raised:
        async with connect_in_memory(echo, "/private", server_options=options):
            pass
    assert raised.value.response.status_code == 403
    async with connect_in_memory(echo, "/", server_options=options, subprotocols=["chat"]) as ws:
        assert ws.subprotocol == "chat"


async def test_several_clients_share_a_server_and_shutdown_sends_1001():
    async def shout(ws: ServerConnection) -> None:
        async for message in ws:
            anyio_ws.broadcast(ws.server.connections, message)  # type: ignore[union-attr]

    async with serve_in_memory(shout) as served:
        async with served.connect() as alice, served.connect() as bob:
            with anyio.fail_after(5):
                # Polled (bounded): the server gives no event when a connection opens.
                while len(served.server.connections) < 2:  # noqa: ASYNC110 (a plain set)
                    await anyio.sleep(0.01)
                await alice.send("hi all")
                assert await bob.recv() == "hi all"
                assert await alice.recv() == "hi all"
                served.server.close()
                await bob.wait_closed()
            assert bob.close_code == 1001


async def test_listening_options_are_refused():
    with pytest.raises(TypeError):
        async with serve_in_memory(echo, port=8765):
            pass
    async with serve_in_memory(echo) as served:
        with pytest.raises(ValueError):
            async with served.connect("no-slash"):
                pass
