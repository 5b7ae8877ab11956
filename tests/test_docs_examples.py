"""Every program in docs/examples runs, on both backends, and prints what the docs show.

Each ``docs/examples/NAME.py`` is run as a script with ``--backend asyncio|trio``; it
must exit with status 0, write nothing on stderr, and print exactly
``docs/examples/NAME.out`` (port numbers, which change from run to run, are replaced
by ``PORT`` first).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from subprocesses import ROOT, run_python

EXAMPLES_DIR = ROOT / "docs" / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))

NEEDS_MODULE = {"tls.py": "trustme"}
"""Examples that need a package outside the runtime dependencies (in the test extra)."""

_PORT = re.compile(r"(127\.0\.0\.1|localhost|\]):\d+")


def normalize(output: str) -> str:
    """Output with every port number replaced by ``PORT``."""
    return _PORT.sub(r"\1:PORT", output)


@pytest.mark.parametrize("example_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_prints_what_the_docs_show(example: Path, example_backend: str) -> None:
    """The example exits 0, silent on stderr, printing its .out file exactly."""
    if example.name in NEEDS_MODULE:
        pytest.importorskip(NEEDS_MODULE[example.name])
    expected = example.with_suffix(".out").read_text(encoding="utf-8")
    result = run_python(str(example.relative_to(ROOT)), "--backend", example_backend)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert normalize(result.stdout) == expected


@pytest.mark.parametrize("example_backend", ["asyncio", "trio"])
def test_memory_script_prints_its_table(example_backend: str) -> None:
    """docs/measure_memory.py, whose figures the docs quote, runs (figures not checked)."""
    result = run_python(
        "docs/measure_memory.py",
        "--connections",
        "3",
        "--settle",
        "0.01",
        "--backend",
        example_backend,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[:3] for row in rows] == [
        [example_backend, side, compression]
        for side in ["server", "client"]
        for compression in ["deflate", "none"]
    ]
    assert all(float(value) > 0 for row in rows for value in row[3:])


def test_examples_exist() -> None:
    """The glob found the examples (a moved directory must not pass silently)."""
    assert len(EXAMPLES) >= 5


def test_every_example_is_shown_in_the_docs() -> None:
    """Each example and its output are included by some page: none is orphaned."""
    pages = "".join(page.read_text(encoding="utf-8") for page in (ROOT / "docs").glob("*.rst"))
    for example in EXAMPLES:
        assert f"examples/{example.name}" in pages, example.name
        assert f"examples/{example.stem}.out" in pages, example.stem


def test_feature_gates_name_existing_examples() -> None:
    """A gate for an example that was renamed would silently never apply."""
    names = {example.name for example in EXAMPLES}
    assert set(NEEDS_MODULE) <= names


def test_shared_compression_script_prints_its_table() -> None:
    """docs/measure_shared_compression.py runs; sharing changes the CPU, not the bytes."""
    result = run_python(
        "docs/measure_shared_compression.py", "--connections", "5", "--messages", "20"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    wire = {line[:44].strip(): float(line.split()[-1]) for line in lines[2:]}
    assert list(wire) == [
        "per connection, context takeover (default)",
        "per connection, no context takeover",
        "shared (shared_compression=True)",
        "uncompressed (compression=None)",
    ]
    assert wire["shared (shared_compression=True)"] == wire["per connection, no context takeover"]
