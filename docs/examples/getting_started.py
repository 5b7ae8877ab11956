"""Getting started: an echo server and a client, each in an ``async with`` block.

``python docs/examples/getting_started.py --backend asyncio`` (or ``trio``).
"""

from __future__ import annotations

import argparse
import asyncio

import anyio

import anyio_ws


async def echo(ws: anyio_ws.ServerConnection) -> None:
    # One handler call per connection; the loop ends when the client closes.
    print(f"server: new connection to {ws.request.path}")
    async for message in ws:  # str for text frames, bytes for binary ones
        await ws.send(message)


async def main() -> None:
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:  # port 0: any free port
        uri = f"ws://127.0.0.1:{server.port}/chat"
        async with anyio_ws.connect(uri) as ws:
            await ws.send("Hello")
            print(f"client: received {await ws.recv()!r}")
            await ws.send(b"\x00\x01")
            print(f"client: received {await ws.recv()!r}")
        # Leaving the block closed the connection with code 1000.
        print(f"client: closed with code {ws.close_code}")
    # Leaving serve() stopped the server: no task is left running.


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    if parser.parse_args().backend == "asyncio":
        asyncio.run(main())  # plain asyncio; anyio.run(main) works as well
    else:
        anyio.run(main, backend="trio")  # or trio.run(main)
