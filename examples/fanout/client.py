"""A fan-out client: ``python examples/fanout/client.py [--uri ws://127.0.0.1:8765/] [--send 5]``.

Prints every message it receives, one JSON object a line. With ``--send N`` it also
sends N messages ``{"sender": ..., "seq": 0..N-1, "t_send": ...}`` after each hello,
``--interval`` seconds apart. When the server process goes away the reconnecting
client connects again (the kernel hands the connection to a surviving process on the
same port) and goes on. ``--exit-after M`` stops after M received messages. Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import anyio

import anyio_ws


async def send_numbered(
    ws: anyio_ws.ClientConnection, sender: str, count: int, interval: float
) -> None:
    """Send ``count`` numbered messages on ``ws``; stop quietly if it closes."""
    try:
        for seq in range(count):
            message = {"sender": sender, "seq": seq, "t_send": time.monotonic()}
            await ws.send(json.dumps(message))
            await anyio.sleep(interval)
    except anyio_ws.ConnectionClosed:
        pass


async def main(uri: str, sender: str, count: int, interval: float, exit_after: int | None) -> None:
    received = 0
    async with anyio.create_task_group() as tg:
        async for ws in anyio_ws.connect(uri, task_group=tg):  # the next one after a loss
            async with anyio.create_task_group() as senders:
                try:
                    async for message in ws:
                        print(message, flush=True)
                        data = json.loads(message)
                        if data.get("type") == "hello" and count:
                            senders.start_soon(send_numbered, ws, sender, count, interval)
                        elif data.get("type") != "hello":
                            received += 1
                            if exit_after is not None and received >= exit_after:
                                tg.cancel_scope.cancel()
                except anyio_ws.ConnectionClosed:
                    pass
                senders.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--uri", default="ws://127.0.0.1:8765/")
    parser.add_argument("--sender", default=f"client-{os.getpid()}")
    parser.add_argument("--send", type=int, default=0, metavar="N", help="messages to send")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between sends")
    parser.add_argument("--exit-after", type=int, default=None, metavar="M")
    args = parser.parse_args()
    anyio.run(
        main, args.uri, args.sender, args.send, args.interval, args.exit_after, backend=args.backend
    )
