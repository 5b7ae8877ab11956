"""The server side of the opening handshake (RFC 6455 section 4.2).

h11 parses the request and writes the response; this module only decides::

    receive_data() ... next_request() -> Request
    accept(request) -> 101 Response      or   InvalidHandshake -> response_for(exc)
    send_response(response) -> bytes to write; trailing_data = the client's first frames

``ServerHandshake.response_for`` is the only place that turns a failure into a response.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from http import HTTPStatus

import h11

from ..exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidOrigin,
    NegotiationError,
    shorten,
)
from ..extensions.base import Extension, ServerExtensionFactory
from ..headers import ExtensionHeader, build_extension, validate_subprotocols
from ..http import Headers, HeadersLike, Request, Response
from .common import (
    CLOSED_EARLY,
    VERSION,
    accept_key,
    check_head,
    check_upgrade,
    from_h11_headers,
    read_extensions,
    read_subprotocols,
    send_event,
    single_value,
    to_h11_headers,
)

__all__ = [
    "OriginPattern",
    "SelectSubprotocol",
    "ServerHandshake",
    "UnsupportedVersion",
    "validate_origins",
]

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


def _check_key(headers: Headers) -> str:
    key = single_value(headers, "Sec-WebSocket-Key")
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
                raise InvalidMessage(CLOSED_EARLY.format("request"))
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
        headers = from_h11_headers(event)
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
        check_upgrade(headers)
        _check_version(headers)
        key = _check_key(headers)
        _check_origin(headers, self.origins)
        answers, extensions = self._negotiate_extensions(read_extensions(headers))
        subprotocol = self._select_subprotocol(read_subprotocols(headers))
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
        headers = to_h11_headers(response.headers)
        reason = response.reason_phrase.encode("latin-1")
        if response.status_code == 101:
            event = h11.InformationalResponse(status_code=101, headers=headers, reason=reason)
            return send_event(self._h11, event)
        if self._h11.their_state is h11.CLOSED:
            return b""
        head = h11.Response(status_code=response.status_code, headers=headers, reason=reason)
        data = send_event(self._h11, head)
        if response.body and not self._head_request:  # h11 knows a HEAD answer has no body
            data += send_event(self._h11, h11.Data(data=response.body))
        return data + send_event(self._h11, h11.EndOfMessage())


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
