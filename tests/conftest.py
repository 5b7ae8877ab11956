"""Run every async test on both backends, explicitly (no silent skip without trio)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"debug": True}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Both backends; asyncio in debug mode to catch never-awaited coroutines."""
    return request.param  # type: ignore[no-any-return]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    """Mark coroutine tests for anyio's plugin before it collects them.

    Marking at collection time (not afterwards) lets the plugin add the
    ``anyio_backend`` parametrization next to a test's own ``parametrize``.
    """
    if inspect.iscoroutinefunction(obj) and name.startswith("test"):
        pytest.mark.anyio(obj)
