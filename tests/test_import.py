"""Importing anyio_ws, and using it from plain asyncio code."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import anyio_ws


def test_import_does_not_import_trio():
    """``import anyio_ws`` leaves trio out of sys.modules."""
    code = "import sys, anyio_ws; assert 'trio' not in sys.modules, 'trio was imported'"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_plain_asyncio_run_serves_and_connects():
    """Under a bare ``asyncio.run()`` (no anyio.run) serve() and connect() work."""

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> list[str | bytes]:
        async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
            async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("plain")
                await ws.send(b"asyncio")
                return [await ws.recv(), await ws.recv()]

    assert asyncio.run(asyncio.wait_for(main(), 10)) == ["plain", b"asyncio"]
