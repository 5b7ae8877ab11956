"""Run a coroutine function on an implementation's own event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from .adapters import Implementation

T = TypeVar("T")


def run_on(impl: Implementation, func: Callable[[], Awaitable[T]], *, uvloop: bool = False) -> T:
    """``asyncio`` (uvloop when asked, or when the implementation needs it) or ``trio``."""
    if impl.backend == "trio":
        return anyio.run(func, backend="trio")
    use_uvloop = uvloop or impl.force_uvloop
    return anyio.run(func, backend="asyncio", backend_options={"use_uvloop": use_uvloop})
