"""Several worker processes serving one port: ``serve(..., reuse_port=True)``.

A WebSocket server runs in one thread; to use several cores, run several processes
that all listen on the same port, and let the kernel spread new connections among
them (``SO_REUSEPORT``: Linux and BSDs). Here the parent starts two workers and
opens 20 connections; each worker answers with its process id.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

import anyio_ws


async def handler(ws: anyio_ws.ServerConnection) -> None:
    await ws.send(str(os.getpid()))


async def worker(port: int) -> None:
    """One worker process: serve until the parent closes our standard input."""
    async with anyio_ws.serve(handler, "127.0.0.1", port, reuse_port=True):
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


async def main(backend: str) -> None:
    # Reserve a free port for the workers: bound, with SO_REUSEPORT, never listening
    # (so it gets no connections).
    with socket.socket() as reserved:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        command = [sys.executable, __file__, "--backend", backend, "--worker", str(port)]
        workers = [await anyio.open_process(command) for _ in range(2)]
        for process in workers:
            assert process.stdout is not None
            line = await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 100)
            assert line == b"ready", line
        pids = set()
        for _ in range(20):
            async with anyio_ws.connect(f"ws://127.0.0.1:{port}/") as ws:
                pids.add(await ws.recv())
        print(f"{len(pids)} worker processes answered")
        for process in workers:
            assert process.stdin is not None
            await process.stdin.aclose()
            print(f"worker exited with status {await process.wait()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--worker", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        anyio.run(worker, args.worker, backend=args.backend)
    else:
        anyio.run(main, args.backend, backend=args.backend)
