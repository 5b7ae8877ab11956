"""Just enough RFC 6455 / RFC 7692 for the fixed sides of the benchmark.

The load generator and the echo server must not be WebSocket libraries under test, so
they share these few helpers: the opening handshake, building and parsing frames,
masking, and raw DEFLATE for permessage-deflate. Nothing here validates more than the
benchmark needs (no UTF-8 checks, no close-code checks).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import zlib
from dataclasses import dataclass

try:  # numpy comes with matplotlib; masking 1 MiB in pure Python takes milliseconds
    import numpy as _np
except ImportError:  # pragma: no cover
    _np = None  # type: ignore[assignment]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

DEFLATE_TAIL = b"\x00\x00\xff\xff"


def accept_key(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def apply_mask(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``mask``; with numpy for large payloads."""
    n = len(payload)
    if n >= 4096 and _np is not None:
        words = n // 8
        out = bytearray(payload)
        view = _np.frombuffer(out, dtype=_np.uint64, count=words)
        view ^= _np.frombuffer(mask * 2, dtype=_np.uint64)[0]
        for i in range(words * 8, n):
            out[i] ^= mask[i & 3]
        return bytes(out)
    if n == 0:
        return b""
    repeated = mask * (n // 4 + 1)
    value = int.from_bytes(payload, "little") ^ int.from_bytes(repeated[:n], "little")
    return value.to_bytes(n, "little")


def unmask_in_place(buf: bytearray, start: int, n: int, mask: bytes) -> None:
    """XOR ``buf[start:start + n]`` with ``mask`` in place (numpy when large)."""
    if n >= 4096 and _np is not None:
        words = n // 8
        view = _np.frombuffer(buf, dtype=_np.uint64, count=words, offset=start)
        view ^= _np.frombuffer(mask * 2, dtype=_np.uint64)[0]
        del view
        tail = start + words * 8
    else:
        buf[start : start + n] = apply_mask(bytes(buf[start : start + n]), mask)
        return
    for i in range(tail, start + n):
        buf[i] ^= mask[(i - start) & 3]


def frame_header(b0: int, n: int) -> bytes:
    """An unmasked frame header with first byte ``b0`` and payload length ``n``."""
    if n < 126:
        return bytes((b0, n))
    if n < 65536:
        return bytes((b0, 126)) + n.to_bytes(2, "big")
    return bytes((b0, 127)) + n.to_bytes(8, "big")


def frame(
    opcode: int, payload: bytes, *, mask: bytes | None = None, rsv1: bool = False, fin: bool = True
) -> bytes:
    """Serialize one frame; masked when ``mask`` (4 bytes) is given."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes((b0, mask_bit | n))
    elif n < 65536:
        head = bytes((b0, mask_bit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mask_bit | 127)) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + apply_mask(payload, mask)


@dataclass(slots=True)
class Frame:
    """One parsed frame, payload already unmasked."""

    fin: bool
    rsv1: bool
    opcode: int
    payload: bytes


class FrameParser:
    """Incremental frame parser: ``feed()`` bytes, then ``next_frame()`` until None."""

    __slots__ = ("_buffer", "_offset")

    def __init__(self, initial: bytes = b"") -> None:
        self._buffer = bytearray(initial)
        self._offset = 0

    def feed(self, data: bytes) -> None:
        if self._offset:
            del self._buffer[: self._offset]
            self._offset = 0
        self._buffer += data

    def pending(self) -> int:
        """Bytes buffered but not parsed yet."""
        return len(self._buffer) - self._offset

    def next_frame(self) -> Frame | None:
        buf = self._buffer
        pos = self._offset
        available = len(buf) - pos
        if available < 2:
            return None
        b0, b1 = buf[pos], buf[pos + 1]
        n = b1 & 0x7F
        head = 2
        if n == 126:
            if available < 4:
                return None
            n = int.from_bytes(buf[pos + 2 : pos + 4], "big")
            head = 4
        elif n == 127:
            if available < 10:
                return None
            n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            head = 10
        masked = b1 & 0x80
        if masked:
            head += 4
        if available < head + n:
            return None
        payload = bytes(buf[pos + head : pos + head + n])
        if masked:
            payload = apply_mask(payload, bytes(buf[pos + head - 4 : pos + head]))
        self._offset = pos + head + n
        return Frame(bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload)


def parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    """Split an HTTP head into its start line and lower-cased headers (last one wins)."""
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return lines[0], headers


def client_request(host: str, port: int, key: bytes, *, deflate: bool) -> bytes:
    """The opening handshake request the generator sends."""
    lines = [
        "GET / HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(slots=True)
class DeflateParams:
    """What a permessage-deflate negotiation settled."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


def parse_deflate(header: str | None) -> DeflateParams | None:
    """Parse a ``Sec-WebSocket-Extensions`` value; None unless permessage-deflate is in it.

    Only the first permessage-deflate offer or response is read.
    """
    if not header:
        return None
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        if parts[0].lower() != "permessage-deflate":
            continue
        params = DeflateParams()
        for part in parts[1:]:
            name, _, value = part.partition("=")
            name = name.strip().lower()
            value = value.strip().strip('"')
            if name == "server_no_context_takeover":
                params.server_no_context_takeover = True
            elif name == "client_no_context_takeover":
                params.client_no_context_takeover = True
            elif name == "server_max_window_bits" and value:
                params.server_max_window_bits = int(value)
            elif name == "client_max_window_bits" and value:
                params.client_max_window_bits = int(value)
        return params
    return None


def deflate_message(payload: bytes, wbits: int = 15) -> bytes:
    """Compress one message with a fresh compressor, as permessage-deflate sends it.

    A message compressed without history can be inflated by a peer that keeps its
    context, so the generator can send the same precomputed bytes every time.
    """
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(DEFLATE_TAIL)
    return data[: -len(DEFLATE_TAIL)]


class Inflater:
    """Inflate permessage-deflate messages, keeping context unless told not to."""

    def __init__(self, wbits: int = 15, *, no_context_takeover: bool = False) -> None:
        self._wbits = wbits
        self._reset = no_context_takeover
        self._inflater = zlib.decompressobj(-wbits)

    def inflate(self, data: bytes) -> bytes:
        if self._reset:
            self._inflater = zlib.decompressobj(-self._wbits)
        return self._inflater.decompress(data + DEFLATE_TAIL)


def json_like_payload(size: int, seed: int = 6455) -> bytes:
    """``size`` bytes of deterministic JSON-like text: compressible, not trivially so."""
    rng = random.Random(seed)
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    kinds = ["trade", "quote", "order", "cancel", "fill"]
    parts: list[bytes] = []
    total = 0
    while total < size:
        record = {
            "id": rng.randrange(10**9),
            "user": rng.choice(names),
            "kind": rng.choice(kinds),
            "price": round(rng.uniform(1, 1000), 2),
            "qty": rng.randrange(1, 500),
            "tags": rng.sample(kinds, 2),
        }
        line = json.dumps(record).encode() + b",\n"
        parts.append(line)
        total += len(line)
    return b"".join(parts)[:size]


def binary_payload(size: int, seed: int = 7692) -> bytes:
    """``size`` pseudo-random bytes (incompressible), deterministic."""
    return random.Random(seed).randbytes(size)
