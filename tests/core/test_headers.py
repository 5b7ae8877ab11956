"""Tests for anyio_ws.core.headers."""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable

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
from anyio_ws.exceptions import InvalidHeaderFormat, InvalidHeaderValue

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


def refusal_cpu_time(value: str) -> float:
    """The CPU time parse_extension takes to refuse ``value``, best of 3 runs.

    CPU time of this process, not wall time: other processes on the machine do not
    count. The garbage collector is off meanwhile: its passes over the objects a
    parse makes grow with everything else alive, and would blur the measure.
    """
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            start = time.process_time()
            with pytest.raises(InvalidHeaderFormat):
                parse_extension(value)
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize(
    ("head", "unit", "tail"),
    [
        ('foo; a="', "\\a", ""),
        ("foo", "; a", " b"),
        ("", "foo,", " /"),
        ("", " ", "/"),
    ],
    ids=["unterminated-quoted-string", "many-parameters", "many-extensions", "long-ows"],
)
def test_parse_extension_linear_time(head: str, unit: str, tail: str) -> None:
    """Hostile headers fail in time linear in their length: 4 times as long, 4 times the time.

    Quadratic parsing would take 16 times as long: the bound of 8 leaves room for noise
    both ways, and the 10 ms of slack for timer noise on cases that take microseconds.
    """
    n = 25_000
    short = refusal_cpu_time(head + unit * n + tail)
    long = refusal_cpu_time(head + unit * 4 * n + tail)
    assert long < 8 * short + 0.01, (short, long)


def test_build_subprotocol_list() -> None:
    """build_subprotocol_list joins subprotocols with ", "."""
    assert build_subprotocol_list(["chat", "superchat"]) == "chat, superchat"


@given(st.lists(tokens, min_size=1))
def test_subprotocol_round_trip(subprotocols: list[str]) -> None:
    """parse_subprotocol_list(build_subprotocol_list(x)) == x."""
    assert parse_subprotocol_list(build_subprotocol_list(subprotocols)) == subprotocols


@given(st.lists(tokens).map(tuple) | st.lists(tokens))
def test_validate_subprotocols_accepts_tokens(subprotocols: list[str] | tuple[str, ...]) -> None:
    """Any sequence of tokens, empty included, is accepted as is: it goes into a header
    that parses back to the same names."""
    assert validate_subprotocols(subprotocols) is None
    header = build_subprotocol_list(subprotocols)
    assert header == ", ".join(subprotocols)
    if subprotocols:
        assert parse_subprotocol_list(header) == list(subprotocols)


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


@pytest.mark.parametrize(
    ("parse", "value", "error", "message"),
    [
        (
            parse_connection,
            "Upgrade keep-alive",
            InvalidHeaderFormat,
            "invalid Connection header: expected comma at 8 in Upgrade keep-alive",
        ),
        (
            parse_connection,
            "",
            InvalidHeaderFormat,
            "invalid Connection header: expected token at 0 in ",
        ),
        (
            parse_upgrade,
            "/13",
            InvalidHeaderFormat,
            "invalid Upgrade header: expected protocol at 0 in /13",
        ),
        (
            parse_extension,
            'foo; a="1',
            InvalidHeaderFormat,
            'invalid Sec-WebSocket-Extensions header: expected quoted string at 7 in foo; a="1',
        ),
        (
            parse_extension,
            'foo; a="1 2"',
            InvalidHeaderFormat,
            "invalid Sec-WebSocket-Extensions header: invalid quoted header content at 7"
            ' in foo; a="1 2"',
        ),
        (
            functools.partial(parse_subprotocol_list, max_items=1),
            "a, b",
            InvalidHeaderValue,
            "invalid Sec-WebSocket-Protocol header: too many values",
        ),
        (
            functools.partial(parse_extension, max_items=1),
            "a, b",
            InvalidHeaderValue,
            "invalid Sec-WebSocket-Extensions header: too many values",
        ),
    ],
    ids=[
        "comma",
        "token",
        "protocol",
        "quoted-string",
        "quoted-content",
        "protocols",
        "extensions",
    ],
)
def test_parse_refusal_messages(
    parse: Callable[[str], object], value: str, error: type[Exception], message: str
) -> None:
    """Each parse refusal says which header, what was expected and where: a peer sees it."""
    with pytest.raises(error) as exc_info:
        parse(value)
    assert type(exc_info.value) is error
    assert str(exc_info.value) == message


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (
            lambda: build_extension([("fo o", [])]),
            ValueError,
            "invalid extension name: 'fo o' is not a token",
        ),
        (
            lambda: build_extension([("foo", [("a b", None)])]),
            ValueError,
            "invalid extension parameter name: 'a b' is not a token",
        ),
        (
            lambda: build_extension([("foo", [("a", "1 2")])]),
            ValueError,
            "invalid extension parameter value: '1 2' is not a token",
        ),
        (
            lambda: validate_subprotocols("chat"),
            TypeError,
            "subprotocols must be a list of str, not a str",
        ),
        (
            lambda: validate_subprotocols([b"chat"]),  # type: ignore[list-item]
            TypeError,
            "subprotocol must be a str, not bytes",
        ),
        (
            lambda: validate_subprotocols(["chat room"]),
            ValueError,
            "invalid subprotocol: 'chat room' is not a token",
        ),
    ],
    ids=["extension-name", "parameter-name", "parameter-value", "str", "bytes", "subprotocol"],
)
def test_build_refusal_messages(
    build: Callable[[], object], error: type[Exception], message: str
) -> None:
    """Each refusal of a bad extension or subprotocol names what is wrong and shows it."""
    with pytest.raises(error) as exc_info:
        build()
    assert type(exc_info.value) is error
    assert str(exc_info.value) == message
