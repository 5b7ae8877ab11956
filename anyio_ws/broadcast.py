"""Send one message to many connections without letting a slow one hold up the rest.

``broadcast()`` is synchronous: it encodes the message once, then hands it to every
connection that can take it and returns. A connection that is not writing already
writes it at once where its stream takes bytes without waiting (asyncio's transport, a
plain socket on trio), so the common case starts no task; the rest is written by the
connection's send-lock holder or, for a slow reader, by one flush task. Connections
that encode the message alike share one frame: all uncompressed ones, and compressed
ones without context takeover (``serve(shared_compression=True)``) with the same
settings; the others compress it each with their own context. A connection whose write
buffer is over its ``write_limit`` (a client that stopped reading) is skipped, and
the skip is logged, so memory stays bounded whatever the clients do.
``abroadcast()`` first waits, at most ``timeout`` seconds, for each connection to have
room, then queues the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import anyio

from .connection import Connection, Refusal
from .core.frames import Opcode, PreparedMessage
from .exceptions import ConcurrencyError
from .typing import DataLike

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = ["abroadcast", "broadcast"]


def broadcast(
    connections: Iterable[Connection], message: DataLike, raise_exceptions: bool = False
) -> None:
    """Queue ``message`` on every open connection; never waits.

    Skips connections that are not open (silently), that are in the middle of sending
    a fragmented message, or whose write buffer is over ``write_limit``; each of these
    skips is logged as a warning on the connection's logger. With
    ``raise_exceptions=True`` they are raised instead, together, as an
    ``ExceptionGroup`` of ``ConcurrencyError`` once every other connection has the
    message. A ``str`` is sent as text, bytes-like as binary, encoded once for all.
    """
    payload, text = _encode(message)
    prepared = PreparedMessage(Opcode.TEXT if text else Opcode.BINARY, payload)
    refused: list[Exception] = []
    for connection in connections:
        refusal = connection.try_send(payload, text, prepared)
        if refusal is not None and refusal is not Refusal.NOT_OPEN:
            _skipped(connection, refusal, raise_exceptions, refused)
    if refused:
        raise ExceptionGroup("skipped broadcast", refused)


async def abroadcast(
    connections: Iterable[Connection],
    message: DataLike,
    *,
    timeout: float | None = 10,  # noqa: ASYNC109 (skips, where fail_after would raise)
    raise_exceptions: bool = False,
) -> None:
    """Like ``broadcast()``, but first wait up to ``timeout`` for each connection to have room.

    Waits for all connections concurrently, so the whole call takes at most
    ``timeout`` seconds (``None``: no bound). Connections still full then are skipped
    and logged (or raised, as in ``broadcast()``). A message is never cut short: it
    is queued whole or not at all.
    """
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
    payload, text = _encode(message)
    prepared = PreparedMessage(Opcode.TEXT if text else Opcode.BINARY, payload)
    refused: list[Exception] = []

    async def send_one(connection: Connection) -> None:
        with anyio.move_on_after(float("inf") if timeout is None else timeout):
            await connection.wait_writable()
        refusal = connection.try_send(payload, text, prepared)
        if refusal is not None and refusal is not Refusal.NOT_OPEN:
            _skipped(connection, refusal, raise_exceptions, refused)

    async with anyio.create_task_group() as group:
        for connection in connections:
            refusal = connection.try_send(payload, text, prepared)
            if refusal is not None:  # not queued: wait for room
                group.start_soon(send_one, connection)
    if refused:
        raise ExceptionGroup("skipped broadcast", refused)


def _encode(message: DataLike) -> tuple[bytes, bool]:
    if isinstance(message, str):
        return message.encode(), True
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message), False
    raise TypeError(f"message must be str or bytes-like, not {type(message).__name__}")


def _skipped(
    connection: Connection, refusal: Refusal, raise_exceptions: bool, refused: list[Exception]
) -> None:
    if raise_exceptions:
        refused.append(ConcurrencyError(f"skipped broadcast to {connection.id}: {refusal.value}"))
    else:
        connection.logger.warning("skipped broadcast: %s", refusal.value)
