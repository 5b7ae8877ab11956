"""What anyio_ws logs, and how to see it: the standard ``logging`` module.

The server logs on ``anyio_ws.server``, the client on ``anyio_ws.client``. Here INFO
is on for both and DEBUG (every frame) for the client only. Records are printed
without their traceback, to keep the output short; a real handler prints it.
"""

from __future__ import annotations

import argparse
import logging

import anyio

import anyio_ws


class PrintRecords(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        traceback = " [+ traceback]" if record.exc_info else ""
        print(f"{record.levelname} {record.name}: {record.getMessage()}{traceback}")


async def handler(ws: anyio_ws.ServerConnection) -> None:
    message = await ws.recv()
    if message == "fail":
        raise RuntimeError("a bug in the handler")
    await ws.send(message)


async def main() -> None:
    logging.getLogger("anyio_ws").addHandler(PrintRecords())
    logging.getLogger("anyio_ws").setLevel(logging.INFO)
    # Set DEBUG before connecting: a connection checks the level once, when it starts.
    logging.getLogger("anyio_ws.client").setLevel(logging.DEBUG)

    async with anyio_ws.serve(handler, "127.0.0.1", 0, origins=["https://example.com"]) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        try:
            async with anyio_ws.connect(uri, origin="https://evil.example"):
                pass
        except anyio_ws.InvalidStatus as exc:
            print(f"client: {exc}")
        # Without compression, so that frames are logged as readable text: the log
        # shows payloads as they are on the wire, compressed when compression is on.
        async with anyio_ws.connect(uri, origin="https://example.com", compression=None) as ws:
            await ws.send("fail")
            await ws.wait_closed()
            print(f"client: closed with {ws.close_code} {ws.close_reason!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
