"""The options that ``serve()`` and ``connect()`` share, checked once per call.

``ConnectionOptions`` holds the options of every connection a call opens and builds
each one's protocol and connection, the same way on both sides; the ``check_*``
helpers raise at the call for values that cannot work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from anyio.abc import ByteStream

from .core.extensions.base import Extension
from .core.protocol import Protocol, Side
from .typing import LoggerLike

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "ConnectionOptions",
    "OptionAttributes",
    "check_limit",
    "check_seconds",
    "parse_write_limit",
    "with_compression",
]

Factory = TypeVar("Factory")


def check_limit(
    name: str, value: int | None | tuple[int | None, int | None], *, pair: bool = False
) -> None:
    """Raise at the call, not later in a task, for a limit that is not positive or None.

    With ``pair=True`` a 2-tuple of such limits is accepted too (``max_size`` as
    ``(message_limit, fragment_limit)``, ``max_queue`` as ``(high, low)``).
    """
    if pair and isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number, None or a pair, not {value!r}")
        for part in value:
            check_limit(name, part)
        return
    if value is not None and (not isinstance(value, int) or value <= 0):
        raise ValueError(f"{name} must be a positive integer or None, not {value!r}")


def with_compression(
    compression: str | None,
    extensions: Sequence[Factory] | None,
    enable_deflate: Callable[[Sequence[Factory] | None], list[Factory]],
) -> list[Factory]:
    """The extension factories to use, with permessage-deflate unless it is off."""
    if compression == "deflate":
        return enable_deflate(extensions)
    if compression is not None:
        raise ValueError(f"unsupported compression: {compression!r} (use 'deflate' or None)")
    return list(extensions or ())


def parse_write_limit(value: int | tuple[int, int | None]) -> tuple[int, int]:
    """``write_limit`` as ``(high, low)``: an int is the high mark, low defaults to high // 4."""
    if isinstance(value, tuple) and len(value) == 2:
        high, low = value
    elif isinstance(value, int) and not isinstance(value, bool):
        high, low = value, None
    else:
        raise TypeError(f"write_limit must be an int or a (high, low) tuple, not {value!r}")
    if low is None:
        low = high // 4
    if not isinstance(high, int) or not isinstance(low, int) or not 0 <= low <= high:
        raise ValueError(f"write_limit needs 0 <= low <= high, not {value!r}")
    return high, low


def check_seconds(name: str, value: float | None) -> None:
    """Raise at the call for a duration that is not a positive number or None."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, not {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be positive or None, not {value!r}")


ConnectionT = TypeVar("ConnectionT", bound="Connection")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOptions:
    """The options every connection of one ``serve()`` or ``connect()`` gets, checked.

    Built once per call, so that a mistake raises at the call rather than on every
    connection, and shared as it is by all the connections of that call: building a
    protocol or a connection reads it and copies nothing. The fields are the public
    options of the same names; ``logger`` is the one already chosen for the side.

    Raises:
        TypeError, ValueError: an option that cannot work, named in the message.
    """

    max_size: int | None | tuple[int | None, int | None]
    max_queue: int | None | tuple[int | None, int | None]
    open_timeout: float | None
    close_timeout: float | None
    ping_interval: float | None
    ping_timeout: float | None
    write_limit: int | tuple[int, int | None]
    logger: LoggerLike

    def __post_init__(self) -> None:
        check_limit("max_size", self.max_size, pair=True)
        check_limit("max_queue", self.max_queue, pair=True)
        check_seconds("open_timeout", self.open_timeout)
        check_seconds("close_timeout", self.close_timeout)
        check_seconds("ping_interval", self.ping_interval)
        check_seconds("ping_timeout", self.ping_timeout)
        parse_write_limit(self.write_limit)

    def protocol(
        self, side: Side, extensions: Sequence[Extension] = (), trailing_data: bytes = b""
    ) -> Protocol:
        """The sans-I/O protocol of a connection whose opening handshake is done.

        ``extensions`` are the ones the handshake negotiated, and ``trailing_data``
        the bytes the peer sent after it (its first frames, if any).
        """
        return Protocol(
            side,
            max_size=self.max_size,
            extensions=extensions,
            trailing_data=trailing_data,
            logger=self.logger,
            stream_fragments=True,
        )

    def connection(
        self,
        create_connection: Callable[..., ConnectionT],
        stream: ByteStream,
        protocol: Protocol,
        **side_specific: Any,
    ) -> ConnectionT:
        """A connection over ``stream`` from the user's ``create_connection``.

        ``side_specific`` holds what only one side passes: ``server=`` on the server,
        ``request=``, ``response=`` and ``subprotocol=`` on the client.
        """
        return create_connection(
            stream,
            protocol,
            max_queue=self.max_queue,
            close_timeout=self.close_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            write_limit=self.write_limit,
            logger=self.logger,
            **side_specific,
        )


class OptionAttributes:
    """The connection options as read-only attributes of ``serve`` and ``connect``.

    They were plain attributes before the options had an object of their own;
    users and tests read them (``serve(...).max_queue``), so they stay.
    """

    options: ConnectionOptions

    @property
    def max_size(self) -> int | None | tuple[int | None, int | None]:
        return self.options.max_size

    @property
    def max_queue(self) -> int | None | tuple[int | None, int | None]:
        return self.options.max_queue

    @property
    def open_timeout(self) -> float | None:
        return self.options.open_timeout

    @property
    def close_timeout(self) -> float | None:
        return self.options.close_timeout

    @property
    def ping_interval(self) -> float | None:
        return self.options.ping_interval

    @property
    def ping_timeout(self) -> float | None:
        return self.options.ping_timeout

    @property
    def write_limit(self) -> int | tuple[int, int | None]:
        return self.options.write_limit

    @property
    def logger(self) -> LoggerLike:
        return self.options.logger
