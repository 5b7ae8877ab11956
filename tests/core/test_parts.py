"""append_part: small pieces of a message are joined as they arrive, large ones never copied."""

from __future__ import annotations

import sys

from anyio_ws.core._parts import MERGE_BELOW, append_part


def test_tiny_pieces_are_joined_into_few_objects() -> None:
    """100k one-byte pieces end up in a handful of objects, in order."""
    parts: list[bytes] = []
    data = bytes(i % 251 for i in range(100_000))
    for i in range(len(data)):
        append_part(parts, data[i : i + 1])
    assert b"".join(parts) == data
    assert len(parts) <= len(data) // MERGE_BELOW + 14
    assert sum(sys.getsizeof(part) for part in parts) <= 1.05 * len(data)


def test_text_pieces_are_joined_too() -> None:
    """str pieces join like bytes."""
    parts: list[str] = []
    for char in "héllo wörld€" * 1000:
        append_part(parts, char)
    assert "".join(parts) == "héllo wörld€" * 1000
    assert len(parts) < 20


def test_large_pieces_are_never_copied() -> None:
    """A piece of MERGE_BELOW bytes or more is kept as it is, even behind small ones."""
    big = bytes(MERGE_BELOW)
    parts: list[bytes] = [b"x"]
    append_part(parts, big)
    append_part(parts, b"y")
    assert parts[1] is big
    assert parts == [b"x", big, b"y"]


def test_pieces_before_start_are_left_alone() -> None:
    """Pieces already handed out (before ``start``) are not joined with new ones."""
    parts = [b"a", b"b"]
    append_part(parts, b"c", start=1)
    assert parts == [b"a", b"bc"]
    append_part(parts, b"d", start=2)
    assert parts == [b"a", b"bc", b"d"]


def test_empty_pieces_are_dropped_unless_nothing_is_pending() -> None:
    """An empty piece is kept only as the one piece to hand out; later ones add nothing."""
    parts: list[bytes] = [b"taken"]
    append_part(parts, b"", start=1)
    assert parts == [b"taken", b""]
    append_part(parts, b"", start=1)
    assert parts == [b"taken", b""]
    append_part(parts, b"z", start=1)
    assert parts == [b"taken", b"z"]


def test_by_default_every_piece_may_join() -> None:
    """Without ``start``, the first piece of the list joins the next small one."""
    parts: list[bytes] = []
    append_part(parts, b"a")
    append_part(parts, b"b")
    assert parts == [b"ab"]
    append_part(parts, b"")
    assert parts == [b"ab"]
