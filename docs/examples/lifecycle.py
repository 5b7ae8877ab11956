"""What a handler can count on when its connection ends.

The handler below starts a task that reads messages, then waits on something that
has nothing to do with the connection. The client sends two messages and closes
at once. Every message still reaches the handler; the reading task gets
``ConnectionClosed``; the blocked handler is cancelled; its shielded clean-up runs.
"""

from __future__ import annotations

import argparse

import anyio

import anyio_ws


async def reader(ws: anyio_ws.ServerConnection) -> None:
    try:
        while True:
            print(f"reader: {await ws.recv()!r}")
    except anyio_ws.ConnectionClosed as exc:
        # Not a bare cancellation: the connection tells why it ended.
        print(f"reader: {type(exc).__name__}, close code {ws.close_code}")


async def handler(ws: anyio_ws.ServerConnection) -> None:
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader, ws)
            await anyio.sleep_forever()  # blocked on something else: a queue, a lock...
    finally:
        # Cancelled once the connection is over and every message was read. Async
        # clean-up needs a shielded scope, or its first await is cancelled too.
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.01)  # say, saving the session somewhere
            print("handler: cancelled, clean-up done")


async def main() -> None:
    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("first")
            await ws.send("second")
        # Leaving serve() waits for the handler (close_timeout at most).


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
