"""Fan-out over processes: ``python examples/fanout/server.py --redis redis://127.0.0.1:6379``.

Run several of these on ONE port (``reuse_port=True``: the kernel spreads new
connections over them); Redis pub/sub carries every message to all of them. Each
process sends ``{"type": "hello", "pid": ...}`` to a new client, publishes every
message a client sends (a JSON object with ``"sender"`` and ``"seq"``) on the Redis
channel, and relays every message of that channel to all of its own clients with
``broadcast()``, which never waits for a slow client. Messages from one connection are
published one after the other, so each client sees each sender's messages in order.
``--timestamps`` adds ``"t_publish"`` and ``"t_relay"`` (``time.monotonic()``, shared by
the processes of one host) to measure each hop. Ctrl-C or SIGTERM closes the local
connections with 1001 "going away" and exits 0. Needs ``pip install coredis``
(Redis on anyio: the same code runs on asyncio and trio) and a POSIX system.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from typing import Any

import anyio
import coredis
import coredis.exceptions

import anyio_ws

MAX_SIZE = 65536  # bytes in a client's message


def parse(message: str | bytes) -> dict[str, Any]:
    """The client's message as a JSON object; ``ValueError`` says what is wrong with it."""
    if isinstance(message, bytes):
        raise ValueError("send JSON as text, not binary")
    try:
        data = json.loads(message)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(data, dict) or "sender" not in data or "seq" not in data:
        raise ValueError('expected {"sender": ..., "seq": ..., ...}')
    if "type" in data:  # keep "type" for what servers send: no forged hellos
        raise ValueError('"type" is reserved for the server')
    return data


class Fanout:
    """One process's share: publish what local clients send, relay what Redis brings."""

    def __init__(self, redis: coredis.Redis[str], channel: str, timestamps: bool) -> None:
        self.redis = redis
        self.channel = channel
        self.timestamps = timestamps

    async def handler(self, ws: anyio_ws.ServerConnection) -> None:
        """Greet the client, then publish each of its messages, in order, one at a time."""
        await ws.send(json.dumps({"type": "hello", "pid": os.getpid()}))
        async for message in ws:
            try:
                data = parse(message)
            except ValueError as exc:
                await ws.send(json.dumps({"type": "error", "error": str(exc)}))
                continue
            if self.timestamps:
                data["t_publish"] = time.monotonic()
            try:
                # Awaiting each publish keeps one sender's messages in order on the bus.
                await self.redis.publish(self.channel, json.dumps(data))
            except (coredis.exceptions.ConnectionError, TimeoutError):
                # At most once: say so, and let the client decide whether to send again.
                error = {"type": "error", "error": "not delivered: Redis is unavailable"}
                await ws.send(json.dumps({**error, "seq": data["seq"]}))

    async def relay(
        self, pubsub: coredis.patterns.pubsub.PubSub[str], server: anyio_ws.Server
    ) -> None:
        """Send every message of the channel to every local client; never wait for one."""
        async for message in pubsub:
            if message["type"] != "message":
                continue
            text = str(message["data"])
            if self.timestamps:
                data = json.loads(text)
                data["t_relay"] = time.monotonic()
                text = json.dumps(data)
            anyio_ws.broadcast(server.connections, text)


async def main(host: str, port: int, redis_url: str, channel: str, timestamps: bool) -> None:
    # Listen for signals before serving, so that no signal can arrive unhandled.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with (
            coredis.Redis.from_url(redis_url, decode_responses=True) as redis,
            # Subscribed before listening: no client can miss a message published later.
            redis.pubsub(channels=[channel], ignore_subscribe_messages=True) as pubsub,
        ):
            fanout = Fanout(redis, channel, timestamps)
            async with (
                anyio_ws.serve(
                    fanout.handler, host, port, reuse_port=True, max_size=MAX_SIZE
                ) as server,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(fanout.relay, pubsub, server)
                print(f"listening on ws://{host}:{server.port}/ pid {os.getpid()}", flush=True)
                async for signum in signals:
                    print(f"{signal.Signals(signum).name}: closing connections", flush=True)
                    server.close(close_connections=True, code=1001)
                    break
                await server.wait_closed()
                tg.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis URL")
    parser.add_argument("--channel", default="fanout", help="Redis pub/sub channel")
    parser.add_argument("--timestamps", action="store_true", help="stamp each hop")
    args = parser.parse_args()
    anyio.run(
        main, args.host, args.port, args.redis, args.channel, args.timestamps, backend=args.backend
    )
