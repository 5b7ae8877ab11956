"""Behaviour the mutation run found unpinned in the sans-I/O core (see tests/mutation.md).

Each test here kills mutants that survived the rest of ``tests/core``: how a close is
classified when the two sides sent different codes, and RSV bits on control frames once
an extension that owns RSV1 is negotiated.
"""

from __future__ import annotations

import logging

import pytest

from anyio_ws.core.events import CloseReceived, PingReceived, PongReceived, TextMessage
from anyio_ws.core.frames import Close, Opcode, encode_frame
from anyio_ws.core.protocol import Protocol, Side, State
from anyio_ws.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
    ProtocolError,
)
from anyio_ws.extensions.permessage_deflate import PerMessageDeflate

MASK = bytes.fromhex("a1b2c3d4")
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10


def to_server(opcode: int, payload: bytes, *, rsv: int = 0) -> bytes:
    """A masked frame, as a client writes it."""
    return encode_frame(opcode, payload, rsv=rsv, mask=MASK)


def close_payload(code: int | None) -> bytes:
    """A close frame's payload; ``None`` is the empty payload (1005)."""
    return b"" if code is None else Close(code).serialize()


# ----------------------------------------------------- close classification


def closed_after(sent: int | None, rcvd: int | None) -> Protocol:
    """A server that sent a close with ``sent``, then got one with ``rcvd``, then EOF."""
    protocol = Protocol(Side.SERVER)
    protocol.send_close(sent)
    protocol.receive_data(to_server(Opcode.CLOSE, close_payload(rcvd)))
    protocol.receive_eof()
    assert protocol.state is State.CLOSED
    return protocol


OK_PAIRS = [
    (1000, 1000),
    (1000, 1001),
    (1001, 1000),
    (1001, 1001),
    (None, 1000),  # sent an empty close frame: 1005
    (1000, None),  # received an empty close frame: 1005
]
ERROR_PAIRS = [
    (1000, 1011),
    (1011, 1000),
    (1001, 1011),
    (1011, 1001),
    (1000, 1002),
    (1002, 1000),
    (1001, 1003),
    (3000, 1000),
    (1000, 4000),
    (1011, 1011),
]


@pytest.mark.parametrize(("sent", "rcvd"), OK_PAIRS)
def test_close_is_ok_when_both_codes_are_normal(sent: int | None, rcvd: int | None) -> None:
    """Both codes in {1000, 1001, 1005}: ConnectionClosedOK, with both frames kept."""
    exc = closed_after(sent, rcvd).close_exc()
    assert type(exc) is ConnectionClosedOK
    assert exc.sent == Close(1005 if sent is None else sent)
    assert exc.rcvd == Close(1005 if rcvd is None else rcvd)
    assert exc.rcvd_then_sent is False
    assert exc.__cause__ is None


@pytest.mark.parametrize(("sent", "rcvd"), ERROR_PAIRS)
def test_close_is_an_error_when_either_code_is_not_normal(sent: int, rcvd: int) -> None:
    """One side's code outside {1000, 1001, 1005} is enough for ConnectionClosedError."""
    exc = closed_after(sent, rcvd).close_exc()
    assert type(exc) is ConnectionClosedError
    assert exc.sent == Close(sent)
    assert exc.rcvd == Close(rcvd)
    assert exc.code == rcvd


def test_close_sent_and_never_answered_is_an_error() -> None:
    """We sent 1000 and the peer just went away: an error (1006), not a normal closure."""
    protocol = Protocol(Side.SERVER)
    protocol.send_close(1000)
    protocol.receive_eof()
    exc = protocol.close_exc()
    assert type(exc) is ConnectionClosedError
    assert exc.rcvd is None and exc.sent == Close(1000)
    assert exc.code == 1006
    assert exc.rcvd_then_sent is None


def test_close_after_a_failure_keeps_the_violation_as_cause() -> None:
    """The ProtocolError that failed the connection is the close exception's cause."""
    protocol = Protocol(Side.SERVER)
    protocol.receive_data(encode_frame(Opcode.TEXT, b"unmasked"))
    protocol.receive_eof()
    exc = protocol.close_exc()
    assert type(exc) is ConnectionClosedError
    assert isinstance(exc.__cause__, ProtocolError)
    assert exc.__cause__ is protocol.failure
    assert exc.sent == Close(1002, "frame masking does not match the sender's side")


# ------------------------------------------- RSV bits with an extension negotiated


def deflate_server() -> Protocol:
    """A server with permessage-deflate negotiated: RSV1 is allowed on data frames."""
    return Protocol(Side.SERVER, extensions=[PerMessageDeflate()])


def failed_with(protocol: Protocol, code: int) -> None:
    """``protocol`` failed the connection with ``code``: close frame queued, reading over."""
    assert protocol.failure is not None
    assert protocol.failure.code == code
    assert protocol.close_sent is not None and protocol.close_sent.code == code
    assert protocol.state is State.CLOSING
    assert protocol.events_received() == []


@pytest.mark.parametrize("opcode", [Opcode.CLOSE, Opcode.PING, Opcode.PONG])
def test_rsv1_on_a_control_frame_fails_even_with_deflate(opcode: Opcode) -> None:
    """permessage-deflate owns RSV1 on data frames only: on a control frame it is 1002."""
    protocol = deflate_server()
    protocol.receive_data(to_server(opcode, close_payload(1000), rsv=RSV1))
    failed_with(protocol, 1002)


@pytest.mark.parametrize("rsv", [RSV2, RSV3])
@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.PING])
def test_rsv_bits_no_extension_owns_still_fail(opcode: Opcode, rsv: int) -> None:
    """RSV2 and RSV3 stay reserved with permessage-deflate negotiated: 1002."""
    protocol = deflate_server()
    protocol.receive_data(to_server(opcode, b"x", rsv=rsv))
    failed_with(protocol, 1002)


@pytest.mark.parametrize(
    ("opcode", "event"),
    [
        (Opcode.CLOSE, CloseReceived(Close(1000))),
        (Opcode.PING, PingReceived(close_payload(1000))),
        (Opcode.PONG, PongReceived(close_payload(1000))),
    ],
)
def test_control_frames_without_rsv_pass_with_deflate(opcode: Opcode, event: object) -> None:
    """The same control frames without RSV bits are accepted: only the bit is at fault."""
    protocol = deflate_server()
    protocol.receive_data(to_server(opcode, close_payload(1000)))
    assert protocol.events_received() == [event]
    assert protocol.failure is None


def test_compressed_data_frame_with_rsv1_passes_with_deflate() -> None:
    """RSV1 on a data frame is permessage-deflate's: the message is inflated."""
    sender = Protocol(Side.CLIENT, extensions=[PerMessageDeflate()], mask_source=lambda n: MASK)
    sender.send_text(b"hello hello hello")
    protocol = deflate_server()
    wire = b"".join(sender.data_to_send())
    assert wire[0] & RSV1
    protocol.receive_data(wire)
    assert protocol.events_received() == [TextMessage("hello hello hello")]
    assert protocol.failure is None


# ------------------------------------------------- what a failure tells the peer


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (
            to_server(Opcode.TEXT, b"x", rsv=RSV2),
            "reserved bits set without a negotiated extension",
        ),
        (to_server(0x3, b"x"), "unknown opcode 0x3"),
        (encode_frame(Opcode.TEXT, b"x"), "frame masking does not match the sender's side"),
        (encode_frame(Opcode.PING, b"", fin=False, mask=MASK), "fragmented control frame"),
        (to_server(Opcode.PING, b"p" * 126), "control frame payload longer than 125 bytes"),
    ],
)
def test_a_violation_is_named_in_the_close_reason(frame: bytes, reason: str) -> None:
    """The close frame sent on a violation says what it was (1002, with the reason)."""
    protocol = Protocol(Side.SERVER)
    protocol.receive_data(frame)
    assert protocol.close_sent == Close(1002, reason)
    assert str(protocol.failure) == reason


def test_a_violation_too_long_to_name_is_sent_without_reason() -> None:
    """A description over 123 bytes would not fit a close frame: the reason is left empty."""
    fits, too_long = ProtocolError("f" * 123), ProtocolError("t" * 124)
    protocol = Protocol(Side.SERVER)
    protocol._fail_with(fits)
    assert protocol.close_sent == Close(1002, "f" * 123)
    protocol = Protocol(Side.SERVER)
    protocol._fail_with(too_long)
    assert protocol.close_sent == Close(1002, "")
    assert protocol.failure is too_long


def test_a_violation_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """With DEBUG on, failing the connection logs the violation."""
    caplog.set_level(logging.DEBUG, logger="anyio_ws.protocol")
    protocol = Protocol(Side.SERVER)
    protocol.receive_data(encode_frame(Opcode.TEXT, b"x"))
    messages = [record.getMessage() for record in caplog.records]
    assert "! failing the connection: frame masking does not match the sender's side" in messages


def test_fail_without_reason_sends_an_empty_reason() -> None:
    """fail(code) alone sends the code with an empty reason."""
    protocol = Protocol(Side.SERVER)
    protocol.fail(1011)
    assert protocol.close_sent == Close(1011, "")


def test_send_close_misuse_says_why() -> None:
    """send_close() refuses a reserved code, a long reason, and a second call, saying why."""
    protocol = Protocol(Side.SERVER)
    with pytest.raises(ValueError, match="^close code 1006 may not be sent in a close frame$"):
        protocol.send_close(1006)
    with pytest.raises(ValueError, match="^close reason is longer than 123 bytes once encoded$"):
        protocol.send_close(1000, "r" * 124)
    protocol.send_close(1000)
    with pytest.raises(InvalidState, match="^cannot send a close frame in state CLOSING$"):
        protocol.send_close(1000)
