"""What the protocol core reports after ``receive_data``: frozen, slotted records.

Replies the RFC requires (a pong for a ping, the echo of a close frame) are already
queued in ``data_to_send()`` when these events come out; they are for the application
to observe, not to act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from .frames import Close

__all__ = [
    "BinaryFragment",
    "BinaryMessage",
    "CloseReceived",
    "Event",
    "PingReceived",
    "PongReceived",
    "TextFragment",
    "TextMessage",
]


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A whole text message, already validated and decoded."""

    data: str


@dataclass(frozen=True, slots=True)
class BinaryMessage:
    """A whole binary message."""

    data: bytes


@dataclass(frozen=True, slots=True)
class TextFragment:
    """One frame of a fragmented text message, as soon as the frame is complete.

    Only a ``Protocol`` built with ``stream_fragments=True`` emits it, and only for
    messages sent in several frames. ``data`` is the text decoded so far: a character
    cut by a frame boundary comes out whole with the next fragment. ``fin`` marks the
    last fragment of the message.
    """

    data: str
    fin: bool


@dataclass(frozen=True, slots=True)
class BinaryFragment:
    """One frame of a fragmented binary message (see ``TextFragment``)."""

    data: bytes
    fin: bool


@dataclass(frozen=True, slots=True)
class PingReceived:
    """The peer sent a ping; the pong is already queued."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PongReceived:
    """The peer sent a pong (the answer to one of our pings, or unsolicited)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer sent a close frame; our answer, if one is due, is already queued."""

    close: Close


Event = (
    TextMessage
    | BinaryMessage
    | TextFragment
    | BinaryFragment
    | PingReceived
    | PongReceived
    | CloseReceived
)
