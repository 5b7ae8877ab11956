"""The sans-I/O core imports only the stdlib, h11 and its own package (no anyio, no trio)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from subprocesses import run_python

import anyio_ws.core

CORE = Path(anyio_ws.core.__file__).parent
ROOT = CORE.parent.parent
ALLOWED_PACKAGES = ("anyio_ws.core",)
ALLOWED_THIRD_PARTY = {"h11"}
FORBIDDEN = {"anyio", "trio", "sniffio"}


def module_name(path: Path) -> str:
    """Dotted name of a module file under the repository root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, name: str, is_package: bool) -> list[str]:
    """Absolute names of everything ``source`` imports (relative imports resolved)."""
    package = name if is_package else name.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                found.append(node.module)
                continue
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            if node.module:
                found.append(".".join([*base, node.module]))
            else:
                found += [".".join([*base, alias.name]) for alias in node.names]
    return found


def is_allowed(module: str) -> bool:
    """Stdlib, h11, or one of the core's own modules."""
    top = module.partition(".")[0]
    if top in FORBIDDEN:
        return False
    if top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY:
        return True
    return any(
        module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED_PACKAGES
    )


CORE_MODULES = sorted(CORE.rglob("*.py"))


def test_core_modules_found() -> None:
    """The walk sees the core's modules, subpackages included."""
    names = {module_name(path) for path in CORE_MODULES}
    assert {"anyio_ws.core", "anyio_ws.core.protocol", "anyio_ws.core.extensions.base"} <= names


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda path: str(path.relative_to(CORE)))
def test_core_imports(path: Path) -> None:
    """A core module imports only the stdlib, h11 and anyio_ws.core itself."""
    name = module_name(path)
    imports = imported_modules(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    assert [module for module in imports if not is_allowed(module)] == []


class TestChecker:
    """The checker itself catches what it must."""

    @pytest.mark.parametrize(
        "source",
        [
            "import anyio",
            "import trio.lowlevel",
            "from sniffio import current_async_library",
            "from anyio.abc import ByteStream",
            "import numpy",
            "from .. import connection",
            "from ..server import serve",
            "from ..exceptions import ProtocolError",
            "from ..typing import Data",
            "def f():\n    import anyio\n",
            "if TYPE_CHECKING:\n    from ..connection import Connection\n",
        ],
    )
    def test_rejected(self, source: str) -> None:
        """anyio, trio, sniffio, other packages and the I/O layer (re-exports too) are refused."""
        imports = imported_modules(source, "anyio_ws.core.frames", False)
        assert not all(is_allowed(module) for module in imports)

    @pytest.mark.parametrize(
        "source",
        [
            "import struct",
            "from __future__ import annotations",
            "import h11",
            "from .exceptions import ProtocolError",
            "from .typing import BytesLike",
            "from .frames import Close",
            "from . import frames",
            "from ._speedups import apply_mask",
        ],
    )
    def test_accepted(self, source: str) -> None:
        """The stdlib, h11 and the core's own modules pass."""
        imports = imported_modules(source, "anyio_ws.core.frames", False)
        assert all(is_allowed(module) for module in imports)

    def test_relative_in_subpackage(self) -> None:
        """Relative imports resolve from the module's own package."""
        assert imported_modules(
            "from ...exceptions import X", "anyio_ws.core.extensions.base", False
        ) == ["anyio_ws.exceptions"]
        assert imported_modules("from .base import X", "anyio_ws.core.extensions", True) == [
            "anyio_ws.core.extensions.base"
        ]


# ------------------------------------------------------- importing without anyio

BLOCK_IO_LIBRARIES = f"""
import sys

class BlockIOLibraries:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in {sorted(FORBIDDEN)!r}:
            raise ImportError(f"{{name}} is blocked for this test", name=name)
        return None

for loaded in [name for name in sys.modules if name.partition(".")[0] in {sorted(FORBIDDEN)!r}]:
    del sys.modules[loaded]
sys.meta_path.insert(0, BlockIOLibraries)
"""
"""A prelude for ``python -c``: anyio, trio and sniffio cannot be imported after it."""


def import_without_io(*modules: str, then: str = "") -> subprocess.CompletedProcess[str]:
    """Import ``modules``, then run ``then``, where anyio, trio and sniffio are missing."""
    code = BLOCK_IO_LIBRARIES + f"import {', '.join(modules)}\n" + then
    code += f"assert not [m for m in sys.modules if m.partition('.')[0] in {sorted(FORBIDDEN)!r}]\n"
    return run_python("-c", code)


# Two protocols talk, and a client handshake is built, with the core alone.
USE_THE_CORE = """
from anyio_ws.core import Protocol, Side, TextMessage
from anyio_ws.core.handshake import ClientHandshake
from anyio_ws.core.uri import parse_uri
client, server = Protocol(Side.CLIENT), Protocol(Side.SERVER)
client.send_text(b"hello")
server.receive_data(b"".join(client.data_to_send()))
assert server.events_received() == [TextMessage("hello")]
assert ClientHandshake(parse_uri("ws://example.com/")).data_to_send().startswith(b"GET / ")
"""


def test_core_imports_without_anyio() -> None:
    """Every core module imports, and works, in an interpreter without anyio or trio."""
    result = import_without_io(*(module_name(path) for path in CORE_MODULES), then=USE_THE_CORE)
    assert result.returncode == 0, result.stderr


def test_reexports_import_without_anyio() -> None:
    """The package itself and its re-exports of the core need no anyio either."""
    result = import_without_io("anyio_ws", "anyio_ws.exceptions", "anyio_ws.typing")
    assert result.returncode == 0, result.stderr


def test_blocking_works() -> None:
    """The check can fail: the I/O layer does not import in that interpreter."""
    result = import_without_io("anyio_ws.connection")
    assert result.returncode != 0
    assert "anyio is blocked for this test" in result.stderr
