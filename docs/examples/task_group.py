"""Structured style: the server and the client live in a task group of yours.

``await task_group.start(serve(...))`` returns the ``Server`` once it listens;
``await connect(..., task_group=tg)`` runs the connection's reader task in ``tg``.
"""

from __future__ import annotations

import argparse

import anyio

import anyio_ws


async def handler(ws: anyio_ws.ServerConnection, path: str) -> None:
    # The classic two-parameter form: the request path comes as the second argument.
    async for message in ws:
        await ws.send(f"{path} says {message!r}")


async def main() -> None:
    async with anyio.create_task_group() as tg:
        server = await tg.start(anyio_ws.serve(handler, "127.0.0.1", 0))
        ws = await anyio_ws.connect(f"ws://127.0.0.1:{server.port}/echo", task_group=tg)
        await ws.send("hi")
        print(await ws.recv())
        await ws.close()
        print(f"client: closed with code {ws.close_code}")
        server.close()  # serve() returns, so the task group can exit
    print(f"server: {len(server.connections)} connections left")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
