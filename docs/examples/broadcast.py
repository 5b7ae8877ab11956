"""``broadcast()`` sends to many clients; one that stops reading is skipped.

The server broadcasts 100 messages of 128 KiB to two clients. The fast one reads
each message before the next is broadcast; the slow one reads nothing. Once the
slow client's kernel buffers are full, its write buffer goes over ``write_limit``
and ``broadcast()`` skips it (a WARNING each time), so the server never holds more
than about ``write_limit`` plus one message for it, however long it stalls.
"""

from __future__ import annotations

import argparse
import logging

import anyio

import anyio_ws

COUNT = 100
SIZE = 128 * 1024


class CountSkips(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("skipped broadcast"):
            self.count += 1


async def main() -> None:
    both_connected = anyio.Event()

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        assert ws.server is not None
        if len(ws.server.connections) == 2:
            both_connected.set()
        await ws.wait_closed()  # the broadcasting happens below

    skips = CountSkips()
    logging.getLogger("anyio_ws.server").addHandler(skips)
    # compression=None: the point is the bytes on the wire, zlib would shrink them.
    async with anyio_ws.serve(handler, "127.0.0.1", 0, compression=None) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        async with (
            anyio_ws.connect(uri, max_queue=1, close_timeout=1) as slow,
            anyio_ws.connect(uri) as fast,
        ):
            await both_connected.wait()
            received = 0
            for number in range(COUNT):
                anyio_ws.broadcast(server.connections, number.to_bytes(4, "big") * (SIZE // 4))
                await fast.recv()  # the fast client keeps up
                received += 1
            print(f"fast client received {received} of {COUNT} messages")
            print(f"slow client was skipped: {skips.count > 0}")
            # The slow client's reader is paused (its queue is full); closing lifts the
            # bound, so it reads on, sees the server's answer, and closes cleanly.
            await slow.close()
            print(f"slow client closed with {slow.close_code}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
