"""The opening handshake of RFC 6455 section 4, on the server and on the client.

h11 parses and writes HTTP/1.1; this module only decides. The server side goes::

    receive_data() ... next_request() -> Request
    accept(request) -> 101 Response      or   InvalidHandshake -> response_for(exc)
    send_response(response) -> bytes to write; trailing_data = the client's first frames

and the client side::

    data_to_send() -> request bytes
    receive_data() ... next_response() -> Response
    process_response(response)           raises InvalidStatus, InvalidHeader..., NegotiationError
    trailing_data = the server's first frames

Every failure is an ``InvalidHandshake`` whose ``status`` says what a server answers;
``ServerHandshake.response_for`` is the only place that turns one into a response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import TypeVar

import h11

from .exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidOrigin,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
    shorten,
)
from .extensions.base import (
    ClientExtensionFactory,
    Extension,
    ServerExtensionFactory,
)
from .headers import (
    ExtensionHeader,
    build_extension,
    build_subprotocol_list,
    parse_connection,
    parse_extension,
    parse_subprotocol_list,
    parse_upgrade,
    validate_subprotocols,
)
from .http import Headers, HeadersLike, Request, Response
from .uri import WebSocketURI

__all__ = [
    "GUID",
    "MAX_HEADERS",
    "MAX_LINE_SIZE",
    "MAX_OFFERS",
    "ClientHandshake",
    "ServerHandshake",
    "UnsupportedVersion",
    "accept_key",
    "check_head",
    "generate_key",
    "validate_origins",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The fixed string RFC 6455 section 1.3 appends to the key before hashing it."""

VERSION = "13"

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

_CLOSED_EARLY = "connection closed before the {} was complete"

# Headers that an error response carries besides the body, by status. RFC 9110 asks a
# 405 to list the allowed methods and a 426 to name the protocol to upgrade to.
_ERROR_HEADERS: dict[int, tuple[tuple[str, str], ...]] = {
    HTTPStatus.METHOD_NOT_ALLOWED: (("Allow", "GET"),),
    HTTPStatus.UPGRADE_REQUIRED: (("Upgrade", "websocket"),),
}


class UnsupportedVersion(InvalidHeaderValue):
    """``Sec-WebSocket-Version`` is missing or not 13.

    RFC 6455 section 4.4: the server answers 426 and lists the version it speaks in
    ``Sec-WebSocket-Version``, so that the client may retry with it.
    """

    status = HTTPStatus.UPGRADE_REQUIRED


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


def _to_h11_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    # Latin-1 both ways keeps every byte a peer sent, and refuses what HTTP cannot carry.
    return [(name.encode("ascii"), value.encode("latin-1")) for name, value in headers.raw_items()]


def _from_h11_headers(event: h11.Request | h11.InformationalResponse | h11.Response) -> Headers:
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


OriginPattern = str | re.Pattern[str] | None
"""An allowed ``Origin``: an exact value, a pattern it must fullmatch, or ``None`` for none."""

SelectSubprotocol = Callable[[Sequence[str]], "str | None"]
"""Picks a subprotocol among the client's offers; ``None`` goes on without one."""


def validate_origins(origins: Sequence[OriginPattern] | None) -> None:
    """Check the ``origins`` a server allows before any client shows up.

    Raises:
        TypeError: ``origins`` is a single string, or holds something else than str,
            ``None`` or a compiled ``re.Pattern`` of str.
    """
    if origins is None:
        return
    if isinstance(origins, (str, bytes)) or not isinstance(origins, Sequence):
        raise TypeError(f"origins must be a sequence, not {type(origins).__name__}")
    for origin in origins:
        if origin is None or isinstance(origin, str):
            continue
        if isinstance(origin, re.Pattern) and isinstance(origin.pattern, str):
            continue
        raise TypeError(
            f"origins may hold str, None or re.Pattern[str], not {type(origin).__name__}"
        )


def _check_origin(headers: Headers, origins: Sequence[OriginPattern] | None) -> None:
    """Check ``Origin`` against the allowed values (RFC 6454 7.3 allows one value at most).

    This is the defence against Cross-Site WebSocket Hijacking: browsers always send
    ``Origin``, so a page on another site cannot open a connection as its visitor.
    """
    if origins is None:
        return
    values = headers.get_all("Origin")
    if len(values) > 1:
        raise InvalidHeader("Origin", "multiple values")
    origin = values[0] if values else None
    for allowed in origins:
        if allowed == origin:
            return
        if isinstance(allowed, re.Pattern) and origin is not None and allowed.fullmatch(origin):
            return
    raise InvalidOrigin(origin)


def _single_value(headers: Headers, name: str) -> str:
    values = headers.get_all(name)
    if not values:
        raise InvalidHeader(name)
    if len(values) > 1:
        raise InvalidHeader(name, "multiple values")
    return values[0]


def _check_upgrade(headers: Headers) -> None:
    """Check that ``Connection`` holds ``upgrade`` and ``Upgrade`` names ``websocket``.

    Both are token lists compared case-insensitively (RFC 6455 4.2.1 and 4.1).
    """
    connection = headers.get_all("Connection")
    if "upgrade" not in [t.lower() for value in connection for t in parse_connection(value)]:
        raise InvalidUpgrade("Connection", ", ".join(connection) or None)
    upgrade = headers.get_all("Upgrade")
    if "websocket" not in [p.lower() for value in upgrade for p in parse_upgrade(value)]:
        raise InvalidUpgrade("Upgrade", ", ".join(upgrade) or None)


def _check_key(headers: Headers) -> str:
    key = _single_value(headers, "Sec-WebSocket-Key")
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise InvalidHeaderValue("Sec-WebSocket-Key", key) from None
    if len(raw) != 16:
        raise InvalidHeaderValue("Sec-WebSocket-Key", key)
    return key


def _check_version(headers: Headers) -> None:
    versions = headers.get_all("Sec-WebSocket-Version")
    if versions != [VERSION]:
        raise UnsupportedVersion("Sec-WebSocket-Version", ", ".join(versions) or None)


def _bounded(headers: Headers, name: str, parse: Callable[..., list[T]]) -> list[T]:
    """Parse every value of ``name``, stopping past ``MAX_OFFERS`` items in all."""
    items: list[T] = []
    for value in headers.get_all(name):
        items += parse(value, max_items=MAX_OFFERS - len(items))
    return items


def _subprotocols(headers: Headers) -> list[str]:
    return _bounded(headers, "Sec-WebSocket-Protocol", parse_subprotocol_list)


def _extensions(headers: Headers) -> list[ExtensionHeader]:
    return _bounded(headers, "Sec-WebSocket-Extensions", parse_extension)


def _send(connection: h11.Connection, event: h11.Event) -> bytes:
    return connection.send(event) or b""


class ServerHandshake:
    """The server side of the opening handshake.

    Args:
        origins: the allowed ``Origin`` values (see ``validate_origins``); a request
            with another one gets a 403. ``None`` allows any, or none.
        extensions: factories answering the client's extension offers, by preference.
        subprotocols: the subprotocols this server speaks, most preferred first.
            ``None`` or empty ignores the client's ``Sec-WebSocket-Protocol``.
        select_subprotocol: replaces the default choice (see ``accept``); it gets
            the client's offers and returns one of them, or ``None``.
        server_header: the ``Server`` header of every response; ``None`` omits it.
        max_header_size: the largest request head accepted; larger gets a 431, as do
            more than ``MAX_HEADERS`` headers or a line over ``MAX_LINE_SIZE``.
    """

    def __init__(
        self,
        *,
        origins: Sequence[OriginPattern] | None = None,
        extensions: Sequence[ServerExtensionFactory] = (),
        subprotocols: Sequence[str] | None = None,
        select_subprotocol: SelectSubprotocol | None = None,
        server_header: str | None = "anyio_ws",
        max_header_size: int = 16384,
    ) -> None:
        validate_origins(origins)
        if subprotocols is not None:
            validate_subprotocols(subprotocols)
        self.origins = None if origins is None else list(origins)
        self.available_extensions = list(extensions)
        self.available_subprotocols = list(subprotocols or ())
        self.select_subprotocol = select_subprotocol
        self.server_header = server_header
        self.request: Request | None = None
        self.extensions: list[Extension] = []
        self.subprotocol: str | None = None
        self.max_header_size = max_header_size
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=max_header_size)
        self._head_request = False
        self._pending: Request | None = None
        self._error: InvalidMessage | None = None

    # Receiving the request.

    def receive_data(self, data: bytes) -> None:
        """Feed bytes received from the client."""
        self._h11.receive_data(data)

    def receive_eof(self) -> None:
        """Tell that the client closed its side of the connection."""
        self._h11.receive_data(b"")

    def next_request(self) -> Request | None:
        """Parse the request, or return ``None`` until enough bytes have arrived.

        Raises:
            InvalidMessage: the request is malformed, too large or has too many headers
                (431), a target over ``MAX_LINE_SIZE`` (414), not a bodiless
                HTTP/1.1 GET (405 or 505 or 400), or the client left before sending it.
        """
        if self._error is not None:  # like h11, a failure is final
            raise self._error
        if self.request is not None:
            return self.request
        try:
            return self._next_request()
        except h11.RemoteProtocolError as exc:
            status = HTTPStatus(exc.error_status_hint)
            self._error = InvalidMessage(f"invalid HTTP request: {shorten(str(exc))}", status)
            raise self._error from exc
        except InvalidMessage as exc:
            self._error = exc
            raise

    def _next_request(self) -> Request | None:
        while True:
            event = self._h11.next_event()
            if isinstance(event, h11.Request):
                self._pending = self._check_request(event)
            elif isinstance(event, h11.EndOfMessage):
                self.request = self._pending
                return self.request
            elif isinstance(event, h11.ConnectionClosed):
                raise InvalidMessage(_CLOSED_EARLY.format("request"))
            else:  # NEED_DATA: a body never gets this far, _check_request refuses it
                return None

    def _check_request(self, event: h11.Request) -> Request:
        self._head_request = event.method == b"HEAD"
        check_head(event, self.max_header_size)
        if event.http_version != b"1.1":
            raise InvalidMessage(
                f"unsupported HTTP version: {event.http_version.decode()}",
                HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
            )
        if event.method != b"GET":
            raise InvalidMessage(
                f"unsupported HTTP method: {event.method.decode()}", HTTPStatus.METHOD_NOT_ALLOWED
            )
        headers = _from_h11_headers(event)
        if "Transfer-Encoding" in headers or headers.get_all("Content-Length") not in ([], ["0"]):
            raise InvalidMessage("unsupported request body")
        return Request(event.target.decode("latin-1"), headers)

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the request: the client's first frames, if any."""
        return self._h11.trailing_data[0] if self.request is not None else b""

    # Deciding.

    def accept(self, request: Request) -> Response:
        """Validate a handshake request and build the 101 response.

        Sets ``extensions`` and ``subprotocol`` to what was negotiated. The subprotocol
        is, as in websockets, the server's most preferred one among the client's offers;
        when the server has subprotocols and the client offers none of them, the
        handshake fails. A ``select_subprotocol`` callable decides instead.

        Raises:
            InvalidUpgrade: ``Upgrade`` or ``Connection`` does not ask for websocket (426).
            UnsupportedVersion: ``Sec-WebSocket-Version`` is not 13 (426).
            InvalidHeader: ``Sec-WebSocket-Key`` is missing, repeated or not 16 bytes of
                base64, or another header breaks its grammar (400).
            InvalidOrigin: ``Origin`` is not among ``origins`` (403).
            InvalidHeaderValue: more than ``MAX_OFFERS`` extension offers, or
                subprotocols (400).
            NegotiationError: no common subprotocol (400).
            ValueError: ``select_subprotocol`` returned something the client did not
                offer: a bug on the server side, worth a 500 rather than a 400.
        """
        headers = request.headers
        _check_upgrade(headers)
        _check_version(headers)
        key = _check_key(headers)
        _check_origin(headers, self.origins)
        answers, extensions = self._negotiate_extensions(_extensions(headers))
        subprotocol = self._select_subprotocol(_subprotocols(headers))
        response_headers = Headers(
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", accept_key(key)),
            ]
        )
        if answers:
            response_headers["Sec-WebSocket-Extensions"] = build_extension(answers)
        if subprotocol is not None:
            response_headers["Sec-WebSocket-Protocol"] = subprotocol
        self._add_server_header(response_headers)
        self.extensions, self.subprotocol = extensions, subprotocol
        return Response(101, "Switching Protocols", response_headers)

    def _negotiate_extensions(
        self, offers: list[ExtensionHeader]
    ) -> tuple[list[ExtensionHeader], list[Extension]]:
        """Accept each offer, in the client's order, with the first factory that agrees.

        A factory serves at most one offer, so a client's alternatives for the same
        extension (RFC 7692 section 5) yield at most one accepted extension per factory.
        """
        answers: list[ExtensionHeader] = []
        accepted: list[Extension] = []
        unused = list(self.available_extensions)
        for name, params in offers:
            for factory in unused:
                if factory.name != name:
                    continue
                try:
                    answer, extension = factory.process_request_params(params, accepted)
                except NegotiationError:
                    continue
                unused.remove(factory)
                answers.append((name, answer))
                accepted.append(extension)
                break
        return answers, accepted

    def _select_subprotocol(self, offered: list[str]) -> str | None:
        """Pick the subprotocol, with the user's callable or by the server's preference."""
        if self.select_subprotocol is not None:
            selected = self.select_subprotocol(offered)
            if selected is not None and selected not in offered:
                raise ValueError(
                    f"select_subprotocol returned {selected!r}, which the client did not "
                    f"offer (offers: {', '.join(offered) or 'none'})"
                )
            return selected
        if not self.available_subprotocols:
            return None
        if not offered:
            raise NegotiationError("missing subprotocol")
        for subprotocol in self.available_subprotocols:
            if subprotocol in offered:
                return subprotocol
        expected = ", ".join(self.available_subprotocols)
        raise NegotiationError(f"invalid subprotocol; expected one of {expected}")

    def reject(self, status: int, text: str, headers: HeadersLike | None = None) -> Response:
        """Build an error response with a short plain-text body; the connection then closes.

        Args:
            status: the HTTP status code.
            text: the body, sent as UTF-8.
            headers: extra headers, written first.
        """
        body = text.encode("utf-8")
        response_headers = Headers(headers)
        response_headers.update(
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ]
        )
        self._add_server_header(response_headers)
        return Response(status, _reason_phrase(status), response_headers, body)

    def response_for(self, exc: InvalidHandshake) -> Response:
        """Build the error response that answers any handshake failure."""
        headers = list(_ERROR_HEADERS.get(exc.status, ()))
        if isinstance(exc, UnsupportedVersion):
            headers.append(("Sec-WebSocket-Version", VERSION))
        text = f"Failed to open a WebSocket connection: {exc}.\n"
        return self.reject(int(exc.status), text, headers)

    def _add_server_header(self, headers: Headers) -> None:
        if self.server_header is not None:
            headers["Server"] = self.server_header

    # Sending the response.

    def send_response(self, response: Response) -> bytes:
        """Serialize the response to write to the client.

        Returns ``b""`` when the client closed the connection before sending a request:
        nobody is left to read an answer.
        """
        headers = _to_h11_headers(response.headers)
        reason = response.reason_phrase.encode("latin-1")
        if response.status_code == 101:
            event = h11.InformationalResponse(status_code=101, headers=headers, reason=reason)
            return _send(self._h11, event)
        if self._h11.their_state is h11.CLOSED:
            return b""
        head = h11.Response(status_code=response.status_code, headers=headers, reason=reason)
        data = _send(self._h11, head)
        if response.body and not self._head_request:  # h11 knows a HEAD answer has no body
            data += _send(self._h11, h11.Data(data=response.body))
        return data + _send(self._h11, h11.EndOfMessage())


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _response_head(event: h11.InformationalResponse | h11.Response) -> Response:
    return Response(event.status_code, event.reason.decode("latin-1"), _from_h11_headers(event))


def _basic_auth(user_info: tuple[str, str]) -> str:
    credentials = base64.b64encode(":".join(user_info).encode("utf-8")).decode("ascii")
    return f"Basic {credentials}"


class ClientHandshake:
    """The client side of the opening handshake.

    The request is built at once, in ``request``; ``data_to_send()`` gives its bytes.

    Args:
        uri: where to connect; gives ``Host``, the request path and ``Authorization``
            (unless ``additional_headers`` has one: it wins).
        origin: the ``Origin`` header, if any.
        extensions: factories making extension offers, in order of preference; several
            factories with the same name make several offers.
        subprotocols: the subprotocols to offer, in order of preference.
        additional_headers: more request headers, added after the WebSocket ones.
        user_agent_header: the ``User-Agent`` header; ``None`` omits it.
        key_source: the random source of ``Sec-WebSocket-Key``.
        max_header_size: the largest response head accepted; more than
            ``MAX_HEADERS`` headers or a line over ``MAX_LINE_SIZE`` is refused too.
        max_body_size: the largest error response body read; ``None`` for no limit.

    Raises:
        h11.LocalProtocolError: a header HTTP cannot carry (CR or LF in a value).
    """

    def __init__(
        self,
        uri: WebSocketURI,
        *,
        origin: str | None = None,
        extensions: Sequence[ClientExtensionFactory] = (),
        subprotocols: Sequence[str] | None = None,
        additional_headers: HeadersLike | None = None,
        user_agent_header: str | None = "anyio_ws",
        key_source: Callable[[int], bytes] = os.urandom,
        max_header_size: int = 16384,
        max_body_size: int | None = 65536,
    ) -> None:
        if subprotocols is not None:
            validate_subprotocols(subprotocols)
        self.uri = uri
        self.available_extensions = list(extensions)
        self.available_subprotocols = list(subprotocols or ())
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.key = generate_key(key_source)
        self.request = Request(uri.resource_name, self._request_headers(origin, additional_headers))
        if user_agent_header is not None:
            self.request.headers["User-Agent"] = user_agent_header
        self.response: Response | None = None
        self.extensions: list[Extension] = []
        self.subprotocol: str | None = None
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_size)
        self._outgoing = self._serialize_request()
        self._pending: Response | None = None
        self._body = bytearray()

    def _request_headers(self, origin: str | None, additional: HeadersLike | None) -> Headers:
        """Build the request's headers, with one ``Authorization`` at most.

        An ``Authorization`` in ``additional_headers`` replaces the one the URI's user
        info makes, as a header given to curl replaces curl's own: it is the more
        deliberate of the two, and two values would leave the server to guess.
        """
        additional = None if additional is None else Headers(additional)
        headers = Headers([("Host", self.uri.host_header)])
        explicit = additional is not None and "Authorization" in additional
        if self.uri.user_info is not None and not explicit:
            headers["Authorization"] = _basic_auth(self.uri.user_info)
        if origin is not None:
            headers["Origin"] = origin
        headers.update(
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", self.key),
                ("Sec-WebSocket-Version", VERSION),
            ]
        )
        if self.available_extensions:
            offers = [(f.name, f.get_request_params()) for f in self.available_extensions]
            headers["Sec-WebSocket-Extensions"] = build_extension(offers)
        if self.available_subprotocols:
            headers["Sec-WebSocket-Protocol"] = build_subprotocol_list(self.available_subprotocols)
        if additional is not None:
            headers.update(additional)
        return headers

    def _serialize_request(self) -> bytes:
        headers = _to_h11_headers(self.request.headers)
        event = h11.Request(method="GET", target=self.request.path, headers=headers)
        return _send(self._h11, event) + _send(self._h11, h11.EndOfMessage())

    def data_to_send(self) -> bytes:
        """The bytes of the request the first time, then ``b""``."""
        data, self._outgoing = self._outgoing, b""
        return data

    # Receiving the response.

    def receive_data(self, data: bytes) -> None:
        """Feed bytes received from the server."""
        self._h11.receive_data(data)

    def receive_eof(self) -> None:
        """Tell that the server closed its side of the connection."""
        self._h11.receive_data(b"")

    def next_response(self) -> Response | None:
        """Parse the response, or return ``None`` until enough bytes have arrived.

        A 101 is returned as soon as its head is complete: what follows is WebSocket
        data (``trailing_data``). Any other status is returned with its body, which ends
        with the connection when it has no length.

        Raises:
            InvalidMessage: the response is malformed or too large (see ``MAX_HEADERS``
                and ``MAX_LINE_SIZE``), or the server left before sending it.
        """
        if self.response is not None:
            return self.response
        try:
            self.response = self._next_response()
        except h11.RemoteProtocolError as exc:
            if self._h11.trailing_data == (b"", True):  # h11's words for this are cryptic
                raise InvalidMessage(_CLOSED_EARLY.format("response")) from exc
            raise InvalidMessage(f"invalid HTTP response: {shorten(str(exc))}") from exc
        return self.response

    def _next_response(self) -> Response | None:
        while True:
            event = self._h11.next_event()
            if isinstance(event, (h11.InformationalResponse, h11.Response)):
                check_head(event, self.max_header_size)
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    return _response_head(event)
                # Another 1xx (100 Continue, 103 Early Hints): the real answer follows.
            elif isinstance(event, h11.Response):
                self._pending = _response_head(event)
            elif isinstance(event, h11.Data):
                self._append_body(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert self._pending is not None  # h11 sends no EndOfMessage before a Response
                self._pending.body = bytes(self._body)
                return self._pending
            else:  # NEED_DATA
                # Never ConnectionClosed: h11 returns it only once the server is done,
                # after the return above; an earlier close is a RemoteProtocolError.
                return None

    def _append_body(self, data: bytes) -> None:
        if self.max_body_size is not None and len(self._body) + len(data) > self.max_body_size:
            raise InvalidMessage(f"response body exceeds {self.max_body_size} bytes")
        self._body += data

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the response: the server's first frames, if any."""
        return self._h11.trailing_data[0] if self.response is not None else b""

    # Deciding.

    def process_response(self, response: Response) -> None:
        """Check the server's response and record what was negotiated.

        Sets ``response``, ``extensions`` and ``subprotocol``.

        Raises:
            InvalidStatus: the status is not 101.
            InvalidUpgrade: ``Upgrade`` or ``Connection`` does not name websocket.
            InvalidHeader: ``Sec-WebSocket-Accept`` is missing, repeated or wrong.
            NegotiationError: the server accepted an extension or a subprotocol that was
                not offered, or parameters a factory refuses.
        """
        self.response = response
        if response.status_code != 101:
            raise InvalidStatus(response)
        headers = response.headers
        _check_upgrade(headers)
        accept = _single_value(headers, "Sec-WebSocket-Accept")
        if accept != accept_key(self.key):
            raise InvalidHeaderValue("Sec-WebSocket-Accept", accept)
        self.extensions = self._accept_extensions(_extensions(headers))
        self.subprotocol = self._accept_subprotocol(_subprotocols(headers))

    def _accept_extensions(self, answers: list[ExtensionHeader]) -> list[Extension]:
        """Match each extension the server accepted with the first offering factory that agrees."""
        accepted: list[Extension] = []
        unused = list(self.available_extensions)
        for name, params in answers:
            for factory in unused:
                if factory.name != name:
                    continue
                try:
                    accepted.append(factory.process_response_params(params, accepted))
                except NegotiationError:
                    continue
                unused.remove(factory)
                break
            else:
                extension = build_extension([(name, params)])
                raise NegotiationError(f"unsupported extension: {extension}")
        return accepted

    def _accept_subprotocol(self, subprotocols: list[str]) -> str | None:
        if not subprotocols:
            return None
        if len(subprotocols) > 1:
            raise NegotiationError(f"multiple subprotocols: {', '.join(subprotocols)}")
        if subprotocols[0] not in self.available_subprotocols:
            raise NegotiationError(f"unsupported subprotocol: {subprotocols[0]}")
        return subprotocols[0]
