"""The redirect rules of the opening handshake, as pure functions: no socket, no loop.

``tests/test_redirect.py`` checks that ``connect()`` applies them over the network.
"""

from __future__ import annotations

import pytest

from anyio_ws import InvalidURI, SecurityError
from anyio_ws._redirects import (
    MAX_REDIRECTS,
    Redirect,
    check_redirect,
    follow_redirect,
    origin,
    redirect_location,
    without_credentials,
)
from anyio_ws.core.http import Headers, HeadersLike, Response
from anyio_ws.core.uri import parse_uri

CREDENTIALS = {"Authorization": "Bearer t0k", "Cookie": "a=b", "X-Kept": "1"}


def response(status: int, *locations: str) -> Response:
    return Response(status, "Redirect", Headers([("Location", where) for where in locations]))


def follow(
    uri: str,
    refusal: Response,
    headers: HeadersLike | None = None,
    *,
    followed: int = 0,
    given_stream: bool = False,
    unix_socket: bool = False,
) -> Redirect | None:
    """``follow_redirect`` for a request to ``uri``, by default the first over TCP."""
    return follow_redirect(
        refusal,
        uri,
        parse_uri(uri),
        headers,
        followed=followed,
        given_stream=given_stream,
        unix_socket=unix_socket,
    )


def sent(redirect: Redirect | None) -> list[tuple[str, str]]:
    """The additional headers the next request gets."""
    assert redirect is not None and redirect.headers is not None
    return list(Headers(redirect.headers).raw_items())


# ------------------------------------------------------------ which responses


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_statuses_with_a_location_are_followed(status):
    """Each redirect status leads to its Location."""
    assert redirect_location(response(status, "/new")) == "/new"


@pytest.mark.parametrize("status", [200, 300, 304, 305, 400, 403, 404, 500, 503])
def test_other_statuses_are_not_redirects(status):
    """300 Multiple Choices, 304 Not Modified and errors have nowhere to go."""
    assert redirect_location(response(status, "/new")) is None


def test_redirect_without_location_is_not_followed():
    """A 302 without Location is an ordinary refusal."""
    assert redirect_location(response(302)) is None
    assert follow("ws://example.com/", response(302)) is None


def test_redirect_with_two_locations_is_not_followed():
    """Two Location headers do not say where to go: neither is guessed."""
    assert redirect_location(response(302, "/a", "/b")) is None


# ------------------------------------------------------------------ where to


@pytest.mark.parametrize(
    ("location", "resolved"),
    [
        ("next?x=1", "ws://example.com/dir/next?x=1"),
        ("/top", "ws://example.com/top"),
        ("../up", "ws://example.com/up"),
        ("//other.example:81/p", "ws://other.example:81/p"),
        ("wss://other.example/p", "wss://other.example/p"),
    ],
)
def test_location_is_resolved_against_the_uri_of_the_request(location, resolved):
    """Relative locations are resolved as a browser would, absolute ones taken as they are."""
    redirect = follow("ws://example.com/dir/old", response(302, location))
    assert redirect is not None
    assert redirect.uri_string == resolved
    assert redirect.uri == parse_uri(resolved)


def test_relative_location_keeps_the_user_info():
    """The credentials of the URI go along to a location on the same server."""
    redirect = follow("ws://alice:s3cret@example.com/old", response(302, "/new"))
    assert redirect is not None
    assert redirect.uri.user_info == ("alice", "s3cret")


@pytest.mark.parametrize("location", ["http://example.com/", "ftp://example.com/", "mailto:x"])
def test_location_that_is_not_a_websocket_uri_raises_invalid_uri(location):
    """A WebSocket client cannot follow a redirect to another scheme."""
    with pytest.raises(InvalidURI):
        follow("ws://example.com/", response(302, location))


def test_wss_to_ws_is_refused():
    """A redirect may not drop TLS."""
    with pytest.raises(SecurityError, match="non-secure URI ws://example.com/"):
        follow("wss://example.com/", response(301, "ws://example.com/"))


def test_wss_to_ws_is_refused_before_the_transport_is_considered():
    """The downgrade is the error reported, even over a given stream."""
    with pytest.raises(SecurityError, match="non-secure"):
        follow("wss://example.com/", response(301, "ws://example.com/"), given_stream=True)


def test_ws_to_wss_is_followed():
    """Going to TLS is fine."""
    redirect = follow("ws://example.com/", response(301, "wss://example.com/"))
    assert redirect is not None and redirect.uri.secure


def test_refusals_show_no_password():
    """An error about a location resolved with user info masks the password."""
    with pytest.raises(ValueError) as info:
        follow("ws://alice:s3cret@example.com/", response(302, "/elsewhere"), given_stream=True)
    assert "ws://alice:***@example.com/elsewhere" in str(info.value)
    assert "s3cret" not in str(info.value)


# --------------------------------------------------------------- how many


def test_up_to_max_redirects_are_followed():
    """The tenth redirect is followed; the eleventh is a SecurityError."""
    assert MAX_REDIRECTS == 10
    last = follow("ws://example.com/", response(302, "/"), followed=MAX_REDIRECTS - 1)
    assert last is not None
    with pytest.raises(SecurityError, match="more than 10 redirects"):
        follow("ws://example.com/", response(302, "/"), followed=MAX_REDIRECTS)


def test_one_too_many_is_still_checked_first():
    """Past the limit, a location that is not a WebSocket URI says so."""
    with pytest.raises(InvalidURI):
        follow("ws://example.com/", response(302, "http://x/"), followed=MAX_REDIRECTS)


def test_past_the_limit_a_refusal_that_is_no_redirect_is_not_an_error():
    """The limit counts redirects: a plain refusal is reported as itself."""
    assert follow("ws://example.com/", response(403), followed=MAX_REDIRECTS) is None


# --------------------------------------------------------------- transports


def test_no_redirect_over_a_given_stream():
    """With sock= or stream= there is no way to open a connection elsewhere."""
    with pytest.raises(ValueError, match="over sock= or stream="):
        follow("ws://example.com/", response(302, "/new"), given_stream=True)


def test_unix_socket_follows_only_to_the_same_origin():
    """A Unix socket reaches one server: another path there, but not another host."""
    same = follow("ws://localhost/a", response(302, "/b"), unix_socket=True)
    assert same is not None and same.uri.path == "/b"
    with pytest.raises(ValueError, match="cross-origin redirect to ws://other/"):
        follow("ws://localhost/a", response(302, "ws://other/"), unix_socket=True)


def test_check_redirect_returns_the_parsed_location():
    """The checked location comes back parsed, ready for the next request."""
    new = check_redirect(
        parse_uri("ws://example.com/"),
        "ws://example.com/next",
        given_stream=False,
        unix_socket=False,
    )
    assert new == parse_uri("ws://example.com/next")


# --------------------------------------------------------- which headers


@pytest.mark.parametrize(
    "target",
    ["ws://other.example/new", "ws://example.com:8080/new", "wss://example.com/new"],
)
def test_cross_origin_redirect_drops_credential_headers(target):
    """Another host, port or scheme does not get Authorization or Cookie."""
    redirect = follow("ws://example.com/old", response(302, target), CREDENTIALS)
    assert sent(redirect) == [("X-Kept", "1")]


def test_same_origin_redirect_keeps_the_headers_as_given():
    """The same scheme, host and port keep every header, the very same object."""
    redirect = follow("ws://example.com/old", response(302, "/new"), CREDENTIALS)
    assert redirect is not None and redirect.headers is CREDENTIALS


def test_default_port_is_the_same_origin_as_an_explicit_one():
    """ws://host/ and ws://host:80/ are one origin: credentials stay."""
    redirect = follow("ws://example.com/old", response(302, "ws://example.com:80/n"), CREDENTIALS)
    assert redirect is not None and redirect.headers is CREDENTIALS


def test_credential_headers_are_dropped_whatever_their_case():
    """Header names are case-insensitive; Proxy-Authorization goes too; order stays."""
    headers = [
        ("X-First", "1"),
        ("AUTHORIZATION", "Basic x"),
        ("proxy-authorization", "Basic y"),
        ("cookie", "a=b"),
        ("X-Last", "2"),
        ("X-Last", "3"),
    ]
    kept = without_credentials(headers)
    assert kept is not None
    assert list(kept.raw_items()) == [("X-First", "1"), ("X-Last", "2"), ("X-Last", "3")]


def test_no_headers_stay_none():
    """Without additional headers there is nothing to drop."""
    assert without_credentials(None) is None
    redirect = follow("ws://example.com/", response(302, "ws://other.example/"))
    assert redirect is not None and redirect.headers is None


def test_origin_is_scheme_host_and_port():
    """The path and the user info are not part of the origin."""
    assert origin(parse_uri("wss://u:p@example.com/a?b")) == (True, "example.com", 443)
    assert origin(parse_uri("ws://example.com/")) == origin(parse_uri("ws://example.com:80/x"))
