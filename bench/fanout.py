"""Workloads (f) and (fz), broadcast fan-out: what the server and the generator share.

The generator holds ``Settings.fanout_connections`` client connections to the server.
Its first connection asks for a round of messages with one text message,
``request(start, count, clients)``; the server sends ``message(seq)`` for every ``seq``
of the round to every connected client, yielding to its event loop between two
messages. The generator asks for the next round once every client has received the
whole round, so that write buffers never hold more than one round and no library has a
legitimate reason to skip a slow client.

Each message is 64 bytes of ASCII text that carries its sequence number, so that the
generator can tell a missing, duplicated or reordered message from a correct one. The
raw baselines write the same message as an unmasked WebSocket text frame
(``frame(seq)``), built once per message, so that the generator parses both alike.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

import anyio

from . import wsframes

SIZE = 64
"""Bytes per message."""

_FILLER = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
_HEAD = "seq={:012d};"
REGISTER_TIMEOUT = 10.0
"""Seconds a server waits for every client to be registered before a round."""

C = TypeVar("C", bound=Hashable)


def message(seq: int) -> str:
    """The 64-byte text message number ``seq``.

    The filler rotates with ``seq``: consecutive messages are alike (as the updates of a
    live feed are), not identical.
    """
    head = _HEAD.format(seq)
    shift = seq % len(_FILLER)
    tail = _FILLER[shift:] + _FILLER[:shift]
    return head + tail[: SIZE - len(head)]


def seq_of(payload: bytes) -> int | None:
    """The sequence number in a received payload; None if it has none."""
    head = payload[: len(_HEAD.format(0))]
    if not (head.startswith(b"seq=") and head.endswith(b";")):
        return None
    try:
        return int(head[4:-1])
    except ValueError:
        return None


def frame(seq: int) -> bytes:
    """Message ``seq`` as an unmasked text frame: what the raw baselines write."""
    return wsframes.frame(wsframes.OP_TEXT, message(seq).encode())


FRAME_SIZE = len(frame(0))


def request(start: int, count: int, clients: int) -> str:
    """The round request: send ``count`` messages from ``start`` to ``clients`` clients."""
    return f"round {start} {count} {clients}"


def parse_request(data: str | bytes) -> tuple[int, int, int]:
    text = data.decode() if isinstance(data, (bytes, bytearray, memoryview)) else data
    word, start, count, clients = text.split()
    if word != "round":
        raise ValueError(f"not a round request: {text!r}")
    return int(start), int(count), int(clients)


class Room(Generic[C]):
    """The server's set of connected clients; what every fan-out adapter keeps.

    A handler adds its connection once it is open and discards it when it ends.
    """

    def __init__(self) -> None:
        self.clients: set[C] = set()

    async def round(self, data: str | bytes) -> range:
        """Parse a round request; wait until every client it counts is registered.

        The generator asks for the first round once its last handshake has completed,
        which may be a moment before that connection's handler has registered itself.
        """
        start, count, expected = parse_request(data)
        if len(self.clients) < expected:
            with anyio.move_on_after(REGISTER_TIMEOUT):  # then the generator reports it
                # Polled, not an Event: handlers register from callbacks (picows) too.
                while len(self.clients) < expected:  # noqa: ASYNC110
                    await anyio.sleep(0.001)
        return range(start, start + count)
