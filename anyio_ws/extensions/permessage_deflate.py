"""permessage-deflate (RFC 7692): compression of whole messages, on by default.

``compression="deflate"`` adds the factories that ``enable_client_permessage_deflate``
and ``enable_server_permessage_deflate`` build; pass your own factory in
``extensions=`` to change the windows, ``memLevel`` or context takeover. The measured
memory and compression figures behind the defaults are in the docstring of
``anyio_ws.core.extensions.permessage_deflate``.
"""

from ..core.extensions.permessage_deflate import (
    DEFAULT_MEM_LEVEL as DEFAULT_MEM_LEVEL,
)
from ..core.extensions.permessage_deflate import (
    DEFAULT_WINDOW_BITS as DEFAULT_WINDOW_BITS,
)
from ..core.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory as ClientPerMessageDeflateFactory,
)
from ..core.extensions.permessage_deflate import (
    PerMessageDeflate as PerMessageDeflate,
)
from ..core.extensions.permessage_deflate import (
    ServerPerMessageDeflateFactory as ServerPerMessageDeflateFactory,
)
from ..core.extensions.permessage_deflate import (
    enable_client_permessage_deflate as enable_client_permessage_deflate,
)
from ..core.extensions.permessage_deflate import (
    enable_server_permessage_deflate as enable_server_permessage_deflate,
)

__all__ = [
    "DEFAULT_MEM_LEVEL",
    "DEFAULT_WINDOW_BITS",
    "ClientPerMessageDeflateFactory",
    "PerMessageDeflate",
    "ServerPerMessageDeflateFactory",
    "enable_client_permessage_deflate",
    "enable_server_permessage_deflate",
]
