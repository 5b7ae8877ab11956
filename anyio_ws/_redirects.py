"""Redirects of the client's opening handshake: which are followed, where, with what.

Pure functions of a refused handshake's response and of the request that got it, so
that the rules are tested without a socket (``tests/test_redirect_rules.py``);
``connect()`` runs the loop around them. The rules:

- 301, 302, 303, 307 and 308 with exactly one ``Location`` are redirects; any other
  response, a 300 or a redirect without a single ``Location`` included, is not (the
  handshake fails with ``InvalidStatus``);
- the location is resolved against the URI of the request, so a relative one keeps
  that URI's user info, and must be a ``ws://`` or ``wss://`` URI (``InvalidURI``);
- ``wss://`` to ``ws://`` is refused (``SecurityError``), as is one redirect more
  than ``MAX_REDIRECTS``;
- over ``sock=`` or ``stream=`` no other connection can be opened, and over a Unix
  socket only the same origin is reachable (``ValueError``);
- to another origin (scheme, host or port), the credential headers stay behind.
"""

from __future__ import annotations

import urllib.parse
from typing import NamedTuple

from .core.http import Headers, HeadersLike, Response
from .core.uri import WebSocketURI, parse_uri
from .exceptions import SecurityError, redact_uri

__all__ = [
    "MAX_REDIRECTS",
    "REDIRECT_STATUSES",
    "Redirect",
    "check_redirect",
    "follow_redirect",
    "origin",
    "redirect_location",
    "without_credentials",
]

MAX_REDIRECTS = 10
"""Redirects followed by one opening handshake before ``SecurityError``."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class Redirect(NamedTuple):
    """Where a redirect sends the handshake: the URI as resolved and parsed, the headers."""

    uri_string: str
    uri: WebSocketURI
    headers: HeadersLike | None


def follow_redirect(
    response: Response,
    uri_string: str,
    uri: WebSocketURI,
    headers: HeadersLike | None,
    *,
    followed: int,
    given_stream: bool,
    unix_socket: bool,
) -> Redirect | None:
    """The next request after ``response`` refused a handshake; None if not a redirect.

    Args:
        response: The refusal of the request to ``uri_string`` (parsed: ``uri``).
        headers: The additional headers that request had.
        followed: How many redirects this handshake followed before.
        given_stream: The connection runs over ``sock=`` or ``stream=``.
        unix_socket: The connection runs over a Unix socket.

    Raises:
        InvalidURI: The location is not a WebSocket URI.
        SecurityError: It goes from ``wss://`` to ``ws://``, or it is one too many.
        ValueError: The transport cannot reach it.
    """
    location = redirect_location(response)
    if location is None:
        return None
    new_string = urllib.parse.urljoin(uri_string, location)
    new_uri = check_redirect(uri, new_string, given_stream=given_stream, unix_socket=unix_socket)
    if followed >= MAX_REDIRECTS:
        raise SecurityError(f"more than {MAX_REDIRECTS} redirects")
    if origin(new_uri) != origin(uri):
        headers = without_credentials(headers)
    return Redirect(new_string, new_uri, headers)


def redirect_location(response: Response) -> str | None:
    """The ``Location`` of a redirect, or None when ``response`` is no redirect to follow."""
    if response.status_code not in REDIRECT_STATUSES:
        return None
    locations = response.headers.get_all("Location")
    return locations[0] if len(locations) == 1 else None


def check_redirect(
    old: WebSocketURI, new_string: str, *, given_stream: bool, unix_socket: bool
) -> WebSocketURI:
    """Parse the resolved location ``new_string``; raise if it must not be followed."""
    new = parse_uri(new_string)
    # A relative location keeps the user info of the URI it is resolved against.
    shown = redact_uri(new_string)
    if old.secure and not new.secure:
        raise SecurityError(f"cannot follow redirect to non-secure URI {shown}")
    if given_stream:
        raise ValueError(f"cannot follow redirect to {shown} over sock= or stream=")
    if unix_socket and origin(new) != origin(old):
        raise ValueError(f"cannot follow cross-origin redirect to {shown} on a Unix socket")
    return new


def origin(uri: WebSocketURI) -> tuple[bool, str, int]:
    """What two URIs share when they are the same origin: scheme, host and port."""
    return uri.secure, uri.host, uri.port


def without_credentials(headers: HeadersLike | None) -> Headers | None:
    """``headers`` less those that must not follow a redirect to another origin."""
    if headers is None:
        return None
    return Headers(
        [
            (name, value)
            for name, value in Headers(headers).raw_items()
            if name.lower() not in CREDENTIAL_HEADERS
        ]
    )
