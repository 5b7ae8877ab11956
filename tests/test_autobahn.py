"""Autobahn TestSuite conformance, run by kosoku against our server and our client.

Both sides, both backends. kosoku runs in a subprocess (it is asyncio-only), so that
anyio_ws itself runs on the backend under test. Every case must end OK, NON-STRICT or
INFORMATIONAL; the counts per verdict are printed (pytest -s shows them).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest

import anyio_ws
from anyio_ws.extensions.permessage_deflate import (
    DEFAULT_MEM_LEVEL,
    ClientPerMessageDeflateFactory,
    enable_client_permessage_deflate,
)

pytestmark = [pytest.mark.autobahn, pytest.mark.slow, pytest.mark.timeout(1200)]

CASES = os.environ.get("ANYIO_WS_AUTOBAHN_CASES", "*")
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}
AGENT = "anyio_ws"

# The default offer, then one that also offers client_no_context_takeover: cases 13.2,
# 13.5 and 13.6 only accept a client that offers it. The second leaves out the default's
# compress_window_bits, so that a client compressing with the 15-bit window a server
# grants (13.2, 13.6) stays covered.
CLIENT_OFFERS = [
    *enable_client_permessage_deflate(None),
    ClientPerMessageDeflateFactory(
        client_no_context_takeover=True, compress_settings={"memLevel": DEFAULT_MEM_LEVEL}
    ),
]


def kosoku_command(*args: str) -> list[str]:
    executable = shutil.which("kosoku", path=str(Path(sys.executable).parent))
    assert executable, "kosoku is in the test extra"
    selection = [arg for case in CASES.split(",") for arg in ("-i", case.strip())]
    return [executable, *args, *selection]


def verdicts(report_dir: Path) -> dict[str, tuple[str, str]]:
    """Case id -> (behavior, behaviorClose) from kosoku's index.json."""
    index = json.loads((report_dir / "index.json").read_text())
    return {case: (r["behavior"], r["behaviorClose"]) for case, r in index[AGENT].items()}


def slowest(report_dir: Path, count: int = 3) -> str:
    """The longest cases by kosoku's own timing: how close they came to its budget."""
    index = json.loads((report_dir / "index.json").read_text())
    durations = sorted(((r["duration"], case) for case, r in index[AGENT].items()), reverse=True)
    return ", ".join(f"{case} {ms / 1000:.1f} s" for ms, case in durations[:count])


def check(report_dir: Path, label: str, elapsed: float) -> None:
    """Print the verdict counts and the slowest cases; fail on any case that failed."""
    results = verdicts(report_dir)
    counts = Counter(behavior for behavior, _ in results.values())
    print(f"\nAutobahn {label}: {len(results)} cases in {elapsed:.1f} s: {dict(counts)}")
    print(f"slowest: {slowest(report_dir)}")
    failed = {
        case: verdict
        for case, verdict in results.items()
        if verdict[0] not in PASSING or verdict[1] not in PASSING
    }
    assert results, "no case ran"
    assert not failed, f"{len(failed)} cases failed: {sorted(failed.items())[:20]}"


@pytest.fixture(
    params=[pytest.param(("asyncio", {}), id="asyncio"), pytest.param(("trio", {}), id="trio")]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Both backends, asyncio without debug mode: these runs measure, not hunt for bugs."""
    return request.param  # type: ignore[no-any-return]


async def echo(ws: anyio_ws.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


@pytest.mark.xdist_group("autobahn-server")
async def test_server(tmp_path: Path, anyio_backend: object) -> None:
    """Our server passes every case of kosoku's fuzzing client."""
    started = time.monotonic()
    async with anyio_ws.serve(echo, "127.0.0.1", 0, max_size=None) as server:
        command = kosoku_command(
            "-m", "fuzzingclient", f"ws://127.0.0.1:{server.port}", "-o", str(tmp_path)
        )
        await anyio.run_process(command, check=False)
    check(tmp_path, f"server on {anyio_backend}", time.monotonic() - started)


async def run_client_cases(port: int) -> None:
    """The Autobahn client protocol: count the cases, run each, ask for the report."""
    base = f"ws://127.0.0.1:{port}"
    async with anyio_ws.connect(f"{base}/getCaseCount") as ws:
        count = int(await ws.recv())
    for case in range(1, count + 1):
        try:
            async with anyio_ws.connect(
                f"{base}/runCase?case={case}&agent={AGENT}",
                max_size=None,
                extensions=CLIENT_OFFERS,
            ) as ws:
                async for message in ws:
                    await ws.send(message)
        except anyio_ws.ConnectionClosed:
            pass
    async with anyio_ws.connect(f"{base}/updateReports?agent={AGENT}") as ws:
        # kosoku writes the report and drops the connection, with or without a close frame.
        with pytest.raises(anyio_ws.ConnectionClosed):
            await ws.recv()


@pytest.mark.xdist_group("autobahn-client")
async def test_client(tmp_path: Path, anyio_backend: object) -> None:
    """Our client passes every case of kosoku's fuzzing server."""
    started = time.monotonic()
    command = kosoku_command("-m", "fuzzingserver", "127.0.0.1:0", "-o", str(tmp_path))
    async with await anyio.open_process(command) as process:
        assert process.stderr is not None
        banner = b""
        while b"\n" not in banner:
            banner += await process.stderr.receive()
        port = int(banner.split(b"\n")[0].rsplit(b":", 1)[1])
        await run_client_cases(port)
        with anyio.fail_after(120):
            await process.wait()
    check(tmp_path, f"client on {anyio_backend}", time.monotonic() - started)
