"""Fragmented messages: send one piece by piece, receive one as it arrives.

``send()`` given an iterable (or an async iterable) sends one message, one frame per
item; ``recv_streaming()`` yields the fragments of the next message as they come,
so neither side holds the whole message at once.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import anyio

import anyio_ws


async def handler(ws: anyio_ws.ServerConnection) -> None:
    sizes = []
    async for fragment in ws.recv_streaming():
        sizes.append(len(fragment))
    # 4 fragments of 1000 bytes, and the empty frame that ends an async iterable's
    # message (its end is known only when the iterable is exhausted).
    await ws.send(f"received {len(sizes)} fragments, {sum(sizes)} bytes")
    await ws.send(b"binary as text", text=True)  # bytes already UTF-8, sent as text
    await ws.send(["several ", "text ", "frames"])


async def chunks() -> AsyncIterator[bytes]:
    for number in range(4):  # produced one at a time, as when reading a file
        yield bytes([number]) * 1000


async def main() -> None:
    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send(chunks())
            print(await ws.recv())
            print(repr(await ws.recv()))
            print(repr(await ws.recv(decode=False)))  # a text message as UTF-8 bytes


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
