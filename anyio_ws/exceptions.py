"""Every exception anyio_ws raises: those of ``anyio_ws.core.exceptions``, re-exported.

The classes, and the docstring that draws their tree, live in the sans-I/O core, which
raises most of them and must not import this package; importing them from here (or from
``anyio_ws``) gives the very same classes, as ``websockets.exceptions`` does.
"""

from .core.exceptions import ConcurrencyError as ConcurrencyError
from .core.exceptions import ConnectionClosed as ConnectionClosed
from .core.exceptions import ConnectionClosedError as ConnectionClosedError
from .core.exceptions import ConnectionClosedOK as ConnectionClosedOK
from .core.exceptions import DuplicateParameter as DuplicateParameter
from .core.exceptions import InvalidHandshake as InvalidHandshake
from .core.exceptions import InvalidHeader as InvalidHeader
from .core.exceptions import InvalidHeaderFormat as InvalidHeaderFormat
from .core.exceptions import InvalidHeaderValue as InvalidHeaderValue
from .core.exceptions import InvalidMessage as InvalidMessage
from .core.exceptions import InvalidOrigin as InvalidOrigin
from .core.exceptions import InvalidParameterName as InvalidParameterName
from .core.exceptions import InvalidParameterValue as InvalidParameterValue
from .core.exceptions import InvalidProxy as InvalidProxy
from .core.exceptions import InvalidProxyMessage as InvalidProxyMessage
from .core.exceptions import InvalidProxyStatus as InvalidProxyStatus
from .core.exceptions import InvalidState as InvalidState
from .core.exceptions import InvalidStatus as InvalidStatus
from .core.exceptions import InvalidUpgrade as InvalidUpgrade
from .core.exceptions import InvalidURI as InvalidURI
from .core.exceptions import NegotiationError as NegotiationError
from .core.exceptions import PayloadTooBig as PayloadTooBig
from .core.exceptions import ProtocolError as ProtocolError
from .core.exceptions import ProxyError as ProxyError
from .core.exceptions import SecurityError as SecurityError
from .core.exceptions import WebSocketException as WebSocketException
from .core.exceptions import redact_uri as redact_uri
from .core.exceptions import shorten as shorten

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
