"""The sans-I/O core of anyio_ws: bytes in, events out, bytes to send.

Nothing here imports anyio or trio (a test enforces it), so the core can drive a
WebSocket connection over any transport::

    protocol = Protocol(Side.SERVER, trailing_data=handshake.trailing_data)
    protocol.receive_data(data_from_peer)
    for event in protocol.events_received():
        ...
    for chunk in protocol.data_to_send():
        write(chunk) if chunk else half_close()
"""

from .events import BinaryFragment as BinaryFragment
from .events import BinaryMessage as BinaryMessage
from .events import CloseReceived as CloseReceived
from .events import Event as Event
from .events import PingReceived as PingReceived
from .events import PongReceived as PongReceived
from .events import TextFragment as TextFragment
from .events import TextMessage as TextMessage
from .frames import Close as Close
from .frames import CloseCode as CloseCode
from .frames import Frame as Frame
from .frames import Opcode as Opcode
from .protocol import Protocol as Protocol
from .protocol import Side as Side
from .protocol import State as State

__all__ = [
    "BinaryFragment",
    "BinaryMessage",
    "Close",
    "CloseCode",
    "CloseReceived",
    "Event",
    "Frame",
    "Opcode",
    "PingReceived",
    "PongReceived",
    "Protocol",
    "Side",
    "State",
    "TextFragment",
    "TextMessage",
]
