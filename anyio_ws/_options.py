"""Argument checks that ``serve()`` and ``connect()`` share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["check_limit", "with_compression"]

Factory = TypeVar("Factory")


def check_limit(
    name: str, value: int | None | tuple[int | None, int | None], *, pair: bool = False
) -> None:
    """Raise at the call, not later in a task, for a limit that is not positive or None.

    With ``pair=True`` a 2-tuple of such limits is accepted too (``max_size`` as
    ``(message_limit, fragment_limit)``).
    """
    if pair and isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{name} must be a pair (message, fragment), not {value!r}")
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
