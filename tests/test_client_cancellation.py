"""A client cancelled from outside still runs its closing handshake (design.md point 6)."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

import anyio_ws

pytestmark = pytest.mark.usefixtures("anyio_backend")

ROUNDS = 50


class CloseCodes:
    """A server handler that records the close code each connection ended with."""

    def __init__(self, expected: int) -> None:
        self.codes: list[int | None] = []
        self.expected = expected
        self.all_seen = anyio.Event()

    async def __call__(self, ws: anyio_ws.ServerConnection) -> None:
        try:
            await ws.wait_closed()
        finally:
            self.codes.append(ws.close_code)
            if len(self.codes) == self.expected:
                self.all_seen.set()


async def test_cancelled_async_with_sends_close_1000_every_time():
    """A task cancelled inside `async with connect() as ws: await ws.recv()` closes with 1000."""
    server_side = CloseCodes(ROUNDS)
    clients: list[anyio_ws.ClientConnection] = []
    async with anyio_ws.serve(server_side, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        for round_ in range(ROUNDS):
            in_recv = anyio.Event()

            async def client(in_recv: anyio.Event) -> None:
                async with anyio_ws.connect(uri) as ws:
                    clients.append(ws)
                    in_recv.set()
                    await ws.recv()

            async with anyio.create_task_group() as tg:
                tg.start_soon(client, in_recv)
                await in_recv.wait()
                for _ in range(round_ % 5):  # vary where the cancellation lands
                    await anyio.lowlevel.checkpoint()
                tg.cancel_scope.cancel()
        with anyio.fail_after(10):
            await server_side.all_seen.wait()
    assert server_side.codes == [1000] * ROUNDS
    # The server's answer was read too: the closing handshake completed on both sides.
    assert [ws.close_code for ws in clients] == [1000] * ROUNDS


async def test_cancelled_task_group_of_an_awaited_connection_sends_close_1000():
    """Cancelling the task group given to `await connect(..., task_group=tg)` closes with 1000."""
    server_side = CloseCodes(ROUNDS)
    async with anyio_ws.serve(server_side, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        for round_ in range(ROUNDS):
            async with anyio.create_task_group() as tg:
                ws = await anyio_ws.connect(uri, task_group=tg)
                for _ in range(round_ % 5):
                    await anyio.lowlevel.checkpoint()
                tg.cancel_scope.cancel()
            assert ws.state is anyio_ws.State.CLOSED
            assert ws.close_code == 1000
        with anyio.fail_after(10):
            await server_side.all_seen.wait()
    assert server_side.codes == [1000] * ROUNDS
