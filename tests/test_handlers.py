"""Handler checks: which callables serve, which are refused, which take ``path``."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from anyio_ws._handlers import check_handler


async def ws_only(ws: Any) -> None:
    pass


async def ws_and_path(ws: Any, path: str) -> None:
    pass


async def optional_path(ws: Any, path: str = "/") -> None:
    pass


async def any_arguments(*args: Any) -> None:
    pass


async def prefixed(prefix: str, ws: Any, path: str) -> None:
    pass


async def keyword_required(ws: Any, *, key: str) -> None:
    pass


async def generator(ws: Any) -> AsyncIterator[None]:
    yield


def plain(ws: Any) -> None:
    pass


class Methods:
    async def classic(self, ws: Any, path: str) -> None:
        pass

    async def __call__(self, ws: Any, path: str) -> None:
        pass


class SyncCall:
    def __call__(self, ws: Any) -> None:
        pass


class Built:
    """A class: calling it builds an object, which is taken on trust."""

    def __init__(self, ws: Any) -> None:
        pass


def wrapping(handler: Any) -> Any:
    @functools.wraps(handler)
    def wrapper(*args: Any) -> Any:
        return handler(*args)

    return wrapper


class Opaque:
    @property
    def __signature__(self) -> inspect.Signature:
        raise ValueError("no signature")

    async def __call__(self, ws: Any, path: str) -> None:
        pass


TAKES_PATH: dict[str, tuple[object, bool]] = {
    "(ws)": (ws_only, False),
    "(ws, path)": (ws_and_path, True),
    "(ws, path='/')": (optional_path, False),
    "(*args)": (any_arguments, False),
    "bound method (self, ws, path)": (Methods().classic, True),
    "object with async __call__(self, ws, path)": (Methods(), True),
    "partial leaving (ws, path)": (functools.partial(prefixed, "p"), True),
    "partial leaving (ws)": (functools.partial(prefixed, "p", path="/"), False),
    "wraps around (ws, path)": (wrapping(ws_and_path), True),
    "class": (Built, False),
    "uninspectable": (Opaque(), False),
}


@pytest.mark.parametrize("handler, takes_path", TAKES_PATH.values(), ids=TAKES_PATH.keys())
def test_takes_path_only_with_two_required_positionals(handler: object, takes_path: bool) -> None:
    """The classic form is told by two required positional parameters, nothing else."""
    assert check_handler(handler) is takes_path


REFUSED: dict[str, tuple[object, str]] = {
    "not callable": ("echo", r"not 'echo'"),
    "plain def": (plain, r"plain is a plain function \(def\), not async def"),
    "lambda": (lambda ws: None, r"<lambda> is a plain function"),
    "sync __call__": (SyncCall(), r"SyncCall.* is a plain function"),
    "partial of a plain def": (functools.partial(plain), r"is a plain function"),
    "wraps around a plain def": (wrapping(plain), r"is a plain function"),
    "async generator": (generator, r"generator is an async generator function"),
    "three arguments": (prefixed, r"prefixed\(prefix.*neither with \(ws\) nor with"),
    "required keyword": (keyword_required, r"keyword_required\(ws.*, \*, key.*neither"),
}


FORMS = r"async def handler\(ws\) or async def handler\(ws, path\)"


@pytest.mark.parametrize("handler, message", REFUSED.values(), ids=REFUSED.keys())
def test_refused_with_the_forms_and_the_reason(handler: object, message: str) -> None:
    """A refusal shows both accepted forms, names the handler, and says what is wrong."""
    with pytest.raises(TypeError, match=FORMS) as info:
        check_handler(handler)
    assert re.search(message, str(info.value))


def test_a_builtin_is_taken_on_trust() -> None:
    """What is not written in Python cannot be judged, so it is not refused."""
    assert check_handler(len) is False
