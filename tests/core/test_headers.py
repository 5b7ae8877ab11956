"""Tests for anyio_ws.core.headers."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyio_ws.core.headers import (
    build_extension,
    build_subprotocol_list,
    parse_connection,
    parse_extension,
    parse_subprotocol_list,
    parse_upgrade,
    validate_subprotocols,
)
from anyio_ws.exceptions import InvalidHeaderFormat

TOKEN_REGEX = r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
tokens = st.from_regex(TOKEN_REGEX, fullmatch=True)
parameters = st.lists(st.tuples(tokens, st.none() | tokens), max_size=4)
extension_lists = st.lists(st.tuples(tokens, parameters), min_size=1, max_size=4)
ows = st.sampled_from(["", " ", "\t", "  \t"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Upgrade", ["Upgrade"]),
        ("keep-alive, Upgrade", ["keep-alive", "Upgrade"]),
        ("keep-alive,Upgrade", ["keep-alive", "Upgrade"]),
        (", ,Upgrade , ,", ["Upgrade"]),
        ("\tUpgrade\t", ["Upgrade"]),
    ],
)
def test_parse_connection(value: str, expected: list[str]) -> None:
    """Connection is a comma list of tokens that tolerates empty elements and OWS."""
    assert parse_connection(value) == expected


@pytest.mark.parametrize(
    ("value", "pos"),
    [("", 0), (",", 1), (" , ", 3), ("Upgrade keep-alive", 8), ("Up;grade", 2), ("é", 0)],
)
def test_parse_connection_invalid(value: str, pos: int) -> None:
    """A malformed Connection header raises InvalidHeaderFormat at the failing position."""
    with pytest.raises(InvalidHeaderFormat) as exc_info:
        parse_connection(value)
    assert exc_info.value.name == "Connection"
    assert exc_info.value.pos == pos


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("websocket", ["websocket"]),
        ("WebSocket", ["WebSocket"]),
        ("h2c, websocket", ["h2c", "websocket"]),
        ("HTTP/2.0, websocket", ["HTTP/2.0", "websocket"]),
    ],
)
def test_parse_upgrade(value: str, expected: list[str]) -> None:
    """Upgrade is a comma list of protocols, each a token with an optional /version."""
    assert parse_upgrade(value) == expected


@pytest.mark.parametrize("value", ["", "websocket/", "/13", "web socket", "websocket/1/2"])
def test_parse_upgrade_invalid(value: str) -> None:
    """A malformed Upgrade header raises InvalidHeaderFormat."""
    with pytest.raises(InvalidHeaderFormat) as exc_info:
        parse_upgrade(value)
    assert exc_info.value.name == "Upgrade"


def test_parse_subprotocol_list() -> None:
    """Sec-WebSocket-Protocol is a comma list of tokens."""
    assert parse_subprotocol_list("chat, , superchat") == ["chat", "superchat"]


def test_parse_subprotocol_list_invalid() -> None:
    """A subprotocol that is not a token raises InvalidHeaderFormat."""
    with pytest.raises(InvalidHeaderFormat) as exc_info:
        parse_subprotocol_list("chat, sup/er")
    assert exc_info.value.name == "Sec-WebSocket-Protocol"
    assert exc_info.value.pos == 9


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("foo", [("foo", [])]),
        ("foo, bar", [("foo", []), ("bar", [])]),
        (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            [
                (
                    "permessage-deflate",
                    [("client_max_window_bits", None), ("server_max_window_bits", "10")],
                )
            ],
        ),
        ("foo ; a = 1 ;b", [("foo", [("a", "1"), ("b", None)])]),
        ('foo; a="1"', [("foo", [("a", "1")])]),
        ('foo; a="\\1\\0"', [("foo", [("a", "10")])]),
        (", foo; a=1, , bar,", [("foo", [("a", "1")]), ("bar", [])]),
    ],
)
def test_parse_extension(value: str, expected: list[object]) -> None:
    """Sec-WebSocket-Extensions follows RFC 6455 9.1, quoted values come back unquoted."""
    assert parse_extension(value) == expected


@pytest.mark.parametrize(
    ("value", "pos"),
    [
        ("", 0),
        ("foo;", 4),
        ("foo; a=", 7),
        ("foo; =1", 5),
        ('foo; a="1', 7),
        ('foo; a="1 2"', 7),
        ('foo; a=""', 7),
        ("foo bar", 4),
        ("foo; a=1 2", 9),
        ("foo; a=1/2", 8),
    ],
)
def test_parse_extension_invalid(value: str, pos: int) -> None:
    """A malformed Sec-WebSocket-Extensions header raises InvalidHeaderFormat at pos."""
    with pytest.raises(InvalidHeaderFormat) as exc_info:
        parse_extension(value)
    assert exc_info.value.name == "Sec-WebSocket-Extensions"
    assert exc_info.value.pos == pos


def test_build_extension() -> None:
    """build_extension writes names and parameters separated by "; " and ", "."""
    header = build_extension([("foo", [("a", None), ("b", "1")]), ("bar", [])])
    assert header == "foo; a; b=1, bar"


@pytest.mark.parametrize(
    "extensions",
    [[("fo o", [])], [("foo", [("a b", None)])], [("foo", [("a", "1 2")])]],
)
def test_build_extension_invalid(
    extensions: list[tuple[str, list[tuple[str, str | None]]]],
) -> None:
    """build_extension refuses names and values that are not tokens."""
    with pytest.raises(ValueError, match="not a token"):
        build_extension(extensions)


@given(extension_lists)
def test_extension_round_trip(extensions: list[tuple[str, list[tuple[str, str | None]]]]) -> None:
    """parse_extension(build_extension(x)) == x for any valid x."""
    assert parse_extension(build_extension(extensions)) == extensions


@given(extension_lists, st.data())
def test_extension_parse_quoted_and_spaced(
    extensions: list[tuple[str, list[tuple[str, str | None]]]], data: st.DataObject
) -> None:
    """Quoting values and adding OWS anywhere the grammar allows does not change the result."""
    parts = []
    for name, params in extensions:
        text = name
        for param, value in params:
            text += data.draw(ows) + ";" + data.draw(ows) + param
            if value is not None:
                quoted = data.draw(st.booleans())
                rendered = '"' + value + '"' if quoted else value
                text += data.draw(ows) + "=" + data.draw(ows) + rendered
        parts.append(data.draw(ows) + text + data.draw(ows))
    assert parse_extension(",".join(parts)) == extensions


@given(st.text())
def test_parse_extension_never_crashes(value: str) -> None:
    """Any text either parses or raises InvalidHeaderFormat, nothing else."""
    try:
        parse_extension(value)
    except InvalidHeaderFormat:
        pass


@pytest.mark.parametrize(
    "value",
    [
        'foo; a="' + "\\a" * 100_000,
        "foo" + "; a" * 100_000 + " b",
        "foo," * 100_000 + " /",
        " " * 100_000 + "/",
    ],
)
def test_parse_extension_linear_time(value: str) -> None:
    """Hostile headers of 200 kB fail fast: parsing is linear in their length."""
    # CPU time of this process, not wall time: other processes (pytest-xdist workers,
    # other jobs) taking the CPU must not count as our parsing time.
    start = time.process_time()
    with pytest.raises(InvalidHeaderFormat):
        parse_extension(value)
    assert time.process_time() - start < 1.0


def test_build_subprotocol_list() -> None:
    """build_subprotocol_list joins subprotocols with ", "."""
    assert build_subprotocol_list(["chat", "superchat"]) == "chat, superchat"


@given(st.lists(tokens, min_size=1))
def test_subprotocol_round_trip(subprotocols: list[str]) -> None:
    """parse_subprotocol_list(build_subprotocol_list(x)) == x."""
    assert parse_subprotocol_list(build_subprotocol_list(subprotocols)) == subprotocols


def test_validate_subprotocols_accepts_tokens() -> None:
    """validate_subprotocols accepts any sequence of tokens, empty included."""
    validate_subprotocols(["chat", "v2.json"])
    validate_subprotocols(())


def test_validate_subprotocols_rejects_str() -> None:
    """A bare string is a TypeError: it would be read as a list of letters."""
    with pytest.raises(TypeError):
        validate_subprotocols("chat")


def test_validate_subprotocols_rejects_non_str() -> None:
    """A subprotocol that is not a str is a TypeError."""
    with pytest.raises(TypeError):
        validate_subprotocols([b"chat"])  # type: ignore[list-item]


def test_validate_subprotocols_rejects_non_token() -> None:
    """A subprotocol that is not a token is a ValueError."""
    with pytest.raises(ValueError, match="not a token"):
        validate_subprotocols(["chat room"])
