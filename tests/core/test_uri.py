"""Tests for anyio_ws.core.uri."""

from __future__ import annotations

import dataclasses

import pytest

from anyio_ws.core.uri import WebSocketURI, parse_uri
from anyio_ws.exceptions import InvalidURI


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("ws://localhost/", WebSocketURI(False, "localhost", 80, "/")),
        ("wss://localhost/", WebSocketURI(True, "localhost", 443, "/")),
        ("ws://localhost", WebSocketURI(False, "localhost", 80, "/")),
        ("ws://localhost:", WebSocketURI(False, "localhost", 80, "/")),
        ("WS://LocalHost:8765", WebSocketURI(False, "localhost", 8765, "/")),
        ("WsS://example.com:80/", WebSocketURI(True, "example.com", 80, "/")),
        ("ws://localhost/path?query", WebSocketURI(False, "localhost", 80, "/path?query")),
        ("ws://localhost?query", WebSocketURI(False, "localhost", 80, "/?query")),
        ("ws://localhost/a%20b?c=%2F", WebSocketURI(False, "localhost", 80, "/a%20b?c=%2F")),
        ("ws://127.0.0.1:8765/", WebSocketURI(False, "127.0.0.1", 8765, "/")),
        ("ws://[::1]:8765/", WebSocketURI(False, "::1", 8765, "/")),
        ("wss://[2001:DB8::1]/", WebSocketURI(True, "2001:db8::1", 443, "/")),
        ("ws://[fe80::1%25eth0]/", WebSocketURI(False, "fe80::1%eth0", 80, "/")),
        ("ws://user:pass@localhost/", WebSocketURI(False, "localhost", 80, "/", ("user", "pass"))),
        ("ws://user:@localhost/", WebSocketURI(False, "localhost", 80, "/", ("user", ""))),
        ("ws://user:pass@[::1]:8765/", WebSocketURI(False, "::1", 8765, "/", ("user", "pass"))),
        (
            "ws://us%3Aer:p%40ss@localhost/",
            WebSocketURI(False, "localhost", 80, "/", ("us:er", "p@ss")),
        ),
    ],
)
def test_parse_uri(uri: str, expected: WebSocketURI) -> None:
    """parse_uri splits a ws:// or wss:// URI, with default ports and "/" as least path."""
    assert parse_uri(uri) == expected


def test_parse_uri_encodes_non_ascii() -> None:
    """A non-ASCII host is IDNA-encoded, a non-ASCII path and query percent-encoded."""
    uri = parse_uri("ws://bücher.example/straße?q=é")
    assert uri.host == "xn--bcher-kva.example"
    assert uri.path == "/stra%C3%9Fe?q=%C3%A9"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://localhost/", "scheme isn't ws or wss"),
        ("https://localhost/", "scheme isn't ws or wss"),
        ("localhost:8765", "scheme isn't ws or wss"),
        ("/path", "scheme isn't ws or wss"),
        ("ws:/path", "hostname isn't provided"),
        ("ws://:8765/", "hostname isn't provided"),
        ("ws://localhost/#fragment", "fragments aren't allowed"),
        ("ws://localhost#", "fragments aren't allowed"),
        ("ws://localhost:port/", "Port could not be cast"),
        ("ws://localhost:65536/", "Port out of range"),
        ("ws://localhost:-1/", "Port"),
        ("ws://localhost:0/", "port 0"),
        ("ws://[::1/", "Invalid IPv6 URL"),
        ("ws://[1:2:3]/", "IPv6"),
        ("ws://user@localhost/", "username provided without password"),
        ("ws://local host/", "whitespace"),
        ("ws://localhost/a\nb", "whitespace"),
        ("ws://local\thost/", "whitespace"),
        ("ws://local<host/", "invalid hostname"),
        ("ws://" + "a" * 64 + ".example/", "IDNA"),
    ],
)
def test_parse_uri_invalid(uri: str, message: str) -> None:
    """parse_uri raises InvalidURI, carrying the URI and why it was refused."""
    with pytest.raises(InvalidURI) as exc_info:
        parse_uri(uri)
    assert exc_info.value.uri == uri
    assert message in exc_info.value.msg


@pytest.mark.parametrize(
    ("uri", "host_header"),
    [
        ("ws://example.com/", "example.com"),
        ("ws://example.com:80/", "example.com"),
        ("ws://example.com:443/", "example.com:443"),
        ("wss://example.com:443/", "example.com"),
        ("wss://example.com:80/", "example.com:80"),
        ("ws://[::1]/", "[::1]"),
        ("ws://[::1]:8765/", "[::1]:8765"),
        ("ws://[fe80::1%25eth0]:1/", "[fe80::1%25eth0]:1"),
    ],
)
def test_host_header(uri: str, host_header: str) -> None:
    """host_header brackets IPv6 literals and shows the port only when not the default."""
    assert parse_uri(uri).host_header == host_header


def test_resource_name() -> None:
    """resource_name is the path with the query string."""
    assert parse_uri("ws://localhost/chat?room=1").resource_name == "/chat?room=1"


def test_uri_is_frozen() -> None:
    """WebSocketURI is immutable."""
    uri = parse_uri("ws://localhost/")
    with pytest.raises(dataclasses.FrozenInstanceError):
        uri.port = 1  # type: ignore[misc]


def test_repr_hides_the_password() -> None:
    """repr() of a URI with user info shows the user name and *** for the password."""
    uri = parse_uri("ws://alice:s3cret@example.com/chat")
    assert uri.user_info == ("alice", "s3cret")
    assert "s3cret" not in repr(uri)
    assert repr(uri) == (
        "WebSocketURI(secure=False, host='example.com', port=80, path='/chat', "
        "user_info=('alice', '***'))"
    )


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("ws://alice:s3cret@example.com/#frag", "ws://alice:***@example.com/#frag"),
        ("ws://alice:s3cret@example.com:99999/", "ws://alice:***@example.com:99999/"),
        ("http://alice:s3cret@example.com/", "http://alice:***@example.com/"),
        ("ws://alice:s3:cr@t@[::1/", "ws://alice:***@[::1/"),
    ],
)
def test_invalid_uri_message_hides_the_password(uri: str, shown: str) -> None:
    """InvalidURI's message shows the password as ***; its uri attribute keeps it."""
    with pytest.raises(InvalidURI) as exc_info:
        parse_uri(uri)
    assert str(exc_info.value).startswith(f"{shown} isn't a valid URI: ")
    assert "s3" not in str(exc_info.value) and "cr" not in str(exc_info.value)
    assert exc_info.value.uri == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ws://local host/", "contains whitespace or a control character"),
        ("ws://localhost/#fragment", "fragments aren't allowed in WebSocket URIs"),
        ("http://localhost/", "scheme isn't ws or wss"),
        ("ws://localhost:0/", "port 0 can't be connected to"),
        ("ws://:8765/", "hostname isn't provided"),
        ("ws://[v1.a:b]/", "invalid IPv6 address"),
        ("ws://" + "a" * 64 + ".example/", "hostname can't be IDNA-encoded"),
        ("ws://local<host/", "invalid hostname"),
        ("ws://user@localhost/", "username provided without password"),
    ],
)
def test_parse_uri_refusal_messages(uri: str, message: str) -> None:
    """Each refusal has its own exact reason, shown after the URI in the message."""
    with pytest.raises(InvalidURI) as exc_info:
        parse_uri(uri)
    assert exc_info.value.msg == message
    assert str(exc_info.value) == f"{uri} isn't a valid URI: {message}"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ws://[v1.foo]/", "invalid IPv6 address"),
        ("ws://evil.example[::1]/", "invalid hostname"),
        ("ws://[::1]evil.example/", "invalid hostname"),
        ("ws://[::1]]/", "invalid hostname"),
        ("ws://a:b@evil.example[::1]:80/", "invalid hostname"),
    ],
)
def test_parse_uri_refuses_malformed_ip_literals(uri: str, message: str) -> None:
    """An IP literal is "[IPv6]" and at most a port: urlsplit would drop the rest and
    connect to another host than the one written, or take "[v1.foo]" for a name."""
    with pytest.raises(InvalidURI) as exc_info:
        parse_uri(uri)
    assert exc_info.value.msg == message


def test_repr_without_user_info() -> None:
    """repr() of a URI without user info shows user_info=None."""
    assert repr(parse_uri("wss://example.com:8443/chat")) == (
        "WebSocketURI(secure=True, host='example.com', port=8443, path='/chat', user_info=None)"
    )
