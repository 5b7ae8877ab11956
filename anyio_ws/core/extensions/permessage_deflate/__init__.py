"""The permessage-deflate extension (RFC 7692): DEFLATE compression of whole messages.

A compressed message is one raw DEFLATE stream cut at a sync flush, with the final
``00 00 ff ff`` left out (section 7.2.1); only its first frame carries RSV1. With
*context takeover* (the default) each side keeps its compressor, and the peer its
decompressor, from one message to the next, so small messages that repeat themselves
(JSON keys, say) shrink a lot; ``*_no_context_takeover`` starts every message afresh.

Memory is what limits a server with many connections. The figures below were measured
on CPython 3.11 / zlib 1.2.13 with tracemalloc over 1000 connections, each holding one
compressor and one decompressor after one small message (RSS after ~70 KiB of traffic
per connection comes within a few KiB of it); "ratio" is compressed / original size at
the default level 6, for 2000 small JSON messages with context takeover ("json") and
for the CPython standard library's sources cut in 16 KiB messages ("text")::

    window bits  memLevel  KiB / connection  ratio json  ratio text
             15         8               301       0.199       0.243   zlib's defaults
             15         5               189       0.200       0.245
             13         5                69       0.216       0.267
             12         5                49       0.228       0.283   our defaults
             11         4                31       0.247       0.309
             10         3                22       0.283       0.350
              9         1                17       0.402       0.477

Without context takeover the same JSON messages only shrink to 0.659 at any setting,
which is why takeover stays on. Going from zlib's defaults to 12 bits and ``memLevel=5``
costs a sixth in size and saves five sixths of the memory: that is what
``enable_server_permessage_deflate`` and ``enable_client_permessage_deflate`` configure
(the same choice as the ``websockets`` library, confirmed by the measurement above).
When a side does not take over its context, its compressor or decompressor is freed
between messages, so an idle connection costs nothing for it.

The package has two parts: ``codec`` compresses and inflates the frames of each
message (``PerMessageDeflate``, with its bound on inflated size and the zlib details
that shape it), and ``negotiation`` agrees on its parameters in the opening handshake
(the client and server factories, and the defaults above). This module re-exports the
names to import.
"""

from .codec import INFLATE_STEP as INFLATE_STEP
from .codec import NAME as NAME
from .codec import RSV1 as RSV1
from .codec import PerMessageDeflate as PerMessageDeflate
from .negotiation import DEFAULT_MEM_LEVEL as DEFAULT_MEM_LEVEL
from .negotiation import DEFAULT_WINDOW_BITS as DEFAULT_WINDOW_BITS
from .negotiation import ClientPerMessageDeflateFactory as ClientPerMessageDeflateFactory
from .negotiation import ServerPerMessageDeflateFactory as ServerPerMessageDeflateFactory
from .negotiation import enable_client_permessage_deflate as enable_client_permessage_deflate
from .negotiation import enable_server_permessage_deflate as enable_server_permessage_deflate

__all__ = [
    "DEFAULT_MEM_LEVEL",
    "DEFAULT_WINDOW_BITS",
    "ClientPerMessageDeflateFactory",
    "PerMessageDeflate",
    "ServerPerMessageDeflateFactory",
    "enable_client_permessage_deflate",
    "enable_server_permessage_deflate",
]
