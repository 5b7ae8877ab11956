"""Every exception anyio_ws raises, in one tree.

::

    WebSocketException
    ├── ConnectionClosed                 the connection is over; .rcvd / .sent close frames
    │   ├── ConnectionClosedOK           ... with 1000 or 1001 on both sides
    │   └── ConnectionClosedError        ... any other way (bad code, no close frame, error)
    ├── InvalidHandshake                 the opening handshake failed
    │   ├── InvalidURI                   not a ws:// or wss:// URI we can connect to
    │   ├── InvalidMessage               the HTTP request or response could not be parsed
    │   ├── InvalidStatus                the server answered something else than 101
    │   ├── InvalidHeader                a header is missing, repeated or wrong
    │   │   ├── InvalidHeaderFormat      ... its value does not follow the grammar
    │   │   ├── InvalidHeaderValue       ... its value is not acceptable
    │   │   ├── InvalidUpgrade           ... Upgrade / Connection do not ask for websocket
    │   │   └── InvalidOrigin            ... Origin is not allowed
    │   ├── NegotiationError             extensions or subprotocols could not be agreed on
    │   │   ├── DuplicateParameter
    │   │   ├── InvalidParameterName
    │   │   └── InvalidParameterValue
    │   ├── SecurityError                a redirect (or a limit) breaks a security rule
    │   └── ProxyError                   the proxy could not open a tunnel to the server
    │       ├── InvalidProxyMessage      ... its answer to CONNECT is not valid HTTP
    │       └── InvalidProxyStatus       ... it answered CONNECT with a non-2xx status
    ├── InvalidProxy                     a proxy URI we cannot use (also a ValueError)
    ├── ProtocolError                    the peer (or we) broke RFC 6455; carries a close code
    │   └── PayloadTooBig                a message or frame exceeded max_size (1009)
    ├── InvalidState                     an operation is not allowed in the current state
    └── ConcurrencyError                 two tasks called recv() at once, and the like

Handshake errors carry ``status``: the HTTP status a server answers them with, so that
the server maps any of them to a response without a chain of ``except`` blocks.

They are defined here, in the sans-I/O core that raises most of them, so that the core
needs nothing from the I/O layer; ``anyio_ws.exceptions`` and ``anyio_ws`` re-export the
very same classes, and applications import them from there.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .frames import Close
    from .http import Response

__all__ = [
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "DuplicateParameter",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidHeaderFormat",
    "InvalidHeaderValue",
    "InvalidMessage",
    "InvalidOrigin",
    "InvalidParameterName",
    "InvalidParameterValue",
    "InvalidProxy",
    "InvalidProxyMessage",
    "InvalidProxyStatus",
    "InvalidState",
    "InvalidStatus",
    "InvalidURI",
    "InvalidUpgrade",
    "NegotiationError",
    "PayloadTooBig",
    "ProtocolError",
    "ProxyError",
    "SecurityError",
    "WebSocketException",
]


def redact_uri(uri: str) -> str:
    """``uri`` with the password of its user info, if any, shown as ``***``.

    Messages and reprs go to logs and tracebacks; credentials must not. The authority
    ends at the first ``/``, ``?`` or ``#`` (RFC 3986 section 3.2); the user info at
    its last ``@``, as urllib reads it. ``uri`` need not be valid.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    end = min((i for i in map(rest.find, "/?#") if i != -1), default=len(rest))
    user_info, at, host = rest[:end].rpartition("@")
    if not at or ":" not in user_info:
        return uri
    user = user_info.partition(":")[0]
    return f"{scheme}://{user}:***@{host}{rest[end:]}"


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters with ``...``: a peer's header in a message.

    A message goes into a log line and into the body of an HTTP error; a 16 KiB
    value sent by a client belongs in neither.
    """
    return text if len(text) <= limit else text[:limit] + "..."


class WebSocketException(Exception):
    """Base class of every exception anyio_ws raises on purpose."""


class ConnectionClosed(WebSocketException):
    """The WebSocket connection is closed; no more messages can be sent or received.

    ``rcvd`` is the close frame the peer sent and ``sent`` the one we sent (either may
    be ``None``: a peer that vanished sent none). ``rcvd_then_sent`` tells which came
    first when both exist.
    """

    def __init__(
        self,
        rcvd: Close | None,
        sent: Close | None,
        rcvd_then_sent: bool | None = None,
    ) -> None:
        self.rcvd = rcvd
        self.sent = sent
        self.rcvd_then_sent = rcvd_then_sent
        super().__init__(self._describe())

    @property
    def code(self) -> int:
        """The close code the peer sent, or 1006 when no close frame arrived."""
        return 1006 if self.rcvd is None else self.rcvd.code

    @property
    def reason(self) -> str:
        """The close reason the peer sent, or an empty string."""
        return "" if self.rcvd is None else self.rcvd.reason

    def _describe(self) -> str:
        if self.rcvd is None and self.sent is None:
            return "no close frame received or sent"
        if self.rcvd is None:
            return f"sent {self.sent}; no close frame received"
        if self.sent is None:
            return f"received {self.rcvd}; no close frame sent"
        if self.rcvd_then_sent:
            return f"received {self.rcvd}; then sent {self.sent}"
        return f"sent {self.sent}; then received {self.rcvd}"


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed normally: both sides sent 1000 (or 1001)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed abnormally: an error code, or no closing handshake."""


class InvalidHandshake(WebSocketException):
    """The opening handshake failed; ``status`` is what a server answers it with."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST


class InvalidURI(InvalidHandshake):
    """The URI is not a valid ``ws://`` or ``wss://`` URI.

    The message shows a password as ``***``; ``uri`` keeps it, as given.
    """

    def __init__(self, uri: str, msg: str) -> None:
        self.uri = uri
        self.msg = msg
        super().__init__(f"{redact_uri(uri)} isn't a valid URI: {msg}")


class InvalidMessage(InvalidHandshake):
    """The HTTP request or response of the handshake is malformed or too large."""

    def __init__(self, msg: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        self.status = status
        super().__init__(msg)


class InvalidStatus(InvalidHandshake):
    """The server answered the handshake with a status other than 101."""

    def __init__(self, response: Response) -> None:
        self.response = response
        super().__init__(f"server rejected WebSocket connection: HTTP {response.status_code}")


class InvalidHeader(InvalidHandshake):
    """A handshake header is missing, repeated, or has a value we cannot accept."""

    def __init__(self, name: str, value: str | None = None) -> None:
        self.name = name
        self.value = value
        if value is None:
            message = f"missing {name} header"
        elif value == "":
            message = f"empty {name} header"
        else:
            message = f"invalid {name} header: {shorten(value)}"
        super().__init__(message)


class InvalidHeaderFormat(InvalidHeader):
    """A header value does not follow its grammar; ``pos`` is where parsing stopped."""

    def __init__(self, name: str, error: str, header: str, pos: int) -> None:
        self.error = error
        self.pos = pos
        super().__init__(name, f"{error} at {pos} in {shorten(header)}")


class InvalidHeaderValue(InvalidHeader):
    """A header is well formed, but its value is not acceptable."""


class InvalidUpgrade(InvalidHeader):
    """``Upgrade`` or ``Connection`` does not ask for a WebSocket upgrade.

    A server answers it with 426 Upgrade Required.
    """

    status = HTTPStatus.UPGRADE_REQUIRED


class InvalidOrigin(InvalidHeader):
    """The ``Origin`` header is not one the server allows (403)."""

    status = HTTPStatus.FORBIDDEN

    def __init__(self, origin: str | None) -> None:
        super().__init__("Origin", origin)


class NegotiationError(InvalidHandshake):
    """Extensions or subprotocols could not be negotiated."""


class DuplicateParameter(NegotiationError):
    """An extension parameter appears twice."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"duplicate parameter: {name}")


class InvalidParameterName(NegotiationError):
    """An extension parameter has a name we do not know."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"invalid parameter name: {name}")


class InvalidParameterValue(NegotiationError):
    """An extension parameter has a value out of its range or grammar."""

    def __init__(self, name: str, value: str | None) -> None:
        self.name = name
        self.value = value
        super().__init__(f"invalid value for parameter {name}: {value}")


class SecurityError(InvalidHandshake):
    """The handshake breaks a security rule: too many redirects, or one from wss to ws."""


class ProxyError(InvalidHandshake):
    """The proxy did not open a tunnel to the server (a SOCKS refusal, say)."""


class InvalidProxyMessage(ProxyError):
    """The HTTP proxy's answer to ``CONNECT`` is not a valid HTTP response."""


class InvalidProxyStatus(ProxyError):
    """The HTTP proxy answered ``CONNECT`` with a status other than 2xx (407, 403...)."""

    def __init__(self, response: Response) -> None:
        self.response = response
        super().__init__(f"proxy rejected connection: HTTP {response.status_code}")


class InvalidProxy(WebSocketException, ValueError):
    """A proxy URI that cannot be used: a ``ValueError`` too, as any bad argument.

    The message shows a password as ``***``; ``proxy`` keeps it, as given.
    """

    def __init__(self, proxy: str, msg: str) -> None:
        self.proxy = proxy
        self.msg = msg
        super().__init__(f"{redact_uri(proxy)} isn't a valid proxy: {msg}")


class ProtocolError(WebSocketException):
    """A violation of RFC 6455; ``code`` is the close code that answers it."""

    code: int = 1002

    def __init__(self, msg: str, code: int | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(msg)


class PayloadTooBig(ProtocolError):
    """A frame or message is larger than ``max_size`` allows (close code 1009)."""

    code = 1009


class InvalidState(WebSocketException):
    """An operation is not possible in the connection's current state (our misuse)."""


class ConcurrencyError(WebSocketException, RuntimeError):
    """Two tasks used the connection in a way that cannot be shared, like two recv()."""
