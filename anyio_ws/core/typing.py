"""Type aliases shared by the public API.

They are defined in the sans-I/O core, which uses ``BytesLike``, so that the core needs
nothing from the I/O layer; ``anyio_ws.typing`` re-exports them for applications.
"""

from __future__ import annotations

import logging
from typing import NewType, TypeAlias

__all__ = ["BytesLike", "Data", "DataLike", "LoggerLike", "Origin", "Subprotocol"]

Data: TypeAlias = "str | bytes"
"""A received message: ``str`` for a text frame, ``bytes`` for a binary one."""

BytesLike: TypeAlias = "bytes | bytearray | memoryview"
"""Anything ``send()`` accepts as a binary message."""

DataLike: TypeAlias = "str | bytes | bytearray | memoryview"
"""Anything ``send()`` accepts."""

LoggerLike: TypeAlias = "logging.Logger | logging.LoggerAdapter[logging.Logger]"
"""A logger, or an adapter that adds context to every line."""

Subprotocol = NewType("Subprotocol", str)
"""A subprotocol name, as in ``Sec-WebSocket-Protocol``."""

Origin = NewType("Origin", str)
"""An ``Origin`` header value."""
