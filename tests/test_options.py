"""ConnectionOptions: checked once per serve() or connect(), builds protocols and connections."""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

import pytest

import anyio_ws
from anyio_ws._options import ConnectionOptions
from anyio_ws.core.events import TextMessage
from anyio_ws.core.extensions.permessage_deflate import PerMessageDeflate
from anyio_ws.core.protocol import Side, State

LOGGER = logging.getLogger("test_options")

VALID: dict[str, Any] = {
    "max_size": 2**20,
    "max_queue": 16,
    "open_timeout": 10,
    "close_timeout": 10,
    "ping_interval": 20,
    "ping_timeout": 20,
    "write_limit": 32768,
}


def options(**changes: Any) -> ConnectionOptions:
    return ConnectionOptions(**{**VALID, "logger": LOGGER, **changes})


async def ignore(ws: anyio_ws.ServerConnection) -> None:
    pass


# -------------------------------------------------------------------- checking

INVALID = [
    ("max_size", 0, ValueError, "max_size must be a positive integer or None, not 0"),
    ("max_size", (1, 2, 3), ValueError, "max_size must be a number, None or a pair, not (1, 2, 3)"),
    ("max_size", (1, -1), ValueError, "max_size must be a positive integer or None, not -1"),
    ("max_queue", "16", ValueError, "max_queue must be a positive integer or None, not '16'"),
    ("max_queue", (0, None), ValueError, "max_queue must be a positive integer or None, not 0"),
    ("open_timeout", "10", TypeError, "open_timeout must be a number of seconds or None, not '10'"),
    ("close_timeout", 0, ValueError, "close_timeout must be positive or None, not 0"),
    (
        "ping_interval",
        True,
        TypeError,
        "ping_interval must be a number of seconds or None, not True",
    ),
    ("ping_timeout", -1.5, ValueError, "ping_timeout must be positive or None, not -1.5"),
    (
        "write_limit",
        "big",
        TypeError,
        "write_limit must be an int or a (high, low) tuple, not 'big'",
    ),
    ("write_limit", (1, 2), ValueError, "write_limit needs 0 <= low <= high, not (1, 2)"),
    ("write_limit", (8, -1), ValueError, "write_limit needs 0 <= low <= high, not (8, -1)"),
]


@pytest.mark.parametrize(("name", "value", "error", "message"), INVALID)
def test_an_invalid_option_raises_when_the_options_are_built(
    name: str, value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        options(**{name: value})
    assert str(info.value) == message


@pytest.mark.parametrize(("name", "value", "error", "message"), INVALID)
def test_an_invalid_option_raises_at_the_call_of_serve_and_connect(
    name: str, value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as on_server:
        anyio_ws.serve(ignore, "127.0.0.1", 0, **{name: value})
    with pytest.raises(error) as on_client:
        anyio_ws.connect("ws://127.0.0.1:1/", **{name: value})
    assert str(on_server.value) == str(on_client.value) == message


def test_none_disables_every_limit_and_duration() -> None:
    options(
        max_size=None,
        max_queue=None,
        open_timeout=None,
        close_timeout=None,
        ping_interval=None,
        ping_timeout=None,
    )


def test_pairs_are_accepted_where_documented() -> None:
    built = options(max_size=(2**20, None), max_queue=(32, 8), write_limit=(1024, None))
    assert built.write_limit == (1024, None)  # as given: the connection parses it


def test_the_options_are_frozen() -> None:
    built = options()
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.max_size = 1  # type: ignore[misc]
    assert not hasattr(built, "__dict__")


# ------------------------------------------------------------------- building


@pytest.mark.parametrize("side", [Side.SERVER, Side.CLIENT])
def test_the_protocol_gets_the_side_the_limits_and_the_logger(side: Side) -> None:
    protocol = options(max_size=(4096, 1024)).protocol(side)
    assert protocol.side is side
    assert (protocol.max_size, protocol.max_fragment_size) == (4096, 1024)
    assert protocol.logger is LOGGER
    assert protocol.state is State.OPEN
    assert protocol.extensions == []


@pytest.mark.parametrize("side", [Side.SERVER, Side.CLIENT])
def test_the_protocol_gets_the_negotiated_extensions(side: Side) -> None:
    deflate = PerMessageDeflate()
    protocol = options(max_size=None).protocol(side, [deflate])
    assert protocol.extensions == [deflate]
    assert (protocol.max_size, protocol.max_fragment_size) == (None, None)


def test_the_protocol_parses_the_bytes_that_followed_the_handshake() -> None:
    protocol = options().protocol(Side.CLIENT, (), b"\x81\x02hi")
    assert protocol.events_received() == [TextMessage("hi")]


def test_the_connection_gets_every_option_and_what_the_side_adds() -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def create_connection(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return "built"

    built = options(max_queue=(32, 8), write_limit=(1024, 256), ping_interval=None)
    protocol = built.protocol(Side.SERVER)
    stream: Any = object()
    assert built.connection(create_connection, stream, protocol, server=None) == "built"
    assert calls == [
        (
            (stream, protocol),
            {
                "max_queue": (32, 8),
                "close_timeout": 10,
                "ping_interval": None,
                "ping_timeout": 20,
                "write_limit": (1024, 256),
                "logger": LOGGER,
                "server": None,
            },
        )
    ]


# ------------------------------------------------------- serve() and connect()


def test_serve_builds_its_options_once_and_shares_them() -> None:
    server = anyio_ws.serve(ignore, "127.0.0.1", 0, max_size=512, close_timeout=3)
    assert server._runner.opening.options is server.options
    assert (server.options.max_size, server.options.close_timeout) == (512, 3)


def test_connect_shares_its_options_with_the_copies_that_reconnect() -> None:
    client = anyio_ws.connect("ws://127.0.0.1:1/", ping_interval=None)
    assert copy.copy(client).options is client.options


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_options_stay_readable_on_serve_and_connect(name: str) -> None:
    value = (3, 1) if name in ("max_size", "max_queue", "write_limit") else 7
    server = anyio_ws.serve(ignore, "127.0.0.1", 0, **{name: value})
    client = anyio_ws.connect("ws://127.0.0.1:1/", **{name: value})
    assert getattr(server, name) == getattr(client, name) == value


def test_each_side_keeps_its_default_logger_unless_given_one() -> None:
    assert anyio_ws.serve(ignore, "127.0.0.1", 0).logger.name == "anyio_ws.server"
    assert anyio_ws.connect("ws://127.0.0.1:1/").logger.name == "anyio_ws.client"
    given = anyio_ws.connect("ws://127.0.0.1:1/", logger=LOGGER)
    assert given.logger is given.options.logger is LOGGER
