"""The client side of the opening handshake (RFC 6455 section 4.1).

h11 writes the request and parses the response; this module only decides::

    data_to_send() -> request bytes
    receive_data() ... next_response() -> Response
    process_response(response)           raises InvalidStatus, InvalidHeader..., NegotiationError
    trailing_data = the server's first frames
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Sequence

import h11

from ..exceptions import (
    InvalidHeaderValue,
    InvalidMessage,
    InvalidStatus,
    NegotiationError,
    shorten,
)
from ..extensions.base import ClientExtensionFactory, Extension
from ..headers import (
    ExtensionHeader,
    build_extension,
    build_subprotocol_list,
    validate_subprotocols,
)
from ..http import Headers, HeadersLike, Request, Response
from ..uri import WebSocketURI
from .common import (
    CLOSED_EARLY,
    VERSION,
    accept_key,
    check_head,
    check_upgrade,
    from_h11_headers,
    generate_key,
    read_extensions,
    read_subprotocols,
    send_event,
    single_value,
    to_h11_headers,
)

__all__ = ["ClientHandshake"]


def _response_head(event: h11.InformationalResponse | h11.Response) -> Response:
    return Response(event.status_code, event.reason.decode("latin-1"), from_h11_headers(event))


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
        headers = to_h11_headers(self.request.headers)
        event = h11.Request(method="GET", target=self.request.path, headers=headers)
        return send_event(self._h11, event) + send_event(self._h11, h11.EndOfMessage())

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
                raise InvalidMessage(CLOSED_EARLY.format("response")) from exc
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
        check_upgrade(headers)
        accept = single_value(headers, "Sec-WebSocket-Accept")
        if accept != accept_key(self.key):
            raise InvalidHeaderValue("Sec-WebSocket-Accept", accept)
        self.extensions = self._accept_extensions(read_extensions(headers))
        self.subprotocol = self._accept_subprotocol(read_subprotocols(headers))

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
