"""anyio_ws: WebSocket client and server (RFC 6455, RFC 7692) on anyio.

The same code runs on asyncio and on trio. The names are those of ``websockets``;
what is new is that every server handler runs in a scope owned by its connection.
Importing this package never imports trio.
"""

from .auth import basic_auth as basic_auth
from .broadcast import abroadcast as abroadcast
from .broadcast import broadcast as broadcast
from .client import ClientConnection as ClientConnection
from .client import backoff as backoff
from .client import connect as connect
from .client import process_exception as process_exception
from .client import unix_connect as unix_connect
from .connection import Connection as Connection
from .connection import PongWaiter as PongWaiter
from .core.frames import Close as Close
from .core.frames import CloseCode as CloseCode
from .core.http import Headers as Headers
from .core.http import Request as Request
from .core.http import Response as Response
from .core.protocol import State as State
from .exceptions import ConcurrencyError as ConcurrencyError
from .exceptions import ConnectionClosed as ConnectionClosed
from .exceptions import ConnectionClosedError as ConnectionClosedError
from .exceptions import ConnectionClosedOK as ConnectionClosedOK
from .exceptions import DuplicateParameter as DuplicateParameter
from .exceptions import InvalidHandshake as InvalidHandshake
from .exceptions import InvalidHeader as InvalidHeader
from .exceptions import InvalidHeaderFormat as InvalidHeaderFormat
from .exceptions import InvalidHeaderValue as InvalidHeaderValue
from .exceptions import InvalidMessage as InvalidMessage
from .exceptions import InvalidOrigin as InvalidOrigin
from .exceptions import InvalidParameterName as InvalidParameterName
from .exceptions import InvalidParameterValue as InvalidParameterValue
from .exceptions import InvalidProxy as InvalidProxy
from .exceptions import InvalidProxyMessage as InvalidProxyMessage
from .exceptions import InvalidProxyStatus as InvalidProxyStatus
from .exceptions import InvalidState as InvalidState
from .exceptions import InvalidStatus as InvalidStatus
from .exceptions import InvalidUpgrade as InvalidUpgrade
from .exceptions import InvalidURI as InvalidURI
from .exceptions import NegotiationError as NegotiationError
from .exceptions import PayloadTooBig as PayloadTooBig
from .exceptions import ProtocolError as ProtocolError
from .exceptions import ProxyError as ProxyError
from .exceptions import SecurityError as SecurityError
from .exceptions import WebSocketException as WebSocketException
from .server import Server as Server
from .server import ServerConnection as ServerConnection
from .server import serve as serve
from .server import serve_stream as serve_stream
from .server import unix_serve as unix_serve

__version__ = "0.1.0"

__all__ = [
    "abroadcast",
    "broadcast",
    "ClientConnection",
    "Close",
    "CloseCode",
    "ConcurrencyError",
    "Connection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "DuplicateParameter",
    "Headers",
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
    "PongWaiter",
    "ProtocolError",
    "ProxyError",
    "Request",
    "Response",
    "SecurityError",
    "Server",
    "ServerConnection",
    "State",
    "WebSocketException",
    "basic_auth",
    "backoff",
    "connect",
    "process_exception",
    "serve",
    "serve_stream",
    "unix_serve",
    "unix_connect",
]
