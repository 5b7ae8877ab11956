"""The WebSocket protocol after the opening handshake, without I/O (RFC 6455).

Theory of operation
-------------------
A ``Protocol`` is fed the bytes read from the peer (``receive_data``, ``receive_eof``)
and commands from the application (``send_text``, ``send_close``, ...). It answers with
events (``events_received``) and bytes to write (``data_to_send``; an empty ``bytes``
there means "half-close the transport now"). It never blocks and never raises for
anything the peer does: a violation fails the connection with the right close code.
Exceptions are kept for local misuse (sending in the wrong state, wrong types).

States::

    OPEN ──send_close / close received / fail──▶ CLOSING ──EOF from peer──▶ CLOSED
      └───────────────────────EOF from peer (abnormal, 1006)────────────────────┘

In CLOSING the server half-closes the transport as soon as both close frames have
crossed (or at once when it fails the connection); the client waits for the server to
do so (section 7.1.1), which is what ``close_expected()`` tells the I/O layer to wait
for, at most ``close_timeout`` seconds.

Incoming data frames are parsed here; a message in one plain frame is delivered at
once (the fast path), and every other data frame is assembled into messages by the
base class, ``assembler.MessageAssembler``, whose docstring tells how they are bounded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from enum import IntEnum

from .assembler import MessageAssembler, frame_limit
from .events import (
    BinaryMessage,
    CloseReceived,
    Event,
    PingReceived,
    PongReceived,
    TextMessage,
)
from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
    ProtocolError,
)
from .extensions.base import Extension
from .frames import (
    Close,
    CloseCode,
    Frame,
    Opcode,
    PreparedMessage,
    apply_mask,
    encode_frame,
    encode_header,
    is_valid_close_code,
)
from .utf8 import Utf8Decoder

__all__ = ["Protocol", "Side", "State"]

logger = logging.getLogger("anyio_ws.protocol")


class Side(IntEnum):
    """Which end of the connection this protocol is."""

    SERVER = 0
    CLIENT = 1


class State(IntEnum):
    """Connection state (section 4 and 7). ``CONNECTING`` belongs to the handshake."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


_OK_CLOSE_CODES = frozenset(
    {CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY, CloseCode.NO_STATUS_RCVD}
)
_MAX_CONTROL_PAYLOAD = 125
_JOIN_LIMIT = 65536  # larger frames are queued as header and payload, not joined


class Protocol(MessageAssembler):
    """Sans-I/O WebSocket connection, from the end of the opening handshake.

    Args:
        side: ``Side.CLIENT`` masks what it sends and refuses masked frames;
            ``Side.SERVER`` does the opposite.
        max_size: Largest incoming message in bytes (after decompression); larger
            ones fail the connection with 1009. ``None`` means no limit. A pair
            ``(message_limit, fragment_limit)`` also bounds each frame (either may be
            ``None``), for long messages expected in short fragments.
        extensions: Extensions negotiated in the handshake, in the order agreed.
        trailing_data: Bytes that arrived right behind the handshake; they are the
            first frames and are parsed at once.
        mask_source: Returns ``n`` random bytes for the client's frame masks
            (injectable for tests; the default is ``os.urandom``).
        logger: Where frames are logged at DEBUG (formatted only when enabled).
        stream_fragments: Report the frames of a fragmented message as they complete
            (``TextFragment``, ``BinaryFragment``) rather than one whole message.
        connecting: Start in ``CONNECTING``, where nothing can be sent: a stand-in
            that tells the state while the opening handshake runs.
    """

    # Slots: one connection's protocol is ~1.5 KiB lighter without an instance dict.
    # The assembler's state is in MessageAssembler's slots.
    __slots__ = (
        "_allowed_rsv",
        "_discarding",
        "_events",
        "_leftover",
        "_mask_source",
        "_masked_in",
        "_masked_out",
        "_output",
        "_sending_message",
        "_single_frame_limit",
        "close_rcvd",
        "close_rcvd_then_sent",
        "close_sent",
        "debug",
        "eof_sent",
        "extensions",
        "failure",
        "logger",
        "max_fragment_size",
        "max_size",
        "side",
        "state",
        "stream_fragments",
    )

    def __init__(
        self,
        side: Side,
        *,
        max_size: int | None | tuple[int | None, int | None] = 2**20,
        extensions: Sequence[Extension] = (),
        trailing_data: bytes = b"",
        mask_source: Callable[[int], bytes] = os.urandom,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = logger,
        stream_fragments: bool = False,
        connecting: bool = False,
    ) -> None:
        self.side = side
        if isinstance(max_size, tuple):
            self.max_size, self.max_fragment_size = max_size
        else:
            self.max_size, self.max_fragment_size = max_size, None
        # The bound the one-frame fast path checks: the smaller of the two limits.
        limits = [limit for limit in (self.max_size, self.max_fragment_size) if limit is not None]
        self._single_frame_limit = min(limits) if limits else None
        self._max_frames = frame_limit(self.max_size)
        self.stream_fragments = stream_fragments
        self.extensions = list(extensions)
        self.logger = logger
        self.debug = logger.isEnabledFor(logging.DEBUG)
        self.state = State.CONNECTING if connecting else State.OPEN
        self.close_rcvd: Close | None = None
        self.close_sent: Close | None = None
        self.close_rcvd_then_sent: bool | None = None
        self.failure: ProtocolError | None = None
        """The violation that failed the connection, if any (ours to report)."""
        self.eof_sent = False

        self._mask_source = mask_source
        self._masked_out = side is Side.CLIENT
        self._masked_in = side is Side.SERVER
        self._allowed_rsv = 0
        for extension in self.extensions:
            self._allowed_rsv |= extension.reserved_bits
        self._events: list[Event] = []
        self._output: list[bytes] = []
        self._leftover = b""
        self._discarding = False
        self._sending_message = False  # a fragmented message we send is unfinished

        # The frame whose payload is being read, when it did not arrive whole.
        self._payload_remaining = 0
        self._frame_fin = False
        self._frame_mask = b""
        self._mask_offset = 0
        self._frame_start_size = 0  # message bytes before this frame (fragment limit)

        # The message being assembled (opcode is None between messages).
        self._message_opcode: int | None = None
        self._text_parts: list[str] = []
        self._binary_parts: list[bytes] = []
        self._message_size = 0
        self._message_frames = 0
        self._message_wire_size = 0  # compressed messages only
        self._message_decoders: list[Extension] = []
        self._message_fragmented = False  # its first frame had no FIN bit
        self._utf8: Utf8Decoder | None = None  # made on first use: ~1.6 KiB each

        if trailing_data:
            self.receive_data(trailing_data)

    # ----------------------------------------------------------------- outputs

    def events_received(self) -> list[Event]:
        """Return and forget the events parsed since the last call."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[bytes]:
        """Return and forget the bytes to write; ``b""`` asks for a half-close."""
        output, self._output = self._output, []
        return output

    def pending_chunks(self) -> int:
        """How many chunks ``data_to_send()`` would return now (0: nothing to write)."""
        return len(self._output)

    def pending_bytes(self) -> int:
        """How many bytes ``data_to_send()`` would return now."""
        return sum(map(len, self._output))

    def close_expected(self) -> bool:
        """Whether the peer should now close the transport (the I/O layer waits, bounded)."""
        return self.state is State.CLOSING or (self.eof_sent and self.state is not State.CLOSED)

    def close_exc(self) -> ConnectionClosed:
        """The exception that tells the application how the connection ended."""
        rcvd, sent = self.close_rcvd, self.close_sent
        ok = (
            rcvd is not None
            and sent is not None
            and rcvd.code in _OK_CLOSE_CODES
            and sent.code in _OK_CLOSE_CODES
        )
        exc_type = ConnectionClosedOK if ok else ConnectionClosedError
        exc = exc_type(rcvd, sent, self.close_rcvd_then_sent)
        exc.__cause__ = self.failure
        return exc

    # ---------------------------------------------------------------- commands

    def send_text(self, data: bytes, fin: bool = True) -> None:
        """Send a text frame; ``data`` must already be UTF-8 (the I/O layer encodes)."""
        self._send_data(Opcode.TEXT, data, fin)

    def send_binary(self, data: bytes, fin: bool = True) -> None:
        """Send a binary frame."""
        self._send_data(Opcode.BINARY, data, fin)

    def send_continuation(self, data: bytes, fin: bool) -> None:
        """Send the next frame of a fragmented message."""
        self._send_data(Opcode.CONT, data, fin)

    def send_prepared(self, message: PreparedMessage) -> bool:
        """Queue a whole message encoded once for many connections (``broadcast()``).

        A server shares the frame with every connection that encodes messages the same
        way: all those without extensions, or those whose extension says so
        (``Extension.shared_encoding()``, e.g. permessage-deflate without context
        takeover). Returns ``False`` and queues nothing where the message must be
        encoded here: on a client (it masks each frame) or when an extension's
        encoding depends on this connection's history; the caller then uses
        ``send_text``/``send_binary``. Raises ``InvalidState`` as they do.
        """
        extensions = self.extensions
        if self._masked_out or len(extensions) > 1:
            return False
        key = extensions[0].shared_encoding() if extensions else ()
        if key is None:
            return False
        if self.state is not State.OPEN or self._sending_message:
            self._check_data_frame(message.opcode)  # raises
        if self.debug:
            self.logger.debug("> %s", Frame(message.opcode, message.payload))
        self._output.append(message.frame(key, self._encode_whole))
        return True

    def _encode_whole(self, message: PreparedMessage) -> bytes:
        payload, rsv = message.payload, 0
        for extension in self.extensions:
            payload, bits = extension.encode(payload, first=True, fin=True)
            rsv |= bits
        return encode_frame(message.opcode, payload, rsv=rsv)

    def send_ping(self, data: bytes) -> None:
        """Send a ping with at most 125 bytes of payload."""
        self._send_control(Opcode.PING, data)

    def send_pong(self, data: bytes) -> None:
        """Send a pong with at most 125 bytes of payload."""
        self._send_control(Opcode.PONG, data)

    def send_close(self, code: int | None = None, reason: str = "") -> None:
        """Start the closing handshake (section 7.1.2).

        ``code=None`` (or 1005) sends an empty close frame. Raises ``InvalidState`` when a
        close frame was already sent or the connection is closed, ``ValueError`` for a code
        that may not appear on the wire (section 7.4) or a reason too long.
        """
        if self.state is not State.OPEN:
            raise InvalidState(f"cannot send a close frame in state {self.state.name}")
        if code is not None and code != CloseCode.NO_STATUS_RCVD and not is_valid_close_code(code):
            raise ValueError(f"close code {code} may not be sent in a close frame")
        close = Close(CloseCode.NO_STATUS_RCVD if code is None else code, reason)
        payload = close.serialize()
        if len(payload) > _MAX_CONTROL_PAYLOAD:
            raise ValueError("close reason is longer than 123 bytes once encoded")
        self._write_frame(0x80 | Opcode.CLOSE, payload)
        self.close_sent = close
        self.state = State.CLOSING

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection (section 7.1.7): send a close frame, stop reading.

        With ``code=1006`` no close frame is sent (the transport is just dropped). A
        server half-closes at once; a client waits for the server to close.
        """
        if self.state is State.OPEN and code != CloseCode.ABNORMAL_CLOSURE:
            self.send_close(code, reason)
        elif self.state is State.OPEN:
            self.state = State.CLOSING
        if self.side is Side.SERVER and not self.eof_sent:
            self._send_eof()
        self._discarding = True
        self._leftover = b""
        # Nothing more is read: what was assembled of a message is never delivered.
        self._text_parts = []
        self._binary_parts = []

    # ------------------------------------------------------------------ inputs

    def receive_eof(self) -> None:
        """The peer closed its side of the transport (or the transport is gone)."""
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self._discarding = True
        if not self.eof_sent:
            self._send_eof()

    def receive_data(self, data: bytes) -> None:
        """Parse bytes from the peer; events and replies are ready afterwards."""
        if self._discarding:
            return
        if self._leftover:
            data = self._leftover + data
            self._leftover = b""
        try:
            self._parse(data)
        except ProtocolError as exc:
            self._fail_with(exc)
        except UnicodeDecodeError:
            self._fail_with(ProtocolError("invalid UTF-8 in a text message", 1007))

    # ----------------------------------------------------------------- parsing

    def _parse(self, data: bytes) -> None:
        """Consume ``data`` frame by frame; keep an incomplete header for next time."""
        pos = 0
        end = len(data)
        while not self._discarding:
            if self._payload_remaining:
                take = min(self._payload_remaining, end - pos)
                if take == 0:
                    return
                self._consume_payload(data[pos : pos + take])
                pos += take
                continue
            if end - pos < 2:
                break
            first, second = data[pos], data[pos + 1]
            length = second & 0x7F
            header_size = 2
            if length == 126:
                header_size = 4
                if end - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            elif length == 127:
                header_size = 10
                if end - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                if length >> 63:
                    raise ProtocolError("frame length has its most significant bit set")
            masked = second & 0x80
            if masked:
                header_size += 4
                if end - pos < header_size:
                    break
            opcode = first & 0x0F
            if opcode >= 8:
                # Control frames are short: wait for the whole frame, then handle it.
                if end - pos < header_size + length and length <= _MAX_CONTROL_PAYLOAD:
                    break
                self._check_header(first, masked, opcode)
                start = pos + header_size
                payload = data[start : start + length]
                if masked:
                    payload = apply_mask(payload, data[start - 4 : start])
                pos = start + length
                self._handle_control(first, opcode, payload, length)
                continue
            self._check_header(first, masked, opcode)
            start = pos + header_size
            if (
                first & 0xF0 == 0x80  # FIN and no RSV bit: a whole plain message
                and opcode
                and self._message_opcode is None
                and end - start >= length
                and (self._single_frame_limit is None or length <= self._single_frame_limit)
            ):
                # The common case, without the assembler: one frame, one message.
                payload = data[start : start + length]
                if masked:
                    payload = apply_mask(payload, data[start - 4 : start])
                pos = start + length
                if self.debug:
                    self.logger.debug("< %s", Frame(Opcode(opcode), payload))
                if opcode == Opcode.TEXT:
                    self._events.append(TextMessage(payload.decode()))
                else:
                    self._events.append(BinaryMessage(payload))
                continue
            mask = data[start - 4 : start] if masked else b""
            pos = start
            self._start_data_frame(first, opcode, length, mask)
            if length == 0:
                self._consume_payload(b"")
        if pos < end and not self._discarding:
            self._leftover = data[pos:]

    def _check_header(self, first: int, masked: int, opcode: int) -> None:
        """Reject bad RSV bits, unknown opcodes and wrong masking (section 5.2)."""
        rsv = first & 0x70
        if rsv & ~self._allowed_rsv or (rsv and opcode >= 8):
            raise ProtocolError("reserved bits set without a negotiated extension")
        if opcode not in _KNOWN_OPCODES:
            raise ProtocolError(f"unknown opcode {opcode:#x}")
        if bool(masked) is not self._masked_in:
            raise ProtocolError("frame masking does not match the sender's side")

    def _handle_control(self, first: int, opcode: int, payload: bytes, length: int) -> None:
        if not first & 0x80:
            raise ProtocolError("fragmented control frame")
        if length > _MAX_CONTROL_PAYLOAD:
            raise ProtocolError("control frame payload longer than 125 bytes")
        if self.debug:
            self.logger.debug("< %s", Frame(Opcode(opcode), payload))
        if opcode == Opcode.PING:
            if self.state is State.OPEN:
                self._write_frame(0x80 | Opcode.PONG, payload)
            self._events.append(PingReceived(payload))
        elif opcode == Opcode.PONG:
            self._events.append(PongReceived(payload))
        else:
            self._receive_close(Close.parse(payload))

    def _receive_close(self, close: Close) -> None:
        """Answer a close frame (section 5.5.1) and stop reading frames."""
        self.close_rcvd = close
        if self.state is State.OPEN:
            # Echo the code, as most peers expect; the reason is not repeated.
            self._write_frame(0x80 | Opcode.CLOSE, Close(close.code).serialize())
            self.close_sent = Close(close.code)
            self.close_rcvd_then_sent = True
            self.state = State.CLOSING
        elif self.close_rcvd_then_sent is None:
            self.close_rcvd_then_sent = False
        self._events.append(CloseReceived(close))
        if self.side is Side.SERVER and not self.eof_sent:
            self._send_eof()
        self._discarding = True

    def _fail_with(self, exc: ProtocolError) -> None:
        if self.debug:
            self.logger.debug("! failing the connection: %s", exc)
        self.failure = exc
        reason = str(exc) if len(str(exc).encode()) <= 123 else ""
        self.fail(exc.code, reason)

    # ----------------------------------------------------------------- sending

    def _check_data_frame(self, opcode: Opcode) -> None:
        if self.state is not State.OPEN:
            raise InvalidState(f"cannot send a data frame in state {self.state.name}")
        # Section 5.4: a message's frames are one start frame, then continuations.
        if (opcode is Opcode.CONT) is not self._sending_message:
            if self._sending_message:
                raise InvalidState("the previous message is unfinished: send a continuation")
            raise InvalidState("no fragmented message to continue")

    def _send_data(self, opcode: Opcode, data: bytes, fin: bool) -> None:
        self._check_data_frame(opcode)
        rsv = 0
        first = opcode is not Opcode.CONT
        for extension in self.extensions:
            data, bits = extension.encode(data, first=first, fin=fin)
            rsv |= bits
        self._write_frame((0x80 if fin else 0) | rsv | opcode, data)
        self._sending_message = not fin

    def _send_control(self, opcode: Opcode, data: bytes) -> None:
        if self.state is not State.OPEN:
            raise InvalidState(f"cannot send a {opcode.name} frame in state {self.state.name}")
        if len(data) > _MAX_CONTROL_PAYLOAD:
            raise ValueError("control frame payload must be at most 125 bytes")
        self._write_frame(0x80 | opcode, data)

    def _write_frame(self, first: int, payload: bytes) -> None:
        if self.debug:
            self.logger.debug(
                "> %s", Frame(Opcode(first & 0x0F), bytes(payload), bool(first & 0x80))
            )
        length = len(payload)
        if self._masked_out:
            mask = self._mask_source(4)
            header = encode_header(first, length, True) + mask
            payload = apply_mask(payload, mask)
        else:
            header = encode_header(first, length, False)
        if length > _JOIN_LIMIT:
            # Large payloads go out as they are: copying a MiB behind a header costs
            # more than the second write.
            self._output.append(header)
            self._output.append(payload)
        else:
            self._output.append(header + payload)

    def _send_eof(self) -> None:
        self.eof_sent = True
        self._output.append(b"")


_KNOWN_OPCODES = frozenset(int(op) for op in Opcode)
