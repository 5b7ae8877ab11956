"""Type aliases shared by the public API: those of ``anyio_ws.core.typing``, re-exported.

The aliases live in the sans-I/O core, which uses them and must not import this package;
importing them from here gives the very same objects.
"""

from .core.typing import BytesLike as BytesLike
from .core.typing import Data as Data
from .core.typing import DataLike as DataLike
from .core.typing import LoggerLike as LoggerLike
from .core.typing import Origin as Origin
from .core.typing import Subprotocol as Subprotocol

__all__ = ["BytesLike", "Data", "DataLike", "LoggerLike", "Origin", "Subprotocol"]
