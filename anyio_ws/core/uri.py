"""Parse ``ws://`` and ``wss://`` URIs (RFC 6455 section 3) into what a client needs."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

from .exceptions import InvalidURI

__all__ = ["WebSocketURI", "parse_uri"]

_DEFAULT_PORTS = {False: 80, True: 443}
# Characters that may stay as they are in a path or query (RFC 3986 section 3.3 and
# 3.4), plus "%" so that existing percent-escapes are not encoded twice.
_PATH_SAFE = "/?:@!$&'()*+,;=%"
# A host name after IDNA encoding: letters, digits, "-", "." and "_" (seen in the wild).
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+")
# C0 controls, space and DEL: urlsplit silently drops some of them, which would let
# "ws://a\n.example" mean another host than the one written.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
# The host and port of an authority whose host is an IP literal (RFC 3986 section
# 3.2.2): "[...]" and at most a port. urlsplit takes whatever sits between the first
# brackets and drops the rest, so "evil.example[::1]" would connect to ::1.
_IP_LITERAL = re.compile(r"\[[^\[\]]*\](?::[0-9]*)?")


@dataclass(frozen=True)
class WebSocketURI:
    """A parsed WebSocket URI.

    ``host`` is ASCII (IDNA-encoded) and has no brackets, ready for a TCP connect;
    ``path`` includes the query string and is ``"/"`` at least. The repr shows the
    password of ``user_info`` as ``***``, as reprs end up in logs.
    """

    secure: bool
    host: str
    port: int
    path: str
    user_info: tuple[str, str] | None = None

    def __repr__(self) -> str:
        user_info = None if self.user_info is None else (self.user_info[0], "***")
        return (
            f"WebSocketURI(secure={self.secure!r}, host={self.host!r}, port={self.port!r}, "
            f"path={self.path!r}, user_info={user_info!r})"
        )

    @property
    def resource_name(self) -> str:
        """The request target of the handshake (RFC 6455 3): path and query."""
        return self.path

    @property
    def host_header(self) -> str:
        """The value of the ``Host`` header: brackets around IPv6, port if not default."""
        # RFC 6874: the "%" of an IPv6 zone identifier is written "%25" in a URI.
        host = f"[{self.host.replace('%', '%25')}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.secure]:
            return host
        return f"{host}:{self.port}"


def parse_uri(uri: str) -> WebSocketURI:
    """Parse a WebSocket URI.

    The scheme is case-insensitive; a fragment, a user name without a password, or a
    port outside 1..65535 is an error. Non-ASCII characters in the path and query are
    percent-encoded, and a non-ASCII host is IDNA-encoded.

    Raises:
        InvalidURI: ``uri`` is not a valid ``ws://`` or ``wss://`` URI.
    """
    if _FORBIDDEN.search(uri):
        raise InvalidURI(uri, "contains whitespace or a control character")
    if "#" in uri:
        raise InvalidURI(uri, "fragments aren't allowed in WebSocket URIs")
    try:
        parts = urllib.parse.urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(uri, str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise InvalidURI(uri, "scheme isn't ws or wss")
    secure = scheme == "wss"
    if port == 0:
        raise InvalidURI(uri, "port 0 can't be connected to")
    return WebSocketURI(
        secure=secure,
        host=_parse_host(uri, parts),
        port=_DEFAULT_PORTS[secure] if port is None else port,
        path=_parse_path(parts),
        user_info=_parse_user_info(uri, parts),
    )


def _parse_host(uri: str, parts: urllib.parse.SplitResult) -> str:
    host_port = parts.netloc.rpartition("@")[2]
    bracketed = "[" in host_port  # urlsplit refuses a "[" or "]" without the other
    if bracketed and _IP_LITERAL.fullmatch(host_port) is None:
        raise InvalidURI(uri, "invalid hostname")
    hostname = parts.hostname
    if not hostname:
        raise InvalidURI(uri, "hostname isn't provided")
    if bracketed:
        # Only IPv6 goes in brackets: not IPv4, nor an IPvFuture like "[v1.foo]".
        host = urllib.parse.unquote(hostname)  # a zone identifier "%25eth0" is "%eth0"
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidURI(uri, "invalid IPv6 address") from None
        return host
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidURI(uri, "hostname can't be IDNA-encoded") from None
    if _HOST_NAME.fullmatch(host) is None:
        raise InvalidURI(uri, "invalid hostname")
    return host


def _parse_path(parts: urllib.parse.SplitResult) -> str:
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return urllib.parse.quote(path, safe=_PATH_SAFE)


def _parse_user_info(uri: str, parts: urllib.parse.SplitResult) -> tuple[str, str] | None:
    if parts.username is None:
        return None
    if parts.password is None:
        raise InvalidURI(uri, "username provided without password")
    return urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password)
