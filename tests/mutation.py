"""Run mutmut on one layer of anyio_ws and score it against tests/mutation.md.

    .venv/bin/python tests/mutation.py core        [--max-children 2]
    .venv/bin/python tests/mutation.py connection  [--max-children 2]

Each layer is mutated with its own tests: the sans-I/O core against ``tests/core``
(seconds per survivor), the connection layer's close, keepalive and read paths against
the fast I/O tests (a minute per survivor, so only those paths). mutmut reads its
settings from ``pyproject.toml`` and maps each mutant to the tests that reach its
function, so a layer runs in its own copy of the working tree, under
``.mutation/LAYER/`` (ignored by git), with ``[tool.mutmut]`` set for that layer. The
copy stays for ``cd .mutation/LAYER && mutmut show NAME``.

The score counts a mutant as killed when a test failed or timed out on it, and leaves
out the mutants ``tests/mutation.md`` lists as equivalent. Survivors are written to
``.mutation/LAYER/survivors.txt``.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIAGE = ROOT / "tests" / "mutation.md"

CONNECTION_TESTS = (
    "tests/test_connection.py",
    "tests/test_connection_mutants.py",
    "tests/test_handler_scope.py",
    "tests/test_handshake_hooks.py",
    "tests/test_keepalive.py",
    "tests/test_client.py",
    "tests/test_server.py",
    "tests/test_messages.py",
    "tests/test_queue.py",
    "tests/test_client_cancellation.py",
    "tests/test_reconnect.py",
    "tests/test_reconnect_bare.py",
    "tests/test_idioms.py",
    "tests/test_transports.py",
    "tests/test_task_groups.py",
)

# The connection layer's close, keepalive and read paths, and the server's and the
# client's close paths: where a bug loses messages or close frames.
CONNECTION_FUNCTIONS = tuple(
    f"{module}.xǁ{cls}ǁ{name}"
    for module, cls, names in (
        (
            "connection",
            "Connection",
            (
                "close",
                "wait_closed",
                "_keepalive",
                "run",
                "start",
                "_close_when_cancelled",
                "_finish",
                "_after_closed",
                "_reading_over",
                "_fail",
                "_fail_invalid_utf8",
                "ping",
                "pong",
            ),
        ),
        ("_link", "Link", ("wait_for", "keep_error", "closed_exception", "raise_if_released")),
        (
            "_reader",
            "Reader",
            (
                "read_frames",
                "_receive_into_protocol",
                "_transport_failed",
                "_dispatch",
                "flush_replies",
                "finish",
            ),
        ),
        ("_sending", "Sender", ("send_frames", "flush", "write_pending", "replies_due")),
        (
            "_receiving",
            "Receiver",
            ("_next_message_asked", "_check_all_taken", "close", "nobody_reads"),
        ),
        ("_pings", "Pings", ("pong_received", "abandon_all")),
    )
    for name in names
)
CONNECTION_PATTERNS = (
    *(f"anyio_ws.{function}__mutmut_*" for function in CONNECTION_FUNCTIONS),
    "anyio_ws._pings.xǁPongWaiterǁ*",
    "anyio_ws._pings.xǁKeepaliveǁ*",
    "anyio_ws._closing.x_*",
    *(
        f"anyio_ws._server_lifecycle.xǁServerǁ{method}__mutmut_*"
        for method in (
            "close",
            "_stop",
            "_close_connections",
            "_wait_for_tasks",
            "_run",
            "_serve_connection",
            "_handshake_started",
            "_connection_opened",
        )
    ),
    "anyio_ws.server.xǁserveǁ__aexit____mutmut_*",
    *(
        f"anyio_ws._server_connection.xǁServerConnectionǁ{method}__mutmut_*"
        for method in ("close", "_after_closed", "_run_handler")
    ),
    *(
        f"anyio_ws.client.{function}__mutmut_*"
        for function in (
            "xǁconnectǁ__aexit__",
            "xǁconnectǁaclose",
            "xǁconnectǁ_hold",
            "xǁClientConnectionǁ_close_code_when_cancelled",
        )
    ),
    *(
        f"anyio_ws._reconnect.{function}__mutmut_*"
        for function in (
            "xǁReconnectingǁaclose",
            "xǁReconnectingǁ_release",
            "x_hold_connection",
        )
    ),
    # Entering and leaving the client's own task groups, once inline in the above.
    "anyio_ws._task_groups.x_open_in_group__mutmut_*",
    "anyio_ws._task_groups.x_leave_group__mutmut_*",
)


@dataclass(frozen=True)
class Layer:
    """What one run mutates, which tests judge it, and which mutants it runs."""

    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    patterns: tuple[str, ...]


LAYERS = {
    "core": Layer(("anyio_ws/core/*",), ("tests/core",), ("anyio_ws.core.*",)),
    "connection": Layer(
        (
            "anyio_ws/connection.py",
            "anyio_ws/_link.py",
            "anyio_ws/_closing.py",
            "anyio_ws/_reader.py",
            "anyio_ws/_sending.py",
            "anyio_ws/_receiving.py",
            "anyio_ws/_pings.py",
            "anyio_ws/server.py",
            "anyio_ws/_server_lifecycle.py",
            "anyio_ws/_server_connection.py",
            "anyio_ws/client.py",
            "anyio_ws/_reconnect.py",
            "anyio_ws/_task_groups.py",
        ),
        CONNECTION_TESTS,
        CONNECTION_PATTERNS,
    ),
}

# mutmut's exit codes for a mutant's test run (mutmut/__main__.py, status_by_exit_code).
SURVIVED = {0, 5, 33}  # a test run that passed, or no test reaches the function
NOT_RUN = {None, 2, 34}  # not checked yet, interrupted, skipped
TIMEOUTS = {-24, 24, 36, 152, 255, -9}  # -9: a stalled test's process, killed by hand


def toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def copy_tree(workdir: Path, layer: Layer) -> None:
    """Copy the tracked files as they are now, with ``[tool.mutmut]`` set for ``layer``."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, files):
        source, target = ROOT / name, workdir / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    pyproject = workdir / "pyproject.toml"
    text = pyproject.read_text()
    mutate = f"only_mutate = {toml_list(layer.mutate)}"
    text = re.sub(r"(?m)^only_mutate = \[[^\]]*\]", mutate, text)
    text = re.sub(
        r"(?m)^pytest_add_cli_args_test_selection = \[[^\]]*\]",
        f"pytest_add_cli_args_test_selection = {toml_list(layer.tests)}",
        text,
    )
    pyproject.write_text(text)
    # The C speed-up is chosen at import time: without the built module in the copy,
    # the mutants of that choice cannot be told apart (every branch falls back to Python).
    built = list((ROOT / "anyio_ws" / "core").glob("_speedups*.so"))
    for module in built:
        shutil.copy2(module, workdir / "anyio_ws" / "core" / module.name)
    if not built:
        print("the C speed-up is not built (pip install -e .): its loading's mutants survive")


def equivalents() -> set[str]:
    """Mutant names listed as equivalent in tests/mutation.md (in backticks, first on a line)."""
    return set(re.findall(r"(?m)^- `([^`]+__mutmut_\d+)`", TRIAGE.read_text()))


def outcomes(workdir: Path, patterns: tuple[str, ...]) -> dict[str, int | None]:
    """Mutant name -> mutmut's exit code for the run (None: not run)."""
    result: dict[str, int | None] = {}
    for meta in (workdir / "mutants").rglob("*.meta"):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
                result[name] = code
    return result


def score(codes: dict[str, int | None], equivalent: set[str]) -> tuple[str, list[str]]:
    """A summary line and the survivors that are not listed as equivalent."""
    survivors = sorted(
        name for name, code in codes.items() if code in SURVIVED and name not in equivalent
    )
    listed = sum(1 for name in codes if name in equivalent)
    timed_out = sum(1 for code in codes.values() if code in TIMEOUTS)
    not_run = sum(1 for code in codes.values() if code in NOT_RUN)
    judged = len(codes) - listed - not_run
    killed = judged - len(survivors)
    percent = 100 * killed / judged if judged else 100.0
    line = (
        f"{len(codes)} mutants: {killed} killed ({timed_out} by a timeout or a hang), "
        f"{len(survivors)} survived, {listed} equivalent, {not_run} not run: "
        f"{percent:.1f} % of the non-equivalent mutants killed"
    )
    return line, survivors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("layer", choices=sorted(LAYERS))
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument(
        "--score-only", action="store_true", help="score the last run again, without running"
    )
    parser.add_argument(
        "--mutants",
        nargs="+",
        metavar="PATTERN",
        help="run only these mutants (names or fnmatch patterns), e.g. a past run's survivors",
    )
    args = parser.parse_args()
    layer = LAYERS[args.layer]
    if args.mutants:
        layer = dataclasses.replace(layer, patterns=tuple(args.mutants))
    workdir = ROOT / ".mutation" / args.layer
    started = time.monotonic()
    if not args.score_only:
        shutil.rmtree(workdir, ignore_errors=True)
        copy_tree(workdir, layer)
        mutmut = Path(sys.executable).parent / "mutmut"
        command = [str(mutmut), "run", "--max-children", str(args.max_children), *layer.patterns]
        subprocess.run(command, cwd=workdir, check=False)
    line, survivors = score(outcomes(workdir, layer.patterns), equivalents())
    (workdir / "survivors.txt").write_text("".join(f"{name}\n" for name in survivors))
    print(f"{args.layer}: {line}; {time.monotonic() - started:.0f} s")
    print(f"survivors: {workdir / 'survivors.txt'} (mutmut show NAME, in {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
