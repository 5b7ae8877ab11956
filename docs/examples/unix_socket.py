"""A server on a Unix socket, as behind a reverse proxy on the same host.

``unix_serve()`` takes a path (the socket file is removed when the server stops);
``unix_connect()`` connects to it. Needs a POSIX system.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import anyio

import anyio_ws


async def handler(ws: anyio_ws.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "app.sock")
        async with anyio_ws.unix_serve(handler, path) as server:
            print(f"listening on the socket file: {server.addresses == [path]}")
            async with anyio_ws.unix_connect(path) as ws:  # Host: localhost, path /
                await ws.send("over a Unix socket")
                print(f"received {await ws.recv()!r}")
        print(f"socket file removed: {not await anyio.Path(path).exists()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
