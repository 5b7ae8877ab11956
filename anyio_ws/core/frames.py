"""WebSocket frames (RFC 6455 section 5): opcodes, close codes, headers, masking.

Nothing here keeps state: ``Protocol`` owns the parser. These are the pieces it and the
tests share: the constants, the close frame payload, header encoding, and the XOR mask.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from .exceptions import ProtocolError
from .typing import BytesLike

__all__ = [
    "CONTROL_OPCODES",
    "DATA_OPCODES",
    "Close",
    "CloseCode",
    "Frame",
    "Opcode",
    "PreparedMessage",
    "apply_mask",
    "encode_frame",
    "encode_header",
    "is_valid_close_code",
]


class Opcode(IntEnum):
    """Frame opcodes (section 5.2)."""

    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


DATA_OPCODES = frozenset({Opcode.CONT, Opcode.TEXT, Opcode.BINARY})
CONTROL_OPCODES = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})


class CloseCode(IntEnum):
    """Close codes (section 7.4.1 and the IANA registry)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


# Codes a close frame may carry on the wire: the registered ones except those reserved
# for local use (1005, 1006, 1015), plus the ranges for libraries (3000-3999) and
# applications (4000-4999).
_WIRE_CLOSE_CODES = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame sent on the wire."""
    return code in _WIRE_CLOSE_CODES or 3000 <= code <= 4999


_CLOSE_CODE_NAMES = {code.value: code.name.replace("_", " ").lower() for code in CloseCode}


@dataclass(frozen=True, slots=True)
class Close:
    """The payload of a close frame: a code and a reason.

    An empty close frame is represented with code 1005 (no status received), as the
    RFC suggests for the API.
    """

    code: int
    reason: str = ""

    @classmethod
    def parse(cls, data: bytes) -> Close:
        """Decode a close frame payload, or raise ``ProtocolError`` (1002 or 1007)."""
        if len(data) == 0:
            return cls(CloseCode.NO_STATUS_RCVD, "")
        if len(data) == 1:
            raise ProtocolError("close frame payload of 1 byte")
        (code,) = struct.unpack("!H", data[:2])
        if not is_valid_close_code(code):
            raise ProtocolError(f"invalid close code {code}")
        try:
            reason = data[2:].decode()
        except UnicodeDecodeError:
            raise ProtocolError("close reason is not UTF-8", CloseCode.INVALID_DATA) from None
        return cls(code, reason)

    def serialize(self) -> bytes:
        """Encode as a close frame payload; 1005 encodes as an empty payload."""
        if self.code == CloseCode.NO_STATUS_RCVD:
            return b""
        return struct.pack("!H", self.code) + self.reason.encode()

    def __str__(self) -> str:
        name = _CLOSE_CODE_NAMES.get(self.code)
        if name is None:
            name = "private use" if 3000 <= self.code <= 4999 else "unknown"
        reason = f" ({_printable(self.reason)})" if self.reason else ""
        return f"{self.code} ({name}){reason}"


def _printable(text: str) -> str:
    """``text`` as it is, or escaped as ``repr`` does when it holds a control character.

    A close reason comes from the peer and goes into logs and exception messages:
    a newline in it would forge a log line, an escape sequence recolour a terminal.
    """
    return text if text.isprintable() else repr(text)[1:-1]


@dataclass(frozen=True, slots=True)
class Frame:
    """A whole frame, for logs and tests; the parser does not build these on its path."""

    opcode: Opcode
    data: bytes
    fin: bool = True
    rsv: int = 0

    def __str__(self) -> str:
        """Short description with the payload elided past 60 characters."""
        fin = "" if self.fin else " [continued]"
        if self.opcode is Opcode.TEXT:
            body = repr(self.data.decode(errors="replace"))
        elif self.opcode is Opcode.CLOSE:
            # Logs show what arrived, even a close frame the parser is about to reject.
            try:
                body = str(Close.parse(self.data))
            except ProtocolError:
                body = self.data.hex(" ")
        else:
            body = self.data.hex(" ")
        if len(body) > 60:
            body = body[:40] + "..." + body[-15:]
        return f"{self.opcode.name} {body} [{len(self.data)} bytes]{fin}"


_PACK_SHORT = struct.Struct("!BB").pack
_PACK_MEDIUM = struct.Struct("!BBH").pack
_PACK_LONG = struct.Struct("!BBQ").pack


def encode_header(first_byte: int, length: int, masked: bool) -> bytes:
    """Encode a frame header; ``first_byte`` holds FIN, RSV and the opcode."""
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return _PACK_SHORT(first_byte, mask_bit | length)
    if length < 0x10000:
        return _PACK_MEDIUM(first_byte, mask_bit | 126, length)
    return _PACK_LONG(first_byte, mask_bit | 127, length)


def _apply_mask_python(data: BytesLike, mask: bytes, /) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (section 5.3).

    Works on whole integers so that the loop runs in C: the cost is a few passes over
    the payload, never a Python step per byte. The fallback for ``_speedups.apply_mask``.
    """
    if len(mask) != 4:
        raise ValueError(f"mask must be 4 bytes, not {len(mask)}")
    length = len(data)
    if length == 0:
        return b""
    key = (mask * ((length + 3) // 4))[:length] if length != 4 else mask
    value = int.from_bytes(data, "big") ^ int.from_bytes(key, "big")
    return value.to_bytes(length, "big")


def _load_apply_mask() -> Callable[[BytesLike, bytes], bytes]:
    """The C ``apply_mask`` when it was built, unless ``ANYIO_WS_NO_SPEEDUPS`` is set."""
    if os.environ.get("ANYIO_WS_NO_SPEEDUPS", "") not in ("", "0"):
        return _apply_mask_python
    try:
        from ._speedups import apply_mask as compiled
    except ImportError:
        return _apply_mask_python
    return compiled


apply_mask = _load_apply_mask()
"""``apply_mask(data, mask, /) -> bytes``: XOR ``data`` with the 4-byte ``mask`` repeated.

The C version from ``_speedups`` when it was built (``pip install`` compiles it when a
compiler is present), else ``_apply_mask_python``; both raise ``ValueError`` unless
``mask`` has 4 bytes. ``ANYIO_WS_NO_SPEEDUPS=1`` at import selects the pure Python one.
"""


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
) -> bytes:
    """Encode a whole frame; with ``mask`` (4 bytes) the payload is masked (clients)."""
    first_byte = (0x80 if fin else 0) | rsv | opcode
    header = encode_header(first_byte, len(payload), mask is not None)
    if mask is None:
        return header + payload
    return header + mask + apply_mask(payload, mask)


class PreparedMessage:
    """One whole message, encoded once for each way connections encode it (broadcast).

    ``Protocol.send_prepared`` asks it for the frame its connection would send; the
    first connection of each kind (``key``: no extension, or an extension's
    ``shared_encoding()``) encodes it, the others share those bytes.
    """

    __slots__ = ("_frames", "opcode", "payload")

    def __init__(self, opcode: Opcode, payload: bytes) -> None:
        self.opcode = opcode
        self.payload = payload
        self._frames: dict[object, bytes] = {}

    def frame(self, key: object, encode: Callable[[PreparedMessage], bytes]) -> bytes:
        """The frame for connections of kind ``key``; ``encode(self)`` makes it once."""
        frame = self._frames.get(key)
        if frame is None:
            frame = self._frames[key] = encode(self)
        return frame
