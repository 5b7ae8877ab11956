"""The opening handshake of RFC 6455 section 4, on the server and on the client.

h11 parses and writes HTTP/1.1; this package only decides. The server side
(``handshake.server``) goes::

    receive_data() ... next_request() -> Request
    accept(request) -> 101 Response      or   InvalidHandshake -> response_for(exc)
    send_response(response) -> bytes to write; trailing_data = the client's first frames

and the client side (``handshake.client``)::

    data_to_send() -> request bytes
    receive_data() ... next_response() -> Response
    process_response(response)           raises InvalidStatus, InvalidHeader..., NegotiationError
    trailing_data = the server's first frames

Every failure is an ``InvalidHandshake`` whose ``status`` says what a server answers;
``ServerHandshake.response_for`` is the only place that turns one into a response.
What both sides share (the keys, the bounds on a head, the ``Upgrade`` check, the h11
glue) is in ``handshake.common``; this module re-exports the names to import.
"""

from .client import ClientHandshake as ClientHandshake
from .common import GUID as GUID
from .common import MAX_HEADERS as MAX_HEADERS
from .common import MAX_LINE_SIZE as MAX_LINE_SIZE
from .common import MAX_OFFERS as MAX_OFFERS
from .common import VERSION as VERSION
from .common import accept_key as accept_key
from .common import check_head as check_head
from .common import generate_key as generate_key
from .server import OriginPattern as OriginPattern
from .server import SelectSubprotocol as SelectSubprotocol
from .server import ServerHandshake as ServerHandshake
from .server import UnsupportedVersion as UnsupportedVersion
from .server import validate_origins as validate_origins

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
