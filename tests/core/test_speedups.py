"""The optional C ``apply_mask`` agrees with the pure Python fallback, which stays selectable."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable

import pytest

from anyio_ws.core import assembler, frames, protocol
from anyio_ws.core.events import BinaryMessage
from anyio_ws.core.frames import Opcode, _apply_mask_python, encode_frame
from anyio_ws.core.protocol import Protocol, Side

try:
    from anyio_ws.core import _speedups
except ImportError:  # pragma: no cover - depends on the build
    _speedups = None  # type: ignore[assignment]

requires_c = pytest.mark.skipif(
    _speedups is None,
    reason="anyio_ws.core._speedups is not built (no C compiler at pip install time)",
)

MaskFunction = Callable[[bytes | bytearray | memoryview, bytes], bytes]
IMPLEMENTATIONS: list[MaskFunction] = [_apply_mask_python]
if _speedups is not None:
    IMPLEMENTATIONS.append(_speedups.apply_mask)
IDS = ["python", "c"][: len(IMPLEMENTATIONS)]

MASK = bytes.fromhex("37fa213d")
LARGE_SIZES = [2**16 - 1, 2**16 + 5, 2**20 - 3, 2**20, 2**20 + 7]


def reference_mask(data: bytes, mask: bytes) -> bytes:
    """Section 5.3 byte by byte: octet i XOR mask octet i mod 4."""
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def random_bytes(rng: random.Random, length: int) -> bytes:
    return rng.getrandbits(8 * length).to_bytes(length, "big") if length else b""


def rotated(mask: bytes, offset: int) -> bytes:
    """The mask to use for a chunk starting ``offset`` bytes into the payload."""
    offset %= 4
    return mask[offset:] + mask[:offset]


@pytest.mark.parametrize("apply_mask", IMPLEMENTATIONS, ids=IDS)
class TestBothVersions:
    """Behaviour the C version and the fallback share."""

    def test_against_reference(self, apply_mask: MaskFunction) -> None:
        """Every length from 0 to 300 with random data and masks matches section 5.3."""
        rng = random.Random(6455)
        for length in range(301):
            data, mask = random_bytes(rng, length), random_bytes(rng, 4)
            assert apply_mask(data, mask) == reference_mask(data, mask)

    @pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
    def test_bytes_like(self, apply_mask: MaskFunction, kind: Callable[[bytes], object]) -> None:
        """bytes, bytearray and memoryview inputs all give bytes."""
        data = bytes(range(256)) * 3 + b"tail"
        result = apply_mask(kind(data), MASK)  # type: ignore[arg-type]
        assert type(result) is bytes
        assert result == reference_mask(data, MASK)

    def test_rotated_masks(self, apply_mask: MaskFunction) -> None:
        """Chunks masked with the mask rotated by their offset rebuild the whole payload."""
        rng = random.Random(7)
        data = random_bytes(rng, 5000)
        whole = apply_mask(data, MASK)
        for _ in range(20):
            cuts = sorted(rng.sample(range(1, len(data)), 12))
            pieces = [
                apply_mask(data[start:end], rotated(MASK, start))
                for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True)
            ]
            assert b"".join(pieces) == whole

    @pytest.mark.parametrize("mask", [b"", b"\x01", b"abc", b"abcde", b"abcdabcd"])
    def test_bad_mask_length(self, apply_mask: MaskFunction, mask: bytes) -> None:
        """A mask that is not 4 bytes long is a ValueError, even with empty data."""
        with pytest.raises(ValueError, match="4 bytes"):
            apply_mask(b"payload", mask)
        with pytest.raises(ValueError, match="4 bytes"):
            apply_mask(b"", mask)

    def test_protocol_unmasks_chunks(
        self, apply_mask: MaskFunction, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A server Protocol using this version unmasks a frame split at every offset mod 4."""
        monkeypatch.setattr(protocol, "apply_mask", apply_mask)  # whole frames
        monkeypatch.setattr(assembler, "apply_mask", apply_mask)  # frames in pieces
        payload = random_bytes(random.Random(1), 70_001)
        wire = encode_frame(Opcode.BINARY, payload, mask=MASK)
        for step in (1021, 4094, 65536):
            server = Protocol(Side.SERVER, max_size=None)
            for start in range(0, len(wire), step):
                server.receive_data(wire[start : start + step])
            assert server.events_received() == [BinaryMessage(payload)]


@requires_c
class TestCompiled:
    """The C version: same bytes as the fallback, errors for bad arguments."""

    @pytest.mark.parametrize("length", LARGE_SIZES)
    def test_large_agrees_with_python(self, length: int) -> None:
        """Large and odd sizes give the same bytes in C and in Python."""
        rng = random.Random(length)
        data, mask = random_bytes(rng, length), random_bytes(rng, 4)
        assert _speedups.apply_mask(data, mask) == _apply_mask_python(data, mask)

    def test_unaligned_views(self) -> None:
        """Views starting at any offset in a buffer (unaligned words) are masked right."""
        rng = random.Random(3)
        buffer = bytearray(random_bytes(rng, 1100))
        view = memoryview(buffer)
        for start in range(9):
            for end in (start, start + 1, start + 17, 1000 + start):
                part = view[start:end]
                mask = rotated(MASK, start)
                assert _speedups.apply_mask(part, mask) == _apply_mask_python(part, mask)

    def test_mask_may_be_any_buffer(self) -> None:
        """The mask may be a bytearray or a memoryview slice, as the parser passes it."""
        data = b"hello, world"
        expected = _apply_mask_python(data, MASK)
        assert _speedups.apply_mask(data, bytearray(MASK)) == expected
        assert _speedups.apply_mask(data, memoryview(b"xx" + MASK)[2:]) == expected

    @pytest.mark.parametrize("bad", ["text", 42, None, [1, 2, 3, 4]])
    def test_not_a_buffer(self, bad: object) -> None:
        """Data or a mask that is not bytes-like is a TypeError."""
        with pytest.raises(TypeError):
            _speedups.apply_mask(bad, MASK)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            _speedups.apply_mask(b"data", bad)  # type: ignore[arg-type]

    def test_argument_count(self) -> None:
        """Exactly two positional arguments."""
        with pytest.raises(TypeError, match="exactly 2 arguments"):
            _speedups.apply_mask(b"data")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="exactly 2 arguments"):
            _speedups.apply_mask(b"data", MASK, MASK)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            _speedups.apply_mask(data=b"data", mask=MASK)  # type: ignore[call-arg]

    @pytest.mark.skipif(
        os.environ.get("ANYIO_WS_NO_SPEEDUPS", "") not in ("", "0"),
        reason="ANYIO_WS_NO_SPEEDUPS is set for this run",
    )
    def test_selected_by_default(self) -> None:
        """frames.apply_mask is the C version when it is built and not disabled."""
        assert frames.apply_mask is _speedups.apply_mask


def selected_in_subprocess(value: str | None) -> str:
    """Import frames in a fresh interpreter with ANYIO_WS_NO_SPEEDUPS set to ``value``."""
    env = dict(os.environ)
    env.pop("ANYIO_WS_NO_SPEEDUPS", None)
    if value is not None:
        env["ANYIO_WS_NO_SPEEDUPS"] = value
    code = (
        "from anyio_ws.core import frames\n"
        "print('python' if frames.apply_mask is frames._apply_mask_python else 'c')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.mark.parametrize("value", ["1", "yes"])
def test_environment_selects_fallback(value: str) -> None:
    """ANYIO_WS_NO_SPEEDUPS=1 at import makes frames use the pure Python version."""
    assert selected_in_subprocess(value) == "python"


@pytest.mark.parametrize("value", [None, "", "0"])
def test_environment_default(value: str | None) -> None:
    """Unset, empty or 0, the C version is used when built and Python otherwise."""
    assert selected_in_subprocess(value) == ("python" if _speedups is None else "c")


@requires_c
@pytest.mark.parametrize(
    ("setting", "chosen"),
    [
        (None, "c"),
        ("", "c"),
        ("0", "c"),
        ("1", "python"),
        ("yes", "python"),
    ],
)
def test_load_apply_mask_follows_the_switch(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, chosen: str
) -> None:
    """The C apply_mask is chosen unless ANYIO_WS_NO_SPEEDUPS is set to neither "" nor "0"."""
    monkeypatch.delenv("ANYIO_WS_NO_SPEEDUPS", raising=False)
    monkeypatch.delenv("anyio_ws_no_speedups", raising=False)
    if setting is not None:
        monkeypatch.setenv("ANYIO_WS_NO_SPEEDUPS", setting)
    expected = _speedups.apply_mask if chosen == "c" else _apply_mask_python
    assert frames._load_apply_mask() is expected


def test_load_apply_mask_falls_back_when_the_module_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the built module, the pure Python apply_mask is chosen."""
    monkeypatch.delenv("ANYIO_WS_NO_SPEEDUPS", raising=False)
    monkeypatch.setitem(sys.modules, "anyio_ws.core._speedups", None)  # import fails
    assert frames._load_apply_mask() is _apply_mask_python
