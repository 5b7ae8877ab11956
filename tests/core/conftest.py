"""Fixtures shared by the core's tests."""

from __future__ import annotations

import pytest

from anyio_ws.core.protocol import Side


@pytest.fixture(params=[Side.SERVER, Side.CLIENT], ids=["server", "client"])
def side(request: pytest.FixtureRequest) -> Side:
    """Run a test as a server receiving masked frames, then as a client receiving plain ones."""
    result: Side = request.param
    return result
