"""The protocol state machine (RFC 6455 sections 5, 7 and 8), driven with bytes.

Message assembly (fragments, limits, streaming, decoding) is in test_assembler.py.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyio_ws.core.events import (
    BinaryMessage,
    CloseReceived,
    Event,
    PingReceived,
    PongReceived,
    TextMessage,
)
from anyio_ws.core.frames import (
    Close,
    CloseCode,
    Opcode,
    PreparedMessage,
    apply_mask,
    encode_frame,
)
from anyio_ws.core.protocol import Protocol, Side, State
from anyio_ws.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
    ProtocolError,
)

from .protocol_helpers import (
    MAKERS,
    MASK,
    RSV2,
    RSV3,
    CountingMask,
    Pair,
    Tagger,
    assert_failed,
    client,
    failed_saying,
    frame_to,
    header_to,
    peer_of,
    read_output,
    server,
    tr,
    tr_fail,
)

# ------------------------------------------------------------------------- tests


class TestDataFrames:
    """Section 5.6: text and binary messages in one frame."""

    def test_text(self, side: Side) -> None:
        """A text frame is a TextMessage with the decoded text."""
        tr(MAKERS[side], frame_to(side, Opcode.TEXT, "café ☕".encode()), [TextMessage("café ☕")])

    def test_binary(self, side: Side) -> None:
        """A binary frame is a BinaryMessage with the payload."""
        tr(
            MAKERS[side],
            frame_to(side, Opcode.BINARY, b"\x00\xff" * 100),
            [BinaryMessage(b"\x00\xff" * 100)],
        )

    def test_empty(self, side: Side) -> None:
        """Empty text and binary frames are empty messages."""
        data = frame_to(side, Opcode.TEXT, b"") + frame_to(side, Opcode.BINARY, b"")
        tr(MAKERS[side], data, [TextMessage(""), BinaryMessage(b"")])

    @pytest.mark.parametrize("length", [125, 126, 65535, 65536])
    def test_length_encodings(self, side: Side, length: int) -> None:
        """Payloads at the 7, 16 and 64-bit length boundaries parse."""
        payload = bytes(i % 256 for i in range(length))
        protocol = MAKERS[side]()
        protocol.receive_data(frame_to(side, Opcode.BINARY, payload))
        assert protocol.events_received() == [BinaryMessage(payload)]

    def test_several_frames_in_one_chunk(self, side: Side) -> None:
        """Frames that arrive together are all parsed, in order."""
        data = b"".join(frame_to(side, Opcode.TEXT, str(i).encode()) for i in range(10))
        tr(MAKERS[side], data, [TextMessage(str(i)) for i in range(10)])

    def test_non_minimal_length_accepted(self, side: Side) -> None:
        """A short payload announced with a 16-bit length is still read correctly."""
        payload = b"hi"
        header = header_to(side, 0x82, 2)
        long_header = bytes([header[0], header[1] & 0x80 | 126]) + b"\x00\x02" + header[2:]
        body = apply_mask(payload, MASK) if side is Side.SERVER else payload
        tr(MAKERS[side], long_header + body, [BinaryMessage(payload)])


class TestReservedBitsAndOpcodes:
    """Section 5.2: RSV bits need an extension; reserved opcodes are errors."""

    @pytest.mark.parametrize("rsv", [0x10, 0x20, 0x40, 0x70])
    @pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY, Opcode.PING])
    def test_reserved_bits(self, side: Side, opcode: Opcode, rsv: int) -> None:
        """Any RSV bit without a negotiated extension fails with 1002."""
        tr_fail(MAKERS[side], frame_to(side, opcode, b"x", rsv=rsv), 1002)

    def test_reserved_bits_on_continuation(self, side: Side) -> None:
        """RSV bits on a continuation frame fail with 1002."""
        data = frame_to(side, Opcode.TEXT, b"a", fin=False)
        data += frame_to(side, Opcode.CONT, b"b", rsv=0x40)
        tr_fail(MAKERS[side], data, 1002)

    @pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
    def test_unknown_opcode(self, side: Side, opcode: int) -> None:
        """Reserved opcodes fail with 1002."""
        tr_fail(MAKERS[side], frame_to(side, opcode, b"x"), 1002)

    def test_unknown_data_opcode_fails_on_header(self, side: Side) -> None:
        """A reserved data opcode fails as soon as its header is in, without its payload."""
        protocol = MAKERS[side]()
        protocol.receive_data(header_to(side, 0x83, 1000))
        assert_failed(protocol, 1002)


class TestControlFrames:
    """Section 5.5: ping, pong, and their limits."""

    def test_ping_answered(self, side: Side) -> None:
        """A ping is reported and answered with a pong carrying the same payload."""
        protocol = tr(MAKERS[side], frame_to(side, Opcode.PING, b"abc"), [PingReceived(b"abc")])
        assert read_output(protocol) == ([PongReceived(b"abc")], False)

    def test_client_pong_bytes(self) -> None:
        """A client's pong is masked with the key from its mask source."""
        protocol = client()
        protocol.receive_data(frame_to(Side.CLIENT, Opcode.PING, b"abc"))
        assert protocol.data_to_send() == [encode_frame(Opcode.PONG, b"abc", mask=MASK)]

    def test_server_pong_bytes(self) -> None:
        """A server's pong is unmasked."""
        protocol = server()
        protocol.receive_data(frame_to(Side.SERVER, Opcode.PING, b"abc"))
        assert protocol.data_to_send() == [b"\x8a\x03abc"]

    def test_pong_not_answered(self, side: Side) -> None:
        """A pong is reported and needs no answer."""
        protocol = tr(MAKERS[side], frame_to(side, Opcode.PONG, b"x"), [PongReceived(b"x")])
        assert protocol.data_to_send() == []

    def test_max_control_payload(self, side: Side) -> None:
        """A ping of exactly 125 bytes is fine."""
        tr(MAKERS[side], frame_to(side, Opcode.PING, bytes(125)), [PingReceived(bytes(125))])

    @pytest.mark.parametrize("opcode", [Opcode.PING, Opcode.PONG, Opcode.CLOSE])
    @pytest.mark.parametrize("length", [126, 65536])
    def test_control_payload_too_long(self, side: Side, opcode: Opcode, length: int) -> None:
        """A control frame longer than 125 bytes fails with 1002."""
        tr_fail(MAKERS[side], frame_to(side, opcode, bytes(length)), 1002)

    def test_control_payload_too_long_fails_on_header(self, side: Side) -> None:
        """An oversized control frame fails on its header, without waiting for the payload."""
        protocol = MAKERS[side]()
        protocol.receive_data(header_to(side, 0x89, 1000))
        assert_failed(protocol, 1002)

    def test_ping_after_close_sent_not_answered(self, side: Side) -> None:
        """After our close frame, a ping is still reported but no pong is sent."""
        protocol = MAKERS[side]()
        protocol.send_close(1000)
        protocol.data_to_send()
        protocol.receive_data(frame_to(side, Opcode.PING, b"late"))
        assert protocol.events_received() == [PingReceived(b"late")]
        assert protocol.data_to_send() == []


class TestMasking:
    """Sections 5.1 and 5.3: clients mask, servers do not."""

    def test_server_rejects_unmasked(self) -> None:
        """A server receiving an unmasked frame fails with 1002."""
        tr_fail(server, encode_frame(Opcode.TEXT, b"hi"), 1002)

    def test_client_rejects_masked(self) -> None:
        """A client receiving a masked frame fails with 1002."""
        tr_fail(client, encode_frame(Opcode.TEXT, b"hi", mask=MASK), 1002)

    def test_client_rejects_masked_control(self) -> None:
        """Masking is checked on control frames too."""
        tr_fail(client, encode_frame(Opcode.PING, b"hi", mask=MASK), 1002)

    def test_client_masks_with_mask_source(self) -> None:
        """Each client frame is masked with a fresh key from the injected mask source."""
        masks = CountingMask()
        protocol = client(mask_source=masks)
        protocol.send_text(b"hello")
        protocol.send_binary(b"\x00" * 10)
        protocol.send_ping(b"p")
        protocol.send_close(1000, "bye")
        assert len(set(masks.keys)) == 4
        assert protocol.data_to_send() == [
            encode_frame(Opcode.TEXT, b"hello", mask=masks.keys[0]),
            encode_frame(Opcode.BINARY, b"\x00" * 10, mask=masks.keys[1]),
            encode_frame(Opcode.PING, b"p", mask=masks.keys[2]),
            encode_frame(Opcode.CLOSE, b"\x03\xe8bye", mask=masks.keys[3]),
        ]

    def test_server_does_not_mask(self) -> None:
        """A server's frames are sent unmasked."""
        protocol = server()
        protocol.send_binary(b"abc")
        assert protocol.data_to_send() == [b"\x82\x03abc"]

    def test_mask_offset_across_chunks(self) -> None:
        """A masked payload split at every offset unmasks correctly."""
        payload = bytes(range(37))
        data = frame_to(Side.SERVER, Opcode.BINARY, payload)
        for cut in range(6, len(data)):
            for cut2 in range(cut, len(data), 5):
                protocol = server()
                protocol.receive_data(data[:cut])
                protocol.receive_data(data[cut:cut2])
                protocol.receive_data(data[cut2:])
                assert protocol.events_received() == [BinaryMessage(payload)]


class TestUtf8:
    """Section 8.1: text must be UTF-8; fail with 1007 as soon as it cannot be."""

    @pytest.mark.parametrize(
        "payload",
        [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ab\xc3"],
    )
    def test_invalid_text(self, side: Side, payload: bytes) -> None:
        """Invalid or truncated UTF-8 in a text frame fails with 1007."""
        tr_fail(MAKERS[side], frame_to(side, Opcode.TEXT, payload), 1007)

    def test_truncated_across_fragments(self, side: Side) -> None:
        """A message that ends in the middle of a character fails with 1007."""
        data = frame_to(side, Opcode.TEXT, b"ok", fin=False) + frame_to(
            side, Opcode.CONT, b"\xe2\x82"
        )
        tr_fail(MAKERS[side], data, 1007)

    def test_binary_is_not_validated(self, side: Side) -> None:
        """Binary messages may hold any bytes."""
        tr(
            MAKERS[side],
            frame_to(side, Opcode.BINARY, b"\xed\xa0\x80"),
            [BinaryMessage(b"\xed\xa0\x80")],
        )

    def test_fail_fast_mid_fragmented_message(self, side: Side) -> None:
        """A bad fragment fails the connection before the message's last fragment arrives."""
        protocol = MAKERS[side]()
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"fine ", fin=False))
        protocol.receive_data(frame_to(side, Opcode.CONT, b"bad \xff", fin=False))
        assert_failed(protocol, 1007)
        protocol.receive_data(frame_to(side, Opcode.CONT, b"end"))
        assert protocol.events_received() == []
        assert protocol.data_to_send() == []

    @pytest.mark.parametrize("bad", [b"\xff", b"\xed\xa0", b"\xf4\x90", b"\xe0\x80", b"\xc1"])
    def test_fail_fast_mid_frame(self, side: Side, bad: bytes) -> None:
        """A bad byte in a frame that arrives in pieces fails before the rest of the frame."""
        payload = b"a" * 100 + bad + b"\x80" * 2 + b"b" * 100
        data = frame_to(side, Opcode.TEXT, payload)
        header = len(header_to(side, 0x81, len(payload)))
        cut = header + 100 + len(bad)
        protocol = MAKERS[side]()
        protocol.receive_data(data[:cut])
        assert_failed(protocol, 1007)
        protocol.receive_data(data[cut:])
        assert protocol.events_received() == []

    def test_fail_fast_byte_by_byte(self, side: Side) -> None:
        """Fed byte by byte, the failure comes with the first byte that cannot be valid."""
        payload = b"ok \xed\xa0\x80 tail"
        data = frame_to(side, Opcode.TEXT, payload)
        header = len(header_to(side, 0x81, len(payload)))
        protocol = MAKERS[side]()
        for i in range(header + 4):
            protocol.receive_data(data[i : i + 1])
            assert protocol.failure is None
        protocol.receive_data(data[header + 4 : header + 5])  # the A0 after ED
        assert_failed(protocol, 1007)

    def test_invalid_close_reason(self, side: Side) -> None:
        """A close reason that is not UTF-8 fails with 1007."""
        tr_fail(MAKERS[side], frame_to(side, Opcode.CLOSE, b"\x03\xe8\xff"), 1007)


class TestClosingHandshake:
    """Section 7: the closing handshake, from either side, and abnormal closure."""

    def test_server_initiates(self) -> None:
        """Server closes; client echoes and waits; server half-closes; then both are closed."""
        pair = Pair()
        pair.server.send_close(1000, "bye")
        assert pair.to_client() == [CloseReceived(Close(1000, "bye"))]
        assert (pair.server.state, pair.client.state) == (State.CLOSING, State.CLOSING)
        assert pair.client.close_expected()
        assert pair.deliver(pair.client) == [
            encode_frame(Opcode.CLOSE, b"\x03\xe8", mask=pair.masks.keys[-1])
        ]
        assert pair.server.events_received() == [CloseReceived(Close(1000))]
        assert pair.deliver(pair.server) == [b""]  # frames crossed: the server half-closes
        assert (pair.server.state, pair.client.state) == (State.CLOSING, State.CLOSED)
        assert not pair.client.close_expected()
        assert pair.deliver(pair.client) == [b""]
        assert (pair.server.state, pair.client.state) == (State.CLOSED, State.CLOSED)
        client_exc, server_exc = pair.client.close_exc(), pair.server.close_exc()
        assert isinstance(client_exc, ConnectionClosedOK)
        assert isinstance(server_exc, ConnectionClosedOK)
        assert client_exc.rcvd_then_sent is True
        assert server_exc.rcvd_then_sent is False
        assert server_exc.rcvd == Close(1000) and server_exc.sent == Close(1000, "bye")

    def test_client_initiates(self) -> None:
        """Client closes; server echoes and half-closes at once; client closes after EOF."""
        pair = Pair()
        pair.client.send_close(1001)
        assert pair.client.close_expected()
        assert pair.to_server() == [CloseReceived(Close(1001))]
        assert pair.server.eof_sent
        chunks = pair.deliver(pair.server)
        assert chunks == [b"\x88\x02\x03\xe9", b""]
        assert pair.client.events_received() == [CloseReceived(Close(1001))]
        assert pair.client.state is State.CLOSED
        assert pair.deliver(pair.client) == [b""]
        assert pair.server.state is State.CLOSED
        assert isinstance(pair.client.close_exc(), ConnectionClosedOK)
        assert pair.client.close_exc().rcvd_then_sent is False
        assert pair.server.close_exc().rcvd_then_sent is True

    def test_client_waits_for_server_eof(self) -> None:
        """A client that received the server's close frame does not half-close itself."""
        protocol = client()
        protocol.receive_data(frame_to(Side.CLIENT, Opcode.CLOSE, b"\x03\xe8"))
        assert b"" not in protocol.data_to_send()
        assert protocol.close_expected()
        protocol.receive_eof()
        assert protocol.state is State.CLOSED
        assert protocol.data_to_send() == [b""]

    @pytest.mark.parametrize("code", [1000, 1001, 1002, 1011, 3000, 4999])
    def test_code_echoed(self, side: Side, code: int) -> None:
        """The peer's close code is echoed (without the reason)."""
        protocol = MAKERS[side]()
        protocol.receive_data(frame_to(side, Opcode.CLOSE, Close(code, "why").serialize()))
        assert protocol.events_received() == [CloseReceived(Close(code, "why"))]
        events, eof = read_output(protocol)
        assert events == [CloseReceived(Close(code))]
        assert eof is (side is Side.SERVER)
        assert protocol.close_sent == Close(code)

    def test_empty_close_frame(self, side: Side) -> None:
        """An empty close frame is code 1005; the answer is an empty close frame too."""
        protocol = tr(MAKERS[side], frame_to(side, Opcode.CLOSE, b""), [CloseReceived(Close(1005))])
        assert read_output(protocol)[0] == [CloseReceived(Close(1005))]
        protocol.receive_eof()
        assert isinstance(protocol.close_exc(), ConnectionClosedOK)

    def test_send_empty_close(self, side: Side) -> None:
        """send_close() with no code sends an empty close frame."""
        protocol = MAKERS[side]()
        protocol.send_close()
        assert read_output(protocol)[0] == [CloseReceived(Close(CloseCode.NO_STATUS_RCVD))]

    def test_error_code_is_not_ok(self) -> None:
        """A close with 1011 ends in ConnectionClosedError."""
        pair = Pair()
        pair.server.send_close(1011)
        pair.to_client()
        pair.to_server()
        pair.to_client()
        exc = pair.client.close_exc()
        assert isinstance(exc, ConnectionClosedError)
        assert exc.code == 1011

    def test_data_after_close_ignored(self, side: Side) -> None:
        """Frames after a close frame are not parsed, even invalid ones."""
        data = frame_to(side, Opcode.CLOSE, b"\x03\xe8") + frame_to(side, Opcode.TEXT, b"late")
        tr(MAKERS[side], data + b"\xff\xff\xff", [CloseReceived(Close(1000))])

    def test_messages_after_close_sent(self, side: Side) -> None:
        """After sending a close frame, messages still arrive until the peer's close."""
        protocol = MAKERS[side]()
        protocol.send_close(1000)
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"still here"))
        assert protocol.events_received() == [TextMessage("still here")]

    def test_eof_mid_message(self, side: Side) -> None:
        """EOF in the middle of a message closes abnormally: ConnectionClosedError, 1006."""
        protocol = MAKERS[side]()
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"unfinished", fin=False))
        protocol.receive_eof()
        assert protocol.state is State.CLOSED
        assert protocol.data_to_send() == [b""]
        exc = protocol.close_exc()
        assert isinstance(exc, ConnectionClosedError)
        assert exc.code == 1006
        assert exc.rcvd is None and exc.sent is None

    def test_eof_twice(self, side: Side) -> None:
        """A second EOF, and data after EOF, change nothing."""
        protocol = MAKERS[side]()
        protocol.receive_eof()
        protocol.data_to_send()
        protocol.receive_eof()
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"late"))
        assert protocol.events_received() == []
        assert protocol.data_to_send() == []

    def test_fail_1006_sends_no_close_frame(self, side: Side) -> None:
        """fail(1006) drops the connection without a close frame."""
        protocol = MAKERS[side]()
        protocol.fail(1006)
        assert protocol.state is State.CLOSING
        assert protocol.data_to_send() == ([b""] if side is Side.SERVER else [])

    def test_fail_by_application(self, side: Side) -> None:
        """fail(1011) sends the close frame and stops reading."""
        protocol = MAKERS[side]()
        protocol.fail(1011, "oops")
        events, eof = read_output(protocol)
        assert events == [CloseReceived(Close(1011, "oops"))]
        assert eof is (side is Side.SERVER)
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"ignored"))
        assert protocol.events_received() == []

    def test_close_expected_while_open(self, side: Side) -> None:
        """An open connection expects nothing: close_expected() is False, no EOF was sent."""
        protocol = MAKERS[side]()
        assert protocol.close_expected() is False
        assert protocol.eof_sent is False


class TestLocalMisuse:
    """Commands the application may not give: InvalidState or ValueError, never a bad frame."""

    @pytest.mark.parametrize(
        "command",
        [
            lambda p: p.send_text(b"x"),
            lambda p: p.send_binary(b"x"),
            lambda p: p.send_ping(b""),
            lambda p: p.send_pong(b""),
            lambda p: p.send_close(1000),
        ],
    )
    @pytest.mark.parametrize("close", ["sent", "received", "eof"])
    def test_send_when_closing_or_closed(
        self, side: Side, command: Callable[[Protocol], None], close: str
    ) -> None:
        """Nothing can be sent after a close frame was sent or received, or after EOF."""
        protocol = MAKERS[side]()
        if close == "sent":
            protocol.send_close(1000)
        elif close == "received":
            protocol.receive_data(frame_to(side, Opcode.CLOSE, b""))
        else:
            protocol.receive_eof()
        protocol.data_to_send()
        with pytest.raises(InvalidState):
            command(protocol)
        assert protocol.data_to_send() == []

    @pytest.mark.parametrize(
        "command",
        [
            lambda p: p.send_text(b"x"),
            lambda p: p.send_binary(b"x", fin=False),
            lambda p: p.send_continuation(b"x", fin=True),
            lambda p: p.send_ping(b""),
            lambda p: p.send_pong(b""),
            lambda p: p.send_close(1000),
        ],
    )
    def test_send_when_connecting(self, side: Side, command: Callable[[Protocol], None]) -> None:
        """A protocol created CONNECTING, the handshake's stand-in, sends nothing."""
        protocol = MAKERS[side](connecting=True)
        assert protocol.state is State.CONNECTING
        with pytest.raises(InvalidState):
            command(protocol)
        assert protocol.state is State.CONNECTING
        assert protocol.data_to_send() == []

    @pytest.mark.parametrize("method", ["send_ping", "send_pong"])
    def test_control_payload_too_long(self, side: Side, method: str) -> None:
        """A ping or pong payload over 125 bytes is a ValueError."""
        protocol = MAKERS[side]()
        getattr(protocol, method)(bytes(125))
        with pytest.raises(ValueError):
            getattr(protocol, method)(bytes(126))

    def test_close_reason_too_long(self, side: Side) -> None:
        """A close reason over 123 bytes is a ValueError and the connection stays open."""
        protocol = MAKERS[side]()
        with pytest.raises(ValueError):
            protocol.send_close(1000, "x" * 124)
        assert protocol.state is State.OPEN
        protocol.send_close(1000, "x" * 123)

    @pytest.mark.parametrize("code", [0, 999, 1004, 1006, 1015, 2000, 5000])
    def test_close_code_not_for_the_wire(self, side: Side, code: int) -> None:
        """Codes a close frame may not carry (section 7.4) are a ValueError."""
        protocol = MAKERS[side]()
        with pytest.raises(ValueError):
            protocol.send_close(code)
        assert protocol.state is State.OPEN
        assert protocol.data_to_send() == []

    def test_continuation_without_message(self, side: Side) -> None:
        """send_continuation without a started message is InvalidState."""
        protocol = MAKERS[side]()
        with pytest.raises(InvalidState):
            protocol.send_continuation(b"x", fin=True)
        protocol.send_text(b"done")
        with pytest.raises(InvalidState):
            protocol.send_continuation(b"x", fin=True)

    def test_new_message_while_fragmenting(self, side: Side) -> None:
        """A new message before the fragmented one ends is InvalidState; pings are fine."""
        protocol = MAKERS[side]()
        protocol.send_binary(b"a", fin=False)
        with pytest.raises(InvalidState):
            protocol.send_text(b"b")
        protocol.send_ping(b"")
        protocol.send_continuation(b"c", fin=True)
        protocol.send_text(b"d")
        events, _ = read_output(protocol)
        assert events == [PingReceived(b""), BinaryMessage(b"ac"), TextMessage("d")]


class TestTrailingData:
    """Bytes that came with the handshake are the first frames (both sides)."""

    def test_parsed_at_construction(self, side: Side) -> None:
        """trailing_data is parsed by the constructor."""
        data = frame_to(side, Opcode.TEXT, b"first") + frame_to(side, Opcode.PING, b"p")
        protocol = MAKERS[side](trailing_data=data)
        assert protocol.events_received() == [TextMessage("first"), PingReceived(b"p")]
        assert read_output(protocol)[0] == [PongReceived(b"p")]

    def test_partial_frame(self, side: Side) -> None:
        """A frame cut by the end of trailing_data completes with the next bytes."""
        data = frame_to(side, Opcode.TEXT, b"first")
        protocol = MAKERS[side](trailing_data=data[:3])
        assert protocol.events_received() == []
        protocol.receive_data(data[3:])
        assert protocol.events_received() == [TextMessage("first")]

    def test_invalid(self, side: Side) -> None:
        """Invalid trailing_data fails the connection, it does not raise."""
        protocol = MAKERS[side](trailing_data=frame_to(side, 5, b""))
        assert_failed(protocol, 1002)


class TestLogging:
    """Frames are logged at DEBUG, and formatting never fails."""

    def test_frames_logged(self, side: Side, caplog: pytest.LogCaptureFixture) -> None:
        """Incoming and outgoing frames appear in the DEBUG log."""
        caplog.set_level(logging.DEBUG, logger="anyio_ws")
        protocol = MAKERS[side]()
        protocol.receive_data(frame_to(side, Opcode.PING, b"hi"))
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"x" * 300, fin=False))
        protocol.send_text(b"out")
        messages = [record.getMessage() for record in caplog.records]
        assert "< PING 68 69 [2 bytes]" in messages
        assert "> PONG 68 69 [2 bytes]" in messages
        assert "< TEXT frame [300 bytes] [continued]" in messages
        assert "> TEXT 'out' [3 bytes]" in messages

    @pytest.mark.parametrize("payload", [b"\x03\xe7", b"\x03\xe8\xff", b"\x03"])
    def test_invalid_close_logged(
        self, side: Side, payload: bytes, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A close frame the parser rejects is logged in hex, not a logging error."""
        caplog.set_level(logging.DEBUG, logger="anyio_ws")
        protocol = MAKERS[side]()
        protocol.receive_data(frame_to(side, Opcode.CLOSE, payload))
        assert protocol.failure is not None
        assert f"< CLOSE {payload.hex(' ')} [{len(payload)} bytes]" in caplog.messages

    def test_no_logging_when_disabled(self, side: Side, caplog: pytest.LogCaptureFixture) -> None:
        """Without DEBUG enabled at construction, nothing is logged."""
        caplog.set_level(logging.INFO, logger="anyio_ws")
        protocol = MAKERS[side]()
        protocol.receive_data(frame_to(side, Opcode.PING, b"hi"))
        assert caplog.records == []


# ------------------------------------------------------------- property tests

messages = st.lists(
    st.one_of(
        st.tuples(st.just(True), st.text(max_size=200).map(str.encode)),
        st.tuples(st.just(False), st.binary(max_size=200)),
    ),
    max_size=6,
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (in any order, repeats allowed)."""
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(messages=messages, data=st.data())
def test_round_trip_property(messages: list[tuple[bool, bytes]], data: st.DataObject) -> None:
    """Messages a client sends, fragmented and chunked at random, reach the server unchanged."""
    sender = client(mask_source=CountingMask())
    expected: list[Event] = []
    for is_text, payload in messages:
        pieces = split(payload, data.draw(st.lists(st.integers(0, 10**6), max_size=4)))
        pings = data.draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
        for i, (piece, ping) in enumerate(zip(pieces, pings, strict=True)):
            last = i == len(pieces) - 1
            if i > 0:
                sender.send_continuation(piece, fin=last)
            elif is_text:
                sender.send_text(piece, fin=last)
            else:
                sender.send_binary(piece, fin=last)
            if last:
                expected.append(
                    TextMessage(payload.decode()) if is_text else BinaryMessage(payload)
                )
            if ping:
                sender.send_ping(str(i).encode())
                expected.append(PingReceived(str(i).encode()))
    wire = b"".join(sender.data_to_send())
    receiver = server(max_size=None)
    for chunk in split(wire, data.draw(st.lists(st.integers(0, 10**6), max_size=20))):
        receiver.receive_data(chunk)
    assert receiver.events_received() == expected
    assert receiver.failure is None


frames = st.builds(
    lambda opcode, payload, fin, rsv, masked: encode_frame(
        opcode, payload, fin=fin, rsv=rsv, mask=MASK if masked else None
    ),
    st.one_of(st.sampled_from([0, 1, 2, 8, 9, 10]), st.integers(0, 15)),
    st.one_of(st.binary(max_size=140), st.text(max_size=40).map(str.encode)),
    st.booleans(),
    st.sampled_from([0, 0, 0, 0x10, 0x20, 0x40]),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    side=st.sampled_from([Side.SERVER, Side.CLIENT]),
    pieces=st.lists(st.one_of(frames, st.binary(max_size=30)), max_size=8),
    cuts=st.lists(st.integers(0, 10**6), max_size=10),
)
def test_arbitrary_bytes_property(side: Side, pieces: list[bytes], cuts: list[int]) -> None:
    """Any bytes give events or a failure with 1002/1007/1009 and a close frame; never raise."""
    protocol = MAKERS[side](max_size=50)
    for chunk in split(b"".join(pieces), cuts):
        protocol.receive_data(chunk)
    protocol.events_received()
    if protocol.failure is not None:
        assert isinstance(protocol.failure, ProtocolError)
        assert protocol.failure.code in {1002, 1007, 1009}
        assert_failed(protocol, protocol.failure.code)
    else:
        read_output(protocol)


# ------------------------------------------------- what failures and refusals say


class TestFailureReasons:
    """The close frame that fails the connection tells the peer which rule it broke."""

    @pytest.mark.parametrize(
        ("frames", "limits", "code", "reason"),
        [
            (
                [(Opcode.CONT, b"x", True, 0)],
                2**20,
                1002,
                "continuation frame without a message to continue",
            ),
            (
                [(Opcode.BINARY, b"a", False, 0), (Opcode.TEXT, b"b", True, 0)],
                2**20,
                1002,
                "new message before the previous one ended",
            ),
            ([(Opcode.BINARY, bytes(11), True, 0)], 10, 1009, "message of more than 10 bytes"),
            ([(Opcode.TEXT, bytes(11), True, 0)], (100, 10), 1009, "frame of more than 10 bytes"),
        ],
    )
    def test_peer_violations(
        self,
        side: Side,
        frames: list[tuple[int, bytes, bool, int]],
        limits: Any,
        code: int,
        reason: str,
    ) -> None:
        """Each framing or size violation closes with its code and its own reason."""
        protocol = MAKERS[side](max_size=limits)
        for opcode, payload, fin, rsv in frames:
            protocol.receive_data(frame_to(side, opcode, payload, fin=fin, rsv=rsv))
        failed_saying(protocol, code, reason)

    def test_reserved_bits_on_a_continuation(self, side: Side) -> None:
        """An extension's RSV bit on a continuation frame fails with 1002 (section 5.2)."""
        protocol = MAKERS[side](extensions=[Tagger(RSV2)])
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"a", fin=False, rsv=RSV2))
        protocol.receive_data(frame_to(side, Opcode.CONT, b"b", rsv=RSV2))
        failed_saying(protocol, 1002, "reserved bits set on a continuation frame")

    def test_reserved_bits_no_extension_claims(self, side: Side) -> None:
        """An RSV bit an extension may use, on a message none claims, fails with 1002."""
        protocol = MAKERS[side](extensions=[Tagger(RSV2 | RSV3, claims=RSV2)])
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"x", rsv=RSV3))
        failed_saying(protocol, 1002, "reserved bits set but no extension claims the message")


class TestSending:
    """What the application's commands write, and what they say when refused."""

    def test_pending_output_counts_what_data_to_send_would_return(self, side: Side) -> None:
        """The I/O layer sizes its buffer (write_limit) by these, without taking the data."""
        protocol = MAKERS[side]()
        assert (protocol.pending_chunks(), protocol.pending_bytes()) == (0, 0)
        protocol.send_binary(b"x" * 300)  # header and payload, or one chunk
        protocol.send_ping(b"p")
        counted = (protocol.pending_chunks(), protocol.pending_bytes())
        output = protocol.data_to_send()
        assert counted == (len(output), len(b"".join(output))) and counted[1] > 300
        assert (protocol.pending_chunks(), protocol.pending_bytes()) == (0, 0)

    def test_a_prepared_message_is_shared_where_nothing_would_change_it(self, side: Side) -> None:
        """A server without extensions queues the one shared frame; a client (it masks)
        or an extension that encodes per connection refuses it and queues nothing."""
        message = PreparedMessage(Opcode.TEXT, b"hello")
        protocol = MAKERS[side]()
        sent = protocol.send_prepared(message)
        assert sent is (side is Side.SERVER)
        output = protocol.data_to_send()
        assert output == ([encode_frame(Opcode.TEXT, b"hello")] if sent else [])
        if sent:
            other = server()
            assert other.send_prepared(message)
            assert other.data_to_send()[0] is output[0]  # shared, not encoded again
        with_extension = MAKERS[side](extensions=[Tagger(RSV2, send_bits=RSV2)])
        assert not with_extension.send_prepared(message)
        assert with_extension.data_to_send() == []

    def test_a_prepared_message_follows_the_rules_of_send_text(self) -> None:
        """Not while closing, nor in the middle of a fragmented message."""
        message = PreparedMessage(Opcode.BINARY, b"x")
        fragmenting = server()
        fragmenting.send_binary(b"a", fin=False)
        with pytest.raises(InvalidState, match="previous message is unfinished"):
            fragmenting.send_prepared(message)
        closing = server()
        closing.send_close(1000)
        with pytest.raises(InvalidState, match="state CLOSING"):
            closing.send_prepared(message)

    def test_rsv_bits_of_all_extensions_are_combined(self, side: Side) -> None:
        """Each extension's RSV bits are ORed into the frame, not replaced by the last."""
        extensions = [Tagger(RSV2, send_bits=RSV2), Tagger(RSV3)]
        protocol = MAKERS[side](extensions=extensions)
        protocol.send_binary(b"x")
        [data] = protocol.data_to_send()
        assert data[0] == 0x80 | RSV2 | Opcode.BINARY

    @pytest.mark.parametrize(
        ("setup", "command", "exc_type", "message"),
        [
            (
                "close",
                lambda p: p.send_text(b"x"),
                InvalidState,
                "cannot send a data frame in state CLOSING",
            ),
            (
                "close",
                lambda p: p.send_ping(b""),
                InvalidState,
                "cannot send a PING frame in state CLOSING",
            ),
            (
                "close",
                lambda p: p.send_pong(b""),
                InvalidState,
                "cannot send a PONG frame in state CLOSING",
            ),
            (
                "",
                lambda p: p.send_ping(bytes(126)),
                ValueError,
                "control frame payload must be at most 125 bytes",
            ),
            (
                "",
                lambda p: p.send_pong(bytes(126)),
                ValueError,
                "control frame payload must be at most 125 bytes",
            ),
            (
                "",
                lambda p: p.send_continuation(b"x", fin=True),
                InvalidState,
                "no fragmented message to continue",
            ),
            (
                "fragment",
                lambda p: p.send_binary(b"x"),
                InvalidState,
                "the previous message is unfinished: send a continuation",
            ),
        ],
    )
    def test_refusal_messages(
        self,
        side: Side,
        setup: str,
        command: Callable[[Protocol], None],
        exc_type: type[Exception],
        message: str,
    ) -> None:
        """Each refused command raises its exception with a message saying what is wrong."""
        protocol = MAKERS[side]()
        if setup == "close":
            protocol.send_close(1000)
        elif setup == "fragment":
            protocol.send_text(b"a", fin=False)
        protocol.data_to_send()
        with pytest.raises(exc_type) as excinfo:
            command(protocol)
        assert str(excinfo.value) == message
        assert protocol.data_to_send() == []

    @pytest.mark.parametrize(("length", "writes"), [(65536, 1), (65537, 2)])
    def test_header_joined_to_payloads_up_to_64_kib(
        self, side: Side, length: int, writes: int
    ) -> None:
        """A payload up to 64 KiB goes out in one piece with its header; larger ones in two."""
        protocol = MAKERS[side]()
        protocol.send_binary(bytes(length))
        output = protocol.data_to_send()
        assert len(output) == writes
        assert read_output_of(protocol, output) == [BinaryMessage(bytes(length))]

    def test_unfinished_frame_logged_as_continued(
        self, side: Side, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The DEBUG line of a frame sent without FIN says "[continued]"; the last does not."""
        caplog.set_level(logging.DEBUG, logger="anyio_ws")
        protocol = MAKERS[side]()
        protocol.send_text(b"a", fin=False)
        protocol.send_continuation(b"b", fin=True)
        assert "> TEXT 'a' [1 bytes] [continued]" in caplog.messages
        assert "> CONT 62 [1 bytes]" in caplog.messages


def read_output_of(protocol: Protocol, output: list[bytes]) -> list[Event]:
    """Parse ``output``, written by ``protocol``, with a peer; return the peer's events."""
    peer = peer_of(protocol)
    for chunk in output:
        peer.receive_data(chunk)
    assert peer.failure is None
    return peer.events_received()


class TestHeaderCutAfterAFrame:
    """A header cut by the end of a read, behind a whole frame, waits for its rest."""

    @pytest.mark.parametrize("length", [200, 70000])
    def test_extended_length_cut(self, side: Side, length: int) -> None:
        """A 16- or 64-bit length cut anywhere is read whole once the next bytes arrive."""
        second = frame_to(side, Opcode.BINARY, bytes(length))
        header_size = (4 if length < 2**16 else 10) + (4 if side is Side.SERVER else 0)
        for cut in range(1, header_size):
            protocol = MAKERS[side]()
            protocol.receive_data(frame_to(side, Opcode.TEXT, b"a") + second[:cut])
            assert protocol.events_received() == [TextMessage("a")]
            protocol.receive_data(second[cut:])
            assert protocol.events_received() == [BinaryMessage(bytes(length))]
            assert protocol.failure is None


def test_incoming_frames_logged_with_their_fin_bit(
    side: Side, caplog: pytest.LogCaptureFixture
) -> None:
    """An incoming frame of a fragmented message is logged "[continued]" unless it is the last."""
    caplog.set_level(logging.DEBUG, logger="anyio_ws")
    protocol = MAKERS[side]()
    protocol.receive_data(frame_to(side, Opcode.TEXT, b"a", fin=False))
    protocol.receive_data(frame_to(side, Opcode.CONT, b"b"))
    assert protocol.events_received() == [TextMessage("ab")]
    assert "< TEXT frame [1 bytes] [continued]" in caplog.messages
    assert "< CONT frame [1 bytes]" in caplog.messages


def test_whole_frames_logged_with_their_payload(
    side: Side, caplog: pytest.LogCaptureFixture
) -> None:
    """A message in one whole frame, even one exactly max_size long, is logged with its payload."""
    caplog.set_level(logging.DEBUG, logger="anyio_ws")
    protocol = MAKERS[side](max_size=5)
    protocol.receive_data(frame_to(side, Opcode.TEXT, b"Hello"))
    protocol.receive_data(frame_to(side, Opcode.BINARY, b"\x01\x02"))
    assert protocol.events_received() == [TextMessage("Hello"), BinaryMessage(b"\x01\x02")]
    assert caplog.messages == ["< TEXT 'Hello' [5 bytes]", "< BINARY 01 02 [2 bytes]"]


def test_length_with_its_top_bit_set_says_so(side: Side) -> None:
    """A 64-bit length with its most significant bit set fails with 1002, saying why."""
    protocol = MAKERS[side]()
    protocol.receive_data(header_to(side, 0x82, 2**63))
    failed_saying(protocol, 1002, "frame length has its most significant bit set")
