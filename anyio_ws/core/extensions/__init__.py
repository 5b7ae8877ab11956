"""WebSocket extensions: the interface, and permessage-deflate."""

from .base import (
    ClientExtensionFactory as ClientExtensionFactory,
)
from .base import (
    Extension as Extension,
)
from .base import (
    ExtensionParameter as ExtensionParameter,
)
from .base import (
    ServerExtensionFactory as ServerExtensionFactory,
)

__all__ = [
    "ClientExtensionFactory",
    "Extension",
    "ExtensionParameter",
    "ServerExtensionFactory",
]
