"""The interface every WebSocket extension implements (RFC 6455 section 9).

An extension is negotiated in the opening handshake by a *factory* (one for each side)
and then transforms the payload of data messages. The protocol core calls it with only
what it needs: payload bytes and a few flags, never the parser itself. Errors are raised
as ``ProtocolError`` (with the close code) or ``PayloadTooBig``; the core turns them into
the closing handshake.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Sequence

__all__ = [
    "ClientExtensionFactory",
    "Extension",
    "ExtensionParameter",
    "ServerExtensionFactory",
]

ExtensionParameter = tuple[str, "str | None"]
"""One ``name`` or ``name=value`` parameter of an extension offer or answer."""


class Extension(ABC):
    """A negotiated extension, active on one connection."""

    name: str
    """The extension's token in ``Sec-WebSocket-Extensions``."""

    reserved_bits: int = 0
    """The RSV bits (``0x40``, ``0x20``, ``0x10`` of the first header byte) it may set."""

    @abstractmethod
    def encode(self, data: bytes, *, first: bool, fin: bool) -> tuple[bytes, int]:
        """Transform the payload of an outgoing data frame.

        ``first`` tells whether this is the first frame of a message and ``fin`` whether
        it is the last. Returns the payload to send and the RSV bits to set on the frame.
        """

    @abstractmethod
    def begin_message(self, rsv: int) -> bool:
        """Start decoding an incoming message whose first frame had the RSV bits ``rsv``.

        Returns whether this extension transforms the message; when it does, every
        payload chunk of the message goes through ``decode``. Only called when the
        first frame has an RSV bit set: a message without one is delivered as sent.
        """

    @abstractmethod
    def decode(self, data: bytes, *, fin: bool, max_size: int | None) -> bytes:
        """Transform a chunk of an incoming message begun with ``begin_message``.

        ``fin`` is true for the last chunk of the message. Never returns more than
        ``max_size`` bytes over the whole message: raises ``PayloadTooBig`` first.
        """

    def shared_encoding(self) -> Hashable | None:
        """What makes this extension's encoding of a whole message the same as another's.

        Two connections whose extensions return equal values encode any message to the
        same bytes, whatever they sent before, so ``broadcast()`` encodes it once for
        all of them. ``None`` (the default): the encoding depends on this connection's
        history, and is done here, message by message.
        """
        return None

    def decode_pieces(self, data: bytes, *, fin: bool, max_size: int | None) -> Iterator[bytes]:
        """Like ``decode``, but yield the output in pieces, produced as they are taken.

        The protocol core calls this one: an extension whose output may be much larger
        than its input (decompression) overrides it, so that a large output is never
        held twice (once in pieces, once joined) and an oversized one is refused after
        holding about ``max_size``. The default yields ``decode``'s result.
        """
        yield self.decode(data, fin=fin, max_size=max_size)


class ClientExtensionFactory(ABC):
    """Offers an extension from the client and accepts the server's answer."""

    name: str

    @abstractmethod
    def get_request_params(self) -> list[ExtensionParameter]:
        """The parameters of this offer, in the order they are written."""

    @abstractmethod
    def process_response_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> Extension:
        """Build the extension from the server's answer, or raise ``NegotiationError``.

        ``accepted`` lists the extensions already accepted in this handshake.
        """


class ServerExtensionFactory(ABC):
    """Answers a client's offer of an extension."""

    name: str

    @abstractmethod
    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], Extension]:
        """Accept an offer: return the answer's parameters and the extension.

        Raise ``NegotiationError`` to decline this offer (the server then tries the
        client's next offer, or goes on without the extension).
        """
