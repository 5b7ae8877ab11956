"""HTTP values of the opening handshake: headers, request, response.

These are plain data; ``core.handshake`` turns them into and out of h11 events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Headers", "HeadersLike", "Request", "Response"]


class Headers:
    """Case-insensitive, ordered, multi-valued HTTP headers.

    ``headers["Name"]`` returns the only value and raises ``KeyError`` when the header
    is missing; a repeated header is an error there (use ``get_all``), as a handshake
    must not guess which of two ``Sec-WebSocket-Key`` values is meant.
    """

    __slots__ = ("_items",)

    # Only the list of pairs is kept: a handshake has a dozen headers, so a scan is as
    # fast as a dict lookup, and every connection keeps its request for its lifetime.

    def __init__(self, items: HeadersLike | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        if items is not None:
            self.update(items)

    def update(self, items: HeadersLike) -> None:
        """Add every header of ``items`` (a mapping, pairs, or other ``Headers``)."""
        pairs = (
            items.raw_items()
            if isinstance(items, Headers)
            else (items.items() if isinstance(items, Mapping) else items)
        )
        for name, value in pairs:
            self[name] = value

    def __setitem__(self, name: str, value: str) -> None:
        """Append a header; it does not replace an existing one."""
        self._items.append((name, value))

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        if len(values) > 1:
            raise MultipleValuesError(name)
        return values[0]

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        kept = [(n, v) for n, v in self._items if n.lower() != key]
        if len(kept) == len(self._items):
            raise KeyError(name)
        self._items = kept

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(n.lower() == key for n, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._index() == other._index()

    __hash__ = None  # type: ignore[assignment]

    def _index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for name, value in self._items:
            index.setdefault(name.lower(), []).append(value)
        return index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The only value of ``name``, or ``default`` when it is missing."""
        try:
            return self[name]
        except KeyError:
            return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order; empty when it is missing."""
        key = name.lower()
        return [value for n, value in self._items if n.lower() == key]

    def raw_items(self) -> Iterator[tuple[str, str]]:
        """Every (name, value) pair, in the order added, names as written."""
        return iter(self._items)

    def copy(self) -> Headers:
        return Headers(self)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def __str__(self) -> str:
        return "".join(f"{name}: {value}\r\n" for name, value in self._items) + "\r\n"


class MultipleValuesError(LookupError):
    """``headers[name]`` was used on a header that appears more than once."""


HeadersLike = Headers | Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass
class Request:
    """The client's opening handshake request.

    ``path`` includes the query string, as in websockets.
    """

    path: str
    headers: Headers = field(default_factory=Headers)


# RFC 9110 section 15: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
_REASON_PHRASE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


@dataclass
class Response:
    """The server's opening handshake response (101, or an HTTP error with a body).

    ``reason_phrase`` is checked whenever it is set: h11 writes it as it is, so a
    CR or LF in it, from a hook, would end the status line and let whatever follows
    pass for headers. Header names and values need no such check: h11 refuses them.

    Raises:
        ValueError: ``reason_phrase`` holds a control character (CR, LF, NUL...).
    """

    status_code: int
    reason_phrase: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "reason_phrase" and (
            not isinstance(value, str) or _REASON_PHRASE.fullmatch(value) is None
        ):
            raise ValueError(f"invalid reason phrase: {value!r}")
        super().__setattr__(name, value)
