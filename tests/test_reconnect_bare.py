"""``async for ws in connect(uri)`` as websockets users write it: no task group, no aclosing().

Each connection of such a loop runs inline (no task of its own), so its body can be
left by ``break``, ``return`` or an exception at any point: the user's exception comes
out as raised, the event loop is never corrupted, and the connection is closed with
1000 once the loop's iterator is dropped.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

import anyio_ws
from anyio_ws import ServerConnection, State

pytestmark = [
    pytest.mark.usefixtures("anyio_backend"),
    # trio notes that an async generator was collected before it finished: that is
    # exactly how this form ends (the connection is closed all the same).
    pytest.mark.filterwarnings("ignore:Async generator .*_connections:ResourceWarning"),
]


class Recorder:
    """An echo server handler that records how each connection ended."""

    def __init__(self) -> None:
        self.codes: list[int | None] = []
        self.ended = anyio.Event()

    async def __call__(self, ws: ServerConnection) -> None:
        try:
            async for message in ws:
                await ws.send(message)
        except anyio_ws.ConnectionClosed:
            pass
        finally:
            self.codes.append(ws.close_code)
            self.ended.set()


async def test_break_closes_the_connection_with_1000():
    """A bare loop left with break closes its connection with 1000."""
    recorder = Recorder()
    async with anyio_ws.serve(recorder, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            async for ws in anyio_ws.connect(f"ws://127.0.0.1:{server.port}/"):
                await ws.send("hello")
                assert await ws.recv() == "hello"
                break
            await recorder.ended.wait()
    assert recorder.codes == [1000]
    assert ws.state is State.CLOSED


async def test_return_from_the_body_closes_the_connection_with_1000():
    """`return ws` from inside a bare loop (a helper that finds a connection) closes it."""
    recorder = Recorder()

    async def first_connection(uri: str) -> anyio_ws.ClientConnection:
        async for ws in anyio_ws.connect(uri):
            await ws.send("ping")
            assert await ws.recv() == "ping"
            return ws
        raise AssertionError("unreachable")

    async with anyio_ws.serve(recorder, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            ws = await first_connection(f"ws://127.0.0.1:{server.port}/")
            await recorder.ended.wait()
    assert recorder.codes == [1000]
    assert ws.close_code == 1000


async def test_exception_in_the_body_propagates_as_raised():
    """The user's own exception comes out of a bare loop unchanged, and the loop still works."""
    recorder = Recorder()
    async with anyio_ws.serve(recorder, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        with anyio.fail_after(10):
            with pytest.raises(KeyError) as info:
                async for ws in anyio_ws.connect(uri):  # noqa: B007
                    raise KeyError("from the body")
            assert type(info.value) is KeyError and info.value.args == ("from the body",)
            del info  # the traceback holds the loop's iterator
            await recorder.ended.wait()
            # The event loop is intact: the same idiom runs again at once.
            async for ws in anyio_ws.connect(uri):
                await ws.send("again")
                assert await ws.recv() == "again"
                break
    assert recorder.codes == [1000, 1000]


async def test_bare_loop_reconnects_and_reads_every_message():
    """Each step of a bare loop gets a fresh connection; recv() reads inline until the close."""

    async def two_then_close(ws: ServerConnection) -> None:
        await ws.send("one")
        await ws.send("two")
        await ws.close(1001, "bye")

    got: list[list[object]] = []
    async with anyio_ws.serve(two_then_close, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            async for ws in anyio_ws.connect(f"ws://127.0.0.1:{server.port}/"):
                got.append([message async for message in ws])
                assert ws.close_code == 1001
                if len(got) == 3:
                    break
    assert got == [["one", "two"]] * 3


async def test_bare_loop_answers_pings_while_reading_and_waits_for_pongs():
    """Inline, the server's pings are answered by recv(), and ping() waiters read the pong."""
    latencies: list[float] = []

    async def pinger(ws: ServerConnection) -> None:
        latencies.append(await (await ws.ping()))
        await ws.send("pinged")
        await ws.recv()

    async with anyio_ws.serve(pinger, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            async for ws in anyio_ws.connect(f"ws://127.0.0.1:{server.port}/"):
                assert await ws.recv() == "pinged"
                latency = await (await ws.ping())
                assert latency >= 0
                await ws.send("done")
                break
    assert len(latencies) == 1


async def test_cancelled_recv_in_a_bare_loop_loses_no_message():
    """A recv() cancelled while it reads inline loses nothing: the next one gets the message."""
    release = anyio.Event()

    async def late_sender(ws: ServerConnection) -> None:
        await release.wait()
        await ws.send("late")
        await ws.recv()

    async with anyio_ws.serve(late_sender, "127.0.0.1", 0) as server:
        with anyio.fail_after(10):
            async for ws in anyio_ws.connect(f"ws://127.0.0.1:{server.port}/"):
                with anyio.move_on_after(0.05):
                    await ws.recv()
                release.set()
                assert await ws.recv() == "late"
                await ws.send("bye")
                break
