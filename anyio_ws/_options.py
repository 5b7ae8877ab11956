"""Argument checks that ``serve()`` and ``connect()`` share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = [
    "check_connection_options",
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


def check_connection_options(
    *,
    max_size: int | None | tuple[int | None, int | None],
    max_queue: int | None | tuple[int | None, int | None],
    open_timeout: float | None,
    close_timeout: float | None,
    ping_interval: float | None,
    ping_timeout: float | None,
    write_limit: int | tuple[int, int | None],
) -> None:
    """The checks every connection's options go through, for ``serve()`` and ``connect()``."""
    check_limit("max_size", max_size, pair=True)
    check_limit("max_queue", max_queue, pair=True)
    for name, seconds in [
        ("open_timeout", open_timeout),
        ("close_timeout", close_timeout),
        ("ping_interval", ping_interval),
        ("ping_timeout", ping_timeout),
    ]:
        check_seconds(name, seconds)
    parse_write_limit(write_limit)
