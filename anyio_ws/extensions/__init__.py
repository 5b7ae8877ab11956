"""WebSocket extensions: the interface to write one, and permessage-deflate.

The implementations live in the sans-I/O core (``anyio_ws.core.extensions``); this is
where applications import them from, as in ``websockets.extensions``.
"""

from ..core.extensions.base import ClientExtensionFactory as ClientExtensionFactory
from ..core.extensions.base import Extension as Extension
from ..core.extensions.base import ExtensionParameter as ExtensionParameter
from ..core.extensions.base import ServerExtensionFactory as ServerExtensionFactory

__all__ = [
    "ClientExtensionFactory",
    "Extension",
    "ExtensionParameter",
    "ServerExtensionFactory",
]
