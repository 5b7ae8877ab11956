"""Measure the memory an idle connection costs, server side and client side.

``python docs/measure_memory.py [--connections 500]`` prints one table row per backend,
side and compression setting. Each measurement runs the measured side in this process
under ``tracemalloc`` and its peer in a subprocess, so that only one side's allocations
are counted. tracemalloc sees what Python allocates, zlib's compression state included
(CPython gives zlib its own allocator); it does not see kernel socket buffers.

Method: open ``--connections`` connections and wait until they are all established
and idle, then take the traced size and divide the growth since before the first
connection by their number. Twice: "fresh" (the handshake done, no message yet) and
"after a message" (one small text message echoed on each connection). The two differ
with compression: zlib's compressor and decompressor are made at the first message
that needs them, and kept (context takeover) for the connection's lifetime.
"""

from __future__ import annotations

import argparse
import functools
import gc
import subprocess
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio_ws  # noqa: E402

KiB = 1024
SETTLE = 0.5
"""Seconds to wait, once the connections are open, before measuring (--settle)."""
MESSAGE = '{"type": "greeting", "text": "hello", "id": 1}'
"""The one message exchanged each way in the "after a message" measurement."""


def compression_option(name: str) -> str | None:
    return None if name == "none" else name


async def traced_growth(connections: int, open_all: Callable[[], Awaitable[None]]) -> float:
    """KiB per connection that ``open_all`` (an async callable) keeps allocated."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    await open_all()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    return (after - before) / connections / KiB


# ---------------------------------------------------------------- server side


async def measure_server(backend: str, compression: str, exchange: bool, connections: int) -> float:
    """Serve here; a child process opens the connections and keeps them open."""
    established = anyio.Event()
    idle = anyio.Event()
    count = 0

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        nonlocal count
        if exchange:
            await ws.send(await ws.recv())
        count += 1
        if count == connections:
            established.set()
        await idle.wait()
        await ws.wait_closed()

    async with anyio_ws.serve(
        handler, "127.0.0.1", 0, compression=compression_option(compression), ping_interval=None
    ) as server:
        command = [sys.executable, __file__, "--peer-client", str(server.port), backend]
        children: list[subprocess.Popen[bytes]] = []

        async def open_all() -> None:
            command.extend([compression, str(int(exchange)), str(connections)])
            children.append(subprocess.Popen(command, stdin=subprocess.PIPE))  # noqa: ASYNC220
            await established.wait()
            await anyio.sleep(SETTLE)  # let the last handshakes' buffers go

        growth = await traced_growth(connections, open_all)
        child = children[0]
        assert child.stdin is not None
        child.stdin.close()  # the child closes its connections and exits
        idle.set()
        await anyio.to_thread.run_sync(child.wait)
    return growth


async def peer_clients(port: int, compression: str, exchange: bool, connections: int) -> None:
    """Child process: open the connections, hold them until stdin closes."""
    async with anyio.create_task_group() as tg:
        opened = []
        for _ in range(connections):
            ws = await anyio_ws.connect(
                f"ws://127.0.0.1:{port}/",
                compression=compression_option(compression),
                ping_interval=None,
                task_group=tg,
            )
            if exchange:
                await ws.send(MESSAGE)
                await ws.recv()
            opened.append(ws)
        await anyio.to_thread.run_sync(sys.stdin.read)
        for ws in opened:
            await ws.close()


# ---------------------------------------------------------------- client side


async def measure_client(backend: str, compression: str, exchange: bool, connections: int) -> float:
    """Connect from here to a server in a child process."""
    child = subprocess.Popen(  # noqa: ASYNC220 (starting it takes no time worth a thread)
        [sys.executable, __file__, "--peer-server", backend, compression],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    port = int(await anyio.to_thread.run_sync(child.stdout.readline))
    async with anyio.create_task_group() as tg:
        opened: list[anyio_ws.ClientConnection] = []
        # One connection first, closed before measuring: what the first connection
        # loads once (a module imported on first use) is not a per-connection cost.
        async with anyio_ws.connect(
            f"ws://127.0.0.1:{port}/", compression=compression_option(compression)
        ) as warm:
            await warm.send(MESSAGE)
            await warm.recv()

        async def open_all() -> None:
            for _ in range(connections):
                ws = await anyio_ws.connect(
                    f"ws://127.0.0.1:{port}/",
                    compression=compression_option(compression),
                    ping_interval=None,
                    task_group=tg,
                )
                if exchange:
                    await ws.send(MESSAGE)
                    await ws.recv()
                opened.append(ws)
            await anyio.sleep(SETTLE)

        growth = await traced_growth(connections, open_all)
        for ws in opened:
            await ws.close()
    child.stdin.close()
    await anyio.to_thread.run_sync(child.wait)
    return growth


async def peer_server(compression: str) -> None:
    """Child process: serve until stdin closes; print the port first."""

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with anyio_ws.serve(
        handler, "127.0.0.1", 0, compression=compression_option(compression), ping_interval=None
    ) as server:
        print(server.port, flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


# ---------------------------------------------------------------------- main


def main() -> None:
    global SETTLE
    if sys.argv[1:2] == ["--peer-client"]:
        port, backend, compression, flag, connections = sys.argv[2:7]
        anyio.run(
            peer_clients, int(port), compression, flag == "1", int(connections), backend=backend
        )
        return
    if sys.argv[1:2] == ["--peer-server"]:
        backend, compression = sys.argv[2:4]
        anyio.run(peer_server, compression, backend=backend)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--backend", choices=["asyncio", "trio"], action="append")
    parser.add_argument("--settle", type=float, default=SETTLE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    SETTLE = args.settle
    print("backend  side    compression  fresh KiB  after a message KiB")
    for backend in args.backend or ["asyncio", "trio"]:
        for side, measure in [("server", measure_server), ("client", measure_client)]:
            for compression in ["deflate", "none"]:
                row = []
                for exchange in [False, True]:
                    tracemalloc.start()
                    try:
                        run = functools.partial(
                            measure, backend, compression, exchange, args.connections
                        )
                        row.append(anyio.run(run, backend=backend))
                    finally:
                        tracemalloc.stop()
                fresh, used = row
                print(f"{backend:8} {side:7} {compression:12} {fresh:9.1f}  {used:19.1f}")


if __name__ == "__main__":
    main()
