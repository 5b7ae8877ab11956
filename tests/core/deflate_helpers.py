"""Helpers shared by the permessage-deflate tests (``tests/core/test_permessage_deflate*.py``)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from anyio_ws.core.extensions.base import (
    ClientExtensionFactory,
    Extension,
    ServerExtensionFactory,
)
from anyio_ws.core.handshake import ClientHandshake, ServerHandshake
from anyio_ws.core.uri import parse_uri

RSV1 = 0x40
MiB = 2**20


def negotiate(
    client_factories: Sequence[ClientExtensionFactory],
    server_factories: Sequence[ServerExtensionFactory],
) -> tuple[list[Extension], list[Extension]]:
    """Run a whole opening handshake; return the client's and the server's extensions."""
    client = ClientHandshake(parse_uri("ws://example.com/"), extensions=client_factories)
    server = ServerHandshake(extensions=server_factories)
    server.receive_data(client.data_to_send())
    request = server.next_request()
    assert request is not None
    client.receive_data(server.send_response(server.accept(request)))
    response = client.next_response()
    assert response is not None
    client.process_response(response)
    return client.extensions, server.extensions


def deflate(data: bytes) -> bytes:
    """``data`` as a compressed message payload, from a fresh compressor."""
    compressor = zlib.compressobj(wbits=-15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
