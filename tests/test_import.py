"""Importing anyio_ws, and using it from plain asyncio code."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from subprocesses import run_python

import anyio_ws


def test_import_does_not_import_trio() -> None:
    """``import anyio_ws``, and every public name it resolves, leave trio out of sys.modules."""
    code = (
        "import sys, anyio_ws\n"
        "assert 'trio' not in sys.modules, 'trio was imported'\n"
        "from anyio_ws import *\n"
        "assert 'trio' not in sys.modules, 'trio was imported by a public name'\n"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_import_is_lazy() -> None:
    """``import anyio_ws`` alone loads no submodule; a name's first use loads its module."""
    code = """
import sys
import anyio_ws
loaded = lambda name: f"anyio_ws.{name}" in sys.modules
assert not [name for name in sys.modules if name.startswith("anyio_ws.")], sys.modules
assert "anyio" not in sys.modules
anyio_ws.ConnectionClosed
assert loaded("exceptions") and not loaded("server") and not loaded("client")
anyio_ws.serve
assert loaded("server") and not loaded("client")
anyio_ws.connect
assert loaded("client")
"""
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_every_public_name_resolves() -> None:
    """Each name of ``__all__`` is an attribute, is listed by dir(), and comes with ``*``."""
    for name in anyio_ws.__all__:
        assert getattr(anyio_ws, name) is not None, name
    assert set(anyio_ws.__all__) <= set(dir(anyio_ws))
    namespace: dict[str, object] = {}
    exec("from anyio_ws import *", namespace)
    assert {name: namespace[name] for name in anyio_ws.__all__} == {
        name: getattr(anyio_ws, name) for name in anyio_ws.__all__
    }


def test_lazy_table_matches_the_type_checking_imports() -> None:
    """The table ``__getattr__`` reads names what mypy is shown, and ``__all__``, exactly."""
    tree = ast.parse(Path(anyio_ws.__file__).read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    shown = {
        alias.asname or alias.name: "." * node.level + node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module is not None
        for alias in node.names
    }
    assert shown == anyio_ws._MODULES
    assert set(shown) == set(anyio_ws.__all__)


def test_public_names_are_the_submodules_objects() -> None:
    """A name of the package is the very object its module defines."""
    import anyio_ws.core.exceptions
    import anyio_ws.exceptions
    import anyio_ws.server

    assert anyio_ws.ConnectionClosed is anyio_ws.exceptions.ConnectionClosed
    assert anyio_ws.ConnectionClosed is anyio_ws.core.exceptions.ConnectionClosed
    assert anyio_ws.serve is anyio_ws.server.serve


def test_unknown_name() -> None:
    """An unknown attribute raises AttributeError, with Python's usual message."""
    with pytest.raises(AttributeError, match="^module 'anyio_ws' has no attribute 'nope'$"):
        anyio_ws.nope  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(anyio_ws, "__main__")  # never run the CLI to answer hasattr()


@pytest.mark.parametrize(
    "first",
    ["", "anyio_ws.abroadcast", "__import__('anyio_ws.broadcast')", "anyio_ws.broadcast"],
)
def test_broadcast_stays_the_function(first: str) -> None:
    """``anyio_ws.broadcast`` is the function, whatever loaded the module of that name."""
    code = f"""
import anyio_ws, types
{first}
assert isinstance(anyio_ws.broadcast, types.FunctionType), anyio_ws.broadcast
import anyio_ws.broadcast
from anyio_ws.broadcast import broadcast
assert anyio_ws.broadcast is broadcast
"""
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_submodules_without_import() -> None:
    """The submodules that ``import anyio_ws`` always loaded are attributes as before."""
    code = """
import anyio_ws
assert anyio_ws.exceptions.ConnectionClosed is anyio_ws.ConnectionClosed
assert anyio_ws.core.Protocol is anyio_ws.core.protocol.Protocol
assert anyio_ws.typing.Data
assert anyio_ws.server.serve is anyio_ws.serve
"""
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_plain_asyncio_run_serves_and_connects() -> None:
    """Under a bare ``asyncio.run()`` (no anyio.run) serve() and connect() work."""

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> list[str | bytes]:
        async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
            async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("plain")
                await ws.send(b"asyncio")
                return [await ws.recv(), await ws.recv()]

    assert asyncio.run(asyncio.wait_for(main(), 10)) == ["plain", b"asyncio"]
