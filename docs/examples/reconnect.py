"""A client that reconnects: ``async for ws in connect(...)``.

Each turn of the loop gets a new connection; when one is lost, ask for the next.
Failed attempts are retried with exponential back-off (``reconnect_delays``), while
errors that retrying cannot fix (a 403, a bad URI) end the loop. It is written as
websockets users write it: leaving the loop (``break``, ``return``, an exception)
closes the last connection with 1000, with no task group and no ``aclosing()``.
"""

from __future__ import annotations

import argparse

import anyio

import anyio_ws

connections = 0


async def handler(ws: anyio_ws.ServerConnection) -> None:
    global connections
    connections += 1
    if connections == 1:
        await ws.close(1012, "service restart")  # as a server being redeployed would
        return
    await ws.send(f"welcome back, connection #{connections}")


async def main() -> None:
    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        async for ws in anyio_ws.connect(uri):
            try:
                print(await ws.recv())
                break  # done: leaving the loop closes this connection
            except anyio_ws.ConnectionClosed:
                print(f"lost: {ws.close_code} {ws.close_reason}; reconnecting")
                continue


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
