"""Run every async test on both backends, explicitly (no silent skip without trio)."""

from __future__ import annotations

import functools
import inspect
import os
import socket
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any

import anyio
import pytest
from fake_clock import Backend, on_fake_clock
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
def anyio_backend(request: pytest.FixtureRequest) -> Backend:
    """Both backends; asyncio in debug mode to catch never-awaited coroutines.

    A test marked ``fake_clock`` runs on a fake clock (see ``fake_clock.py``).
    """
    backend: Backend = request.param
    if request.node.get_closest_marker("fake_clock"):
        return on_fake_clock(backend)
    return backend


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fake_clock: run on a clock that jumps to the next deadline when every task waits"
        " (in-memory I/O only)",
    )


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


HANG_FRACTION = 0.75
"""An async test fails with a TimeoutError this far into its pytest-timeout."""

FAKE_CLOCK_HANG = 24 * 3600.0
"""The same bound on a fake clock: far beyond any test's own timers, and reached at
once when every task waits for something that will never come."""


def _bounded(test: Callable[..., Awaitable[Any]], seconds: float) -> Callable[..., Awaitable[Any]]:
    """``test`` under ``fail_after(seconds)``."""

    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        with anyio.fail_after(seconds):
            return await test(*args, **kwargs)

    return bounded


def _pytest_timeout(item: pytest.Function) -> float:
    """The test's pytest-timeout in seconds, as that plugin picks it (0: none)."""
    marker = item.get_closest_marker("timeout")
    if marker and marker.args:
        return float(marker.args[0])
    option = item.config.getoption("timeout", None)
    return float(option if option is not None else item.config.getini("timeout") or 0)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """A hang in an async test fails it with a traceback that ends where it waits.

    pytest-timeout (the backstop, for sync code and shielded waits) dumps the threads'
    stacks, and for an async test that only shows the event loop waiting. Cancelling
    the test first, through ``fail_after``, shows the awaits it was stuck in.
    """
    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test):
        return (yield)
    timeout = _pytest_timeout(pyfuncitem)
    if not timeout:
        return (yield)
    fake_clock = pyfuncitem.get_closest_marker("fake_clock")
    seconds = FAKE_CLOCK_HANG if fake_clock else timeout * HANG_FRACTION
    pyfuncitem.obj = _bounded(test, seconds)
    try:
        return (yield)
    finally:
        pyfuncitem.obj = test
