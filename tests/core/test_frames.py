"""Frames (RFC 6455 section 5): headers, masking, close payloads, and the section 5.7 examples."""

from __future__ import annotations

import struct

import pytest

from anyio_ws.core.events import BinaryMessage, PingReceived, PongReceived, TextMessage
from anyio_ws.core.frames import (
    CONTROL_OPCODES,
    DATA_OPCODES,
    Close,
    CloseCode,
    Frame,
    Opcode,
    apply_mask,
    encode_frame,
    encode_header,
    is_valid_close_code,
)
from anyio_ws.core.protocol import Side
from anyio_ws.exceptions import ProtocolError

from .protocol_helpers import MASK, client, server, tr

KEY = bytes.fromhex("37fa213d")  # the masking key of the section 5.7 examples


def decode_header(data: bytes) -> tuple[int, int, bool, int]:
    """Reference header decoder: (first byte, payload length, masked, header size)."""
    first, second = data[0], data[1]
    length = second & 0x7F
    size = 2
    if length == 126:
        (length,) = struct.unpack("!H", data[2:4])
        size = 4
    elif length == 127:
        (length,) = struct.unpack("!Q", data[2:10])
        size = 10
    return first, length, bool(second & 0x80), size


def reference_mask(data: bytes, mask: bytes) -> bytes:
    """Byte-by-byte XOR, the section 5.3 definition (fine for the short test inputs)."""
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class TestHeader:
    """Section 5.2: base framing protocol, payload length in 7, 7+16 or 7+64 bits."""

    @pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 2**32, 2**63 - 1])
    @pytest.mark.parametrize("masked", [False, True])
    def test_round_trip(self, length: int, masked: bool) -> None:
        """encode_header output decodes to the same first byte, length and mask bit."""
        header = encode_header(0x82, length, masked)
        first, decoded, mask_bit, size = decode_header(header)
        assert (first, decoded, mask_bit, size) == (0x82, length, masked, len(header))

    @pytest.mark.parametrize(
        ("length", "size"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)]
    )
    def test_minimal_length_encoding(self, length: int, size: int) -> None:
        """The shortest length encoding that fits is used (section 5.2)."""
        assert len(encode_header(0x81, length, False)) == size

    def test_first_byte_is_kept(self) -> None:
        """FIN, RSV and opcode bits of the first byte go through unchanged."""
        for first in (0x00, 0x01, 0x80, 0xF2, 0x7A):
            assert encode_header(first, 3, False)[0] == first

    @pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536])
    @pytest.mark.parametrize("mask", [None, KEY])
    def test_encode_frame_round_trip(self, length: int, mask: bytes | None) -> None:
        """encode_frame writes header, mask key and (masked) payload that decode back."""
        payload = bytes(i % 251 for i in range(length))
        frame = encode_frame(Opcode.BINARY, payload, mask=mask)
        first, decoded, masked, size = decode_header(frame)
        assert (first, decoded, masked) == (0x82, length, mask is not None)
        body = frame[size:]
        if mask is not None:
            assert body[:4] == mask
            body = apply_mask(body[4:], mask)
        assert body == payload

    def test_encode_frame_flags(self) -> None:
        """fin=False clears FIN and rsv bits are ORed into the first byte."""
        assert encode_frame(Opcode.TEXT, b"", fin=False, rsv=0x40)[0] == 0x41
        assert encode_frame(Opcode.CONT, b"", fin=True)[0] == 0x80


class TestMasking:
    """Section 5.3: client-to-server masking."""

    @pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5, 7, 8, 9, 125, 126, 1000, 4097])
    def test_against_reference(self, length: int) -> None:
        """apply_mask equals the per-byte XOR of the RFC, whatever the length."""
        data = bytes((i * 7 + 3) % 256 for i in range(length))
        assert apply_mask(data, KEY) == reference_mask(data, KEY)

    @pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 1000])
    def test_involution(self, length: int) -> None:
        """Masking twice with the same key gives the data back."""
        data = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
        assert apply_mask(apply_mask(data, KEY), KEY) == data

    def test_leading_zero_bytes_survive(self) -> None:
        """Bytes that XOR to zero at the start are kept (no integer truncation)."""
        assert apply_mask(KEY + KEY[:1], KEY) == bytes(5)

    def test_accepts_bytes_like(self) -> None:
        """bytearray and memoryview payloads are masked like bytes."""
        data = b"hello world"
        expected = reference_mask(data, KEY)
        assert apply_mask(bytearray(data), KEY) == expected
        assert apply_mask(memoryview(data), KEY) == expected
        assert isinstance(apply_mask(bytearray(data), KEY), bytes)


HELLO_UNMASKED = bytes.fromhex("810548656c6c6f")
HELLO_MASKED = bytes.fromhex("818537fa213d7f9f4d5158")
HEL_LO = bytes.fromhex("010348656c") + bytes.fromhex("80026c6f")
PING_UNMASKED = bytes.fromhex("890548656c6c6f")
PONG_MASKED = bytes.fromhex("8a8537fa213d7f9f4d5158")
BINARY_256 = bytes.fromhex("827e0100") + bytes(range(256))
BINARY_64K = bytes.fromhex("827f0000000000010000") + bytes(65536)


class TestSection57Examples:
    """Section 5.7: the RFC's example frames, encoded and parsed byte for byte."""

    def test_encode_unmasked_text(self) -> None:
        """A single-frame unmasked text message "Hello"."""
        assert encode_frame(Opcode.TEXT, b"Hello") == HELLO_UNMASKED

    def test_encode_masked_text(self) -> None:
        """A single-frame masked text message "Hello" with key 37 fa 21 3d."""
        assert encode_frame(Opcode.TEXT, b"Hello", mask=KEY) == HELLO_MASKED

    def test_encode_fragmented_text(self) -> None:
        """A fragmented unmasked text message "Hel" + "lo"."""
        first = encode_frame(Opcode.TEXT, b"Hel", fin=False)
        assert first + encode_frame(Opcode.CONT, b"lo") == HEL_LO

    def test_encode_ping_and_pong(self) -> None:
        """An unmasked ping and a masked pong, both carrying "Hello"."""
        assert encode_frame(Opcode.PING, b"Hello") == PING_UNMASKED
        assert encode_frame(Opcode.PONG, b"Hello", mask=KEY) == PONG_MASKED

    def test_encode_binary_headers(self) -> None:
        """256 bytes use the 16-bit length and 64 KiB the 64-bit length."""
        assert encode_frame(Opcode.BINARY, bytes(range(256))) == BINARY_256
        assert encode_frame(Opcode.BINARY, bytes(65536)) == BINARY_64K

    def test_parse_unmasked_text(self) -> None:
        """A client parses the unmasked "Hello" whole, byte by byte and with trailing bytes."""
        tr(client, HELLO_UNMASKED, [TextMessage("Hello")])

    def test_parse_masked_text(self) -> None:
        """A server parses the masked "Hello"."""
        tr(server, HELLO_MASKED, [TextMessage("Hello")])

    def test_parse_fragmented_text(self) -> None:
        """A client reassembles "Hel" + "lo"."""
        tr(client, HEL_LO, [TextMessage("Hello")])

    def test_parse_ping(self) -> None:
        """A client parses the unmasked ping and answers with a masked pong."""
        protocol = tr(client, PING_UNMASKED, [PingReceived(b"Hello")])
        assert protocol.data_to_send() == [encode_frame(Opcode.PONG, b"Hello", mask=MASK)]

    def test_parse_pong(self) -> None:
        """A server parses the masked pong."""
        tr(server, PONG_MASKED, [PongReceived(b"Hello")])

    def test_parse_binary_256(self) -> None:
        """A client parses the 256-byte binary message."""
        tr(client, BINARY_256, [BinaryMessage(bytes(range(256)))])

    def test_parse_binary_64k(self) -> None:
        """A client parses the 64 KiB binary message."""
        tr(client, BINARY_64K, [BinaryMessage(bytes(65536))])

    def test_server_sends_examples(self) -> None:
        """A server's send_text / send_ping produce the unmasked examples exactly."""
        protocol = server()
        protocol.send_text(b"Hel", fin=False)
        protocol.send_continuation(b"lo", fin=True)
        protocol.send_ping(b"Hello")
        assert b"".join(protocol.data_to_send()) == HEL_LO + PING_UNMASKED

    def test_client_sends_examples(self) -> None:
        """A client with mask key 37 fa 21 3d produces the masked examples exactly."""
        protocol = client(mask_source=lambda n: KEY)
        assert protocol.side is Side.CLIENT
        protocol.send_text(b"Hello")
        protocol.send_pong(b"Hello")
        assert protocol.data_to_send() == [HELLO_MASKED, PONG_MASKED]


VALID_CODES = [1000, 1001, 1002, 1003, *range(1007, 1015), 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


class TestClose:
    """Section 5.5.1 and 7.4: the close frame payload."""

    @pytest.mark.parametrize("code", VALID_CODES)
    def test_valid_codes_round_trip(self, code: int) -> None:
        """Codes allowed on the wire parse and serialize back unchanged."""
        close = Close(code, "bye é")
        assert is_valid_close_code(code)
        assert Close.parse(close.serialize()) == close

    @pytest.mark.parametrize("code", INVALID_CODES)
    def test_invalid_codes(self, code: int) -> None:
        """Other codes are a protocol error (1002)."""
        assert not is_valid_close_code(code)
        with pytest.raises(ProtocolError) as excinfo:
            Close.parse(struct.pack("!H", code) + b"reason")
        assert excinfo.value.code == 1002

    def test_all_codes(self) -> None:
        """Exactly 1000-1003, 1007-1014 and 3000-4999 are valid on the wire."""
        valid = {*range(1000, 1004), *range(1007, 1015), *range(3000, 5000)}
        assert {code for code in range(2**16) if is_valid_close_code(code)} == valid

    def test_empty_payload(self) -> None:
        """An empty payload means no status: code 1005, and 1005 serializes empty."""
        assert Close.parse(b"") == Close(CloseCode.NO_STATUS_RCVD, "")
        assert Close(CloseCode.NO_STATUS_RCVD).serialize() == b""

    def test_one_byte_payload(self) -> None:
        """A 1-byte payload cannot hold a code: protocol error 1002."""
        with pytest.raises(ProtocolError) as excinfo:
            Close.parse(b"\x03")
        assert excinfo.value.code == 1002

    def test_reason_not_utf8(self) -> None:
        """A reason that is not UTF-8 is invalid data: 1007."""
        with pytest.raises(ProtocolError) as excinfo:
            Close.parse(b"\x03\xe8\xed\xa0\x80")
        assert excinfo.value.code == 1007

    def test_serialize_bytes(self) -> None:
        """The code is two big-endian bytes followed by the UTF-8 reason."""
        assert Close(1001, "à").serialize() == b"\x03\xe9\xc3\xa0"

    def test_str(self) -> None:
        """str() names the code and adds the reason."""
        assert str(Close(1000, "done")) == "1000 (normal closure) (done)"
        assert str(Close(4000)) == "4000 (private use)"
        assert str(Close(2000)) == "2000 (unknown)"

    @pytest.mark.parametrize(
        ("code", "name"),
        [(2999, "unknown"), (3000, "private use"), (4999, "private use"), (5000, "unknown")],
    )
    def test_str_private_use_range(self, code: int, name: str) -> None:
        """Exactly 3000-4999 are named "private use" when no registered name fits."""
        assert str(Close(code)) == f"{code} ({name})"

    def test_str_keeps_printable_reason_verbatim(self) -> None:
        """A printable reason is shown as sent: quotes and backslashes are not escaped."""
        assert str(Close(1000, 'C:\\dir "x" it\'s')) == '1000 (normal closure) (C:\\dir "x" it\'s)'

    @pytest.mark.parametrize(
        ("payload", "code", "message"),
        [
            (b"\x03", 1002, "close frame payload of 1 byte"),
            (b"\x03\xe7", 1002, "invalid close code 999"),
            (b"\xff\xffbye", 1002, "invalid close code 65535"),
            (b"\x03\xe8\xed\xa0\x80", 1007, "close reason is not UTF-8"),
        ],
    )
    def test_refusal_messages(self, payload: bytes, code: int, message: str) -> None:
        """Each refused payload says why: the message becomes the reason of our close frame."""
        with pytest.raises(ProtocolError) as excinfo:
            Close.parse(payload)
        assert (excinfo.value.code, str(excinfo.value)) == (code, message)

    def test_serialize_any_16_bit_code(self) -> None:
        """serialize writes the code unsigned: codes up to 65535 encode (to build bad frames)."""
        assert Close(65535, "x").serialize() == b"\xff\xffx"
        assert Close(32768).serialize() == b"\x80\x00"


class TestFrameStr:
    """Frame.__str__: short, readable log lines."""

    def test_text(self) -> None:
        """A text frame shows its text and size."""
        assert str(Frame(Opcode.TEXT, b"Hello")) == "TEXT 'Hello' [5 bytes]"

    def test_binary_continued(self) -> None:
        """A binary frame shows hex and marks a non-final frame."""
        assert str(Frame(Opcode.BINARY, b"\x01\xff", fin=False)) == (
            "BINARY 01 ff [2 bytes] [continued]"
        )

    def test_close(self) -> None:
        """A close frame shows its code and reason."""
        frame = Frame(Opcode.CLOSE, Close(1001, "bye").serialize())
        assert str(frame) == "CLOSE 1001 (going away) (bye) [5 bytes]"

    def test_close_reason_cannot_forge_log_lines(self) -> None:
        """A peer's close reason shows its newlines escaped, in str(Close) and the DEBUG line."""
        reason = "bye\nINFO forged line\r\x1b[31m"
        close = Close(1000, reason)
        frame = Frame(Opcode.CLOSE, close.serialize())
        for text in (str(close), str(frame)):
            assert "\n" not in text and "\r" not in text and "\x1b" not in text
        assert str(close) == "1000 (normal closure) (bye\\nINFO forged line\\r\\x1b[31m)"
        assert str(Close(1000, "café ok")) == "1000 (normal closure) (café ok)"

    @pytest.mark.parametrize("payload", [b"\x03", b"\x03\xe7", b"\x03\xe8\xff", b"\x00\x00abc"])
    def test_invalid_close_does_not_raise(self, payload: bytes) -> None:
        """A close frame the parser rejects still formats (as hex) for the DEBUG log."""
        assert (
            str(Frame(Opcode.CLOSE, payload)) == f"CLOSE {payload.hex(' ')} [{len(payload)} bytes]"
        )

    @pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY, Opcode.PING])
    def test_long_payload_elided(self, opcode: Opcode) -> None:
        """Long payloads are cut in the middle to keep the line short."""
        text = str(Frame(opcode, b"a" * 1000 + b"z"))
        assert "..." in text
        assert len(text) < 100
        assert text.endswith("[1001 bytes]")

    def test_short_payload_not_elided(self) -> None:
        """Short payloads are shown whole."""
        assert "..." not in str(Frame(Opcode.BINARY, bytes(20)))

    def test_elision_keeps_40_head_and_15_tail_characters(self) -> None:
        """A long body keeps its first 40 and last 15 characters around "..."."""
        assert str(Frame(Opcode.BINARY, bytes(range(30)))) == (
            "BINARY 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0... 19 1a 1b 1c 1d [30 bytes]"
        )

    def test_elision_starts_past_60_characters(self) -> None:
        """A body of exactly 60 characters is shown whole; 61 is cut."""
        assert str(Frame(Opcode.TEXT, b"a" * 58)) == f"TEXT '{'a' * 58}' [58 bytes]"
        assert str(Frame(Opcode.TEXT, b"a" * 59)) == f"TEXT '{'a' * 39}...{'a' * 14}' [59 bytes]"

    def test_invalid_utf8_text_is_shown_with_replacement_characters(self) -> None:
        """A text frame that is not UTF-8 still formats, bad bytes as U+FFFD."""
        assert str(Frame(Opcode.TEXT, b"a\xffb")) == "TEXT 'a\ufffdb' [3 bytes]"


def test_opcode_sets() -> None:
    """Opcodes 0-2 are data frames and 8-10 control frames; the rest are reserved."""
    assert DATA_OPCODES == {0, 1, 2}
    assert CONTROL_OPCODES == {8, 9, 10}
