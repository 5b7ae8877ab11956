"""Grammar of the handshake headers: tokens, quoted strings and comma-separated lists.

The rules come from RFC 7230 (sections 3.2.6 and 7) and RFC 6455 (sections 4.3 and 9.1).
Each parser walks the value once, left to right, with anchored regular expressions whose
alternatives never overlap, so a hostile header costs time linear in its length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from .exceptions import InvalidHeaderFormat, InvalidHeaderValue
from .extensions.base import ExtensionParameter

__all__ = [
    "ExtensionHeader",
    "build_extension",
    "build_subprotocol_list",
    "parse_connection",
    "parse_extension",
    "parse_subprotocol_list",
    "parse_upgrade",
    "validate_subprotocols",
]

ExtensionHeader = tuple[str, list[ExtensionParameter]]
"""One extension of ``Sec-WebSocket-Extensions``: its name and its parameters."""

T = TypeVar("T")
Parser = Callable[[str, int, str], tuple[T, int]]

# tchar of RFC 7230 section 3.2.6.
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
# Either a qdtext character or a backslash and the character it escapes: the two
# branches start differently, so matching never backtracks.
_QUOTED_STRING = re.compile(r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"')
_QUOTED_PAIR = re.compile(r"\\(.)")
_OWS = re.compile(r"[\t ]*")
# RFC 7230 section 6.7: protocol = protocol-name ["/" protocol-version].
_PROTOCOL = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+(?:/[-!#$%&'*+.^_`|~0-9a-zA-Z]+)?")


def _skip_ows(header: str, pos: int) -> int:
    match = _OWS.match(header, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _match(pattern: re.Pattern[str], what: str, header: str, pos: int, name: str) -> re.Match[str]:
    match = pattern.match(header, pos)
    if match is None:
        raise InvalidHeaderFormat(name, f"expected {what}", header, pos)
    return match


def _parse_token(header: str, pos: int, name: str) -> tuple[str, int]:
    match = _match(_TOKEN, "token", header, pos, name)
    return match.group(), match.end()


def _parse_protocol(header: str, pos: int, name: str) -> tuple[str, int]:
    match = _match(_PROTOCOL, "protocol", header, pos, name)
    return match.group(), match.end()


def _parse_quoted_string(header: str, pos: int, name: str) -> tuple[str, int]:
    match = _match(_QUOTED_STRING, "quoted string", header, pos, name)
    return _QUOTED_PAIR.sub(r"\1", match.group()[1:-1]), match.end()


def _skip_commas(header: str, pos: int) -> int:
    """Skip OWS and any run of commas: RFC 7230 section 7 tolerates empty elements."""
    pos = _skip_ows(header, pos)
    while header.startswith(",", pos):
        pos = _skip_ows(header, pos + 1)
    return pos


def _parse_list(
    parse_item: Parser[T], header: str, name: str, max_items: int | None = None
) -> list[T]:
    """Parse ``1#item``: at least one item, separated by commas, empty elements allowed.

    Parsing stops at once, with ``InvalidHeaderValue``, when an item beyond
    ``max_items`` starts: a hostile list costs no more than ``max_items`` items.
    """
    items: list[T] = []
    pos = _skip_commas(header, 0)
    while True:
        if max_items is not None and len(items) >= max_items:
            raise InvalidHeaderValue(name, "too many values")
        item, pos = parse_item(header, pos, name)
        items.append(item)
        pos = _skip_ows(header, pos)
        if pos == len(header):
            return items
        if header[pos] != ",":
            raise InvalidHeaderFormat(name, "expected comma", header, pos)
        pos = _skip_commas(header, pos)
        if pos == len(header):
            return items


def parse_connection(value: str) -> list[str]:
    """Parse a ``Connection`` header into its connection options (tokens)."""
    return _parse_list(_parse_token, value, "Connection")


def parse_upgrade(value: str) -> list[str]:
    """Parse an ``Upgrade`` header into its protocols, like ``websocket`` or ``h2c/1``."""
    return _parse_list(_parse_protocol, value, "Upgrade")


def parse_subprotocol_list(value: str, *, max_items: int | None = None) -> list[str]:
    """Parse a ``Sec-WebSocket-Protocol`` header into subprotocol names (tokens).

    Raises:
        InvalidHeaderFormat: the value is not a list of tokens.
        InvalidHeaderValue: it holds more than ``max_items`` names.
    """
    return _parse_list(_parse_token, value, "Sec-WebSocket-Protocol", max_items)


def _parse_parameter_value(header: str, pos: int, name: str) -> tuple[str, int]:
    if not header.startswith('"', pos):
        return _parse_token(header, pos, name)
    value, end = _parse_quoted_string(header, pos, name)
    # RFC 6455 section 9.1: a quoted value must still be a token once unquoted.
    if _TOKEN.fullmatch(value) is None:
        raise InvalidHeaderFormat(name, "invalid quoted header content", header, pos)
    return value, end


def _parse_parameter(header: str, pos: int, name: str) -> tuple[ExtensionParameter, int]:
    param_name, pos = _parse_token(header, pos, name)
    pos = _skip_ows(header, pos)
    if not header.startswith("=", pos):
        return (param_name, None), pos
    value, pos = _parse_parameter_value(header, _skip_ows(header, pos + 1), name)
    return (param_name, value), pos


def _parse_extension_item(header: str, pos: int, name: str) -> tuple[ExtensionHeader, int]:
    extension_name, pos = _parse_token(header, pos, name)
    params: list[ExtensionParameter] = []
    pos = _skip_ows(header, pos)
    while header.startswith(";", pos):
        param, pos = _parse_parameter(header, _skip_ows(header, pos + 1), name)
        params.append(param)
        pos = _skip_ows(header, pos)
    return (extension_name, params), pos


def parse_extension(value: str, *, max_items: int | None = None) -> list[ExtensionHeader]:
    """Parse a ``Sec-WebSocket-Extensions`` header.

    ``"a; x; y=1, b; z=\\"2\\""`` gives ``[("a", [("x", None), ("y", "1")]),
    ("b", [("z", "2")])]``: quoted values come back unquoted.

    Raises:
        InvalidHeaderFormat: the value does not follow the grammar of RFC 6455 9.1.
        InvalidHeaderValue: it holds more than ``max_items`` extensions.
    """
    return _parse_list(_parse_extension_item, value, "Sec-WebSocket-Extensions", max_items)


def _check_token(value: str, what: str) -> str:
    if _TOKEN.fullmatch(value) is None:
        raise ValueError(f"invalid {what}: {value!r} is not a token")
    return value


def _build_parameter(param: ExtensionParameter) -> str:
    name, value = param
    _check_token(name, "extension parameter name")
    if value is None:
        return name
    return f"{name}={_check_token(value, 'extension parameter value')}"


def build_extension(extensions: Sequence[tuple[str, Sequence[ExtensionParameter]]]) -> str:
    """Build a ``Sec-WebSocket-Extensions`` header, the inverse of :func:`parse_extension`.

    Values are written as bare tokens: RFC 6455 9.1 only allows values that are tokens,
    so quoting never adds anything.

    Raises:
        ValueError: a name or value is not a token (a bug in an extension factory).
    """
    return ", ".join(
        "; ".join([_check_token(name, "extension name"), *map(_build_parameter, params)])
        for name, params in extensions
    )


def validate_subprotocols(subprotocols: Sequence[str]) -> None:
    """Check a list of subprotocols given by the user before it goes into a header.

    Raises:
        TypeError: ``subprotocols`` is a single string, or holds something else than str.
        ValueError: a subprotocol is not a token.
    """
    if isinstance(subprotocols, str):
        raise TypeError("subprotocols must be a list of str, not a str")
    for subprotocol in subprotocols:
        if not isinstance(subprotocol, str):
            raise TypeError(f"subprotocol must be a str, not {type(subprotocol).__name__}")
        _check_token(subprotocol, "subprotocol")


def build_subprotocol_list(subprotocols: Sequence[str]) -> str:
    """Build a ``Sec-WebSocket-Protocol`` header from subprotocol names.

    Raises:
        TypeError, ValueError: as :func:`validate_subprotocols`.
    """
    validate_subprotocols(subprotocols)
    return ", ".join(subprotocols)
