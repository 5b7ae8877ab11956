"""anyio_ws: WebSocket client and server (RFC 6455, RFC 7692) on anyio.

The same code runs on asyncio and on trio. The names are those of ``websockets``;
what is new is that every server handler runs in a scope owned by its connection.
Importing this package never imports trio, and imports no submodule at all: each
public name is imported from its module on first use (PEP 562), so that a program that
only needs the sans-I/O core (``anyio_ws.core``) never pays for, or needs, anyio.
"""

import importlib as _importlib
import sys as _sys
from types import ModuleType as _ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import auth as auth
    from . import client as client
    from . import connection as connection
    from . import core as core
    from . import exceptions as exceptions
    from . import server as server
    from . import typing as typing
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

_MODULES: dict[str, str] = {
    "basic_auth": ".auth",
    "abroadcast": ".broadcast",
    "broadcast": ".broadcast",
    "ClientConnection": ".client",
    "backoff": ".client",
    "connect": ".client",
    "process_exception": ".client",
    "unix_connect": ".client",
    "Connection": ".connection",
    "PongWaiter": ".connection",
    "Close": ".core.frames",
    "CloseCode": ".core.frames",
    "Headers": ".core.http",
    "Request": ".core.http",
    "Response": ".core.http",
    "State": ".core.protocol",
    "ConcurrencyError": ".exceptions",
    "ConnectionClosed": ".exceptions",
    "ConnectionClosedError": ".exceptions",
    "ConnectionClosedOK": ".exceptions",
    "DuplicateParameter": ".exceptions",
    "InvalidHandshake": ".exceptions",
    "InvalidHeader": ".exceptions",
    "InvalidHeaderFormat": ".exceptions",
    "InvalidHeaderValue": ".exceptions",
    "InvalidMessage": ".exceptions",
    "InvalidOrigin": ".exceptions",
    "InvalidParameterName": ".exceptions",
    "InvalidParameterValue": ".exceptions",
    "InvalidProxy": ".exceptions",
    "InvalidProxyMessage": ".exceptions",
    "InvalidProxyStatus": ".exceptions",
    "InvalidState": ".exceptions",
    "InvalidStatus": ".exceptions",
    "InvalidUpgrade": ".exceptions",
    "InvalidURI": ".exceptions",
    "NegotiationError": ".exceptions",
    "PayloadTooBig": ".exceptions",
    "ProtocolError": ".exceptions",
    "ProxyError": ".exceptions",
    "SecurityError": ".exceptions",
    "WebSocketException": ".exceptions",
    "Server": ".server",
    "ServerConnection": ".server",
    "serve": ".server",
    "serve_stream": ".server",
    "unix_serve": ".server",
}
"""The module that defines each public name, relative to this package."""

_SUBMODULES = frozenset({"auth", "client", "connection", "core", "exceptions", "server", "typing"})
"""Submodules that ``import anyio_ws`` used to load, and so may be used without an import.

Not ``broadcast``: that name is the function, as it always was."""

if not TYPE_CHECKING:  # hidden from mypy, which would accept any name of the package

    def __getattr__(name: str) -> object:
        """Import a public name (or submodule) on first use, and keep it (PEP 562).

        Every public name of the same module is bound at once, so that later lookups
        find them in the namespace and never come back here.
        """
        module_name = _MODULES.get(name)
        if module_name is None:
            if name in _SUBMODULES:
                return _importlib.import_module(f".{name}", __name__)
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        module = _importlib.import_module(module_name, __name__)
        for public, source in _MODULES.items():
            if source == module_name:
                globals()[public] = getattr(module, public)
        return globals()[name]


def __dir__() -> list[str]:
    """Every public name, imported yet or not, with the module's own attributes."""
    return sorted({*globals(), *__all__})


class _Package(_ModuleType):
    """The package's module type, so that ``anyio_ws.broadcast`` stays the function.

    The import system binds each submodule it loads on its package, under its own name:
    loading ``anyio_ws.broadcast`` (for ``abroadcast``, or for an application's ``from
    anyio_ws.broadcast import ...``) would hide the function ``broadcast`` of the same
    name. This type binds the function instead, as the package's eager imports did.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, _ModuleType) and _MODULES.get(name) == f".{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
