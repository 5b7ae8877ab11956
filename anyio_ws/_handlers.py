"""What a connection handler may be, checked when the server is built.

A handler that cannot work would otherwise fail on every connection, after the
handshake, or (a plain ``def``) even run before failing. So ``serve()`` refuses it at
the call, and tells whether it is the classic ``(ws, path)`` form.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Handler", "check_handler"]

Handler = Callable[..., Awaitable[Any]]
"""``async def handler(ws)``, or the classic ``async def handler(ws, path)``."""

_HANDLER_FORMS = "async def handler(ws) or async def handler(ws, path)"


def check_handler(handler: object) -> bool:
    """Refuse now a handler that would fail on every connection; whether it takes ``path``.

    Accepted: coroutine functions, bound async methods, ``functools.partial`` of them,
    objects with an ``async def __call__``, and a plain function that wraps a
    coroutine function with ``functools.wraps``. Refused: what is not callable, a plain
    ``def`` (it would even run before failing) or an async generator, and a signature
    that can be called neither as ``(ws)`` nor as ``(ws, path)``. A callable whose
    signature cannot be read (a class, a builtin) is taken on trust.
    """
    if not callable(handler):
        raise TypeError(f"handler must be {_HANDLER_FORMS}, not {handler!r}")
    name = getattr(handler, "__qualname__", None) or repr(handler)
    if not inspect.iscoroutinefunction(handler):
        function = _python_function(handler)
        if function is not None and not inspect.iscoroutinefunction(inspect.unwrap(function)):
            kind = (
                "an async generator function"
                if inspect.isasyncgenfunction(function)
                else "a plain function (def), not async def"
            )
            raise TypeError(f"handler must be {_HANDLER_FORMS}; {name} is {kind}")
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return False
    if not _accepts(signature, 1) and not _accepts(signature, 2):
        raise TypeError(
            f"handler must be {_HANDLER_FORMS}; {name}{signature} can be called "
            "neither with (ws) nor with (ws, path)"
        )
    return _takes_path(signature)


def _python_function(handler: object) -> Callable[..., Any] | None:
    """The Python function a call to ``handler`` runs, if there is one to judge.

    ``None`` for a class (calling it builds an object) and for what is not written
    in Python (a builtin, a C extension's callable): those are not refused.
    """
    while isinstance(handler, functools.partial):
        handler = handler.func
    if isinstance(handler, type):
        return None
    if inspect.ismethod(handler):
        handler = handler.__func__
    if inspect.isfunction(handler):
        return handler
    call = inspect.getattr_static(type(handler), "__call__", None)
    return call if inspect.isfunction(call) else None


def _accepts(signature: inspect.Signature, count: int) -> bool:
    """Whether ``count`` positional arguments, and nothing else, fit ``signature``."""
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _takes_path(signature: inspect.Signature) -> bool:
    """Whether the handler is the classic ``(ws, path)`` form: two required positionals."""
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(positional) >= 2
