"""Incremental UTF-8 validation that fails at the first bad fragment.

Text messages arrive in pieces (fragments, and chunks of one frame). RFC 6455 section
8.1 asks an endpoint to fail the connection as soon as the bytes cannot be valid UTF-8,
not at the end of the message. CPython's incremental decoder does nearly all of it in C
and gives the decoded text for free; the one gap is a surrogate (``ED A0..BF``) cut after
its second byte, which it only rejects on the third byte. ``Utf8Decoder`` closes it by
looking at the at most three pending bytes.
"""

from __future__ import annotations

import codecs

__all__ = ["Utf8Decoder"]

_IncrementalDecoder = codecs.getincrementaldecoder("utf-8")


class Utf8Decoder:
    """Decode a text message piece by piece; raise ``UnicodeDecodeError`` early.

    ``decode(chunk)`` returns the text complete so far; ``decode(chunk, final=True)``
    also rejects a message that ends in the middle of a character.
    """

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = _IncrementalDecoder("strict")

    def decode(self, data: bytes, final: bool = False) -> str:
        text = self._decoder.decode(data, final)
        if not final:
            pending = self._decoder.getstate()[0]
            if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
                raise UnicodeDecodeError("utf-8", pending, 0, 2, "surrogate")
        return text

    def reset(self) -> None:
        """Forget any pending bytes, to start a new message."""
        self._decoder.reset()
