"""A standalone echo server: ``python examples/server.py [--backend trio] [--port 8765]``.

Ctrl-C (SIGINT) or SIGTERM closes every connection with 1001 "going away", waits for
the handlers to finish, and exits with status 0. ``--port 0`` picks a free port; the
address is printed at start. Signal handling as written here needs a POSIX system.
"""

from __future__ import annotations

import argparse
import signal

import anyio

import anyio_ws


async def echo(ws: anyio_ws.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def main(host: str, port: int) -> None:
    # Listen for signals before serving, so that no signal can arrive unhandled.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio_ws.serve(echo, host, port) as server:
            print(f"listening on ws://{host}:{server.port}/ (Ctrl-C to stop)", flush=True)
            async for signum in signals:
                print(f"{signal.Signals(signum).name}: closing connections", flush=True)
                server.close(close_connections=True, code=1001)
                break
            await server.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    anyio.run(main, args.host, args.port, backend=args.backend)
