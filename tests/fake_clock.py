"""A fake clock on both backends, for tests of timeouts and keepalive.

Time stands still while any task can run, and jumps to the next deadline when every
task waits: ``anyio.sleep(30)`` returns at once, a timeout fires exactly when due, and
the outcome does not depend on how loaded the machine is. trio has this built in
(``MockClock`` with ``autojump_threshold=0``); asyncio gets it from ``AutojumpEventLoop``.

Only for tests whose I/O is in memory: real sockets and threads do their work outside
the loop, and the clock would jump while they do.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

import trio.testing

Backend = tuple[str, dict[str, Any]]
"""What the ``anyio_backend`` fixture gives: a backend name and its options."""


class _AutojumpSelector(selectors.DefaultSelector):
    """A selector that, instead of waiting for a timer, moves the loop's clock to it."""

    def __init__(self, loop: AutojumpEventLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        ready: list[tuple[Any, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only I/O can wake the loop
            return super().select(None)
        self._loop.advance(timeout)
        return []


class AutojumpEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock starts at 0 and jumps to the next timer when idle.

    The loop asks its selector to wait until the next timer only when no callback is
    ready: that is when every task waits, and the selector then advances the clock by
    that wait instead of sleeping.
    """

    def __init__(self) -> None:
        self._now = 0.0
        super().__init__(_AutojumpSelector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (only the selector does, when the loop is idle)."""
        self._now += seconds


def on_fake_clock(backend: Backend) -> Backend:
    """``backend`` (from the ``anyio_backend`` fixture) running on a fresh fake clock."""
    name, options = backend
    if name == "asyncio":
        return name, {**options, "loop_factory": AutojumpEventLoop}
    if name == "trio":
        return name, {**options, "clock": trio.testing.MockClock(autojump_threshold=0)}
    raise ValueError(f"no fake clock for {name}")
