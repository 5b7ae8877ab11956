"""Message assembly (``anyio_ws.core.assembler``): fragments, limits, streaming, decoding.

Driven, like the rest of the core, through a ``Protocol`` fed with bytes.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from anyio_ws.core.events import (
    BinaryFragment,
    BinaryMessage,
    CloseReceived,
    Event,
    PingReceived,
    PongReceived,
    TextFragment,
    TextMessage,
)
from anyio_ws.core.frames import Close, Opcode
from anyio_ws.core.protocol import Protocol, Side, State
from anyio_ws.exceptions import PayloadTooBig

from .protocol_helpers import (
    MAKERS,
    RSV2,
    RSV3,
    Tagger,
    assert_failed,
    failed_saying,
    frame_to,
    header_to,
    read_output,
    tr,
    tr_fail,
)


class TestFragmentation:
    """Section 5.4: fragmented messages and control frames between fragments."""

    def test_text_in_three_fragments(self, side: Side) -> None:
        """TEXT + CONT + CONT(fin) is one text message."""
        data = (
            frame_to(side, Opcode.TEXT, b"one ", fin=False)
            + frame_to(side, Opcode.CONT, b"two ", fin=False)
            + frame_to(side, Opcode.CONT, b"three")
        )
        tr(MAKERS[side], data, [TextMessage("one two three")])

    def test_binary_with_empty_fragments(self, side: Side) -> None:
        """Empty fragments add nothing to a binary message."""
        data = (
            frame_to(side, Opcode.BINARY, b"", fin=False)
            + frame_to(side, Opcode.CONT, b"ab", fin=False)
            + frame_to(side, Opcode.CONT, b"")
        )
        tr(MAKERS[side], data, [BinaryMessage(b"ab")])

    def test_character_split_across_fragments(self, side: Side) -> None:
        """A character cut between fragments is decoded once whole."""
        encoded = "€uro".encode()
        data = frame_to(side, Opcode.TEXT, encoded[:1], fin=False)
        data += frame_to(side, Opcode.CONT, encoded[1:2], fin=False)
        data += frame_to(side, Opcode.CONT, encoded[2:])
        tr(MAKERS[side], data, [TextMessage("€uro")])

    def test_control_frames_interleaved(self, side: Side) -> None:
        """Pings and pongs between fragments are handled at once; the message follows."""
        data = (
            frame_to(side, Opcode.TEXT, b"Hel", fin=False)
            + frame_to(side, Opcode.PING, b"1")
            + frame_to(side, Opcode.CONT, b"l", fin=False)
            + frame_to(side, Opcode.PONG, b"2")
            + frame_to(side, Opcode.CONT, b"o")
        )
        expected: list[Event] = [PingReceived(b"1"), PongReceived(b"2"), TextMessage("Hello")]
        protocol = tr(MAKERS[side], data, expected)
        events, _ = read_output(protocol)
        assert events == [PongReceived(b"1")]

    def test_close_between_fragments(self, side: Side) -> None:
        """A close frame between fragments is answered; the unfinished message is dropped."""
        data = frame_to(side, Opcode.TEXT, b"Hel", fin=False)
        data += frame_to(side, Opcode.CLOSE, Close(1001).serialize())
        tr(MAKERS[side], data, [CloseReceived(Close(1001))])

    def test_continuation_without_start(self, side: Side) -> None:
        """A continuation frame with no message to continue is a protocol error."""
        tr_fail(MAKERS[side], frame_to(side, Opcode.CONT, b"x"), 1002)

    def test_continuation_after_complete_message(self, side: Side) -> None:
        """A continuation after a finished message is a protocol error."""
        data = frame_to(side, Opcode.TEXT, b"a") + frame_to(side, Opcode.CONT, b"b")
        tr_fail(MAKERS[side], data, 1002, before=[TextMessage("a")])

    @pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
    def test_new_message_mid_message(self, side: Side, opcode: Opcode) -> None:
        """A new text or binary frame before the previous message ended is a protocol error."""
        data = frame_to(side, Opcode.BINARY, b"a", fin=False) + frame_to(side, opcode, b"b")
        tr_fail(MAKERS[side], data, 1002)

    @pytest.mark.parametrize("opcode", [Opcode.PING, Opcode.PONG, Opcode.CLOSE])
    def test_fragmented_control_frame(self, side: Side, opcode: Opcode) -> None:
        """A control frame without FIN is a protocol error (section 5.5)."""
        tr_fail(MAKERS[side], frame_to(side, opcode, b"", fin=False), 1002)


class TestMaxSize:
    """max_size bounds incoming messages by bytes (1009), checked before reading payloads."""

    def test_at_limit(self, side: Side) -> None:
        """A message of exactly max_size bytes is accepted."""
        tr(
            lambda: MAKERS[side](max_size=10),
            frame_to(side, Opcode.BINARY, bytes(10)),
            [BinaryMessage(bytes(10))],
        )

    def test_frame_over_limit_fails_on_header(self, side: Side) -> None:
        """A frame announcing more than max_size fails with 1009 before its payload arrives."""
        protocol = MAKERS[side](max_size=10)
        protocol.receive_data(header_to(side, 0x82, 11))
        assert_failed(protocol, 1009)
        assert isinstance(protocol.failure, PayloadTooBig)

    def test_huge_frame_fails_on_header(self, side: Side) -> None:
        """A frame announcing 2**62 bytes fails with 1009 on its header (default max_size)."""
        protocol = MAKERS[side]()
        protocol.receive_data(header_to(side, 0x82, 2**62))
        assert_failed(protocol, 1009)

    def test_fragments_over_limit(self, side: Side) -> None:
        """Fragments that add up to more than max_size fail with 1009."""
        data = frame_to(side, Opcode.TEXT, b"12345", fin=False)
        data += frame_to(side, Opcode.CONT, b"67890", fin=False)
        data += frame_to(side, Opcode.CONT, b"!")
        tr_fail(lambda: MAKERS[side](max_size=10), data, 1009)

    def test_fragment_over_limit_fails_on_its_header(self, side: Side) -> None:
        """The fragment that would cross max_size fails on its header alone."""
        protocol = MAKERS[side](max_size=10)
        protocol.receive_data(frame_to(side, Opcode.BINARY, bytes(8), fin=False))
        assert protocol.failure is None
        protocol.receive_data(header_to(side, 0x80, 3))
        assert_failed(protocol, 1009)

    def test_limit_is_per_message(self, side: Side) -> None:
        """Consecutive messages each get the whole budget."""
        data = frame_to(side, Opcode.BINARY, bytes(10)) * 3
        tr(lambda: MAKERS[side](max_size=10), data, [BinaryMessage(bytes(10))] * 3)

    def test_unlimited(self, side: Side) -> None:
        """max_size=None accepts a message larger than the default 1 MiB limit."""
        payload = bytes(2**20 + 1)
        protocol = MAKERS[side](max_size=None)
        protocol.receive_data(frame_to(side, Opcode.BINARY, payload))
        assert protocol.events_received() == [BinaryMessage(payload)]

    def test_default_limit(self, side: Side) -> None:
        """The default max_size is 1 MiB."""
        protocol = MAKERS[side]()
        protocol.receive_data(header_to(side, 0x82, 2**20 + 1))
        assert_failed(protocol, 1009)

    def test_msb_of_64_bit_length(self, side: Side) -> None:
        """A 64-bit length with its most significant bit set fails with 1002."""
        protocol = MAKERS[side](max_size=None)
        protocol.receive_data(header_to(side, 0x82, 2**63))
        assert_failed(protocol, 1002)

    def test_many_small_fragments(self, side: Side) -> None:
        """A 4 MiB message in 65536 fragments of 64 bytes is accepted (parsed in linear time)."""
        chunk = bytes(range(64))
        pieces = [frame_to(side, Opcode.BINARY, chunk, fin=False)]
        pieces += [frame_to(side, Opcode.CONT, chunk, fin=False)] * (2**16 - 2)
        pieces.append(frame_to(side, Opcode.CONT, chunk))
        data = b"".join(pieces)
        protocol = MAKERS[side](max_size=4 * 2**20)
        for start in range(0, len(data), 65536):
            protocol.receive_data(data[start : start + 65536])
        assert protocol.events_received() == [BinaryMessage(chunk * 2**16)]
        assert protocol.failure is None


class TestStreamFragments:
    """With stream_fragments, a fragmented message is reported frame by frame."""

    @staticmethod
    def make(side: Side, **kwargs: Any) -> Callable[[], Protocol]:
        return lambda: MAKERS[side](stream_fragments=True, **kwargs)

    def test_off_by_default(self, side: Side) -> None:
        """Without the option, a fragmented message is one whole message event."""
        protocol = MAKERS[side]()
        assert protocol.stream_fragments is False
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"a", fin=False))
        assert protocol.events_received() == []

    def test_text_fragments(self, side: Side) -> None:
        """Each frame of a fragmented text message is a TextFragment; the last has fin."""
        data = (
            frame_to(side, Opcode.TEXT, b"one ", fin=False)
            + frame_to(side, Opcode.CONT, b"", fin=False)
            + frame_to(side, Opcode.CONT, b"three")
        )
        expected = [
            TextFragment("one ", False),
            TextFragment("", False),
            TextFragment("three", True),
        ]
        tr(self.make(side), data, expected)

    def test_binary_fragments(self, side: Side) -> None:
        """Each frame of a fragmented binary message is a BinaryFragment."""
        data = frame_to(side, Opcode.BINARY, b"\x00", fin=False)
        data += frame_to(side, Opcode.CONT, b"\xff")
        tr(self.make(side), data, [BinaryFragment(b"\x00", False), BinaryFragment(b"\xff", True)])

    def test_fragment_reported_before_the_next_frame_arrives(self, side: Side) -> None:
        """A fragment is an event as soon as its frame is complete."""
        protocol = self.make(side)()
        protocol.receive_data(frame_to(side, Opcode.BINARY, b"first", fin=False))
        assert protocol.events_received() == [BinaryFragment(b"first", False)]
        protocol.receive_data(frame_to(side, Opcode.CONT, b"last"))
        assert protocol.events_received() == [BinaryFragment(b"last", True)]

    def test_single_frame_messages_stay_whole(self, side: Side) -> None:
        """A message in one frame is a TextMessage/BinaryMessage, also in streaming mode."""
        data = frame_to(side, Opcode.TEXT, b"whole") + frame_to(side, Opcode.BINARY, bytes(70000))
        tr(self.make(side), data, [TextMessage("whole"), BinaryMessage(bytes(70000))])

    def test_character_split_across_fragments(self, side: Side) -> None:
        """A character cut by a frame boundary comes out whole in the next fragment."""
        encoded = "a€b".encode()
        data = frame_to(side, Opcode.TEXT, encoded[:2], fin=False)
        data += frame_to(side, Opcode.CONT, encoded[2:3], fin=False)
        data += frame_to(side, Opcode.CONT, encoded[3:])
        expected = [TextFragment("a", False), TextFragment("", False), TextFragment("€b", True)]
        tr(self.make(side), data, expected)

    def test_invalid_utf8_fails_at_the_bad_fragment(self, side: Side) -> None:
        """Invalid UTF-8 fails with 1007 at its fragment; earlier fragments were reported."""
        data = frame_to(side, Opcode.TEXT, b"ok", fin=False)
        data += frame_to(side, Opcode.CONT, b"\xff", fin=False)
        tr_fail(self.make(side), data, 1007, before=[TextFragment("ok", False)])

    def test_control_frames_between_fragments(self, side: Side) -> None:
        """A ping between fragments comes out between the fragment events."""
        data = frame_to(side, Opcode.TEXT, b"a", fin=False)
        data += frame_to(side, Opcode.PING, b"p")
        data += frame_to(side, Opcode.CONT, b"b")
        expected: list[Event] = [
            TextFragment("a", False),
            PingReceived(b"p"),
            TextFragment("b", True),
        ]
        tr(self.make(side), data, expected)

    def test_message_limit_still_counts_the_whole_message(self, side: Side) -> None:
        """max_size bounds the sum of the fragments, as without streaming."""
        data = frame_to(side, Opcode.BINARY, bytes(6), fin=False)
        data += frame_to(side, Opcode.CONT, bytes(6))
        tr_fail(self.make(side, max_size=10), data, 1009, before=[BinaryFragment(bytes(6), False)])

    def test_next_message_after_a_fragmented_one(self, side: Side) -> None:
        """After the last fragment, a one-frame message takes the fast path again."""
        data = frame_to(side, Opcode.TEXT, b"a", fin=False) + frame_to(side, Opcode.CONT, b"b")
        data += frame_to(side, Opcode.TEXT, b"c")
        expected: list[Event] = [
            TextFragment("a", False),
            TextFragment("b", True),
            TextMessage("c"),
        ]
        tr(self.make(side), data, expected)


class TestMaxSizePair:
    """max_size=(message_limit, fragment_limit) also bounds each frame (1009)."""

    def test_message_and_fragment_limits(self, side: Side) -> None:
        """The limits are read from the pair; either may be None."""
        protocol = MAKERS[side](max_size=(100, 10))
        assert (protocol.max_size, protocol.max_fragment_size) == (100, 10)
        protocol = MAKERS[side](max_size=(None, 10))
        assert (protocol.max_size, protocol.max_fragment_size) == (None, 10)
        protocol = MAKERS[side](max_size=50)
        assert (protocol.max_size, protocol.max_fragment_size) == (50, None)

    def test_long_message_in_short_fragments(self, side: Side) -> None:
        """Fragments within the fragment limit make a message up to the message limit."""
        data = frame_to(side, Opcode.BINARY, bytes(10), fin=False)
        data += frame_to(side, Opcode.CONT, bytes(10), fin=False)
        data += frame_to(side, Opcode.CONT, bytes(10))
        tr(lambda: MAKERS[side](max_size=(30, 10)), data, [BinaryMessage(bytes(30))])

    def test_fragment_over_limit_fails_on_its_header(self, side: Side) -> None:
        """A fragment announcing more than the fragment limit fails with 1009, unread."""
        protocol = MAKERS[side](max_size=(None, 10))
        protocol.receive_data(frame_to(side, Opcode.BINARY, bytes(10), fin=False))
        assert protocol.failure is None
        protocol.receive_data(header_to(side, 0x00, 11))
        assert_failed(protocol, 1009)
        assert isinstance(protocol.failure, PayloadTooBig)

    def test_single_frame_over_fragment_limit(self, side: Side) -> None:
        """A one-frame message longer than the fragment limit fails too (it is a frame)."""
        data = frame_to(side, Opcode.TEXT, b"x" * 11)
        tr_fail(lambda: MAKERS[side](max_size=(100, 10)), data, 1009)

    def test_message_over_limit_in_short_fragments(self, side: Side) -> None:
        """The message limit still applies to the sum of short fragments."""
        data = frame_to(side, Opcode.BINARY, bytes(10), fin=False)
        data += frame_to(side, Opcode.CONT, bytes(10))
        tr_fail(lambda: MAKERS[side](max_size=(15, 10)), data, 1009)


class TestFragmentBounds:
    """A message's frames are counted and its small pieces joined (issue 13, item 3)."""

    @staticmethod
    def fragmented(side: Side, first: bytes, count: int, piece: bytes = b"") -> bytes:
        """A text frame without FIN, ``count`` continuations of ``piece``, an empty last one."""
        data = frame_to(side, Opcode.TEXT, first, fin=False)
        data += frame_to(side, Opcode.CONT, piece, fin=False) * count
        return data + frame_to(side, Opcode.CONT, b"")

    def test_empty_fragment_flood_fails_with_1009(self, side: Side) -> None:
        """200k empty continuations fail with 1009, saying there were too many fragments."""
        protocol = MAKERS[side]()  # max_size 1 MiB: at most 65536 frames
        protocol.receive_data(self.fragmented(side, b"a", 200_000))
        assert protocol.events_received() == []
        assert_failed(protocol, 1009)
        assert protocol.close_sent is not None
        assert protocol.close_sent.reason == "too many fragments: more than 65536 in a message"

    @pytest.mark.parametrize("stream_fragments", [False, True])
    def test_frame_limit_is_max_size_over_16(self, side: Side, stream_fragments: bool) -> None:
        """max_size // 16 frames pass (a full message in 16-byte fragments); one more fails."""
        make = MAKERS[side]
        ok = make(max_size=2**16, stream_fragments=stream_fragments)
        ok.receive_data(self.fragmented(side, b"a", 4096 - 2))
        assert ok.failure is None
        assert ok.events_received()[-1] in (TextMessage("a"), TextFragment("", True))
        too_many = make(max_size=2**16, stream_fragments=stream_fragments)
        too_many.receive_data(self.fragmented(side, b"a", 4096 - 1))
        assert_failed(too_many, 1009)

    def test_frame_limit_has_a_floor_and_none_means_none(self, side: Side) -> None:
        """A small max_size still allows 1024 frames; max_size=None counts none."""
        small = MAKERS[side](max_size=100)
        small.receive_data(self.fragmented(side, b"a", 1024 - 2))
        assert small.events_received() == [TextMessage("a")]
        unlimited = MAKERS[side](max_size=None)
        unlimited.receive_data(self.fragmented(side, b"a", 100_000))
        assert unlimited.events_received() == [TextMessage("a")]

    def test_count_starts_again_with_each_message(self, side: Side) -> None:
        """The frame count is per message: two messages near the limit both pass."""
        protocol = MAKERS[side](max_size=100)
        protocol.receive_data(self.fragmented(side, b"a", 1000) * 2)
        assert protocol.events_received() == [TextMessage("a"), TextMessage("a")]

    @pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
    def test_tiny_fragments_cost_about_their_size(self, side: Side, opcode: Opcode) -> None:
        """A message in 2-byte fragments holds about its size while it arrives."""
        size = 2**15
        data = frame_to(side, opcode, b"ab", fin=False)
        data += frame_to(side, Opcode.CONT, b"ab", fin=False) * (size // 2 - 2)
        data += frame_to(side, Opcode.CONT, b"ab")
        protocol = MAKERS[side](max_size=None)
        tracemalloc.start()
        try:
            for i in range(0, len(data) - 4, 16384):
                protocol.receive_data(data[i : min(i + 16384, len(data) - 4)])
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert held <= 1.25 * size + 16384  # the parts, and a partial read at most
        protocol.receive_data(data[-4:])
        [event] = protocol.events_received()
        assert len(event.data) == size  # type: ignore[union-attr]

    def test_fail_forgets_the_message_under_way(self, side: Side) -> None:
        """Once the connection fails, what was assembled of a message is not kept."""
        protocol = MAKERS[side](max_size=2**20)
        protocol.receive_data(frame_to(side, Opcode.BINARY, bytes(2**19), fin=False))
        protocol.receive_data(header_to(side, 0x80, 2**20))  # crosses max_size
        assert_failed(protocol, 1009)
        assert protocol._binary_parts == []


class TestCompressedLimits:
    """A message an extension decodes is bounded on the wire and after decoding."""

    @pytest.mark.parametrize(
        ("first_length", "second_length"),
        [(1000 + 125 + 64, None), (0, 1000 + 125 + 128)],
    )
    def test_wire_limit_of_a_message(
        self, side: Side, first_length: int, second_length: int | None
    ) -> None:
        """max_size + 1/8 + 64 bytes a frame may arrive; one byte more fails with 1009."""
        for extra, fails in ((0, False), (1, True)):
            protocol = MAKERS[side](max_size=1000, extensions=[Tagger(RSV2)])
            if second_length is None:
                protocol.receive_data(header_to(side, RSV2 | Opcode.BINARY, first_length + extra))
            else:
                protocol.receive_data(header_to(side, RSV2 | Opcode.BINARY, first_length))
                protocol.receive_data(header_to(side, Opcode.CONT, second_length + extra))
            if fails:
                failed_saying(protocol, 1009, "compressed message of more than 1000 bytes")
            else:
                assert protocol.failure is None and protocol.state is State.OPEN

    def test_wire_limit_of_a_frame(self, side: Side) -> None:
        """With a fragment limit, a frame may take that + 1/8 + 64 bytes; one more fails."""
        ok = MAKERS[side](max_size=(None, 1000), extensions=[Tagger(RSV2)])
        ok.receive_data(header_to(side, RSV2 | Opcode.BINARY, 1000 + 125 + 64))
        assert ok.failure is None and ok.state is State.OPEN
        too_long = MAKERS[side](max_size=(None, 1000), extensions=[Tagger(RSV2)])
        too_long.receive_data(header_to(side, RSV2 | Opcode.BINARY, 1000 + 125 + 65))
        failed_saying(too_long, 1009, "compressed frame of more than 1000 bytes")

    @pytest.mark.parametrize(
        ("limits", "reason"),
        [(50, "message of more than 50 bytes"), ((None, 50), "frame of more than 50 bytes")],
    )
    def test_limits_hold_when_the_extension_ignores_max_size(
        self, side: Side, limits: Any, reason: str
    ) -> None:
        """Output past max_size fails with 1009 even if the extension does not stop at it."""
        protocol = MAKERS[side](max_size=limits, extensions=[Tagger(RSV2, lambda d: d * 10)])
        protocol.receive_data(frame_to(side, Opcode.BINARY, b"abcdef", rsv=RSV2))
        failed_saying(protocol, 1009, reason)

    def test_decoders_are_chained_with_the_remaining_budget(self, side: Side) -> None:
        """Each decoder gets the chunk, fin, and the bytes left under either limit."""
        first, second = Tagger(RSV2), Tagger(RSV3, bytes.upper)
        protocol = MAKERS[side](max_size=(6, 4), extensions=[first, second])
        frame = frame_to(side, Opcode.BINARY, b"abc", fin=False, rsv=RSV2 | RSV3)
        protocol.receive_data(frame[:-1])
        protocol.receive_data(frame[-1:] + frame_to(side, Opcode.CONT, b"de"))
        assert protocol.events_received() == [BinaryMessage(b"ABCDE")]
        # The last extension negotiated decodes first; budgets: min(6 - 0, 4 - 0), then
        # min(6 - 2, 4 - 2) within the first frame, then min(6 - 3, 4 - 0) for the second.
        assert second.calls == [(b"ab", False, 4), (b"c", False, 2), (b"de", True, 3)]
        assert first.calls == [(b"AB", False, 4), (b"C", False, 2), (b"DE", True, 3)]

    def test_decoded_text_may_not_end_mid_character(self, side: Side) -> None:
        """A decoded text message cut inside a character fails with 1007 at its end."""
        protocol = MAKERS[side](extensions=[Tagger(RSV2)])
        protocol.receive_data(frame_to(side, Opcode.TEXT, b"caf\xc3", rsv=RSV2))
        assert protocol.events_received() == []
        failed_saying(protocol, 1007, "invalid UTF-8 in a text message")
