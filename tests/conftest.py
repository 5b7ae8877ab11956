"""Run every async test on both backends, explicitly (no silent skip without trio)."""

from __future__ import annotations

import inspect
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

if "MUTANT_UNDER_TEST" in os.environ:
    # Under mutmut (tests/mutation.md): one process runs each test many times, mutated
    # functions are slower, and a run must give the same verdict twice.
    settings.register_profile(
        "mutmut",
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow],
    )
    settings.load_profile("mutmut")


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
