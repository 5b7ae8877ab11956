"""An echo server and a client talking to it, in one process.

Run ``python examples/echo.py`` for asyncio, add ``--backend trio`` for trio (which
``pip install -e '.[trio]'`` installs).
"""

from __future__ import annotations

import argparse
import sys

import anyio

import anyio_ws


async def echo(ws: anyio_ws.ServerConnection) -> None:
    """Send every message back; the loop ends when the client closes."""
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        print(f"server listening on {uri}")
        async with anyio_ws.connect(uri) as ws:
            for message in ["Hello", "WebSocket", b"\x00\x01 bytes too"]:
                await ws.send(message)
                print(f"> {message!r}")
                print(f"< {await ws.recv()!r}")
            latency = await (await ws.ping())
            print(f"ping answered in {latency * 1000:.2f} ms")
        print(f"client closed with code {ws.close_code}")


def check_backend(backend: str) -> None:
    """Exit with a clear message, not anyio's ``LookupError``, when trio is missing."""
    if backend != "trio":
        return
    try:
        import trio  # noqa: F401
    except ImportError:
        sys.exit(
            "examples/echo.py: --backend trio needs trio, which is not installed here; "
            "install it with: pip install -e '.[trio]'"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    backend = parser.parse_args().backend
    check_backend(backend)
    anyio.run(main, backend=backend)
