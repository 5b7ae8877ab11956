"""Timeouts with anyio's own tools: ``recv()`` is cancel-safe.

A ``recv()`` cut short by ``move_on_after`` or ``fail_after`` loses nothing: the
message it would have returned stays queued for the next call. ``open_timeout``
bounds connecting and the opening handshake.
"""

from __future__ import annotations

import argparse

import anyio
import anyio.abc

import anyio_ws


async def handler(ws: anyio_ws.ServerConnection) -> None:
    # Answer each request only when the client says "go".
    async for message in ws:
        if message == "go":
            await ws.send("the answer")


async def silent(stream: anyio.abc.SocketStream) -> None:
    # A TCP server that never answers the opening handshake.
    async with stream:
        await anyio.sleep_forever()


async def main() -> None:
    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            with anyio.move_on_after(0.1) as scope:
                await ws.recv()
            print(f"move_on_after: gave up waiting: {scope.cancelled_caught}")

            try:
                with anyio.fail_after(0.1):
                    await ws.recv()
            except TimeoutError:
                print("fail_after: TimeoutError")

            await ws.send("go")
            # Whatever arrives after a cancelled recv() is there for the next one.
            with anyio.fail_after(5):
                print(f"recv: {await ws.recv()!r}")

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, silent)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        try:
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/", open_timeout=0.2):
                pass
        except TimeoutError:
            print("connect: TimeoutError after open_timeout")
        tg.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
