"""Incremental UTF-8 validation (RFC 6455 section 8.1, RFC 3629)."""

from __future__ import annotations

import functools
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyio_ws.core.utf8 import Utf8Decoder

SAMPLE = "aé€😀 ascii, ünïcödé, 日本語, 🇫🇷, \u0080\u07ff\u0800\uffff\U00010000\U0010ffff"


def decode_pieces(pieces: list[bytes]) -> str:
    """Decode ``pieces`` as one message with a fresh decoder."""
    decoder = Utf8Decoder()
    parts = [decoder.decode(piece) for piece in pieces[:-1]]
    parts.append(decoder.decode(pieces[-1] if pieces else b"", final=True))
    return "".join(parts)


def fails_at_once(data: bytes) -> bool:
    """Whether a fresh decoder rejects ``data`` without waiting for more bytes."""
    try:
        Utf8Decoder().decode(data)
    except UnicodeDecodeError:
        return True
    return False


@functools.cache
def incomplete_characters() -> frozenset[bytes]:
    """Every proper prefix of the encoding of a valid code point (a reference set)."""
    prefixes: set[bytes] = set()
    for code_point in [*range(0x80, 0xD800), *range(0xE000, 0x110000)]:
        encoded = chr(code_point).encode()
        prefixes.update(encoded[:i] for i in range(1, len(encoded)))
    return frozenset(prefixes)


def can_continue(data: bytes) -> bool:
    """Reference: whether some valid UTF-8 text starts with ``data``."""
    if not data or data in incomplete_characters():
        return True
    for size in range(1, min(4, len(data)) + 1):
        try:
            char = data[:size].decode()
        except UnicodeDecodeError:
            continue
        if len(char) == 1 and can_continue(data[size:]):
            return True
    return False


class TestValid:
    """Valid UTF-8 decodes to the same text, however it is cut."""

    def test_whole(self) -> None:
        """A whole valid message decodes in one call."""
        assert decode_pieces([SAMPLE.encode()]) == SAMPLE

    def test_empty(self) -> None:
        """An empty message is the empty string."""
        assert decode_pieces([b""]) == ""

    def test_every_split_offset(self) -> None:
        """Cut at any single offset, the message decodes identically."""
        data = SAMPLE.encode()
        for i in range(len(data) + 1):
            assert decode_pieces([data[:i], data[i:]]) == SAMPLE

    def test_byte_by_byte(self) -> None:
        """Fed one byte at a time, the message decodes identically."""
        data = SAMPLE.encode()
        assert decode_pieces([data[i : i + 1] for i in range(len(data))]) == SAMPLE

    def test_partial_text_returned(self) -> None:
        """Complete characters come out at once; a cut character waits for its end."""
        decoder = Utf8Decoder()
        assert decoder.decode("a€".encode()[:2]) == "a"
        assert decoder.decode("€".encode()[1:], final=True) == "€"

    def test_reset(self) -> None:
        """reset() forgets a pending partial character."""
        decoder = Utf8Decoder()
        decoder.decode(b"\xe2\x82")
        decoder.reset()
        assert decoder.decode(b"ok", final=True) == "ok"

    def test_reusable_after_final(self) -> None:
        """After a final call the decoder starts a new message cleanly."""
        decoder = Utf8Decoder()
        assert decoder.decode(b"one", final=True) == "one"
        assert decoder.decode("two€".encode(), final=True) == "two€"

    @settings(max_examples=200, deadline=None)
    @given(text=st.text(), cuts=st.lists(st.integers(0, 10**6), max_size=10))
    def test_random_splits(self, text: str, cuts: list[int]) -> None:
        """Any text cut at any offsets decodes identically."""
        data = text.encode()
        bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
        assert decode_pieces([data[a:b] for a, b in itertools.pairwise(bounds)]) == text


INVALID = {
    "lone continuation": b"\x80",
    "invalid byte c0": b"\xc0",
    "invalid byte f5": b"\xf5",
    "invalid byte ff": b"\xff",
    "overlong 2 bytes": b"\xc0\xaf",
    "overlong 3 bytes": b"\xe0\x80\xaf",
    "overlong 4 bytes": b"\xf0\x80\x80\xaf",
    "overlong nul": b"\xc0\x80",
    "surrogate high": b"\xed\xa0\x80",
    "surrogate low": b"\xed\xbf\xbf",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
    "5-byte form": b"\xf8\x88\x80\x80\x80",
    "missing continuation": b"\xe2\x82a",
}


class TestInvalid:
    """Invalid UTF-8 raises UnicodeDecodeError."""

    @pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
    def test_invalid(self, data: bytes) -> None:
        """Overlong forms, surrogates, code points above U+10FFFF and bad bytes fail."""
        with pytest.raises(UnicodeDecodeError):
            Utf8Decoder().decode(b"valid " + data + b" more", final=True)

    @pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
    def test_invalid_after_valid_chunk(self, data: bytes) -> None:
        """Invalid bytes fail in a later chunk of a message too."""
        decoder = Utf8Decoder()
        decoder.decode("déjà ".encode())
        with pytest.raises(UnicodeDecodeError):
            decoder.decode(data + b" more", final=True)

    @pytest.mark.parametrize("data", [b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"ok\xf0"])
    def test_truncated_at_end(self, data: bytes) -> None:
        """A message ending mid-character passes as a chunk but fails with final=True."""
        decoder = Utf8Decoder()
        decoder.decode(data)
        with pytest.raises(UnicodeDecodeError):
            decoder.decode(b"", final=True)
        with pytest.raises(UnicodeDecodeError):
            Utf8Decoder().decode(data, final=True)


class TestFailFast:
    """The first byte that makes the text invalid raises, without waiting for more."""

    @pytest.mark.parametrize(
        "data",
        [
            b"\xed\xa0",  # surrogate, cut after 2 bytes
            b"\xed\xbf",
            b"\xf4\x90",  # above U+10FFFF, cut after 2 bytes
            b"\xf0\x80",  # overlong 4-byte form
            b"\xe0\x9f",  # overlong 3-byte form
            b"\xc1",  # overlong 2-byte form
            b"\xf5",
            b"\xe2\x82a",
        ],
    )
    def test_prefix_fails(self, data: bytes) -> None:
        """A prefix no valid text starts with fails at once (final=False)."""
        assert fails_at_once(data)

    def test_surrogate_cut_across_chunks(self) -> None:
        """ED then A0 in separate chunks fails on the A0."""
        decoder = Utf8Decoder()
        decoder.decode(b"abc\xed")
        with pytest.raises(UnicodeDecodeError):
            decoder.decode(b"\xa0")

    def test_surrogate_error_names_the_two_bytes(self) -> None:
        """The early surrogate error reports UTF-8, the pending ED A0 as bytes 0-1, "surrogate"."""
        decoder = Utf8Decoder()
        decoder.decode(b"abc\xed")
        with pytest.raises(UnicodeDecodeError) as excinfo:
            decoder.decode(b"\xa0")
        exc = excinfo.value
        assert (exc.encoding, exc.object, exc.start, exc.end, exc.reason) == (
            "utf-8",
            b"\xed\xa0",
            0,
            2,
            "surrogate",
        )
        assert str(exc) == "'utf-8' codec can't decode bytes in position 0-1: surrogate"

    @pytest.mark.parametrize("data", [b"\xed\x9f", b"\xf4\x8f", b"\xf0\x90", b"\xe0\xa0", b"\xc2"])
    def test_valid_prefix_waits(self, data: bytes) -> None:
        """A prefix of a valid character does not fail early."""
        assert not fails_at_once(data)

    def test_all_two_byte_prefixes(self) -> None:
        """Every 1- and 2-byte input fails at once exactly when no valid text starts with it."""
        for first in range(256):
            assert fails_at_once(bytes([first])) is not can_continue(bytes([first]))
            for second in range(256):
                data = bytes([first, second])
                assert fails_at_once(data) is not can_continue(data), data.hex()

    @pytest.mark.parametrize("lead", [0xE0, 0xED, 0xEF, 0xF0, 0xF4])
    def test_three_byte_prefixes(self, lead: int) -> None:
        """Every 3-byte input after a valid 2-byte prefix fails exactly when it must."""
        for second in range(0x80, 0xC0):
            if not can_continue(bytes([lead, second])):
                continue
            for third in range(256):
                data = bytes([lead, second, third])
                assert fails_at_once(data) is not can_continue(data), data.hex()
