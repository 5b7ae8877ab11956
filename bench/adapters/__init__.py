"""The implementations under test, one adapter module per library.

``load(name)`` imports only the module that defines ``name``, so a process that
measures one library does not import the others.
"""

from __future__ import annotations

import importlib
import importlib.util

from .base import ClientConn, Implementation, Unsupported

__all__ = ["ALL", "ClientConn", "Implementation", "Unsupported", "load", "module_of"]

# name -> adapter module, in the order the tables list them.
ALL: dict[str, str] = {
    "anyio_ws-asyncio": "anyio_ws_impl",
    "anyio_ws-trio": "anyio_ws_impl",
    "websockets-asyncio": "websockets_impl",
    "websockets-trio": "websockets_impl",
    "trio-websocket": "trio_websocket_impl",
    "aiohttp": "aiohttp_impl",
    "picows": "picows_impl",
    "raw-anyio-asyncio": "raw_anyio_impl",
    "raw-anyio-trio": "raw_anyio_impl",
    "harness-echo": "harness_impl",
}


def module_of(name: str) -> str:
    return ALL[name]


def load(name: str) -> Implementation:
    """The adapter called ``name``; ``LookupError`` if it is unknown or unavailable."""
    if name not in ALL:
        raise LookupError(f"unknown implementation {name!r}; known: {', '.join(ALL)}")
    try:
        module = importlib.import_module(f"{__name__}.{ALL[name]}")
    except ImportError as exc:
        raise LookupError(f"{name}: cannot import its library ({exc})") from exc
    for impl in module.IMPLEMENTATIONS:
        if impl.name == name:
            missing = [m for m in impl.requires if importlib.util.find_spec(m) is None]
            if missing:
                raise LookupError(f"{name}: not installed: {', '.join(missing)}")
            return impl  # type: ignore[no-any-return]
    raise LookupError(f"{name}: not available in the installed version of its library")
