"""Collect the pieces of a message so that tiny pieces cost O(1) memory per byte.

A peer may send a message in one-byte (or empty) fragments: kept as one ``bytes`` or
``str`` each, they would cost ~56 bytes of object header per payload byte, far beyond
``max_size``. ``append_part`` joins small neighbours as they arrive instead, the way a
binary counter carries: two pieces merge when the older is no larger than the newer and
both are under ``MERGE_BELOW`` bytes. The small pieces at the end of the list then have
strictly decreasing sizes (at most ~13 of them), so a list holds about one object per
``MERGE_BELOW`` bytes, and each byte is copied at most ~13 times (amortised, at most one
join per append). Pieces of ``MERGE_BELOW`` bytes or more are never copied here.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["MERGE_BELOW", "append_part"]

MERGE_BELOW = 4096
"""Pieces shorter than this are joined with their neighbours as they arrive."""

_AnyStr = TypeVar("_AnyStr", str, bytes)


def append_part(parts: list[_AnyStr], part: _AnyStr, start: int = 0) -> None:
    """Append ``part`` to ``parts``, joining small pieces at or after index ``start``.

    Pieces before ``start`` (already handed out) are left alone. An empty ``part`` is
    only kept when no piece follows ``start``, so that there is something to hand out.
    """
    if not part:
        if len(parts) <= start:
            parts.append(part)
        return
    parts.append(part)
    while len(parts) - start >= 2:
        older, newer = parts[-2], parts[-1]
        if len(older) > len(newer) or len(newer) >= MERGE_BELOW:
            return
        del parts[-1]
        parts[-1] = older + newer
