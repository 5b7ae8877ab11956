"""Sending one message as several frames, from an iterable or an async iterable.

Each fragment is written under the send lock on its own, so that pings, pongs and close
replies can go between fragments, while the sender's ``sending_fragments`` keeps other
messages out until the last fragment is on the wire. A message that cannot be finished
(the iterable raised, mixed ``str`` and bytes, was cancelled mid-way) fails the
connection with 1011: the peer would wait for the rest for ever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio

from ._link import Link
from ._sending import Sender
from .core.protocol import State
from .typing import DataLike

__all__ = ["FragmentedSend", "SyncFragments"]

_END: Any = object()  # marks the end of an iterable of fragments

Fail = Callable[[int, str], Awaitable[None]]


class FragmentedSend:
    """One fragmented message on its way out, frame by frame."""

    __slots__ = ("_fail", "_link", "_sender")

    def __init__(self, sender: Sender, link: Link, fail: Fail) -> None:
        self._sender = sender
        self._link = link
        self._fail = fail

    async def send(
        self, fragments: AsyncIterator[DataLike], text: bool | None, *, lookahead: bool
    ) -> None:
        """Send the items of ``fragments`` as one message, one frame each.

        With ``lookahead`` (a plain iterable: the next item costs no wait) the last item
        is sent with the FIN bit; otherwise each item leaves as soon as it is produced
        and an empty final frame ends the message. An async iterator left unfinished
        (error, cancellation, closure) is closed, so its cleanup runs now.
        """
        try:
            await self._send_all(fragments, text, lookahead)
        except BaseException:
            aclose = getattr(fragments, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    with anyio.move_on_after(self._link.timeout()):
                        await aclose()
            raise

    async def _send_all(
        self, fragments: AsyncIterator[DataLike], text: bool | None, lookahead: bool
    ) -> None:
        sender = self._sender
        link = self._link
        try:
            try:
                item = await anext(fragments)
            except StopAsyncIteration:
                return
            while sender.sending_fragments:  # another task's fragmented message
                if link.protocol.state is not State.OPEN:
                    raise link.closed_exception()
                await sender.wait_fragments_sent()
        except anyio.get_cancelled_exc_class():
            link.raise_if_released()
            raise
        if not isinstance(item, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"fragments must be str or bytes-like, not {type(item).__name__}")
        is_str = isinstance(item, str)
        as_text = is_str if text is None else text
        sender.sending_fragments = True
        started = False
        try:
            while True:
                if lookahead:
                    following = await anext(fragments, _END)
                    if following is not _END:
                        _check_same_kind(following, is_str)
                    fin = following is _END
                else:
                    fin = False
                await self._send_frame(item, as_text, first=not started, fin=fin)
                started = True
                if not lookahead:
                    following = await anext(fragments, _END)
                    if following is _END:
                        await self._send_frame(b"", as_text, first=False, fin=True)
                        return
                    _check_same_kind(following, is_str)
                if following is _END:
                    return
                item = following
        except BaseException:
            if started:
                await self._fail(1011, "error in fragmented message")  # it cannot be finished
            raise
        finally:
            sender.fragments_done()

    async def _send_frame(self, data: DataLike, text: bool, *, first: bool, fin: bool) -> None:
        """Write one frame of the fragmented message under way."""
        protocol = self._link.protocol
        if not first:
            queue = protocol.send_continuation
        elif text:
            queue = protocol.send_text
        else:
            queue = protocol.send_binary
        payload = data.encode() if isinstance(data, str) else bytes(data)
        await self._sender.send_frames(lambda payload: queue(payload, fin), payload)


def _check_same_kind(item: object, is_str: bool) -> None:
    """All fragments of one message are ``str``, or all bytes-like."""
    if is_str:
        ok = isinstance(item, str)
    else:
        ok = isinstance(item, (bytes, bytearray, memoryview))
    if not ok:
        raise TypeError("fragments of one message must all be str or all bytes-like")


class SyncFragments(AsyncIterator[DataLike]):
    """A plain iterator seen as an async one (for one code path for both kinds)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterator[DataLike]) -> None:
        self._items = items

    async def __anext__(self) -> DataLike:
        try:
            return next(self._items)
        except StopIteration:
            raise StopAsyncIteration from None
