"""Run every async test on both backends, explicitly (no silent skip without trio)."""

from __future__ import annotations

import inspect
import os
import socket
from collections.abc import Iterator
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


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections for the whole test.

    Its socket stays bound without listening: a connection is refused, and no other
    test, in this process or in another pytest-xdist worker, can be given the port
    meanwhile, as it could be if the port were released at once.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    """Mark coroutine tests for anyio's plugin before it collects them.

    Marking at collection time (not afterwards) lets the plugin add the
    ``anyio_backend`` parametrization next to a test's own ``parametrize``.
    """
    if inspect.iscoroutinefunction(obj) and name.startswith("test"):
        pytest.mark.anyio(obj)


REQUIRE_SERVICES = os.environ.get("ANYIO_WS_REQUIRE_SERVICES") == "1"
"""Set by CI: a test skipped because something it "needs" is missing fails instead."""


def _missing_requirement(report: pytest.CollectReport | pytest.TestReport) -> bool:
    if not (REQUIRE_SERVICES and report.skipped):
        return False
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.startswith("Skipped: needs ") or reason.startswith("needs ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if _missing_requirement(report):
        report.outcome = "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    outcome = yield
    report = outcome.get_result()
    if _missing_requirement(report):
        report.outcome = "failed"
