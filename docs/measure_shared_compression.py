"""What ``serve(shared_compression=True)`` saves and costs, on a stream of JSON messages.

Sans-I/O: server-side ``Protocol`` objects negotiated as ``serve()`` negotiates them
(permessage-deflate, 12-bit windows, ``memLevel=5``), each message sent to every one of
them, as ``broadcast()`` does, and the frames they would write counted. Three ways:

* per connection, with context takeover: the default, each connection compresses
  every message with its own history;
* per connection, without context takeover: what ``shared_compression=True``
  negotiates, but compressed once per connection (to separate the ratio's cost from
  the CPU's);
* shared: without context takeover, compressed once per message for all connections;

and, for scale, without compression (one shared frame too).

Run: ``python docs/measure_shared_compression.py [--connections N] [--messages N]``.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from anyio_ws.core.extensions.permessage_deflate import PerMessageDeflate
from anyio_ws.core.frames import Opcode, PreparedMessage
from anyio_ws.core.protocol import Protocol, Side

WINDOW_BITS = 12
MEM_LEVEL = 5


def json_messages(count: int, seed: int = 7) -> list[bytes]:
    """Ticks of a live dashboard: the same keys, changing values, some text."""
    rng = random.Random(seed)
    symbols = ["ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI", "STARK", "WAYNE", "TYRELL"]
    notes = ["", "halted", "new high", "dividend", "split 2:1", "earnings beat"]
    messages = []
    for number in range(count):
        tick = {
            "type": "tick",
            "seq": number,
            "symbol": rng.choice(symbols),
            "price": round(rng.uniform(10, 500), 2),
            "change": round(rng.uniform(-5, 5), 2),
            "volume": rng.randrange(100, 100_000),
            "bid": round(rng.uniform(10, 500), 2),
            "ask": round(rng.uniform(10, 500), 2),
            "note": rng.choice(notes),
            "ts": 1_765_000_000_000 + number * 137,
        }
        messages.append(json.dumps(tick).encode())
    return messages


def servers(count: int, *, takeover: bool | None) -> list[Protocol]:
    """``count`` server protocols with permessage-deflate as ``serve()`` negotiates it
    (``takeover=None``: without compression)."""
    if takeover is None:
        return [Protocol(Side.SERVER) for _ in range(count)]
    return [
        Protocol(
            Side.SERVER,
            extensions=[
                PerMessageDeflate(
                    local_no_context_takeover=not takeover,
                    local_max_window_bits=WINDOW_BITS,
                    remote_max_window_bits=WINDOW_BITS,
                    compress_settings={"memLevel": MEM_LEVEL},
                )
            ],
        )
        for _ in range(count)
    ]


def measure(
    protocols: list[Protocol], messages: list[bytes], *, share: bool
) -> tuple[float, float]:
    """CPU microseconds and wire bytes per delivered message, as broadcast() sends."""
    wire = 0
    start = time.process_time()
    for message in messages:
        if share:
            prepared = PreparedMessage(Opcode.TEXT, message)
            for protocol in protocols:
                assert protocol.send_prepared(prepared)
        else:
            for protocol in protocols:
                protocol.send_text(message)
        for protocol in protocols:
            wire += sum(map(len, protocol.data_to_send()))
    cpu = time.process_time() - start
    delivered = len(messages) * len(protocols)
    return cpu / delivered * 1e6, wire / delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    messages = json_messages(args.messages)
    raw = sum(map(len, messages)) / len(messages)
    print(
        f"{args.messages} JSON messages of {raw:.0f} bytes on average, "
        f"each to {args.connections} connections"
    )
    print(f"{'':44} {'CPU per delivery':>17} {'bytes on the wire':>18}")
    rows = [
        ("per connection, context takeover (default)", True, False),
        ("per connection, no context takeover", False, False),
        ("shared (shared_compression=True)", False, True),
        ("uncompressed (compression=None)", None, True),
    ]
    for name, takeover, share in rows:
        protocols = servers(args.connections, takeover=takeover)
        cpu, wire = measure(protocols, messages, share=share)
        print(f"{name:44} {cpu:14.2f} µs {wire:18.1f}")


if __name__ == "__main__":
    main()
