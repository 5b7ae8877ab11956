"""Test a handler in memory with ``anyio_ws.testing``: no socket, no port.

In a real test suite the two functions below are pytest tests under anyio's plugin
(``@pytest.mark.anyio``); here they run as a script on the chosen backend.
"""

from __future__ import annotations

import argparse

import anyio

import anyio_ws
from anyio_ws.testing import connect_in_memory, serve_in_memory


async def echo(ws: anyio_ws.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def test_echo() -> None:
    async with connect_in_memory(echo, "/chat") as ws:
        await ws.send("hi")
        assert await ws.recv() == "hi"


async def test_two_clients() -> None:
    async with serve_in_memory(echo) as server:
        async with server.connect("/a") as alice, server.connect("/b") as bob:
            await alice.send("from alice")
            await bob.send("from bob")
            assert await alice.recv() == "from alice"
            assert await bob.recv() == "from bob"


async def main() -> None:
    for test in (test_echo, test_two_clients):
        await test()
        print(f"{test.__name__}: passed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
