"""A standalone echo server: ``python examples/server.py [--backend trio] [--port 8765]``.

Ctrl-C closes every connection with 1001 and exits.
"""

from __future__ import annotations

import argparse

import anyio

import anyio_ws


async def echo(ws: anyio_ws.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def main(port: int) -> None:
    async with anyio_ws.serve(echo, "127.0.0.1", port) as server:
        print(f"listening on ws://127.0.0.1:{server.port}/ (Ctrl-C to stop)")
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    try:
        anyio.run(main, args.port, backend=args.backend)
    except KeyboardInterrupt:
        pass
