"""What both sides of the opening handshake share (RFC 6455 section 4).

The key and its accept value, the bounds on a handshake head and on the offers parsed
from it, the checks of ``Upgrade``/``Connection`` and of single-valued headers that
both sides make, and the conversions to and from h11's events.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from http import HTTPStatus
from typing import TypeVar

import h11

from ..exceptions import InvalidHeader, InvalidMessage, InvalidUpgrade
from ..headers import (
    ExtensionHeader,
    parse_connection,
    parse_extension,
    parse_subprotocol_list,
    parse_upgrade,
)
from ..http import Headers

__all__ = [
    "CLOSED_EARLY",
    "GUID",
    "MAX_HEADERS",
    "MAX_LINE_SIZE",
    "MAX_OFFERS",
    "VERSION",
    "accept_key",
    "check_head",
    "check_upgrade",
    "from_h11_headers",
    "generate_key",
    "read_extensions",
    "read_subprotocols",
    "send_event",
    "single_value",
    "to_h11_headers",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The fixed string RFC 6455 section 1.3 appends to the key before hashing it."""

VERSION = "13"
"""The only ``Sec-WebSocket-Version`` there is (RFC 6455 section 4.1)."""

MAX_HEADERS = 128
"""Most header lines in a handshake request or response; more gets 431 (as websockets).

A real handshake has a dozen; the bound keeps a head of many tiny headers (16 KiB
holds thousands) from costing a dict entry and a scan per header in every lookup.
"""

MAX_LINE_SIZE = 8192
"""Most bytes in one header line (name and value) or in the request target; more
gets 431 (414 for the target). Browsers send cookies of a few KiB at most."""

MAX_OFFERS = 64
"""Most extension offers, and most subprotocols, parsed from a peer's headers.

Beyond this the handshake fails (400) rather than ignoring the extras: parsing stops
at once, so 8000 offers in 16 KiB cost no more than 64, and a server never picks a
subprotocol from a list it only read in part. Real clients offer two or three.
"""

T = TypeVar("T")

CLOSED_EARLY = "connection closed before the {} was complete"
"""Why a handshake failed when the peer left early; ``.format("request")`` etc."""


def accept_key(key: str) -> str:
    """Compute ``Sec-WebSocket-Accept`` from ``Sec-WebSocket-Key`` (RFC 6455 4.2.2)."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def generate_key(random: Callable[[int], bytes] = os.urandom) -> str:
    """Make a fresh ``Sec-WebSocket-Key``: 16 random bytes in base64.

    Args:
        random: the source of bytes; tests pass a fixed one.
    """
    return base64.b64encode(random(16)).decode("ascii")


def to_h11_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    """``headers`` as h11 takes them, names and values in bytes, in order."""
    # Latin-1 both ways keeps every byte a peer sent, and refuses what HTTP cannot carry.
    return [(name.encode("ascii"), value.encode("latin-1")) for name, value in headers.raw_items()]


def from_h11_headers(event: h11.Request | h11.InformationalResponse | h11.Response) -> Headers:
    """The headers of an h11 event, with the case and order the peer wrote."""
    pairs = event.headers.raw_items()
    return Headers((name.decode("latin-1"), value.decode("latin-1")) for name, value in pairs)


def check_head(
    event: h11.Request | h11.InformationalResponse | h11.Response, max_size: int
) -> None:
    """Bound a parsed head: its size, its number of headers, each line's length.

    h11 only bounds a head that arrives in pieces; a head that arrives whole must not
    escape the limit, or the outcome would depend on how the bytes were segmented.
    h11 bounds neither the number of headers nor a line's length: the head size alone
    lets 16 KiB hold 4000 headers, or one value of 16 KiB to log and echo.
    """
    too_large = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    headers = event.headers.raw_items()
    if isinstance(event, h11.Request):
        first_line = len(event.target)
        if first_line > MAX_LINE_SIZE:
            raise InvalidMessage(
                f"request target exceeds {MAX_LINE_SIZE} bytes", HTTPStatus.REQUEST_URI_TOO_LONG
            )
    else:
        first_line = len(event.reason)
        if first_line > MAX_LINE_SIZE:
            raise InvalidMessage(f"status line exceeds {MAX_LINE_SIZE} bytes", too_large)
    if len(headers) > MAX_HEADERS:
        raise InvalidMessage(f"more than {MAX_HEADERS} headers", too_large)
    size = first_line + 16  # give or take a few bytes of the first line
    for name, value in headers:
        line = len(name) + len(value) + 2
        if line > MAX_LINE_SIZE:
            raise InvalidMessage(f"a header line exceeds {MAX_LINE_SIZE} bytes", too_large)
        size += line + 2
    if size > max_size:
        raise InvalidMessage(f"message head exceeds {max_size} bytes", too_large)


def single_value(headers: Headers, name: str) -> str:
    """The value of a header that must appear exactly once, or ``InvalidHeader``."""
    values = headers.get_all(name)
    if not values:
        raise InvalidHeader(name)
    if len(values) > 1:
        raise InvalidHeader(name, "multiple values")
    return values[0]


def check_upgrade(headers: Headers) -> None:
    """Check that ``Connection`` holds ``upgrade`` and ``Upgrade`` names ``websocket``.

    Both are token lists compared case-insensitively (RFC 6455 4.2.1 and 4.1).
    """
    connection = headers.get_all("Connection")
    if "upgrade" not in [t.lower() for value in connection for t in parse_connection(value)]:
        raise InvalidUpgrade("Connection", ", ".join(connection) or None)
    upgrade = headers.get_all("Upgrade")
    if "websocket" not in [p.lower() for value in upgrade for p in parse_upgrade(value)]:
        raise InvalidUpgrade("Upgrade", ", ".join(upgrade) or None)


def _bounded(headers: Headers, name: str, parse: Callable[..., list[T]]) -> list[T]:
    """Parse every value of ``name``, stopping past ``MAX_OFFERS`` items in all."""
    items: list[T] = []
    for value in headers.get_all(name):
        items += parse(value, max_items=MAX_OFFERS - len(items))
    return items


def read_subprotocols(headers: Headers) -> list[str]:
    """Every ``Sec-WebSocket-Protocol`` value, in order (at most ``MAX_OFFERS``)."""
    return _bounded(headers, "Sec-WebSocket-Protocol", parse_subprotocol_list)


def read_extensions(headers: Headers) -> list[ExtensionHeader]:
    """Every ``Sec-WebSocket-Extensions`` item, in order (at most ``MAX_OFFERS``)."""
    return _bounded(headers, "Sec-WebSocket-Extensions", parse_extension)


def send_event(connection: h11.Connection, event: h11.Event) -> bytes:
    """The bytes h11 writes for ``event`` (``b""`` where it writes none)."""
    return connection.send(event) or b""
